//! What comes out of a hostile `.crate` never reaches the registry: dependency names that are
//! paths, manifests over the limit, limits as crates.io has them, archives cargo could not
//! unpack. Each `ktra add` runs the real binary with a short time limit (a hang is a failure),
//! and a refused add changes nothing.

use crate::cli::Reg;
use crate::support::ktra_bin;
use ktra::package::testing::{Entry, manifest, tarball};
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a refused add may take: refusals are immediate, a hang or an endless read is not.
const LIMIT: Duration = Duration::from_secs(60);

/// The same registry's index URL, as a packaged `Cargo.toml` names it (see `Reg::new`).
const SAME: &str = "sparse+http://127.0.0.1:9/r/index/";

struct Run {
    ok: bool,
    stderr: String,
}

/// `ktra -r ROOT ARGS`, killed (and the test failed) when it runs longer than [`LIMIT`].
fn ktra_within(reg: &Reg, args: &[&str]) -> Run {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(ktra_bin())
        .env_remove("KTRA_REGISTRY")
        .env_remove(ktra::storage::crash::ENV)
        .arg("-r")
        .arg(&reg.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`ktra {}` still ran after {LIMIT:?} (a hang, or an endless read under the lock)",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        ok: status.success(),
        stderr: fs::read_to_string(err.path()).unwrap_or_default(),
    }
}

/// `ktra add FILE` must fail within the limit, say `want`, and leave every file as it was.
fn refused(reg: &Reg, file: &str, want: &str) -> String {
    let before = reg.snapshot();
    let run = ktra_within(reg, &["add", file]);
    assert!(!run.ok, "`ktra add {file}` succeeded:\n{}", run.stderr);
    assert!(
        run.stderr.contains("error: failed to add") && run.stderr.contains(want),
        "want `{want}` in:\n{}",
        run.stderr
    );
    assert!(
        before == reg.snapshot(),
        "a refused add changed the registry"
    );
    run.stderr
}

/// A crate `evil 1.0.0` whose manifest has these dependency tables.
fn with_deps(reg: &Reg, deps: &str) -> String {
    reg.krate("evil", "1.0.0", deps)
}

#[test]
fn a_same_registry_dependency_named_like_a_path_to_dev_zero_is_refused_at_once() {
    let reg = Reg::new(false);
    // From `public/index/.././`, enough `..` to reach `/` whatever the temp dir's depth.
    let package = format!("{}dev/zero", "../".repeat(24));
    let file = with_deps(
        &reg,
        &format!(
            "[dependencies.zero]\nversion = \"1\"\npackage = \"{package}\"\nregistry-index = \"{SAME}\"\n"
        ),
    );
    let err = refused(
        &reg,
        &file,
        "dependency `zero` names a package that is not allowed",
    );
    assert!(!err.contains("/dev/zero`"), "no path was read: {err}");
    ktra_within(&reg, &["verify"]);
}

