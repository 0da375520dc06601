//! Crate names: crates.io's naming rules, checked once in a newtype, plus the canonical form
//! (lowercase, `-` folded to `_`) that decides whether two names collide.

use std::fmt;

/// Longest crate name crates.io accepts.
pub const MAX_NAME_LEN: usize = 64;

/// Names crates.io reserves: Rust's own crates and Windows device names (compared canonically).
const RESERVED: &[&str] = &[
    "alloc",
    "arena",
    "ast",
    "builtins",
    "collections",
    "compiler_builtins",
    "compiler_rt",
    "compiletest",
    "core",
    "coretest",
    "debug",
    "driver",
    "flate",
    "fmt_macros",
    "grammar",
    "graphviz",
    "macro",
    "macros",
    "proc_macro",
    "rbml",
    "rust_installer",
    "rustbook",
    "rustc",
    "rustc_back",
    "rustc_borrowck",
    "rustc_driver",
    "rustc_llvm",
    "rustc_resolve",
    "rustc_trans",
    "rustc_typeck",
    "rustdoc",
    "rustllvm",
    "rustuv",
    "serialize",
    "std",
    "syntax",
    "test",
    "unicode",
    "nul",
    "con",
    "prn",
    "aux",
    "com0",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt0",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// Why a name was refused; each variant states the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name `{0}` is longer than {MAX_NAME_LEN} characters")]
    TooLong(String),
    #[error("the name `{0}` must start with an ASCII letter")]
    BadStart(String),
    #[error("the name `{0}` must start with an ASCII letter or `_`")]
    BadDependencyStart(String),
    #[error("the name `{0}` contains `{1}`: only ASCII letters, digits, `-` and `_` are allowed")]
    BadChar(String, char),
    #[error("the name `{0}` is reserved")]
    Reserved(String),
}

/// A crate name that passed crates.io's rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrateName(String);

impl CrateName {
    pub fn new(name: &str) -> Result<Self, NameError> {
        check_syntax(name)?;
        if RESERVED.contains(&canonical(name).as_str()) {
            return Err(NameError::Reserved(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two names are compared in: `Foo-Bar` and `foo_bar` are the same crate.
    pub fn canonical(&self) -> String {
        canonical(&self.0)
    }
}

/// crates.io's rules for the characters of a crate name, without the reserved list: 1 to
/// [`MAX_NAME_LEN`] ASCII letters, digits, `-` and `_`, starting with a letter. What passes can
/// safely become a file name (no `/`, `.`, NUL or non-ASCII), so the index path is built only
/// from such names.
pub fn check_syntax(name: &str) -> Result<(), NameError> {
    check_chars(name, false)
}

/// crates.io's rules for the name a dependency is known by in the dependent's code (the key in
/// `[dependencies]`, an alias when renamed): as [`check_syntax`], but it may start with `_`.
pub fn check_dependency_name(name: &str) -> Result<(), NameError> {
    check_chars(name, true)
}

fn check_chars(name: &str, underscore_first: bool) -> Result<(), NameError> {
    let Some(first) = name.chars().next() else {
        return Err(NameError::Empty);
    };
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(shortened(name)));
    }
    if underscore_first && !(first.is_ascii_alphabetic() || first == '_') {
        return Err(NameError::BadDependencyStart(name.to_owned()));
    }
    if !underscore_first && !first.is_ascii_alphabetic() {
        return Err(NameError::BadStart(name.to_owned()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(NameError::BadChar(name.to_owned(), bad));
    }
    Ok(())
}

/// A name too long to be one, cut for messages (it may be megabytes of hostile text).
fn shortened(name: &str) -> String {
    let cut: String = name.chars().take(MAX_NAME_LEN).collect();
    format!("{cut}...")
}

/// Lowercase with `-` folded to `_`.
pub fn canonical(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

impl fmt::Display for CrateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CrateName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["serde", "a", "Foo-Bar_2", &"x".repeat(64)] {
            assert!(CrateName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_names_crates_io_refuses() {
        assert_eq!(CrateName::new(""), Err(NameError::Empty));
        assert!(matches!(
            CrateName::new(&"x".repeat(65)),
            Err(NameError::TooLong(_))
        ));
        assert!(matches!(
            CrateName::new("1abc"),
            Err(NameError::BadStart(_))
        ));
        assert!(matches!(
            CrateName::new("_abc"),
            Err(NameError::BadStart(_))
        ));
        assert!(matches!(
            CrateName::new("ab.c"),
            Err(NameError::BadChar(_, '.'))
        ));
        assert!(matches!(
            CrateName::new("héllo"),
            Err(NameError::BadChar(_, 'é'))
        ));
        assert!(matches!(
            CrateName::new("Proc-Macro"),
            Err(NameError::Reserved(_))
        ));
        assert!(matches!(
            CrateName::new("LPT1"),
            Err(NameError::Reserved(_))
        ));
    }

    #[test]
    fn dependency_names_may_start_with_an_underscore_but_nothing_else_is_looser() {
        assert!(check_dependency_name("_private").is_ok());
        assert!(
            check_dependency_name("core").is_ok(),
            "aliases may be reserved names"
        );
        assert!(
            check_syntax("core").is_ok(),
            "reserved is not a syntax rule"
        );
        assert!(matches!(
            check_syntax("_private"),
            Err(NameError::BadStart(_))
        ));
        for bad in [
            "../../evil",
            "a/b",
            "a.b",
            "",
            "a\0b",
            "é",
            "../../../dev/zero",
        ] {
            assert!(check_dependency_name(bad).is_err(), "{bad}");
            assert!(check_syntax(bad).is_err(), "{bad}");
        }
        let long = "x".repeat(100_000);
        let err = check_syntax(&long).unwrap_err().to_string();
        assert!(
            err.len() < 200,
            "the message quotes a shortened name: {err}"
        );
    }

    #[test]
    fn canonical_folds_case_and_dashes() {
        assert_eq!(canonical("Foo-Bar_baz"), "foo_bar_baz");
        assert_eq!(
            CrateName::new("foo_bar").unwrap().canonical(),
            CrateName::new("FOO-BAR").unwrap().canonical()
        );
    }
}
