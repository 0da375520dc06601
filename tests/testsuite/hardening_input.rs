//! What comes out of a hostile `.crate` never reaches the registry: dependency names that are
//! paths, manifests over the limit, limits as crates.io has them, archives cargo could not
//! unpack. Each `ktra add` runs the real binary with a short time limit (a hang is a failure),
//! and a refused add changes nothing.

use crate::cli::Reg;
use crate::support::ktra_bin;
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
