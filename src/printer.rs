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
        eprintln!("{}: {message}", self.paint("1;33", "warning"));
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
