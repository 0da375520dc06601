//! All human output: cargo-style status lines on stderr (`      Adding foo v1.0.0`), warnings,
//! data on stdout, and progress bars on a terminal. `--quiet` silences status, never data.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
    color: bool,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self { quiet, color }
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// `{verb:>12} {message}` on stderr, like cargo.
    pub fn status(&self, verb: &str, message: impl Display) {
        if !self.quiet {
            let verb = self.paint("1;32", &format!("{verb:>12}"));
            eprintln!("{verb} {message}");
        }
    }

    pub fn warn(&self, message: impl Display) {
        let message = message.to_string();
        eprintln!("{}: {message}", self.paint("1;33", "warning"));
        CAPTURED.with_borrow_mut(|c| c.as_mut().map(|c| c.push(message)));
    }

    pub fn note(&self, message: impl Display) {
        if !self.quiet {
            eprintln!("{}: {message}", self.paint("1;36", "note"));
        }
    }

    pub fn error(&self, message: impl Display) {
        eprintln!("{}: {message}", self.paint("1;31", "error"));
    }

    /// Data for scripts: stdout, not affected by `--quiet`.
    pub fn data(&self, text: impl Display) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// A progress bar, drawn only on a terminal and when not quiet.
    pub fn progress(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let style = indicatif::ProgressStyle::with_template(
            "{prefix:>12.cyan.bold} [{bar:30}] {pos}/{len} {wide_msg}",
        )
        .expect("valid template")
        .progress_chars("=> ");
        indicatif::ProgressBar::new(len)
            .with_style(style)
            .with_prefix(what.to_owned())
    }
}

thread_local! {
    /// Warnings of the work running in [`capture_warnings`] on this thread.
    static CAPTURED: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns what it returned with the warnings it printed on this thread (the
/// receiver hands them to cargo, which shows a publish response's warnings to its user).
pub fn capture_warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let outer = CAPTURED.replace(Some(Vec::new()));
    let value = f();
    let warnings = CAPTURED.replace(outer).unwrap_or_default();
    (value, warnings)
}

#[cfg(test)]
mod tests {
    #[test]
    fn warnings_are_captured_on_their_thread_only_while_asked() {
        let printer = super::Printer::new(true);
        printer.warn("before");
        let ((), got) = super::capture_warnings(|| {
            printer.warn("one");
            std::thread::scope(|s| {
                s.spawn(|| printer.warn("another thread"));
            });
        });
        assert_eq!(got, ["one"]);
        let ((), none) = super::capture_warnings(|| ());
        assert!(none.is_empty());
    }
}
