//! Hardening of storage, recovery and the lock (issue 11): a bounded wait for the registry
//! lock, stale git lock files, a failed git step after the sparse index moved, `verify` while
//! writers run, private state files, temp files of killed processes, refused adds leaving no
//! folders, and a killed batch add that the next run completes.

use crate::support::{Outcome, ktra_bin, run};
use ktra::package::testing::simple;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A registry with a git index in a temp dir (served nowhere), and a folder for `.crate` files.
struct Reg {
    tmp: tempfile::TempDir,
    root: PathBuf,
    files: PathBuf,
    logs: PathBuf,
}

impl Reg {
    fn new() -> Reg {
        let tmp = tempfile::Builder::new()
            .prefix("ktra-hard-")
            .tempdir()
            .unwrap();
        let root = tmp.path().join("reg");
        let files = tmp.path().join("files");
        let logs = tmp.path().join("logs");
        fs::create_dir_all(&files).unwrap();
        let reg = Reg {
            tmp,
            root,
            files,
            logs,
        };
        let root = reg.root.to_str().unwrap().to_owned();
        reg.run(
            reg.bare(),
            &["init", &root, "--url", "http://127.0.0.1:9/r"],
        )
        .success();
        reg
    }

    fn bare(&self) -> Command {
        let mut cmd = Command::new(ktra_bin());
        cmd.env_remove("KTRA_REGISTRY")
            .env_remove(ktra::storage::crash::ENV)
            .env_remove(ktra::storage::crash::FAIL_ENV)
            .env_remove(ktra::storage::lock::TIMEOUT_ENV)
            .current_dir(self.tmp.path());
        cmd
    }

    fn run(&self, mut cmd: Command, args: &[&str]) -> Outcome {
        cmd.args(args);
        run(cmd, &self.logs)
    }

    /// `ktra -r ROOT ARGS` with extra environment variables.
    fn ktra_env(&self, env: &[(&str, &str)], args: &[&str]) -> Outcome {
        let mut cmd = self.bare();
        cmd.envs(env.iter().copied()).arg("-r").arg(&self.root);
        self.run(cmd, args)
    }

    fn ktra(&self, args: &[&str]) -> Outcome {
        self.ktra_env(&[], args)
    }

    /// A well-formed `NAME-VERSION.crate`; returns its path.
    fn krate(&self, name: &str, version: &str) -> String {
        self.krate_with(name, version, "")
    }

    /// The same with more manifest text (dependencies).
    fn krate_with(&self, name: &str, version: &str, extra: &str) -> String {
        let path = self.files.join(format!("{name}-{version}.crate"));
        fs::write(&path, simple(name, version, extra)).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Every file of the tree but the lock and temp files, with its bytes.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        files_below(&self.root)
            .into_iter()
            .filter(|(rel, _)| rel != "state/lock" && !rel.starts_with("state/tmp"))
            .map(|(rel, path)| (rel, fs::read(path).unwrap()))
            .collect()
    }
}

/// Every file below `dir`, by path relative to it.
fn files_below(dir: &Path) -> Vec<(String, PathBuf)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, e.path().to_owned())
        })
        .collect()
}

fn assert_unchanged(before: &BTreeMap<String, Vec<u8>>, reg: &Reg, what: &str) {
    let after = reg.snapshot();
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "{what} changed {changed:?}");
}

#[test]
fn a_writer_waits_for_the_lock_only_as_long_as_configured() {
    let reg = Reg::new();
    let a = reg.krate("first", "1.0.0");
    reg.ktra(&["add", &a]).success();
    let b = reg.krate("second", "1.0.0");

    // Another process holds the registry lock.
    let holder = fs::File::options()
        .write(true)
        .open(reg.path("state/lock"))
        .unwrap();
    holder.lock().unwrap();
    let before = reg.snapshot();

    let started = Instant::now();
    let out = reg
        .ktra_env(&[("KTRA_LOCK_TIMEOUT", "1s")], &["add", &b])
        .failure();
    let took = started.elapsed();
    assert!(
        out.stderr
            .contains("failed to lock the registry: another ktra process has held it for 1 s")
            && out.stderr.contains("lock-timeout"),
        "{}",
        out.describe()
    );
    assert!(took < Duration::from_secs(20), "waited {took:?}");
    assert_eq!(out.status.code(), Some(1));
    assert_unchanged(&before, &reg, "a timed-out add");

    // The setting in ktra.toml, without the variable.
    let settings = reg.path("ktra.toml");
    let text = fs::read_to_string(&settings).unwrap();
    fs::write(&settings, format!("lock-timeout = \"1s\"\n{text}")).unwrap();
    let before = reg.snapshot();
    let out = reg.ktra(&["yank", "first@1.0.0"]).failure();
    assert!(
        out.stderr.contains("has held it for 1 s"),
        "{}",
        out.describe()
    );
    assert_unchanged(&before, &reg, "a timed-out yank");

    // A bad setting is refused clearly.
    let good = fs::read_to_string(&settings).unwrap();
    fs::write(&settings, good.replace("\"1s\"", "\"soon\"")).unwrap();
    let out = reg.ktra(&["list"]).failure();
    assert!(out.stderr.contains("soon"), "{}", out.describe());
    fs::write(&settings, &good).unwrap();

    // Once the holder is done, the same add goes through.
    drop(holder);
    reg.ktra(&["add", &b]).success();
    reg.ktra(&["verify"]).success();
}

