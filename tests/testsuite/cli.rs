//! The command line without cargo in the loop: refused inputs change nothing, exit codes,
//! finding the registry, remove/set-url/rebuild, git remotes, verify's findings, and crashes at
//! every step of a change.

use crate::support::{Outcome, ktra_bin, run};
use ktra::package::testing::{Entry, manifest, simple, tarball};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// A registry in a temp dir (served nowhere), and a folder for hand-made `.crate` files.
pub struct Reg {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub files: PathBuf,
    logs: PathBuf,
}

impl Reg {
    pub fn new(git: bool) -> Reg {
        let tmp = tempfile::Builder::new()
            .prefix("ktra-cli-")
            .tempdir()
            .unwrap();
        let root = tmp.path().join("reg");
        let files = tmp.path().join("files");
        let logs = tmp.path().join("logs");
        fs::create_dir_all(&files).unwrap();
        fs::create_dir_all(&logs).unwrap();
        let reg = Reg {
            _tmp: tmp,
            root,
            files,
            logs,
        };
        let mut args = vec![
            "init",
            reg.root.to_str().unwrap(),
            "--url",
            "http://127.0.0.1:9/r",
            "--name",
            "demo",
        ];
        if !git {
            args.push("--no-git");
        }
        reg.run(reg.bare(), &args).success();
        reg
    }

    fn bare(&self) -> Command {
        let mut cmd = Command::new(ktra_bin());
        cmd.env_remove("KTRA_REGISTRY")
            .env_remove(ktra::storage::crash::ENV)
            .current_dir(self._tmp.path());
        cmd
    }

    fn run(&self, mut cmd: Command, args: &[&str]) -> Outcome {
        cmd.args(args);
        run(cmd, &self.logs)
    }

    /// `ktra -r ROOT ARGS`.
    pub fn ktra(&self, args: &[&str]) -> Outcome {
        let mut cmd = self.bare();
        cmd.arg("-r").arg(&self.root);
        self.run(cmd, args)
    }

    /// `ktra -r ROOT ARGS` that aborts at a crash point.
    pub fn ktra_crashing(&self, point: &str, args: &[&str]) -> Outcome {
        let mut cmd = self.bare();
        cmd.env(ktra::storage::crash::ENV, point)
            .arg("-r")
            .arg(&self.root);
        self.run(cmd, args)
    }

