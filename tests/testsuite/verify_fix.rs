//! `ktra verify --fix`: orphan crate files (no index line names them) are removed, on a local
//! registry under the lock unless an interrupted change explains them, in object storage once
//! older than the grace period; a crate file an index line names is never removed, and neither
//! is anything while verify finds another problem. Against object storage, the two races with
//! a writer adding the same bytes as an old orphan are played out with pause points.

use crate::cli::Reg;
use crate::object_storage::BucketRegistry;
use crate::support::upstream::{crate_bytes, v};
use crate::support::{Outcome, Protocol, Registry, ktra_bin, run};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn removed_list(out: &Outcome) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", out.describe()));
    report["removed"]
        .as_array()
        .unwrap_or_else(|| panic!("no `removed` list:\n{}", out.describe()))
        .iter()
        .map(|k| k.as_str().expect("a key").to_owned())
        .collect()
}

#[test]
fn fix_removes_a_local_orphan_and_never_a_referenced_crate_file() {
    let reg = Reg::new(true);
    let kept = reg.krate("kept", "1.0.0", "");
    let other = reg.krate("kept", "1.1.0", "");
    reg.ktra(&["add", &kept, &other]).success();
    let crates = reg.root.join("public/crates");
    let referenced = fs::read(crates.join("kept-1.0.0.crate")).unwrap();
    // An orphan of a crate the index has, and one of a crate it does not have.
    fs::copy(&kept, crates.join("kept-0.9.0.crate")).unwrap();
    fs::write(crates.join("stray-2.0.0-rc.1.crate"), b"not even gzip").unwrap();
    let out = reg.ktra(&["verify"]).failure();
    assert!(out.stderr.contains("(orphaned)"), "{}", out.describe());

    let out = reg.ktra(&["verify", "--fix", "--json"]).success();
    for key in ["crates/kept-0.9.0.crate", "crates/stray-2.0.0-rc.1.crate"] {
        assert!(
            out.stderr.contains(&format!("    Removing {key} (orphan)")),
            "{key}: {}",
            out.describe()
        );
    }
    assert_eq!(
        removed_list(&out),
        ["crates/kept-0.9.0.crate", "crates/stray-2.0.0-rc.1.crate"]
    );
    assert!(
        out.stderr.contains("Verified 1 crates, 2 versions"),
        "{}",
        out.describe()
    );
    assert!(!crates.join("kept-0.9.0.crate").exists());
    assert!(!crates.join("stray-2.0.0-rc.1.crate").exists());
    assert_eq!(
        fs::read(crates.join("kept-1.0.0.crate")).unwrap(),
        referenced
    );
    assert!(crates.join("kept-1.1.0.crate").exists());
    reg.ktra(&["verify"]).success();

    // Nothing to remove: nothing removed, and the JSON says so.
    let out = reg.ktra(&["verify", "--fix", "--json"]).success();
    assert!(removed_list(&out).is_empty(), "{}", out.describe());
    assert!(!out.stderr.contains("Removing"), "{}", out.describe());
    // Without --fix the report has no `removed` list.
    let out = reg.ktra(&["verify", "--json"]).success();
    assert!(!out.stdout.contains("\"removed\""), "{}", out.describe());
}

#[test]
fn fix_leaves_the_files_of_an_interrupted_local_change_to_the_next_writer() {
    let reg = Reg::new(true);
    let k = reg.krate("halfway", "1.0.0", "");
    // The crate file is in place, the index line is not, the journal says so.
    let out = reg.ktra_crashing("index-synced", &["add", &k]);
    assert!(!out.status.success(), "{}", out.describe());
    let file = reg.root.join("public/crates/halfway-1.0.0.crate");
    assert!(file.exists());
    let out = reg.ktra(&["verify", "--fix", "--json"]).success();
    assert!(removed_list(&out).is_empty(), "{}", out.describe());
    assert!(
        out.stderr.contains("interrupted `add`"),
        "{}",
        out.describe()
    );
    assert!(
        file.exists(),
        "--fix removed a file of an interrupted change"
    );
    // The next writer completes the change.
    reg.ktra(&["add", &k]).success();
    reg.ktra(&["verify"]).success();
}