#[test]
fn a_stale_git_lock_is_reported_by_verify_and_removed_by_the_next_change() {
    let reg = Reg::new();
    let a = reg.krate("first", "1.0.0");
    reg.ktra(&["add", &a]).success();
    // What a kill while the branch moves leaves behind.
    let head = fs::read_to_string(reg.path("public/index.git/refs/heads/main")).unwrap();
    fs::write(reg.path("public/index.git/refs/heads/main.lock"), &head).unwrap();
    fs::write(reg.path("public/index.git/packed-refs.lock"), "").unwrap();

    // Reported as a warning: the next change removes it by itself, so the registry passes.
    let out = reg.ktra(&["verify"]).success();
    assert!(
        out.stderr
            .contains("warning: `public/index.git/refs/heads/main.lock` is a stale git lock file")
            && out.stderr.contains("packed-refs.lock"),
        "{}",
        out.describe()
    );

    let b = reg.krate("second", "1.0.0");
    let out = reg.ktra(&["add", &b]).success();
    assert!(
        out.stderr
            .contains("removed `public/index.git/refs/heads/main.lock`"),
        "{}",
        out.describe()
    );
    assert!(!reg.path("public/index.git/refs/heads/main.lock").exists());
    assert!(!reg.path("public/index.git/packed-refs.lock").exists());
    // The git index has the new version (verify compares it with the sparse index).
    let out = reg.ktra(&["verify"]).success();
    assert!(!out.stderr.contains("interrupted"), "{}", out.describe());

    // `rebuild` recovers the same way.
    fs::write(reg.path("public/index.git/refs/heads/main.lock"), &head).unwrap();
    reg.ktra(&["rebuild"]).success();
    reg.ktra(&["verify"]).success();
}

#[test]
fn a_failed_git_step_after_the_sparse_index_moved_is_acknowledged_and_caught_up_later() {
    let reg = Reg::new();
    let a = reg.krate("first", "1.0.0");
    reg.ktra(&["add", &a]).success();
    let fail = [("KTRA_FAIL_AT", "git-objects")];

    let b = reg.krate("second", "1.0.0");
    let out = reg.ktra_env(&fail, &["add", &b]).success();
    assert!(
        out.stderr.contains("the git index could not be updated")
            && out.stderr.contains("injected failure at `git-objects`")
            && out.stderr.contains("next change (or `ktra rebuild`)"),
        "{}",
        out.describe()
    );
    assert!(reg.path("public/index/se/co/second").is_file());
    assert!(reg.path("public/crates/second-1.0.0.crate").is_file());
    // The registry says exactly where it is: the change stands, the git step is pending.
    let out = reg.ktra(&["verify"]).success();
    assert!(
        out.stderr.contains("interrupted `add` change is pending"),
        "{}",
        out.describe()
    );

    // A retry while git still fails is not an error, and neither is another change.
    let out = reg.ktra_env(&fail, &["add", &b]).success();
    assert!(out.stderr.contains("git index"), "{}", out.describe());
    let c = reg.krate("third", "1.0.0");
    reg.ktra_env(&fail, &["add", &c]).success();
    reg.ktra_env(&fail, &["yank", "first@1.0.0"]).success();
    let out = reg.ktra(&["verify"]).success();
    assert!(out.stderr.contains("pending"), "{}", out.describe());

    // The next change that can reach git brings every file left behind up to date (an
    // identical add changes nothing itself, but completes the pending change).
    let out = reg.ktra(&["add", &b]).success();
    assert!(
        out.stderr.contains("completing an interrupted"),
        "{}",
        out.describe()
    );
    let out = reg.ktra(&["verify"]).success();
    assert!(!out.stderr.contains("interrupted"), "{}", out.describe());
    assert!(!reg.path("state/pending.json").exists());
}