    /// Writes bytes as `files/FILE_NAME` and returns the path as a string.
    pub fn file(&self, file_name: &str, bytes: &[u8]) -> String {
        let path = self.files.join(file_name);
        fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// A well-formed crate file named `NAME-VERSION.crate`.
    pub fn krate(&self, name: &str, version: &str, extra: &str) -> String {
        self.file(
            &format!("{name}-{version}.crate"),
            &simple(name, version, extra),
        )
    }

    /// Every file of the registry that a change could touch, with its bytes.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for entry in walkdir::WalkDir::new(&self.root) {
            let entry = entry.unwrap();
            let rel = entry
                .path()
                .strip_prefix(&self.root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if entry.file_type().is_file() && rel != "state/lock" && !rel.starts_with("state/tmp") {
                out.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
        out
    }

    pub fn index_line(&self, path: &str) -> String {
        fs::read_to_string(self.root.join("public/index").join(path)).unwrap()
    }
}

/// A test input, written to disk only when its case runs (several share a file name).
enum Staged {
    Bytes(String, Vec<u8>),
    Path(String),
}

impl Staged {
    fn krate(name: &str, version: &str, extra: &str) -> Self {
        Staged::Bytes(
            format!("{name}-{version}.crate"),
            simple(name, version, extra),
        )
    }

    fn file(file_name: &str, bytes: &[u8]) -> Self {
        Staged::Bytes(file_name.to_owned(), bytes.to_vec())
    }

    fn write(&self, reg: &Reg) -> String {
        match self {
            Staged::Bytes(name, bytes) => reg.file(name, bytes),
            Staged::Path(p) => p.clone(),
        }
    }
}

fn assert_same(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>, what: &str) {
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "{what} changed {changed:?}");
}

#[test]
fn bad_crates_are_refused_with_a_reason_and_change_nothing() {
    let reg = Reg::new(true);
    let ok = [
        reg.krate("foo-bar", "1.0.0", ""),
        reg.krate("Base", "1.0.0", ""),
    ];
    reg.ktra(&["add", &ok[0], &ok[1]]).success();
    let m = |n: &str, v: &str| manifest(n, v, "");
    let cases: Vec<(Staged, &str)> = vec![
        (
            Staged::krate("1abc", "1.0.0", ""),
            "must start with an ASCII letter",
        ),
        (Staged::krate("std", "1.0.0", ""), "is reserved"),
        (
            Staged::krate(&"x".repeat(65), "1.0.0", ""),
            "longer than 64",
        ),
        (
            Staged::krate("foo_bar", "1.0.0", ""),
            "collides with the existing crate `foo-bar`",
        ),
        (
            Staged::krate("FOO-BAR", "2.0.0", ""),
            "collides with the existing crate `foo-bar`",
        ),
        (
            Staged::krate("base", "2.0.0", ""),
            "collides with the existing crate `Base`",
        ),
        (
            Staged::krate("foo-bar", "1.0.0+build", ""),
            "differs only in build metadata",
        ),
        (
            Staged::file(
                "foo-bar-1.0.0.crate",
                &simple("foo-bar", "1.0.0", "# changed\n"),
            ),
            "different contents",
        ),
        (
            Staged::file(
                "v-1.0.crate",
                &tarball(&[Entry::File("v-1.0/Cargo.toml", m("v", "1.0").as_bytes())]),
            ),
            "not valid semver",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[
                    Entry::File("a-1.0.0/Cargo.toml", m("a", "1.0.0").as_bytes()),
                    Entry::File("a-1.0.0/../x", b""),
                ]),
            ),
            "climbs out",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[
                    Entry::File("a-1.0.0/Cargo.toml", m("a", "1.0.0").as_bytes()),
                    Entry::File("/etc/x", b""),
                ]),
            ),
            "absolute path",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[
                    Entry::File("a-1.0.0/Cargo.toml", m("a", "1.0.0").as_bytes()),
                    Entry::File("b-1.0.0/x", b""),
                ]),
            ),
            "outside the archive's top directory",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[
                    Entry::File("a-1.0.0/Cargo.toml", m("a", "1.0.0").as_bytes()),
                    Entry::Symlink("a-1.0.0/l", "/etc/passwd"),
                ]),
            ),
            "symbolic link",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[
                    Entry::File("a-1.0.0/Cargo.toml", m("a", "1.0.0").as_bytes()),
                    Entry::HardLink("a-1.0.0/h", "a-1.0.0/Cargo.toml"),
                ]),
            ),
            "hard link",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[Entry::File("a-1.0.0/src/lib.rs", b"")]),
            ),
            "no `Cargo.toml`",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[Entry::File("a-1.0.0/Cargo.toml", b"[package\nname=")]),
            ),
            "not valid TOML",
        ),
        (
            Staged::file("a-1.0.0.crate", b"plain text, not gzip"),
            "not a gzip'd tar",
        ),
        (
            Staged::file(
                "a-1.0.0.crate",
                &tarball(&[Entry::File(
                    "a-1.0.0/Cargo.toml",
                    m("a", "1.0.1").as_bytes(),
                )]),
            ),
            "top directory is `a-1.0.0`, but its `Cargo.toml` says `a` version `1.0.1`",
        ),
        (
            Staged::file("named-wrong-9.9.9.crate", &simple("a", "1.0.0", "")),
            "named `named-wrong-9.9.9.crate`",
        ),
        (
            Staged::krate(
                "needs-ghost",
                "1.0.0",
                "[dependencies.ghost]\nversion = \"1\"\nregistry-index = \"sparse+http://127.0.0.1:9/r/index/\"\n",
            ),
            "depends on `ghost ^1` from this registry, which has no matching version",
        ),
        (
            Staged::krate(
                "needs-newer",
                "1.0.0",
                "[dependencies.foo-bar]\nversion = \"2\"\nregistry-index = \"sparse+http://127.0.0.1:9/r/index/\"\n",
            ),
            "depends on `foo-bar ^2` from this registry, which has no matching version",
        ),
        (
            Staged::Path("/nonexistent/x.crate".to_owned()),
            "failed to read `/nonexistent/x.crate`",
        ),
    ];
    for (staged, reason) in &cases {
        let path = staged.write(&reg);
        let before = reg.snapshot();
        let out = reg.ktra(&["add", &path]).failure();
        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert!(out.stderr.contains("error: "), "{}", out.describe());
        assert!(
            out.stderr.contains(reason),
            "want `{reason}`:\n{}",
            out.describe()
        );
        assert_same(&before, &reg.snapshot(), &path);
    }
    reg.ktra(&["verify"]).success();
}

