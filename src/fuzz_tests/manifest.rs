//! Manifest to index entry (`package::manifest::to_entry`) on random TOML-ish text and on
//! structured random manifests: it never panics, every dependency name it lets through passes
//! crates.io's rules, and every entry it builds is a line cargo reads back unchanged.

use super::{run, word};
use crate::index::{entry, name, path};
use crate::package::manifest::{RegistryIdentity, to_entry};
use arbitrary::Unstructured;

const SAME: &str = "sparse+http://127.0.0.1:9/index/";

fn me() -> RegistryIdentity {
    RegistryIdentity {
        name: "demo".into(),
        index_urls: vec![path::canonical_index_url(SAME)],
    }
}

/// Checks what holds for any manifest text.
fn check_text(text: &str) -> bool {
    let _ = crate::package::meta::read(text, &[]);
    let Ok(mut e) = to_entry(text, &me()) else {
        return false;
    };
    for d in &e.deps {
        name::check_dependency_name(&d.name).unwrap();
        name::check_dependency_name(d.package_name()).unwrap();
        if d.registry.is_none() || d.registry.as_deref() == Some(entry::CRATES_IO_INDEX) {
            path::index_path(d.package_name()).unwrap();
        }
    }
    e.cksum = "0".repeat(64);
    let line = e.to_line();
    let back = entry::parse_strict(&line).unwrap_or_else(|why| panic!("{why}: {line}"));
    assert_eq!(back.to_line(), line);
    crate::index::IndexFile::parse(line.as_bytes()).unwrap();
    let _ = crate::limits::check(&e, line.len(), None, &Default::default());
    true
}

const TOKENS: &[&str] = &[
    "[package]",
    "[project]",
    "[dependencies]",
    "[features]",
    "[target.'cfg(unix)'.dependencies]",
    "[dev-dependencies]",
    "[build_dependencies]",
    "name",
    "version",
    "package",
    "registry",
    "registry-index",
    "rust-version",
    "links",
    "workspace",
    "optional",
    "features",
    " = ",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    ",",
    ".",
    "\n",
    "true",
    "1",
    "\"1.0.0\"",
    "\"a\"",
    "dep:a",
    "a?/b",
];

fn toml_ish(u: &mut Unstructured<'_>) -> bool {
    let mut text = match u.arbitrary().unwrap_or(false) {
        true => "[package]\nname = \"a\"\nversion = \"1.0.0\"\n".to_owned(),
        false => String::new(),
    };
    for _ in 0..u.int_in_range(0..=60u8).unwrap_or(0) {
        text.push_str(&word(u, TOKENS));
    }
    check_text(&text)
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

const NAMES: &[&str] = &[
    "a",
    "foo",
    "Foo-Bar",
    "_x",
    "1a",
    "../x",
    "",
    "a/b",
    "serde_json",
];
const VERSIONS: &[&str] = &["1.0.0", "1.0", "1.0.0+b", "0.1.0-pre.1", "x", "01.0.0"];
const REQS: &[&str] = &[
    "1",
    "^1.0",
    "=0.3",
    "*",
    "not a req",
    ">=1, <2",
    "~1.2.3",
    "",
];
const KINDS: &[&str] = &[
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    "build_dependencies",
    "dev_dependencies",
    "target.'cfg(unix)'.dependencies",
    "target.'cfg(any( unix,windows ))'.dependencies",
    "target.\"x86_64-unknown-linux-gnu\".dependencies",
];
const REGISTRIES: &[&str] = &[
    SAME,
    "sparse+https://elsewhere.example/index/",
    "https://github.com/rust-lang/crates.io-index",
];
const VALUES: &[&str] = &["dep:a", "a?/b", "a/b", "", "std", "foo"];

fn dependency(u: &mut Unstructured<'_>) -> String {
    let key = quoted(&word(u, NAMES));
    let req = quoted(&word(u, REQS));
    if u.ratio(1u8, 3u8).unwrap_or(false) {
        return format!("{key} = {req}\n");
    }
    let mut fields = vec![format!("version = {req}")];
    let optional: [fn(&mut Unstructured<'_>) -> String; 7] = [
        |u| format!("package = {}", quoted(&word(u, NAMES))),
        |u| format!("registry-index = {}", quoted(&word(u, REGISTRIES))),
        |u| format!("registry = {}", quoted(&word(u, &["demo", "other"]))),
        |u| format!("optional = {}", u.arbitrary::<bool>().unwrap_or(false)),
        |_| "default-features = false".to_owned(),
        |u| format!("features = [{}]", quoted(&word(u, VALUES))),
        |_| "workspace = true".to_owned(),
    ];
    for field in optional {
        if u.arbitrary().unwrap_or(false) {
            fields.push(field(u));
        }
    }
    format!("{key} = {{ {} }}\n", fields.join(", "))
}

fn structured(u: &mut Unstructured<'_>) -> bool {
    let mut text = format!(
        "[package]\nname = {}\nversion = {}\n",
        quoted(&word(u, NAMES)),
        quoted(&word(u, VERSIONS))
    );
    if u.arbitrary().unwrap_or(false) {
        let rv = word(u, &["1.70", "1.70.0", ">=1", "1.2.3.4", "1"]);
        text.push_str(&format!("rust-version = {}\n", quoted(&rv)));
    }
    for _ in 0..u.int_in_range(0..=4u8).unwrap_or(0) {
        text.push_str(&format!("[{}]\n", word(u, KINDS)));
        for _ in 0..u.int_in_range(0..=3u8).unwrap_or(0) {
            text.push_str(&dependency(u));
        }
    }
    if u.arbitrary().unwrap_or(false) {
        text.push_str("[features]\n");
        for _ in 0..u.int_in_range(0..=4u8).unwrap_or(0) {
            let values: Vec<String> = (0..u.int_in_range(0..=3u8).unwrap_or(0))
                .map(|_| quoted(&word(u, VALUES)))
                .collect();
            let feature = quoted(&word(u, &["default", "std", "x", "a"]));
            text.push_str(&format!("{feature} = [{}]\n", values.join(", ")));
        }
    }
    check_text(&text)
}

#[test]
fn random_toml_ish_text() {
    run("manifest-text", 512, toml_ish);
}

#[test]
fn structured_random_manifests() {
    run("manifest-structured", 512, structured);
}

#[test]
fn random_target_keys() {
    run("manifest-target", 128, |u| {
        let mut target = String::new();
        let cfg = u.arbitrary().unwrap_or(false);
        if cfg {
            target.push_str("cfg(");
        }
        for _ in 0..u.int_in_range(0..=12u8).unwrap_or(0) {
            let piece = [
                "any(",
                "all(",
                "not(",
                "unix",
                "windows",
                ",",
                " ",
                ")",
                "feature",
                " = ",
                "\"x\"",
                "target_os",
            ];
            target.push_str(&word(u, &piece));
        }
        if cfg && u.arbitrary().unwrap_or(false) {
            target.push(')');
        }
        let text = format!(
            "[package]\nname = \"a\"\nversion = \"1.0.0\"\n[target.{}.dependencies]\nb = \"1\"\n",
            quoted(&target)
        );
        check_text(&text)
    });
}