#[test]
fn verify_passes_every_time_while_a_writer_adds_versions() {
    let reg = std::sync::Arc::new(Reg::new());
    let files: Vec<String> = (0..400)
        .map(|i| reg.krate("busy", &format!("0.1.{i}")))
        .collect();
    reg.ktra(&["add", &files[0]]).success();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (reg, stop) = (reg.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut added = 0;
            for f in &files[1..] {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                reg.ktra(&["add", f]).success();
                added += 1;
            }
            added
        })
    };
    let mut failures = Vec::new();
    for _ in 0..40 {
        let out = reg.ktra(&["verify"]);
        if !out.status.success() {
            failures.push(out.describe());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let added = writer.join().unwrap();
    assert!(added > 0, "the writer added nothing while verify ran");
    assert!(
        failures.is_empty(),
        "{} of 40 verify runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    reg.ktra(&["verify"]).success();
}

/// Regular files below `state/tmp`, with their sizes.
fn temp_files(reg: &Reg) -> Vec<(String, u64)> {
    files_below(&reg.path("state/tmp"))
        .into_iter()
        .map(|(rel, path)| (rel, fs::metadata(path).unwrap().len()))
        .collect()
}

#[test]
fn temp_files_of_killed_processes_go_at_the_next_write_and_state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Reg::new();
    let a = reg.krate("first", "1.0.0");
    reg.ktra(&["add", &a]).success();
    assert!(temp_files(&reg).is_empty(), "{:?}", temp_files(&reg));

    // Killed after its temporary files were written and before they moved into place.
    let b = reg.krate("second", "1.0.0");
    reg.ktra_env(&[("KTRA_CRASH_AT", "crates-synced")], &["add", &b])
        .failure();
    let left = temp_files(&reg);
    assert!(
        left.iter().any(|(_, size)| *size > 0),
        "the crash left no temporary files: {left:?}"
    );
    // The next write (minutes, not an hour, later) removes them.
    let c = reg.krate("third", "1.0.0");
    reg.ktra(&["add", &c]).success();
    assert!(temp_files(&reg).is_empty(), "{:?}", temp_files(&reg));

    // Files in state/ are the owner's alone; served files stay readable.
    reg.ktra(&["user", "add", "alice"]).success();
    reg.ktra(&["token", "create", "alice"]).success();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let state = files_below(&reg.path("state"));
    assert!(state.len() > 3, "{state:?}");
    for (rel, path) in state {
        assert_eq!(mode(&path), 0o600, "state/{rel} has mode {:o}", mode(&path));
    }
    assert_eq!(mode(&reg.path("state")), 0o700);
    for served in [
        "public/index/th/ir/third",
        "public/crates/third-1.0.0.crate",
    ] {
        assert_eq!(mode(&reg.path(served)) & 0o044, 0o044, "{served}");
    }
}

/// Every folder below `public/index`.
fn index_folders(reg: &Reg) -> Vec<String> {
    let base = reg.path("public/index");
    walkdir::WalkDir::new(&base)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn refused_adds_leave_no_empty_index_folders() {
    let reg = Reg::new();
    let a = reg.krate("first", "1.0.0");
    reg.ktra(&["add", &a]).success();
    let before = index_folders(&reg);

    // One bad input in a batch: the good one's folder, made during inspection, goes too.
    let good = reg.krate("evil", "1.0.0");
    let bad = reg.files.join("broken-1.0.0.crate");
    fs::write(&bad, b"not a crate").unwrap();
    reg.ktra(&["add", &good, bad.to_str().unwrap()]).failure();
    assert_eq!(index_folders(&reg), before);

    // Refused under the lock: a dependency this registry cannot satisfy.
    let dep = "[dependencies.missing]\nversion = \"1\"\nregistry-index = \"sparse+http://127.0.0.1:9/r/index/\"\n";
    let lonely = reg.krate_with("lonely", "1.0.0", dep);
    let out = reg.ktra(&["add", &lonely]).failure();
    assert!(out.stderr.contains("missing"), "{}", out.describe());
    assert_eq!(index_folders(&reg), before);
    reg.ktra(&["verify"]).success();

    // An accepted add still makes its folders.
    reg.ktra(&["add", &good]).success();
    assert!(reg.path("public/index/ev/il/evil").is_file());
}

#[test]
fn a_killed_batch_add_is_reported_by_the_next_change_and_completed_by_running_it_again() {
    let reg = Reg::new();
    let batch: Vec<String> = ["alpha", "bravo", "charlie"]
        .iter()
        .map(|n| reg.krate(n, "1.0.0"))
        .collect();
    let mut args = vec!["add"];
    args.extend(batch.iter().map(String::as_str));
    // Killed after the first index file moved into place.
    reg.ktra_env(&[("KTRA_CRASH_AT", "index-partial")], &args)
        .failure();
    let visible: Vec<&str> = ["alpha", "bravo", "charlie"]
        .into_iter()
        .filter(|n| {
            reg.path(&format!("public/index/{}/{}/{n}", &n[..2], &n[2..4]))
                .is_file()
        })
        .collect();
    assert_eq!(visible.len(), 1, "{visible:?}");

    // The next change says what the interrupted one left and what to do.
    let other = reg.krate("other", "1.0.0");
    let out = reg.ktra(&["add", &other]).success();
    assert!(
        out.stderr.contains(&format!(
            "had added 1 of its 3 versions ({}@1.0.0)",
            visible[0]
        )) && out
            .stderr
            .contains("run the same command again to add them"),
        "{}",
        out.describe()
    );
    reg.ktra(&["verify"]).success();

    // Running the same add again completes it.
    let out = reg.ktra(&args).success();
    assert!(!out.stderr.contains("interrupted"), "{}", out.describe());
    for n in ["alpha", "bravo", "charlie"] {
        assert!(
            reg.path(&format!("public/crates/{n}-1.0.0.crate"))
                .is_file()
        );
    }
    let out = reg.ktra(&["verify"]).success();
    assert!(out.stderr.contains("4 crates"), "{}", out.describe());
}

/// `ktra serve` on a free loopback port with extra environment variables; killed on drop.
struct Served(std::process::Child, u16);

impl Served {
    fn start(reg: &Reg, env: &[(&str, &str)]) -> Served {
        Served::start_with(reg, env, &[])
    }

    fn start_with(reg: &Reg, env: &[(&str, &str)], args: &[&str]) -> Served {
        use std::io::BufRead;
        let mut child = reg.bare();
        child
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .arg("-r")
            .arg(&reg.root)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = child.spawn().unwrap();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Served(child, port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn publish_body(name: &str, vers: &str) -> Vec<u8> {
    let krate = simple(name, vers, "");
    let json = format!(r#"{{"name":"{name}","vers":"{vers}","deps":[],"features":{{}}}}"#);
    let mut b = (json.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    b.extend_from_slice(&krate);
    b
}

#[test]
fn a_publish_whose_git_step_fails_is_acknowledged_and_a_retry_is_no_server_error() {
    let reg = Reg::new();
    reg.ktra(&["user", "add", "dana"]).success();
    let token = reg
        .ktra(&["token", "create", "dana"])
        .success()
        .stdout
        .trim()
        .to_owned();
    let server = Served::start(&reg, &[("KTRA_FAIL_AT", "git-objects")]);
    let publish = || {
        crate::serve::request_with_body(
            server.1,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &token)],
            &publish_body("pubbed", "1.0.0"),
        )
    };
    let first = publish();
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert!(reg.path("public/index/pu/bb/pubbed").is_file());
    let retry = publish();
    assert!(
        retry.status < 500,
        "{} {}",
        retry.status,
        String::from_utf8_lossy(&retry.body)
    );
    let out = reg.ktra(&["verify"]).success();
    assert!(out.stderr.contains("pending"), "{}", out.describe());
    drop(server);
    // The next change without the failure brings the git index up to date.
    reg.ktra(&["yank", "pubbed@1.0.0"]).success();
    let out = reg.ktra(&["verify"]).success();
    assert!(!out.stderr.contains("interrupted"), "{}", out.describe());
}

#[test]
fn the_pull_through_caches_upstream_files_privately() {
    use std::os::unix::fs::PermissionsExt;
    let up = Reg::new();
    let a = up.krate("first", "1.0.0");
    up.ktra(&["add", &a]).success();
    let upstream = Served::start(&up, &[]);
    let local = Reg::new();
    let url = format!("sparse+http://127.0.0.1:{}/index/", upstream.1);
    let server = Served::start_with(&local, &[], &["--mirror-upstream", &url]);
    let reply = crate::serve::request(server.1, "GET", "/mirror/index/fi/rs/first", &[]);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let state = files_below(&local.path("state"));
    assert!(
        state.iter().any(|(rel, _)| rel.contains("upstream")),
        "{state:?}"
    );
    for (rel, path) in state {
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "state/{rel} has mode {mode:o}");
    }
}