#[test]
fn one_bad_file_in_a_bulk_add_means_none_are_added() {
    let reg = Reg::new(true);
    let dir = reg.files.join("bulk");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("good-1.0.0.crate"), simple("good", "1.0.0", "")).unwrap();
    fs::write(
        dir.join("also-good-0.1.0.crate"),
        simple("also-good", "0.1.0", ""),
    )
    .unwrap();
    fs::write(dir.join("bad-1.0.0.crate"), b"garbage").unwrap();
    fs::write(dir.join("worse-1.0.0.crate"), simple("worse", "2.0.0", "")).unwrap();
    let before = reg.snapshot();
    let out = reg.ktra(&["add", dir.to_str().unwrap()]).failure();
    assert!(
        out.stderr
            .contains("2 crates could not be added, so none were"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("bad-1.0.0.crate") && out.stderr.contains("worse-1.0.0.crate"),
        "{}",
        out.describe()
    );
    assert_same(&before, &reg.snapshot(), "a refused bulk add");
    fs::remove_file(dir.join("bad-1.0.0.crate")).unwrap();
    fs::remove_file(dir.join("worse-1.0.0.crate")).unwrap();
    let out = reg
        .ktra(&["add", "--json", dir.to_str().unwrap()])
        .success();
    let added: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(added.len(), 2);
    assert!(reg.root.join("public/crates/good-1.0.0.crate").is_file());
}