#[test]
fn fix_removes_nothing_while_another_problem_is_found() {
    let reg = Reg::new(false);
    let k = reg.krate("broken", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    // Its index file no longer parses: its crate file looks orphaned, and is not removed.
    let index = reg.root.join("public/index/br/ok/broken");
    fs::write(&index, "{not json\n").unwrap();
    let crates = reg.root.join("public/crates");
    fs::copy(&k, crates.join("broken-0.1.0.crate")).unwrap();
    let out = reg.ktra(&["verify", "--fix"]).failure();
    assert!(
        out.stderr.contains("removed no orphan crate file"),
        "{}",
        out.describe()
    );
    assert!(!out.stderr.contains("Removing"), "{}", out.describe());
    assert!(crates.join("broken-1.0.0.crate").exists());
    assert!(crates.join("broken-0.1.0.crate").exists());
}

fn put_object(reg: &BucketRegistry, key: &str, bytes: &[u8]) {
    let r = reg
        .s3
        .request("PUT", &format!("/{}/{key}", reg.bucket), &[], bytes);
    assert_eq!(
        r.status,
        200,
        "put {key}: {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// A `.crate` file of NAME@VERS in a folder of its own (the name `ktra add` wants).
fn crate_file(local: &Registry, name: &'static str, vers: &'static str) -> (PathBuf, Vec<u8>) {
    let bytes = crate_bytes(&v(name, vers));
    let dir = local.base().join("crate-files");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{vers}.crate"));
    fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

#[test]
fn fix_removes_an_orphan_in_a_bucket_only_once_older_than_the_grace() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "orphans");
    let (held, held_bytes) = crate_file(&local, "held", "1.0.0");
    reg.run(&local, &["add", held.to_str().unwrap()]).success();
    // What a writer killed between its crate file and its index line leaves.
    let (_, lost) = crate_file(&local, "lost", "1.0.0");
    put_object(&reg, "crates/lost-1.0.0.crate", &lost);

    let out = reg.run(&local, &["verify"]).success();
    assert!(
        out.stderr
            .contains("`crates/lost-1.0.0.crate` is not referenced"),
        "{}",
        out.describe()
    );
    // Younger than the default hour: it may be a running writer's, so it stays.
    let out = reg.run(&local, &["verify", "--fix", "--json"]).success();
    assert!(removed_list(&out).is_empty(), "{}", out.describe());
    assert!(!out.stderr.contains("Removing"), "{}", out.describe());
    assert!(out.stderr.contains("old: kept"), "{}", out.describe());
    assert_eq!(reg.get("crates/lost-1.0.0.crate").0, 200);
    let out = reg
        .run(&local, &["verify", "--fix", "--grace", "10m"])
        .success();
    assert!(out.stderr.contains("kept"), "{}", out.describe());
    assert_eq!(reg.get("crates/lost-1.0.0.crate").0, 200);

    let out = reg
        .run(&local, &["verify", "--fix", "--grace", "0s", "--json"])
        .success();
    assert!(
        out.stderr
            .contains("    Removing crates/lost-1.0.0.crate (orphan)"),
        "{}",
        out.describe()
    );
    assert_eq!(removed_list(&out), ["crates/lost-1.0.0.crate"]);
    assert!(!out.stderr.contains("warning"), "{}", out.describe());
    assert_eq!(reg.get("crates/lost-1.0.0.crate").0, 404);
    let (status, _, body) = reg.get("crates/held-1.0.0.crate");
    assert_eq!(status, 200, "a referenced crate file");
    assert!(body == held_bytes, "a referenced crate file changed");
    let out = reg.run(&local, &["verify"]).success();
    assert!(!out.stderr.contains("warning"), "{}", out.describe());
}

/// A `ktra` process on the bucket registry, paused at `point` until `resume` is called.
struct Paused {
    dir: tempfile::TempDir,
    child: std::thread::JoinHandle<Outcome>,
}

impl Paused {
    fn start(reg: &BucketRegistry, local: &Registry, point: &str, args: &[&str]) -> Paused {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(ktra_bin());
        cmd.envs(reg.s3.env())
            .env("NO_COLOR", "1")
            .env_remove("KTRA_REGISTRY")
            .env(ktra::storage::crash::PAUSE_ENV, point)
            .env(ktra::storage::crash::PAUSE_DIR_ENV, dir.path())
            .arg("-r")
            .arg(&reg.dir)
            .args(args);
        let logs = local.logs.clone();
        let child = std::thread::spawn(move || run(cmd, &logs));
        wait_for(&dir.path().join("paused"));
        Paused { dir, child }
    }

    fn resume(self) -> Outcome {
        fs::write(self.dir.path().join("resume"), b"").unwrap();
        self.child.join().expect("the paused process")
    }
}

fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never paused: {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A writer finds an old orphan with its own bytes (a success), and `--fix` removes that file
/// before the writer's index line is written: the writer puts it back once its line is in.
#[test]
fn a_writer_puts_back_an_orphan_it_named_that_fix_removed_meanwhile() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "adopted");
    let (path, bytes) = crate_file(&local, "again", "1.0.0");
    put_object(&reg, "crates/again-1.0.0.crate", &bytes);
    let writer = Paused::start(
        &reg,
        &local,
        "crates-synced",
        &["add", path.to_str().unwrap()],
    );
    let out = reg
        .run(&local, &["verify", "--fix", "--grace", "0s", "--json"])
        .success();
    assert_eq!(removed_list(&out), ["crates/again-1.0.0.crate"]);
    writer.resume().success();
    let (status, _, body) = reg.get("crates/again-1.0.0.crate");
    assert_eq!(status, 200, "the named crate file");
    assert!(body == bytes, "the named crate file changed");
    let out = reg.run(&local, &["verify"]).success();
    assert!(!out.stderr.contains("warning"), "{}", out.describe());
}

/// `--fix` is about to remove an old orphan when a writer adding the same bytes names it and
/// finishes: `--fix` reads the index again after the removal and puts the file back.
#[test]
fn fix_puts_back_an_orphan_a_writer_named_while_it_was_being_removed() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "raced");
    let (path, bytes) = crate_file(&local, "raced", "1.0.0");
    put_object(&reg, "crates/raced-1.0.0.crate", &bytes);
    let fix = Paused::start(
        &reg,
        &local,
        "verify-fix-before-delete",
        &["verify", "--fix", "--grace", "0s", "--json"],
    );
    reg.run(&local, &["add", path.to_str().unwrap()]).success();
    let out = fix.resume().success();
    assert!(
        out.stderr.contains("put `crates/raced-1.0.0.crate` back"),
        "{}",
        out.describe()
    );
    assert!(removed_list(&out).is_empty(), "{}", out.describe());
    let (status, _, body) = reg.get("crates/raced-1.0.0.crate");
    assert_eq!(status, 200, "the named crate file");
    assert!(body == bytes, "the named crate file changed");
    let out = reg.run(&local, &["verify"]).success();
    assert!(!out.stderr.contains("warning"), "{}", out.describe());
}