#[test]
fn a_same_registry_dependency_pointing_at_a_named_pipe_does_not_hang_the_add() {
    let reg = Reg::new(false);
    // `../../pipe` is read as `public/index/.././../../pipe`: the temp dir above the registry.
    let tmp = reg.files.parent().unwrap();
    let made = Command::new("mkfifo")
        .arg(tmp.join("pipe"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let file = with_deps(
        &reg,
        &format!(
            "[dependencies.pipe]\nversion = \"1\"\npackage = \"../../pipe\"\nregistry-index = \"{SAME}\"\n"
        ),
    );
    refused(&reg, &file, "names a package that is not allowed");
    // The lock was not left held: a good add goes through at once.
    let good = reg.krate("fine", "1.0.0", "");
    let run = ktra_within(&reg, &["add", &good]);
    assert!(run.ok, "{}", run.stderr);
}

#[test]
fn a_crates_io_dependency_with_a_path_for_package_never_reaches_the_index() {
    let reg = Reg::new(false);
    let file = with_deps(
        &reg,
        "[dependencies.evil-dep]\nversion = \"1\"\npackage = \"../../evil\"\n",
    );
    refused(
        &reg,
        &file,
        "dependency `evil-dep` names a package that is not allowed: the name `../../evil` must start with an ASCII letter",
    );
    assert!(!reg.root.join("public/index/ev/il/evil").exists());
    // The name in the code is checked too, as crates.io checks it.
    let file = with_deps(&reg, "[dependencies.\"../x\"]\nversion = \"1\"\n");
    refused(&reg, &file, "dependency `../x` is not allowed");
    // What crates.io allows as a dependency name still goes in.
    let file = with_deps(
        &reg,
        "[dependencies._under]\nversion = \"1\"\npackage = \"real-name\"\n",
    );
    let run = ktra_within(&reg, &["add", &file]);
    assert!(run.ok, "{}", run.stderr);
    let line = reg.index_line("ev/il/evil");
    assert!(
        line.contains(r#""name":"_under""#) && line.contains(r#""package":"real-name""#),
        "{line}"
    );
}

/// A crate `NAME-VERSION.crate` with this manifest text and a `src/lib.rs`.
fn with_manifest(reg: &Reg, name: &str, text: &str) -> String {
    let root = format!("{name}-1.0.0");
    let bytes = tarball(&[
        Entry::File(&format!("{root}/Cargo.toml"), text.as_bytes()),
        Entry::File(&format!("{root}/src/lib.rs"), b""),
    ]);
    reg.file(&format!("{root}.crate"), &bytes)
}

#[test]
fn a_manifest_over_the_limit_is_refused_not_cut_short() {
    let reg = Reg::new(false);
    // Cut at 1 MiB, the text would end just before its dependency table and still parse.
    let limit = 1024 * 1024;
    let head = manifest("big", "1.0.0", "");
    let mut text = format!("{head}#");
    text.push_str(&"x".repeat(limit - text.len() - 1));
    text.push('\n');
    assert_eq!(text.len(), limit);
    text.push_str("[dependencies]\nitoa = \"1\"\n");
    let file = with_manifest(&reg, "big", &text);
    let want = format!(
        "its `Cargo.toml` is {} bytes, over the limit of 1048576 bytes (setting `limits.max-manifest-size`)",
        text.len()
    );
    refused(&reg, &file, &want);
}

#[test]
fn three_hundred_thousand_features_are_refused_until_the_limit_is_raised() {
    let reg = Reg::new(false);
    let mut text = manifest("many", "1.0.0", "[features]\n");
    for i in 0..300_000 {
        text.push_str(&format!("f{i} = []\n"));
    }
    let file = with_manifest(&reg, "many", &text);
    // Its 3.8 MB manifest is over the default manifest limit: raised, the feature limit is next.
    refused(&reg, &file, "(setting `limits.max-manifest-size`)");
    let settings = reg.root.join("ktra.toml");
    let mut toml = fs::read_to_string(&settings).unwrap();
    toml.push_str("\n[limits]\nmax-manifest-size = 8388608\n");
    fs::write(&settings, &toml).unwrap();
    refused(
        &reg,
        &file,
        "the number of features is 300000, over the limit of 300 (setting `limits.max-features` in ktra.toml)",
    );
    toml.push_str("max-features = 300000\n");
    fs::write(&settings, &toml).unwrap();
    refused(
        &reg,
        &file,
        "(setting `limits.max-index-line-size` in ktra.toml)",
    );
    toml.push_str("max-index-line-size = 16777216\n");
    fs::write(&settings, &toml).unwrap();
    let run = ktra_within(&reg, &["add", &file]);
    assert!(run.ok, "{}", run.stderr);
    let line = reg.index_line("ma/ny/many");
    assert!(line.contains(r#""f299999":[]"#));
}

#[test]
fn keywords_categories_and_description_follow_crates_io() {
    let reg = Reg::new(false);
    let cases = [
        (
            "keywords = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
            "the number of keywords is 6, over the limit of 5",
        ),
        (
            "keywords = [\"-bad\"]",
            "keyword `-bad` must start with an ASCII letter or digit",
        ),
        (
            "categories = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
            "(setting `limits.max-categories` in ktra.toml)",
        ),
    ];
    for (field, want) in cases {
        let text = manifest("meta", "1.0.0", "").replace(
            "license = \"MIT\"\n",
            &format!("license = \"MIT\"\n{field}\n"),
        );
        let file = with_manifest(&reg, "meta", &text);
        refused(&reg, &file, want);
    }
}

#[test]
fn a_file_named_like_the_top_folder_or_standing_where_a_folder_is_is_refused() {
    let reg = Reg::new(false);
    let m = manifest("top", "1.0.0", "");
    let cases: [(Vec<Entry<'_>>, &str); 2] = [
        (
            vec![
                Entry::File("top-1.0.0", b"x"),
                Entry::File("top-1.0.0/Cargo.toml", m.as_bytes()),
            ],
            "entry `top-1.0.0` is a file where the archive's top directory must be",
        ),
        (
            vec![
                Entry::File("top-1.0.0/Cargo.toml", m.as_bytes()),
                Entry::File("top-1.0.0/src", b"x"),
                Entry::File("top-1.0.0/src/lib.rs", b""),
            ],
            "entry `top-1.0.0/src/lib.rs` is both a file and a directory",
        ),
    ];
    for (entries, want) in cases {
        let file = reg.file("top-1.0.0.crate", &tarball(&entries));
        refused(&reg, &file, want);
    }
}

#[test]
fn a_publish_with_a_path_for_a_dependency_is_a_clear_400_that_names_no_server_path() {
    let reg = Reg::new(false);
    reg.ktra(&["user", "add", "alice"]).success();
    let token = reg
        .ktra(&["token", "create", "alice"])
        .success()
        .stdout
        .trim()
        .to_owned();
    let server = crate::serve::Serve::start(&reg.root);
    let package = format!("{}dev/zero", "../".repeat(24));
    let krate = ktra::package::testing::simple(
        "evil",
        "1.0.0",
        &format!(
            "[dependencies.zero]\nversion = \"1\"\npackage = \"{package}\"\nregistry-index = \"{SAME}\"\n"
        ),
    );
    let json = r#"{"name":"evil","vers":"1.0.0","deps":[],"features":{}}"#;
    let mut body = (json.len() as u32).to_le_bytes().to_vec();
    body.extend_from_slice(json.as_bytes());
    body.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    body.extend_from_slice(&krate);
    let before = reg.snapshot();
    let (tx, rx) = std::sync::mpsc::channel();
    let port = server.port;
    std::thread::spawn(move || {
        let headers = [("Authorization", token.as_str())];
        let reply =
            crate::serve::request_with_body(port, "PUT", "/api/v1/crates/new", &headers, &body);
        let _ = tx.send(reply);
    });
    let reply = rx
        .recv_timeout(LIMIT)
        .expect("the receiver answers at once (it read no path)");
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert_eq!(reply.status, 400, "{text}");
    assert!(
        text.contains("dependency `zero` names a package that is not allowed"),
        "{text}"
    );
    let root = reg.root.to_string_lossy().into_owned();
    assert!(!text.contains(&root), "no server path in `{text}`");
    let after = reg.snapshot();
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| k.starts_with("public/") && before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "the refused publish changed {changed:?}"
    );
}

#[test]
fn a_readme_over_the_limit_is_refused() {
    let reg = Reg::new(false);
    let settings = reg.root.join("ktra.toml");
    let mut toml = fs::read_to_string(&settings).unwrap();
    toml.push_str("\n[limits]\nmax-readme-size = 5\n");
    fs::write(&settings, &toml).unwrap();
    let m = manifest("doc", "1.0.0", "");
    let bytes = tarball(&[
        Entry::File("doc-1.0.0/Cargo.toml", m.as_bytes()),
        Entry::File("doc-1.0.0/README.md", b"0123456789"),
    ]);
    let file = reg.file("doc-1.0.0.crate", &bytes);
    refused(
        &reg,
        &file,
        "the size of the README in bytes is 10, over the limit of 5 (setting `limits.max-readme-size` in ktra.toml)",
    );
}