#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1() {
    let reg = Reg::new(false);
    assert_eq!(reg.ktra(&["yank"]).status.code(), Some(2));
    assert_eq!(reg.ktra(&["frobnicate"]).status.code(), Some(2));
    let out = reg.ktra(&["yank", "nover"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("is not NAME@VERSION"),
        "{}",
        out.describe()
    );
    for escape in ["../../ktra.toml@1.0.0", "a/b@1.0.0"] {
        let out = reg.ktra(&["yank", escape]);
        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert!(
            out.stderr.contains("is not a crate name"),
            "{}",
            out.describe()
        );
    }
    let out = reg.ktra(&["yank", "ghost@1.0.0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("crate `ghost` is not in the registry"),
        "{}",
        out.describe()
    );
    let again = reg.run(
        reg.bare(),
        &["init", reg.root.to_str().unwrap(), "--url", "http://x"],
    );
    assert!(
        again.stderr.contains("is already a ktra registry"),
        "{}",
        again.describe()
    );
}

#[test]
fn finds_the_registry_by_flag_environment_or_ancestor_folder() {
    let reg = Reg::new(false);
    let krate = reg.krate("found", "1.0.0", "");
    let mut by_env = reg.bare();
    by_env.env("KTRA_REGISTRY", &reg.root);
    reg.run(by_env, &["add", &krate]).success();
    let deep = reg.root.join("public/index");
    let mut by_cwd = reg.bare();
    by_cwd.current_dir(&deep);
    let out = reg.run(by_cwd, &["list", "--json"]).success();
    assert!(out.stdout.contains("\"found\""), "{}", out.describe());
    let mut nowhere = reg.bare();
    nowhere.current_dir(&reg.files);
    let out = reg.run(nowhere, &["list"]).failure();
    assert!(
        out.stderr.contains("no registry found"),
        "{}",
        out.describe()
    );
    let out = reg
        .run(reg.bare(), &["-r", reg.files.to_str().unwrap(), "list"])
        .failure();
    assert!(
        out.stderr.contains("is not a ktra registry"),
        "{}",
        out.describe()
    );
}

#[test]
fn remove_needs_a_yank_and_no_dependents_unless_forced() {
    let reg = Reg::new(true);
    let lib = reg.krate("lib", "1.2.0", "");
    let dep = "[dependencies.lib]\nversion = \"1\"\nregistry-index = \"sparse+http://127.0.0.1:9/r/index/\"\n";
    let app = reg.krate("app", "0.1.0", dep);
    reg.ktra(&["add", &lib, &app]).success();
    let out = reg.ktra(&["remove", "lib@1.2.0"]).failure();
    assert!(out.stderr.contains("is not yanked"), "{}", out.describe());
    reg.ktra(&["yank", "lib@1.2.0"]).success();
    let out = reg.ktra(&["remove", "lib@1.2.0"]).failure();
    assert!(
        out.stderr.contains("required by `app@0.1.0`"),
        "{}",
        out.describe()
    );
    reg.ktra(&["yank", "app@0.1.0"]).success();
    reg.ktra(&["remove", "app@0.1.0"]).success();
    reg.ktra(&["remove", "lib@1.2.0"]).success();
    assert!(!reg.root.join("public/index/3/l/lib").exists());
    assert!(!reg.root.join("public/crates/lib-1.2.0.crate").exists());
    reg.ktra(&["verify"]).success();
    // --force removes a version that is neither yanked nor free of dependents.
    let lib2 = reg.krate("lib", "1.3.0", "");
    let app2 = reg.krate("app", "0.2.0", dep);
    reg.ktra(&["add", &lib2, &app2]).success();
    reg.ktra(&["remove", "--force", "lib@1.3.0"]).success();
    let out = reg.ktra(&["verify"]).failure();
    assert!(
        out.stderr.contains("`app@0.2.0` depends on `lib ^1`"),
        "{}",
        out.describe()
    );
}

#[test]
fn set_url_rewrites_config_json_and_nothing_else_in_public_but_the_site() {
    let reg = Reg::new(true);
    let k = reg.krate("moving", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    let before = reg.snapshot();
    reg.ktra(&["set-url", "https://crates.example.org/reg"])
        .success();
    let after = reg.snapshot();
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    // The site's pages name the registry's URL, so they are rewritten too.
    let outside_git: Vec<&&String> = changed
        .iter()
        .filter(|k| !k.starts_with("public/index.git/") && !crate::support::is_site_file(k))
        .collect();
    assert_eq!(outside_git, [&"ktra.toml", &"public/index/config.json"]);
    assert!(
        String::from_utf8_lossy(&after["public/index.html"])
            .contains("https://crates.example.org/reg/index/"),
        "the home page shows the new address"
    );
    let config = String::from_utf8(after["public/index/config.json"].clone()).unwrap();
    assert!(
        config.contains("https://crates.example.org/reg/crates/{crate}-{version}.crate"),
        "{config}"
    );
    reg.ktra(&["verify"]).success();
    reg.ktra(&["set-url", "not a url"]).failure();
}

#[test]
fn rebuild_restores_derived_files_and_keeps_yanks_and_times() {
    let reg = Reg::new(true);
    let a = reg.krate("alpha", "1.0.0", "");
    let b = reg.krate("alpha", "1.1.0", "");
    let c = reg.krate("beta", "0.1.0", "");
    reg.ktra(&["add", &a, &b, &c]).success();
    reg.ktra(&["yank", "alpha@1.1.0"]).success();
    let original = reg.index_line("al/ph/alpha");
    reg.ktra(&["rebuild"]).success();
    assert_eq!(
        reg.index_line("al/ph/alpha"),
        original,
        "an intact index rebuilds byte for byte"
    );
    fs::remove_dir_all(reg.root.join("public/index/al")).unwrap();
    fs::write(reg.root.join("public/index/config.json"), "{}").unwrap();
    reg.ktra(&["verify"]).failure();
    reg.ktra(&["rebuild"]).success();
    reg.ktra(&["verify"]).success();
    let rebuilt = reg.index_line("al/ph/alpha");
    assert_eq!(rebuilt.lines().count(), 2);
    assert!(rebuilt.contains("\"pubtime\":\""), "{rebuilt}");
}

#[test]
fn pushes_the_git_index_to_a_remote_and_warns_when_it_cannot() {
    let reg = Reg::new(true);
    let remote = reg.files.join("remote.git");
    let status = Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&remote)
        .status()
        .unwrap();
    assert!(status.success());
    let settings = reg.root.join("ktra.toml");
    let text = fs::read_to_string(&settings).unwrap();
    let with_remote = text.replace(
        "[git]\nenabled = true\n",
        &format!("[git]\nenabled = true\nremote = \"{}\"\n", remote.display()),
    );
    assert_ne!(text, with_remote, "ktra.toml has a [git] table:\n{text}");
    fs::write(&settings, &with_remote).unwrap();
    let k = reg.krate("pushed", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    let log = Command::new("git")
        .arg("-C")
        .arg(&remote)
        .args(["log", "--format=%s", "main"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&log.stdout).lines().next(),
        Some("Add pushed 1.0.0")
    );
    fs::write(
        &settings,
        text.replace(
            "[git]\nenabled = true\n",
            "[git]\nenabled = true\nremote = \"/nonexistent/remote.git\"\n",
        ),
    )
    .unwrap();
    let k2 = reg.krate("unpushed", "1.0.0", "");
    // The change is complete here, so it stands: a warning says the remote is behind.
    let out = reg.ktra(&["add", &k2]).success();
    assert!(
        out.stderr.contains("warning:")
            && out.stderr.contains("could not be pushed")
            && out.stderr.contains("git push"),
        "{}",
        out.describe()
    );
    assert!(reg.root.join("public/index/un/pu/unpushed").exists());
    reg.ktra(&["verify"]).success();
}

#[test]
fn verify_names_each_problem() {
    let reg = Reg::new(true);
    let k = reg.krate("whole", "1.0.0", "");
    let k2 = reg.krate("other", "1.0.0", "");
    reg.ktra(&["add", &k, &k2]).success();
    let public = reg.root.join("public");
    fs::write(public.join("crates/stray-1.0.0.crate"), b"x").unwrap();
    fs::write(public.join("crates/whole-1.0.0.crate"), b"tampered").unwrap();
    fs::remove_file(public.join("crates/other-1.0.0.crate")).unwrap();
    fs::create_dir_all(public.join("index/ba/dl")).unwrap();
    fs::write(public.join("index/ba/dl/badline"), "{not json\n").unwrap();
    let out = reg.ktra(&["verify"]).failure();
    for want in [
        "`public/crates/stray-1.0.0.crate` is not referenced by any index line",
        "`public/crates/whole-1.0.0.crate` has checksum",
        "crate file `public/crates/other-1.0.0.crate` is missing",
        "`public/index/ba/dl/badline` line 1: not a valid index line",
        "the git index differs from `public/index/ba/dl/badline`",
    ] {
        assert!(
            out.stderr.contains(want),
            "want `{want}`:\n{}",
            out.describe()
        );
    }
}

/// Every crash point a change passes, for an add of two crates where one depends on the other.
const ADD_POINTS: [&str; 10] = [
    "journal-partial",
    "crates-synced",
    "crates-partial",
    "index-synced",
    "index-partial",
    "before-git",
    "git-objects",
    "git-ref",
    "git-info-partial",
    "before-finish",
];

#[test]
fn a_crash_at_any_point_of_an_add_leaves_a_registry_that_verifies() {
    for point in ADD_POINTS {
        let reg = Reg::new(true);
        let first = reg.krate("first", "1.0.0", "");
        reg.ktra(&["add", &first]).success();
        let dep = "[dependencies.first]\nversion = \"1\"\nregistry-index = \"sparse+http://127.0.0.1:9/r/index/\"\n";
        let a = reg.krate("second", "1.0.0", dep);
        let b = reg.krate("third", "2.0.0", "");
        let out = reg.ktra_crashing(point, &["add", &a, &b]);
        assert!(
            !out.status.success() && out.stderr.contains(&format!("crashing at `{point}`")),
            "{point}: {}",
            out.describe()
        );
        let verified = reg.ktra(&["verify"]).success();
        assert!(
            verified
                .stderr
                .contains("interrupted `add` change is pending"),
            "{point}: {}",
            verified.describe()
        );
        // The next writer completes or rolls back the change; adding again then succeeds.
        reg.ktra(&["add", &a, &b]).success();
        let clean = reg.ktra(&["verify"]).success();
        assert!(
            !clean.stderr.contains("interrupted"),
            "{point}: {}",
            clean.describe()
        );
        assert!(
            reg.index_line("se/co/second")
                .contains("\"vers\":\"1.0.0\"")
        );
    }
}

#[test]
fn a_crash_during_yank_remove_or_rebuild_leaves_a_registry_that_verifies() {
    for (op, point) in [
        ("yank", "index-synced"),
        ("yank", "before-git"),
        ("yank", "git-ref"),
        ("remove", "before-crate-removal"),
        ("remove", "before-git"),
        ("rebuild", "index-synced"),
        ("rebuild", "index-partial"),
        ("rebuild", "before-git"),
    ] {
        let reg = Reg::new(true);
        let k = reg.krate("victim", "1.0.0", "");
        reg.ktra(&["add", &k]).success();
        if op == "remove" {
            reg.ktra(&["yank", "victim@1.0.0"]).success();
        }
        let args = if op == "rebuild" {
            vec![op]
        } else {
            vec![op, "victim@1.0.0"]
        };
        let out = reg.ktra_crashing(point, &args);
        assert!(
            !out.status.success() && out.stderr.contains(&format!("crashing at `{point}`")),
            "{op} {point}: {}",
            out.describe()
        );
        reg.ktra(&["verify"]).success();
        reg.ktra(&["list"]).success();
        reg.ktra(&["verify"]).success();
        let clean = reg.ktra(&["rebuild"]).success();
        assert!(
            clean.stderr.contains("completing an interrupted"),
            "{op} {point}: {}",
            clean.describe()
        );
        reg.ktra(&["verify"]).success();
    }
}

#[test]
fn served_files_are_readable_by_a_web_server_and_state_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Reg::new(true);
    let k = reg.krate("readable", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    let mode = |p: &str| fs::metadata(reg.root.join(p)).unwrap().permissions().mode() & 0o777;
    for served in [
        "public/crates/readable-1.0.0.crate",
        "public/index/re/ad/readable",
        "public/index/config.json",
        "public/index.git/info/refs",
    ] {
        assert_eq!(
            mode(served) & 0o044,
            0o044,
            "{served} has mode {:o}",
            mode(served)
        );
    }
    assert_eq!(mode("state"), 0o700, "state/ has mode {:o}", mode("state"));
}

#[test]
fn index_aliases_make_an_old_registry_url_mean_this_registry() {
    let reg = Reg::new(false);
    let base = reg.krate("base", "1.0.0", "");
    let dep = "[dependencies.base]\nversion = \"1\"\nregistry-index = \"sparse+https://old.example/index/\"\n";
    let user = reg.krate("user", "1.0.0", dep);
    reg.ktra(&["add", &base, &user]).success();
    assert!(
        reg.index_line("us/er/user")
            .contains("\"registry\":\"sparse+https://old.example/index/\"")
    );
    let settings = reg.root.join("ktra.toml");
    let text = fs::read_to_string(&settings).unwrap();
    fs::write(
        &settings,
        format!("index-aliases = [\"sparse+https://old.example/index\"]\n{text}"),
    )
    .unwrap();
    let user2 = reg.krate("user", "1.1.0", dep);
    reg.ktra(&["add", &user2]).success();
    let line = reg.index_line("us/er/user");
    let second = line.lines().nth(1).unwrap();
    assert!(!second.contains("\"registry\""), "{second}");
    reg.ktra(&["verify"]).success();
}

#[test]
fn a_bulk_add_is_one_git_commit_that_git_can_clone_over_dumb_http() {
    let reg = Reg::new(true);
    let dir = reg.files.join("many");
    fs::create_dir_all(&dir).unwrap();
    // More files than one commit writes as loose objects: this commit is written as a pack.
    for i in 0..40 {
        let name = format!("bulk{i:02}");
        fs::write(
            dir.join(format!("{name}-1.0.0.crate")),
            simple(&name, "1.0.0", ""),
        )
        .unwrap();
    }
    reg.ktra(&["add", dir.to_str().unwrap()]).success();
    let git_dir = reg.root.join("public/index.git");
    let packs = fs::read_to_string(git_dir.join("objects/info/packs")).unwrap();
    assert!(
        packs.starts_with("P pack-"),
        "objects/info/packs: {packs:?}"
    );
    let server =
        crate::support::Server::start(&reg.root.join("public"), reg.files.join("http.log"), "");
    let clone = reg.files.join("clone");
    let out = Command::new("git")
        .args(["clone", "-q", &format!("{}/index.git", server.base_url())])
        .arg(&clone)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["log", "--format=%s"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&log.stdout),
        "Add 40 versions of 40 crates\nCreate the registry\n"
    );
    for i in 0..40 {
        let name = format!("bulk{i:02}");
        let path = clone.join(ktra::index::path::index_path(&name).unwrap());
        assert_eq!(
            fs::read(&path).unwrap(),
            fs::read(
                reg.root
                    .join("public/index")
                    .join(ktra::index::path::index_path(&name).unwrap())
            )
            .unwrap()
        );
    }
}
