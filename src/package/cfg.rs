//! Platform keys of `[target.'...'.dependencies]` in their canonical spelling, the way cargo and
//! crates.io print a parsed `cfg(...)` (`cfg(target_os = "linux")`, `cfg(all(a, b))`). A target
//! triple, or anything that does not parse, is kept as written.

#[derive(Debug, PartialEq)]
enum Expr {
    Name(String),
    Pair(String, String),
    Call(String, Vec<Expr>),
}

/// The canonical form of a target key.
pub fn normalize_target(key: &str) -> String {
    let Some(inner) = key
        .trim()
        .strip_prefix("cfg(")
        .and_then(|s| s.strip_suffix(')'))
    else {
        return key.to_owned();
    };
    let mut p = Parser {
        s: inner.as_bytes(),
        at: 0,
    };
    match p.expr() {
        Some(e) if p.done() => format!("cfg({})", render(&e)),
        _ => key.to_owned(),
    }
}

fn render(e: &Expr) -> String {
    match e {
        Expr::Name(n) => n.clone(),
        Expr::Pair(k, v) => format!("{k} = \"{v}\""),
        Expr::Call(f, args) => {
            let inner: Vec<String> = args.iter().map(render).collect();
            format!("{f}({})", inner.join(", "))
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn done(&mut self) -> bool {
        self.skip_ws();
        self.at == self.s.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.at;
        while self.at < self.s.len()
            && (self.s[self.at].is_ascii_alphanumeric() || self.s[self.at] == b'_')
        {
            self.at += 1;
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        while self.at < self.s.len() && self.s[self.at] != b'"' {
            self.at += 1;
        }
        let value = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
        self.eat(b'"').then_some(value)
    }

    fn expr(&mut self) -> Option<Expr> {
        let name = self.ident()?;
        if self.eat(b'(') {
            if !matches!(name.as_str(), "all" | "any" | "not") {
                return None;
            }
            let mut args = Vec::new();
            while !self.eat(b')') {
                args.push(self.expr()?);
                if !self.eat(b',') {
                    if !self.eat(b')') {
                        return None;
                    }
                    break;
                }
            }
            if name == "not" && args.len() != 1 {
                return None;
            }
            return Some(Expr::Call(name, args));
        }
        if self.eat(b'=') {
            return Some(Expr::Pair(name, self.string()?));
        }
        Some(Expr::Name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_target;

    #[test]
    fn spacing_is_canonical() {
        let rows = [
            (r#"cfg(target_os="hermit")"#, r#"cfg(target_os = "hermit")"#),
            ("cfg(unix)", "cfg(unix)"),
            ("cfg( any( unix ,windows ) )", "cfg(any(unix, windows))"),
            (
                r#"cfg(all(target_arch="wasm32",not(target_os = "wasi")))"#,
                r#"cfg(all(target_arch = "wasm32", not(target_os = "wasi")))"#,
            ),
            ("cfg(any())", "cfg(any())"),
            ("cfg(all(unix,))", "cfg(all(unix))"),
            ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"),
            ("cfg(bogus(", "cfg(bogus("),
        ];
        for (input, want) in rows {
            assert_eq!(normalize_target(input), want, "{input}");
        }
    }
}
