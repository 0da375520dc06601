//! The settings parser (`config::Config::parse`) on random TOML-ish text: it never panics, and
//! settings it accepts write out to text that parses to the same settings.

use super::{run, word};
use crate::config::Config;
use arbitrary::Unstructured;

const BASE: &str = "version = 1\nname = \"demo\"\nurl = \"https://c.example\"\n";

const TOKENS: &[&str] = &[
    "version",
    "name",
    "url",
    "api",
    "auth-required",
    "index-aliases",
    "max-crate-size",
    "[git]",
    "[mirror]",
    "[site]",
    "[limits]",
    "enabled",
    "remote",
    "upstream",
    "replaces",
    "max-features",
    "max-readme-size",
    " = ",
    "\"",
    "1",
    "-1",
    "9223372036854775807",
    "true",
    "\"https://x\"",
    "\"file:///r\"",
    "[",
    "]",
    "\n",
    ",",
    "{",
    "}",
    "#",
];

fn check_text(text: &str) -> bool {
    let parsed = Config::parse(text);
    let accepted = parsed.is_ok();
    if let Ok(config) = parsed {
        let written = config.to_toml();
        let back = Config::parse(&written).unwrap_or_else(|e| panic!("{e:#}:\n{written}"));
        assert_eq!(back, config);
    }
    accepted
}

fn toml_ish(u: &mut Unstructured<'_>) -> bool {
    let mut text = match u.arbitrary().unwrap_or(false) {
        true => BASE.to_owned(),
        false => String::new(),
    };
    for _ in 0..u.int_in_range(0..=40u8).unwrap_or(0) {
        text.push_str(&word(u, TOKENS));
    }
    check_text(&text)
}

#[test]
fn random_toml_ish_settings() {
    run("config-text", 256, toml_ish);
}

#[test]
fn regression_cases() {
    assert!(check_text(&format!(
        "{BASE}[limits]\nmax-features = 9223372036854775807\n"
    )));
    assert!(check_text(&format!(
        "{BASE}max-crate-size = 9223372036854775807\n"
    )));
    assert!(!check_text(&format!("{BASE}[limits]\nmax-features = -1\n")));
}
