//! The fence around raw file access (`disallowed-methods` in `clippy.toml`): registry data is
//! read and written through `storage::Store`; anything else that touches files says why, in a
//! `// reason:` comment on its `#[allow(clippy::disallowed_methods)]`.

use crate::support::cargo_bin;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `(path, reason)` of every entry of `disallowed-methods`.
fn fenced() -> Vec<(String, String)> {
    let text = fs::read_to_string(repo().join("clippy.toml")).expect("clippy.toml at the root");
    let doc: toml::Table = text.parse().expect("clippy.toml parses");
    let entries = doc
        .get("disallowed-methods")
        .and_then(|v| v.as_array())
        .expect("clippy.toml has `disallowed-methods`");
    entries
        .iter()
        .map(|e| {
            let path = e.get("path").and_then(|p| p.as_str()).unwrap_or("");
            let reason = e.get("reason").and_then(|r| r.as_str()).unwrap_or("");
            (path.to_owned(), reason.to_owned())
        })
        .collect()
}

#[test]
fn clippy_toml_fences_the_file_functions_and_points_at_store() {
    let fenced = fenced();
    let required = [
        "std::fs::read",
        "std::fs::read_to_string",
        "std::fs::write",
        "std::fs::rename",
        "std::fs::copy",
        "std::fs::hard_link",
        "std::fs::remove_file",
        "std::fs::remove_dir",
        "std::fs::remove_dir_all",
        "std::fs::create_dir",
        "std::fs::create_dir_all",
        "std::fs::read_dir",
        "std::fs::metadata",
        "std::fs::symlink_metadata",
        "std::fs::set_permissions",
        "std::fs::File::open",
        "std::fs::File::create",
        "std::fs::OpenOptions::open",
        "std::path::Path::exists",
        "std::path::Path::read_dir",
        "tokio::fs::read",
        "tokio::fs::write",
        "walkdir::WalkDir::new",
    ];
    for path in required {
        assert!(
            fenced.iter().any(|(p, _)| p == path),
            "clippy.toml does not fence `{path}`"
        );
    }
    for (path, reason) in &fenced {
        assert!(
            reason.contains("storage::Store"),
            "the reason for `{path}` should say to go through `storage::Store`: {reason:?}"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Where a whole module may allow raw file access: the storage interface, and the mirror's
/// own git clone of its upstream. A new one belongs here only after a look at whether its
/// files are registry data.
const MODULE_WIDE: &[&str] = &["src/storage/mod.rs", "src/mirror/all_names.rs"];

/// Whether the allow at `lines[at]` covers a whole module: an inner attribute, or an outer one
/// on a `mod` item that is not `#[cfg(test)]`.
fn allows_a_module(lines: &[&str], at: usize) -> bool {
    if lines[at].trim_start().starts_with("#![") {
        return true;
    }
    let attribute_or_comment = |l: &str| {
        let l = l.trim_start();
        l.starts_with("#[") || l.starts_with("//")
    };
    let above = lines[..at]
        .iter()
        .rev()
        .take_while(|l| attribute_or_comment(l));
    let below = lines[at + 1..]
        .iter()
        .take_while(|l| attribute_or_comment(l));
    let for_tests = above.chain(below).any(|l| l.contains("#[cfg(test)]"));
    let item = lines[at + 1..].iter().find(|l| !attribute_or_comment(l));
    let is_mod = item.is_some_and(|l| {
        let l = l.trim_start();
        let l = l
            .strip_prefix("pub ")
            .or_else(|| l.strip_prefix("pub(crate) "))
            .unwrap_or(l);
        l.starts_with("mod ")
    });
    is_mod && !for_tests
}

#[test]
fn every_allow_of_raw_file_access_gives_its_reason() {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    files.sort();
    let mut missing = Vec::new();
    let mut module_wide = Vec::new();
    let mut allows = 0;
    for file in &files {
        let rel = file.strip_prefix(repo()).unwrap().display().to_string();
        let text = fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") || !code.contains("allow(clippy::disallowed_methods)") {
                continue;
            }
            allows += 1;
            if !MODULE_WIDE.contains(&rel.as_str()) && allows_a_module(&lines, i) {
                module_wide.push(format!("{rel}:{}", i + 1));
            }
            // The reason is on the same line, or in the comment lines just above (other
            // attributes may stand between).
            let mut given = line.contains("// reason:");
            let mut j = i;
            while !given && j > 0 {
                j -= 1;
                let above = lines[j].trim_start();
                if above.starts_with("// reason:") {
                    given = true;
                } else if !(above.starts_with("//") || above.starts_with("#[")) {
                    break;
                }
            }
            if !given {
                missing.push(format!("{rel}:{}", i + 1));
            }
        }
    }
    assert!(allows > 0, "no allow found: is the scan looking at src/?");
    assert!(
        missing.is_empty(),
        "`#[allow(clippy::disallowed_methods)]` without a `// reason:` comment at {missing:?}"
    );
    assert!(
        module_wide.is_empty(),
        "module-wide allows of raw file access outside {MODULE_WIDE:?}: {module_wide:?} (allow \
         the smallest item instead)"
    );
}

/// The fence bites: with the repository's clippy.toml, clippy refuses raw file access in a
/// small crate, names `storage::Store` in its note, lets an allowed function through, and
/// finds every fenced path of the standard library.
#[test]
fn clippy_refuses_raw_file_access_with_the_fence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fence-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
         [dependencies]\n",
    )
    .unwrap();
    fs::write(
        dir.join("src/lib.rs"),
        r#"pub fn reads() -> usize {
    std::fs::read("public/index/config.json").map_or(0, |b| b.len())
}

pub fn looks() -> bool {
    std::path::Path::new("state/lock").exists()
}

pub fn opens() -> bool {
    std::fs::OpenOptions::new().append(true).open("state/audit.jsonl").is_ok()
}

// reason: the probe's own allowed exception.
#[allow(clippy::disallowed_methods)]
pub fn allowed() -> bool {
    std::fs::File::open("ktra.toml").is_ok()
}
"#,
    )
    .unwrap();
    let out = Command::new(cargo_bin())
        .args(["clippy", "--quiet", "--offline"])
        .current_dir(dir)
        .env("CLIPPY_CONF_DIR", repo())
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo clippy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each warning: its message, then the line ` --> src/lib.rs:LINE:COLUMN`.
    let lines: Vec<&str> = stderr.lines().collect();
    let refused: Vec<(String, String)> = lines
        .windows(2)
        .filter_map(|w| {
            let method = w[0].strip_prefix("warning: use of a disallowed method `")?;
            let at = w[1].trim_start().strip_prefix("--> src/lib.rs:")?;
            let line = at.split(':').next()?;
            Some((method.trim_end_matches('`').to_owned(), line.to_owned()))
        })
        .collect();
    let expected = [
        ("std::fs::read", "2"),
        ("std::path::Path::exists", "6"),
        ("std::fs::OpenOptions::open", "10"),
    ];
    assert_eq!(
        refused,
        expected.map(|(m, l)| (m.to_owned(), l.to_owned())),
        "clippy refused other calls than the three raw ones (the allowed function is line 16):\n{stderr}"
    );
    assert!(
        stderr.contains("note: registry data goes through storage::Store"),
        "the note does not point at `storage::Store`:\n{stderr}"
    );
    assert!(
        !stderr.contains("does not refer to"),
        "clippy.toml names a path that does not exist:\n{stderr}"
    );
}
