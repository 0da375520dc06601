//! The upstream is not trusted: every line of an upstream index file is checked before the
//! mirror serves or stores it (sync and pull-through alike), and a bad line is dropped with a
//! warning rather than passed on to cargo or to the file system.
//!
//! [`check_line`] is the one place the rules live.

use crate::index::file::{IndexFile, IndexLine, LineHead};
use crate::index::name::{CrateName, NameError};
use serde::Deserialize;

/// The fields of a line the rules look at.
#[derive(Deserialize)]
struct Line {
    name: String,
    vers: String,
    cksum: String,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    deps: Vec<Dep>,
}

#[derive(Deserialize)]
struct Dep {
    name: String,
    #[serde(default)]
    package: Option<String>,
}

/// An upstream index file's body with its bad lines taken out.
#[derive(Debug, Default)]
pub struct Checked {
    /// The good lines, byte for byte, each ending in `\n`.
    pub body: Vec<u8>,
    /// The good lines, parsed (the check reads each line once, in place of a later parse).
    pub file: IndexFile,
    /// One message per dropped line.
    pub dropped: Vec<String>,
}

/// Keeps the lines of the index file of crate `file_crate` that pass [`check_line`].
/// Lines longer than `max_line` bytes are dropped too (`[limits] max-index-line-size`).
pub fn filter(file_crate: &str, body: &[u8], max_line: u64) -> Checked {
    let mut out = Checked {
        body: Vec::with_capacity(body.len()),
        ..Checked::default()
    };
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let verdict = if raw.len() as u64 > max_line {
            Err(format!(
                "it is {} bytes, over the limit of {max_line} (`max-index-line-size` under [limits] in ktra.toml)",
                raw.len()
            ))
        } else {
            std::str::from_utf8(raw)
                .map_err(|_| "it is not UTF-8".to_owned())
                .and_then(|text| check(file_crate, text))
        };
        match verdict {
            Ok(line) => {
                out.body.extend_from_slice(raw);
                out.body.push(b'\n');
                out.file.lines.push(line);
            }
            Err(reason) => out.dropped.push(format!(
                "dropped line {} of the upstream's index file of `{file_crate}`: {reason}",
                i + 1
            )),
        }
    }
    out
}

/// Whether one line may be served and stored as a line of crate `file_crate`'s index file:
/// a JSON object whose `name` is that crate (case aside) and a valid crate name, whose `vers`
/// is a semantic version, whose `cksum` is 64 lowercase hex digits, and whose dependencies'
/// names (and `package` renames) are valid crate names.
pub fn check_line(file_crate: &str, raw: &str) -> Result<(), String> {
    check(file_crate, raw).map(|_| ())
}

/// [`check_line`], giving the line parsed.
fn check(file_crate: &str, raw: &str) -> Result<IndexLine, String> {
    let line: Line =
        serde_json::from_str(raw).map_err(|e| format!("it is not a valid index entry: {e}"))?;
    if !line.name.eq_ignore_ascii_case(file_crate) {
        return Err(format!("it is for crate `{}`", printable(&line.name)));
    }
    valid_name(&line.name)?;
    let version = semver::Version::parse(&line.vers)
        .map_err(|e| format!("`{}` is not a semantic version: {e}", printable(&line.vers)))?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if line.cksum.len() != 64 || !line.cksum.bytes().all(hex) {
        return Err(format!(
            "`cksum` `{}` is not a SHA-256 in lowercase hex",
            printable(&line.cksum)
        ));
    }
    for dep in &line.deps {
        for name in std::iter::once(&dep.name).chain(&dep.package) {
            valid_name(name).map_err(|e| format!("a dependency: {e}"))?;
        }
    }
    let head = LineHead {
        name: line.name,
        vers: line.vers,
        cksum: line.cksum,
        yanked: line.yanked,
    };
    Ok(IndexLine {
        raw: raw.to_owned(),
        head,
        version,
    })
}

/// crates.io's syntax for names. Reserved names pass: the upstream may hold crates published
/// before a name was reserved, and they are harmless as file names.
fn valid_name(name: &str) -> Result<(), String> {
    match CrateName::new(name) {
        Ok(_) | Err(NameError::Reserved(_)) => Ok(()),
        Err(_) => Err(format!(
            "the name `{}` is not a valid crate name",
            printable(name)
        )),
    }
}

/// Untrusted text for a message: at most 64 characters, control characters escaped.
fn printable(text: &str) -> String {
    let mut out: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CK: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn line(name: &str, vers: &str, cksum: &str, deps: &str) -> String {
        format!(
            r#"{{"name":"{name}","vers":"{vers}","deps":[{deps}],"cksum":"{cksum}","features":{{}},"yanked":false}}"#
        )
    }

    #[test]
    fn accepts_good_lines_with_capitals_renames_and_reserved_names() {
        let deps = r#"{"name":"alias","package":"real-name","req":"^1"},{"name":"core","req":"*"}"#;
        assert_eq!(
            check_line("mixed-case", &line("Mixed-Case", "1.0.0-rc.1+b", CK, deps)),
            Ok(())
        );
        assert_eq!(
            check_line(
                "compiler_builtins",
                &line("compiler_builtins", "0.1.0", CK, "")
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_each_broken_rule() {
        let bad = [
            ("a", line("b", "1.0.0", CK, "")),
            ("../x", line("../x", "1.0.0", CK, "")),
            ("a", line("a", "1.0", CK, "")),
            ("a", line("a", "1.0.0", "00", "")),
            ("a", line("a", "1.0.0", &CK.to_uppercase(), "")),
            (
                "a",
                line("a", "1.0.0", CK, r#"{"name":"../../evil","req":"1"}"#),
            ),
            (
                "a",
                line(
                    "a",
                    "1.0.0",
                    CK,
                    r#"{"name":"ok","package":"a/b","req":"1"}"#,
                ),
            ),
            ("a", "not json".to_owned()),
            ("a", r#"{"name":"a","vers":"1.0.0"}"#.to_owned()),
        ];
        for (file, raw) in bad {
            assert!(check_line(file, &raw).is_err(), "accepted {raw}");
        }
    }

    #[test]
    fn filter_keeps_good_lines_byte_for_byte_and_names_the_dropped_ones() {
        let good = line("a", "1.0.0", CK, "");
        let body = format!("{good}\n{}\n\n{good}", line("a", "x", CK, ""));
        let checked = filter("a", body.as_bytes(), 1 << 20);
        assert_eq!(checked.body, format!("{good}\n{good}\n").as_bytes());
        assert_eq!(checked.file.to_bytes(), checked.body);
        assert_eq!(checked.file.lines[0].head.vers, "1.0.0");
        assert_eq!(checked.dropped.len(), 1);
        assert!(
            checked.dropped[0].contains("line 2"),
            "{:?}",
            checked.dropped
        );
        let checked = filter("a", b"\xff\xfe\n", 1 << 20);
        assert!(checked.body.is_empty() && checked.dropped[0].contains("UTF-8"));
    }

    #[test]
    fn filter_drops_lines_over_the_index_line_limit() {
        let good = line("a", "1.0.0", CK, "");
        let checked = filter("a", format!("{good}\n").as_bytes(), good.len() as u64 - 1);
        assert!(checked.body.is_empty(), "{:?}", checked.body);
        assert!(checked.dropped[0].contains("max-index-line-size"));
        let checked = filter("a", format!("{good}\n").as_bytes(), good.len() as u64);
        assert_eq!(checked.file.lines.len(), 1);
    }
}
