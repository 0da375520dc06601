//! The mirror: `ktra sync-mirror` against a real upstream registry (a ktra tree served by
//! python's http.server on 127.0.0.1, see support/upstream.rs), the pull-through in
//! `ktra serve`, `ktra verify` of the mirror, and the real `cargo` building from the mirror
//! alone with the upstream stopped.

use crate::support::upstream::{
    APP_CLOSURE, APP_TREE, PyServer, Upstream, crate_bytes_with, line_version, v, versions,
};
use crate::support::{Outcome, Server, cargo_bin, ktra_bin, run, walk_files};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

type Versions = BTreeSet<(String, String)>;

fn set(list: &[(&str, &str)]) -> Versions {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn crate_file_name((name, vers): &(String, String)) -> String {
    format!("{name}-{vers}.crate")
}

/// APP_CLOSURE as cargo locks it: the diamond's two requirements meet at dia-bottom 0.1.0, so
/// 0.1.1 (the newest match of `^0.1`, which a sync by name takes) is not locked.
fn app_locked() -> Versions {
    let mut s = set(&APP_CLOSURE);
    assert!(s.remove(&("dia-bottom".to_owned(), "0.1.1".to_owned())));
    s
}

/// The registry that holds the mirror, in a temporary folder; optionally served by
/// `python3 -m http.server` (started before `ktra init`, so the registry's URL is its URL).
struct Local {
    root: PathBuf,
    base: PathBuf,
    logs: PathBuf,
    url: String,
    server: Option<Server>,
    /// `public/` as `ktra init` left it: syncing the mirror changes none of it.
    initial_public: BTreeMap<String, Vec<u8>>,
    _tmp: tempfile::TempDir,
}

impl Local {
    fn temp() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("ktra-mirror-")
            .tempdir()
            .expect("create temp dir")
    }

    fn init(tmp: tempfile::TempDir, url: String, server: Option<Server>) -> Local {
        let base = tmp.path().to_path_buf();
        let logs = base.join("logs");
        fs::create_dir_all(&logs).expect("create logs dir");
        let mut local = Local {
            root: base.join("reg"),
            base,
            logs,
            url,
            server,
            initial_public: BTreeMap::new(),
            _tmp: tmp,
        };
        let mut init = Command::new(ktra_bin());
        init.env_remove("KTRA_REGISTRY")
            .arg("init")
            .arg(&local.root)
            .args(["--url", &local.url, "--name", "demo", "--no-git"]);
        run(init, &local.logs).success();
        local.initial_public = local.public_outside_mirror();
        local
    }

    /// Served at `http://127.0.0.1:PORT/reg/public` by python's http.server.
    fn served() -> Local {
        let tmp = Self::temp();
        fs::create_dir_all(tmp.path().join("logs")).expect("create logs dir");
        let server = Server::start(
            tmp.path(),
            tmp.path().join("logs/http-server.log"),
            "/reg/public",
        );
        let url = server.base_url();
        Self::init(tmp, url, Some(server))
    }

    /// At a given URL, served by nobody yet.
    fn at(url: &str) -> Local {
        Self::init(Self::temp(), url.to_owned(), None)
    }

    fn ktra(&self, args: &[&str]) -> Outcome {
        let mut cmd = Command::new(ktra_bin());
        cmd.env_remove("KTRA_REGISTRY")
            .env("NO_COLOR", "1")
            .current_dir(&self.base)
            .arg("-r")
            .arg(&self.root)
            .args(args);
        run(cmd, &self.logs)
    }

    /// `ktra sync-mirror --upstream UP --retries 0 ARGS`.
    fn sync(&self, up: &Upstream, args: &[&str]) -> Outcome {
        self.sync_from(&up.sparse_url(), args)
    }

    fn sync_from(&self, upstream: &str, args: &[&str]) -> Outcome {
        let mut all = vec!["sync-mirror", "--upstream", upstream, "--retries", "0"];
        all.extend_from_slice(args);
        self.ktra(&all)
    }

    /// A successful `sync-mirror ... --json`, its report parsed.
    fn sync_json(&self, up: &Upstream, args: &[&str]) -> Report {
        self.sync_json_from(&up.sparse_url(), args)
    }

    fn sync_json_from(&self, upstream: &str, args: &[&str]) -> Report {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.sync_from(upstream, &all).success();
        Report::parse(&out)
    }

    fn mirror(&self) -> PathBuf {
        self.root.join("public/mirror")
    }

    fn mirror_sparse_url(&self) -> String {
        format!("sparse+{}/mirror/index/", self.url)
    }

    fn verify(&self) -> Outcome {
        self.ktra(&["verify"])
    }

    /// Files under `public/mirror/`, relative to it.
    fn mirror_files(&self) -> BTreeSet<String> {
        rel_files(&self.mirror())
    }

    /// The mirror's index files other than config.json.
    fn mirror_index_files(&self) -> BTreeSet<String> {
        self.mirror_files()
            .into_iter()
            .filter(|f| f.starts_with("index/") && f != "index/config.json")
            .collect()
    }

    /// Every (name, version) with a line in the mirror's index.
    fn mirrored(&self) -> Versions {
        let mut out = Versions::new();
        for f in self.mirror_index_files() {
            let text = fs::read_to_string(self.mirror().join(&f)).unwrap();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("bad line in mirror {f} ({e}): {line}"));
                out.insert((
                    v["name"].as_str().unwrap().to_owned(),
                    v["vers"].as_str().unwrap().to_owned(),
                ));
            }
        }
        out
    }

    /// The crate files in `public/mirror/crates/`, by file name.
    fn mirror_crates(&self) -> BTreeSet<String> {
        self.mirror_files()
            .into_iter()
            .filter_map(|f| f.strip_prefix("crates/").map(str::to_owned))
            .collect()
    }

    /// The mirror holds exactly `want`: one index file per crate holding the upstream's lines of
    /// those versions byte for byte in upstream order, the crate files byte for byte, the
    /// mirror's config.json, and nothing else (no temporary files) anywhere under `public/`.
    fn assert_holds(&self, up: &Upstream, want: &Versions) {
        let mut by_crate: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, vers) in want {
            by_crate.entry(name).or_default().push(vers);
        }
        let mut want_files: BTreeSet<String> = BTreeSet::from(["index/config.json".to_owned()]);
        for name in by_crate.keys() {
            want_files.insert(format!("index/{}", Upstream::index_path(name)));
        }
        want_files.extend(
            want.iter()
                .map(|v| format!("crates/{}", crate_file_name(v))),
        );
        let files = self.mirror_files();
        assert_eq!(
            files,
            want_files,
            "files under public/mirror: unexpected {:?}, missing {:?}",
            files.difference(&want_files).collect::<Vec<_>>(),
            want_files.difference(&files).collect::<Vec<_>>()
        );
        for (name, vers) in &by_crate {
            let path = self.mirror().join("index").join(Upstream::index_path(name));
            let got = fs::read_to_string(&path).unwrap();
            assert_eq!(
                got,
                up.lines_of(name, vers),
                "mirror index file of {name} is not the upstream's lines of {vers:?}"
            );
        }
        for (name, vers) in want {
            let got = fs::read(
                self.mirror()
                    .join("crates")
                    .join(format!("{name}-{vers}.crate")),
            )
            .unwrap();
            assert!(
                got == up.crate_bytes(name, vers),
                "mirror crate file {name}-{vers}.crate differs from the upstream's"
            );
        }
        self.assert_config_json();
        self.assert_nothing_else_in_public();
    }

    fn assert_config_json(&self) {
        let path = self.mirror().join("index/config.json");
        let config: serde_json::Value = serde_json::from_slice(
            &fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
        )
        .expect("mirror config.json is JSON");
        assert_eq!(
            config["dl"],
            format!("{}/mirror/crates/{{crate}}-{{version}}.crate", self.url),
            "mirror config.json: {config}"
        );
    }

    /// The files of `public/` outside `public/mirror/`, with their bytes.
    fn public_outside_mirror(&self) -> BTreeMap<String, Vec<u8>> {
        let public = self.root.join("public");
        rel_files(&public)
            .into_iter()
            .filter(|f| !f.starts_with("mirror/") && !crate::support::is_site_file(f))
            .map(|f| {
                let bytes = fs::read(public.join(&f)).unwrap();
                (f, bytes)
            })
            .collect()
    }

    /// Outside `public/mirror/`, `public/` is as `ktra init --no-git` made it, and inside it
    /// there is only `index/` and `crates/`.
    fn assert_nothing_else_in_public(&self) {
        let outside = self.public_outside_mirror();
        assert!(
            outside == self.initial_public,
            "files in public/ outside the mirror changed: now {:?}, after init {:?}",
            outside.keys().collect::<Vec<_>>(),
            self.initial_public.keys().collect::<Vec<_>>()
        );
        for f in self.mirror_files() {
            assert!(
                f.starts_with("index/") || (f.starts_with("crates/") && f.ends_with(".crate")),
                "stray file public/mirror/{f}"
            );
        }
    }

    /// After a failed sync: no index line at all, and every crate file present is a verified
    /// copy of an upstream one from `allowed` (none half-written).
    fn assert_no_versions_visible(&self, up: &Upstream, allowed: &Versions) {
        let index = self.mirror_index_files();
        assert!(
            index.is_empty(),
            "a failed first sync left index files: {index:?}"
        );
        for file in self.mirror_crates() {
            let (name, vers) = allowed
                .iter()
                .find(|v| crate_file_name(v) == file)
                .unwrap_or_else(|| panic!("unexpected crate file public/mirror/crates/{file}"));
            assert!(
                fs::read(self.mirror().join("crates").join(&file)).unwrap()
                    == up.crate_bytes(name, vers),
                "public/mirror/crates/{file} is not the upstream's file (partial or unverified)"
            );
        }
        self.assert_nothing_else_in_public();
    }
}

/// Every regular file under `dir`, relative to it, with `/` separators.
fn rel_files(dir: &Path) -> BTreeSet<String> {
    walk_files(dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect()
}

/// The `--json` report of a sync.
struct Report(serde_json::Value);

impl Report {
    fn parse(out: &Outcome) -> Report {
        Report(serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "`sync-mirror --json` did not print one JSON object ({e}):\n{}",
                out.describe()
            )
        }))
    }

    fn get(&self, key: &str) -> u64 {
        self.0[key]
            .as_u64()
            .unwrap_or_else(|| panic!("report field `{key}` is not a number: {}", self.0))
    }

    fn expect(&self, want: &[(&str, u64)]) {
        for (key, value) in want {
            assert_eq!(self.get(key), *value, "`{key}` in the report {}", self.0);
        }
    }
}

/// Crate files requested from the upstream, as a set of file names.
fn requested(up: &Upstream) -> BTreeSet<String> {
    up.crate_requests().into_iter().collect()
}

/// A consumer project depending on `app = "1"`, with crates-io replaced by `source_url`
/// (under the source name `source`) in its `.cargo/config.toml`, and a CARGO_HOME of its own.
struct Consumer {
    dir: PathBuf,
    home: PathBuf,
    target: PathBuf,
    logs: PathBuf,
}

impl Consumer {
    fn new(base: &Path, tag: &str, config: &str) -> Consumer {
        Self::with_deps(base, tag, config, "")
    }

    /// With more `[dependencies]` lines after `app = "1"`.
    fn with_deps(base: &Path, tag: &str, config: &str, more_deps: &str) -> Consumer {
        let dir = base.join(format!("consumer-{tag}"));
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::create_dir_all(dir.join(".cargo")).unwrap();
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"mirror-consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                 publish = false\n\n[dependencies]\napp = \"1\"\n{more_deps}"
            ),
        )
        .unwrap();
        fs::write(
            dir.join("src/main.rs"),
            "fn main() {\n    println!(\"{}\", app::tree());\n}\n",
        )
        .unwrap();
        fs::write(
            dir.join(".cargo/config.toml"),
            format!("{config}\n[net]\nretry = 0\n"),
        )
        .unwrap();
        Consumer {
            home: base.join(format!("cargo-home-{tag}")),
            target: base.join(format!("target-{tag}")),
            logs: base.join("logs"),
            dir,
        }
    }

    /// Source replacement of crates-io by a sparse registry.
    fn replacing_with(base: &Path, tag: &str, source: &str, sparse_url: &str) -> Consumer {
        Self::new(
            base,
            tag,
            &format!(
                "[source.crates-io]\nreplace-with = \"{source}\"\n\n\
                 [source.{source}]\nregistry = \"{sparse_url}\"\n"
            ),
        )
    }

    fn cargo(&self, args: &[&str]) -> Outcome {
        let mut cmd = crate::support::quiet_command(cargo_bin(), &self.home);
        cmd.current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove(crate::support::registry_env_var())
            .args(args);
        run(cmd, &self.logs)
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("Cargo.lock")
    }

    /// (name, version) of every locked package from a registry, all of which must come from
    /// crates-io (replaced or not, the lock names the original source).
    fn locked(&self) -> Versions {
        let text = fs::read_to_string(self.lock_path()).expect("read Cargo.lock");
        let lock: toml::Table = text.parse().expect("Cargo.lock parses");
        let mut out = Versions::new();
        for p in lock["package"].as_array().expect("packages") {
            let name = p["name"].as_str().unwrap();
            if name == "mirror-consumer" {
                continue;
            }
            assert_eq!(
                p.get("source").and_then(|s| s.as_str()),
                Some(format!("registry+{CRATES_IO_INDEX}").as_str()),
                "{name} in Cargo.lock:\n{text}"
            );
            out.insert((name.to_owned(), p["version"].as_str().unwrap().to_owned()));
        }
        out
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ktra serve --mirror-upstream` on a given loopback port; killed on drop.
struct PullThrough {
    child: Child,
}

impl PullThrough {
    fn start(root: &Path, port: u16, upstream: &str) -> PullThrough {
        let mut child = Command::new(ktra_bin())
            .env_remove("KTRA_REGISTRY")
            .env("NO_COLOR", "1")
            .arg("-r")
            .arg(root)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--mirror-upstream", upstream])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ktra serve");
        let mut err = BufReader::new(child.stderr.take().expect("piped"));
        let mut line = String::new();
        err.read_line(&mut line).expect("read ktra serve output");
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut err, &mut std::io::sink());
        });
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("ktra serve exited ({status}): {line}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ktra serve does not listen on {port}: {line}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        PullThrough { child }
    }
}

impl Drop for PullThrough {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cargo configuration `sync-mirror` prints for the mirror, checked line by line.
fn assert_prints_snippet(out: &Outcome, local: &Local) -> String {
    let snippet = format!(
        "[source.crates-io]\nreplace-with = \"demo-mirror\"\n\n[source.demo-mirror]\nregistry = \"{}\"\n",
        local.mirror_sparse_url()
    );
    let printed = format!("{}\n{}", out.stdout, out.stderr);
    for line in snippet.lines().filter(|l| !l.is_empty()) {
        assert!(
            printed.lines().any(|l| l.trim() == line),
            "sync-mirror did not print `{line}`:\n{}",
            out.describe()
        );
    }
    snippet
}

#[test]
fn sync_by_name_takes_every_normal_and_build_dependency_on_every_target() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    let out = local.sync(&up, &["app"]).success();
    assert_prints_snippet(&out, &local);
    local.assert_holds(&up, &set(&APP_CLOSURE));
    // The renamed dependencies were looked up by their package names only, and dev
    // dependencies not at all.
    for r in up.requests() {
        for absent in ["short", "renamed", "dev-only"] {
            assert!(
                !r.path.ends_with(&format!("/{absent}")),
                "asked the upstream for {}",
                r.path
            );
        }
    }
    local.verify().success();
}

#[test]
fn sync_skips_dev_dependencies_unless_asked_and_dependencies_on_other_registries() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    local.sync(&up, &["with-dev", "uses-outside"]).success();
    let without_dev = [
        ("with-dev", "1.0.0"),
        ("leaf", "2.0.0"),
        ("uses-outside", "1.0.0"),
    ];
    local.assert_holds(&up, &set(&without_dev));
    // `outside-thing` is a crates.io dependency (a `registry` field): not the upstream's.
    assert!(
        !up.requests()
            .iter()
            .any(|r| r.path.contains("outside-thing")),
        "asked the upstream for outside-thing: {:?}",
        up.requests()
    );
    local.verify().success();

    local.sync(&up, &["--dev", "with-dev"]).success();
    let mut with_dev = set(&without_dev);
    with_dev.insert(("dev-only".into(), "1.0.0".into()));
    local.assert_holds(&up, &with_dev);
    local.verify().success();
}

#[test]
fn sync_by_requirement_takes_the_newest_match_and_all_versions_takes_every_match() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    // 1.2.0 is yanked: `^1` means 1.1.0.
    local.sync(&up, &["leaf@^1"]).success();
    let mut want = set(&[("leaf", "1.1.0")]);
    local.assert_holds(&up, &want);

    local.sync(&up, &["app@=1.0.0", "chain-b@~1.0"]).success();
    want.extend(set(&[
        ("app", "1.0.0"),
        ("leaf", "1.0.0"),
        ("chain-b", "1.0.0"),
        ("chain-c", "1.0.0"),
    ]));
    local.assert_holds(&up, &want);

    // Every match, the yanked one too, which stays yanked; 2.0.0 does not match.
    let report = local.sync_json(&up, &["--all-versions", "leaf@^1"]);
    report.expect(&[("crates", 1), ("versions", 3), ("downloaded", 1)]);
    assert_eq!(
        report.get("bytes"),
        up.crate_bytes("leaf", "1.2.0").len() as u64,
        "bytes of the one download: {}",
        report.0
    );
    want.insert(("leaf".into(), "1.2.0".into()));
    local.assert_holds(&up, &want);
    let leaf = fs::read_to_string(local.mirror().join("index/le/af/leaf")).unwrap();
    let yanked: Vec<String> = leaf
        .lines()
        .filter(|l| l.contains("\"yanked\":true"))
        .map(line_version)
        .collect();
    assert_eq!(yanked, ["1.2.0"], "yanked lines in the mirror:\n{leaf}");

    local.sync(&up, &["dia-bottom@=0.1.0"]).success();
    want.insert(("dia-bottom".into(), "0.1.0".into()));
    local.assert_holds(&up, &want);

    // A dependency only a yanked version matches gets that version.
    let fresh = Local::at("http://127.0.0.1:9/fresh");
    fresh.sync(&up, &["pins-yanked"]).success();
    fresh.assert_holds(&up, &set(&[("pins-yanked", "1.0.0"), ("leaf", "1.2.0")]));

    // Nothing to match is an error that changes nothing.
    for spec in ["no-such-crate", "leaf@^9"] {
        let out = fresh.sync(&up, &[spec]);
        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert!(out.stderr.contains("error:"), "{}", out.describe());
        fresh.assert_holds(&up, &set(&[("pins-yanked", "1.0.0"), ("leaf", "1.2.0")]));
    }
    local.verify().success();
    fresh.verify().success();
}

/// The headline: a consumer builds from the mirror served by a plain static server, with a
/// CARGO_HOME that has never seen anything, and the upstream stopped.
#[test]
fn cargo_builds_from_the_mirror_alone_with_the_upstream_stopped() {
    let mut up = Upstream::start();
    let mut local = Local::served();
    let out = local.sync(&up, &["app"]).success();
    let snippet = assert_prints_snippet(&out, &local);
    up.stop();

    let consumer = Consumer::new(&local.base, "mirror", &snippet);
    let ran = consumer.cargo(&["run", "--quiet"]).success();
    assert_eq!(ran.stdout, format!("{APP_TREE}\n"), "{}", ran.describe());
    assert_eq!(consumer.locked(), app_locked(), "Cargo.lock");
    let requests = local.server.as_ref().unwrap().requests();
    for krate in [
        "app-1.1.0.crate",
        "Mixed-Case-1.0.0.crate",
        "unix-only-1.0.0.crate",
    ] {
        assert!(
            requests.lines().any(
                |l| l.contains(&format!("/reg/public/mirror/crates/{krate} "))
                    && l.contains("\" 200 ")
            ),
            "{krate} was not downloaded from the mirror:\n{requests}"
        );
    }

    // Everything is in CARGO_HOME now: no server needed at all.
    local.server = None;
    consumer
        .cargo(&["build", "--offline", "--locked"])
        .success();
}

#[test]
fn lockfile_sync_takes_exactly_the_locked_versions() {
    let mut up = Upstream::start();
    let local = Local::served();
    let maker = Consumer::replacing_with(&local.base, "upstream", "upstream", &up.sparse_url());
    maker.cargo(&["generate-lockfile"]).success();
    assert_eq!(maker.locked(), app_locked(), "Cargo.lock from the upstream");

    // A lock whose checksum differs from the upstream's is refused, and nothing appears.
    let lock = fs::read_to_string(maker.lock_path()).unwrap();
    let cksum = up.index_text("leaf");
    let cksum = cksum
        .lines()
        .find(|l| line_version(l) == "1.1.0")
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["cksum"].clone())
        .and_then(|c| c.as_str().map(str::to_owned))
        .unwrap();
    assert!(lock.contains(&cksum), "leaf 1.1.0's checksum in Cargo.lock");
    let bad_lock = local.base.join("bad.lock");
    fs::write(&bad_lock, lock.replace(&cksum, &"0".repeat(64))).unwrap();
    let other = Local::at("http://127.0.0.1:9/other");
    let out = other
        .sync(&up, &["--lockfile", bad_lock.to_str().unwrap()])
        .failure();
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("error:") && out.stderr.contains("leaf"),
        "{}",
        out.describe()
    );
    other.assert_no_versions_visible(&up, &app_locked());

    let out = local
        .sync(&up, &["--lockfile", maker.lock_path().to_str().unwrap()])
        .success();
    local.assert_holds(&up, &app_locked());
    local.verify().success();

    // Cargo fetches the whole lock (every target) from the mirror alone.
    up.stop();
    let snippet = assert_prints_snippet(&out, &local);
    let fetcher = Consumer::new(&local.base, "fetch", &snippet);
    fs::copy(maker.lock_path(), fetcher.lock_path()).unwrap();
    fetcher.cargo(&["fetch", "--locked"]).success();
    assert_eq!(fetcher.locked(), app_locked());
}

#[test]
fn an_upstream_dying_midway_leaves_nothing_half_done_and_a_rerun_finishes() {
    let mut up = Upstream::start_with(Some(6), |_| {});
    let local = Local::at("http://127.0.0.1:9/local");
    let out = local.sync(&up, &["app", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(out.stderr.contains("error:"), "{}", out.describe());
    let start = Instant::now();
    while !up.server_exited() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "upstream never died"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let first: Vec<_> = up.requests();
    let fetched_before: BTreeSet<String> = first
        .iter()
        .filter(|r| r.path.ends_with(".crate") && r.status == "200")
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(fetched_before.len(), 5, "requests: {first:?}");
    local.assert_no_versions_visible(&up, &set(&APP_CLOSURE));
    assert!(
        local.mirror_crates().is_subset(&fetched_before),
        "crate files that were never downloaded: {:?}",
        local.mirror_crates()
    );
    local.verify().success();

    // Same tree, same port, never dying: the rerun downloads only what is missing.
    up.restart();
    let report = local.sync_json(&up, &["app", "--jobs", "1"]);
    let all: BTreeSet<String> = set(&APP_CLOSURE).iter().map(crate_file_name).collect();
    let rest: BTreeSet<String> = all.difference(&fetched_before).cloned().collect();
    assert_eq!(requested(&up), rest, "crate files fetched by the rerun");
    report.expect(&[
        ("crates", 24),
        ("versions", 26),
        ("downloaded", rest.len() as u64),
    ]);
    local.assert_holds(&up, &set(&APP_CLOSURE));
    local.verify().success();
}

#[test]
fn a_corrupted_download_is_rejected_with_a_clear_error() {
    let leaf = versions()
        .into_iter()
        .find(|v| v.name == "leaf" && v.vers == "1.1.0")
        .unwrap();
    // Same name and version, other bytes than the index line's cksum says.
    let up = Upstream::start_with(None, |root| {
        fs::write(
            root.join("public/crates/leaf-1.1.0.crate"),
            crate_bytes_with(&leaf, "// altered\n"),
        )
        .unwrap();
    });
    let local = Local::at("http://127.0.0.1:9/local");
    let out = local.sync(&up, &["chain-c"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    let lower = out.stderr.to_lowercase();
    assert!(
        out.stderr.contains("error:")
            && out.stderr.contains("leaf")
            && out.stderr.contains("1.1.0")
            && ["checksum", "cksum", "sha256", "sha-256"]
                .iter()
                .any(|w| lower.contains(w)),
        "want an error naming leaf 1.1.0 and its checksum:\n{}",
        out.describe()
    );
    assert!(
        !local.mirror().join("crates/leaf-1.1.0.crate").exists(),
        "the corrupted file became visible"
    );
    // chain-c's own file was fine; it may stay, without a line.
    local.assert_no_versions_visible(&up, &set(&[("chain-c", "1.0.0")]));
    local.verify().success();
}

#[test]
fn a_resync_with_nothing_changed_downloads_nothing() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    let first = local.sync_json(&up, &["app"]);
    let bytes: u64 = APP_CLOSURE
        .iter()
        .map(|(n, v)| up.crate_bytes(n, v).len() as u64)
        .sum();
    first.expect(&[
        ("crates", 24),
        ("versions", 26),
        ("downloaded", 26),
        ("bytes", bytes),
        ("updated", 24),
    ]);
    let before: BTreeMap<String, Vec<u8>> = local
        .mirror_files()
        .into_iter()
        .map(|f| {
            let bytes = fs::read(local.mirror().join(&f)).unwrap();
            (f, bytes)
        })
        .collect();
    let seen = up.requests().len();

    let again = local.sync_json(&up, &["app"]);
    again.expect(&[
        ("crates", 24),
        ("versions", 26),
        ("downloaded", 0),
        ("bytes", 0),
        ("updated", 0),
    ]);
    // Index files were revalidated (python's http.server answers If-Modified-Since).
    let requests: Vec<_> = up.requests().split_off(seen);
    assert!(
        requests.iter().all(|r| !r.path.ends_with(".crate")),
        "{requests:?}"
    );
    let not_modified = requests.iter().filter(|r| r.status == "304").count() as u64;
    assert!(
        not_modified > 0 && again.get("index_unchanged") == not_modified,
        "304s: {not_modified}, report {}: {requests:?}",
        again.0
    );

    // No SPEC: refresh what is mirrored.
    let refresh = local.sync_json(&up, &[]);
    refresh.expect(&[("versions", 26), ("downloaded", 0), ("updated", 0)]);
    let after: BTreeMap<String, Vec<u8>> = local
        .mirror_files()
        .into_iter()
        .map(|f| {
            let bytes = fs::read(local.mirror().join(&f)).unwrap();
            (f, bytes)
        })
        .collect();
    assert!(before == after, "the mirror changed");
}

/// The upstream served by `ktra serve`, which sends ETags: re-syncs revalidate with them.
#[test]
fn a_resync_against_an_upstream_with_etags_revalidates_every_index_file() {
    let up = Upstream::start();
    let server = crate::serve::Serve::start(&up.root);
    up.ktra(&["set-url", &server.url()]).success();
    let url = format!("sparse+{}/index/", server.url());
    let local = Local::at("http://127.0.0.1:9/local");
    local
        .sync_json_from(&url, &["app"])
        .expect(&[("downloaded", 26), ("index_unchanged", 0)]);
    local.sync_json_from(&url, &["app"]).expect(&[
        ("downloaded", 0),
        ("index_fetched", 0),
        ("index_unchanged", 24),
        ("updated", 0),
    ]);
    // A change within the same second still shows: ETags follow the content.
    up.ktra(&["yank", "leaf@2.0.0"]).success();
    local.sync_json_from(&url, &[]).expect(&[
        ("downloaded", 0),
        ("index_fetched", 1),
        ("index_unchanged", 23),
        ("updated", 1),
    ]);
    local.assert_holds(&up, &set(&APP_CLOSURE));
}

#[test]
fn upstream_yanks_reach_the_mirror_and_new_versions_only_when_asked() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    local.sync(&up, &["app"]).success();
    // http.server's Last-Modified has one-second resolution.
    std::thread::sleep(Duration::from_millis(1100));
    up.ktra(&["yank", "leaf@1.1.0"]).success();
    up.add(&[
        v("leaf", "1.3.0"),
        v("chain-b", "1.2.0").dep("chain-c", "^1"),
    ]);

    // No SPEC: the yank is copied, nothing is added.
    let report = local.sync_json(&up, &[]);
    report.expect(&[("versions", 26), ("downloaded", 0), ("updated", 1)]);
    local.assert_holds(&up, &set(&APP_CLOSURE));
    let leaf = fs::read_to_string(local.mirror().join("index/le/af/leaf")).unwrap();
    assert!(
        leaf.lines()
            .any(|l| line_version(l) == "1.1.0" && l.contains("\"yanked\":true")),
        "leaf 1.1.0 is not yanked in the mirror:\n{leaf}"
    );

    // A SPEC whose newest match is new upstream fetches it; so does a dependency requirement.
    let report = local.sync_json(&up, &["leaf@^1", "chain-a"]);
    report.expect(&[("downloaded", 2)]);
    let mut want = set(&APP_CLOSURE);
    want.insert(("leaf".into(), "1.3.0".into()));
    want.insert(("chain-b".into(), "1.2.0".into()));
    local.assert_holds(&up, &want);
    local.verify().success();
}

#[test]
fn verify_checks_mirror_crate_files_and_dependencies() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    local
        .sync(&up, &["chain-c", "uses-outside", "with-dev"])
        .success();
    local.verify().success();

    let file = local.mirror().join("crates/leaf-1.1.0.crate");
    let good = fs::read(&file).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    fs::write(&file, &bad).unwrap();
    let out = local.verify().failure();
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("leaf-1.1.0"),
        "verify does not name the tampered file:\n{}",
        out.describe()
    );
    fs::write(&file, &good).unwrap();
    local.verify().success();

    // chain-c needs leaf ^1: without leaf 1.1.0 in the mirror, it cannot be built.
    let index = local.mirror().join("index/le/af/leaf");
    let text = fs::read_to_string(&index).unwrap();
    let kept: String = text
        .split_inclusive('\n')
        .filter(|l| line_version(l) != "1.1.0")
        .collect();
    fs::write(&index, kept).unwrap();
    fs::remove_file(&file).unwrap();
    // Reported as a gap in the mirror (a pull-through mirror is partial by nature), naming the
    // dependent and the requirement.
    let out = local.verify();
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("chain-c@1.0.0") && said.contains("leaf ^1"),
        "verify does not name the crate whose dependency is gone:\n{}",
        out.describe()
    );
    // A line whose crate file is gone is damage.
    fs::remove_file(local.mirror().join("crates/leaf-2.0.0.crate")).unwrap();
    let out = local.verify().failure();
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("leaf-2.0.0.crate"),
        "verify does not name the missing crate file:\n{}",
        out.describe()
    );
}

#[test]
fn sync_all_takes_every_version_of_every_crate() {
    let up = Upstream::start();
    let local = Local::at("http://127.0.0.1:9/local");
    // The upstream from ktra.toml.
    let settings = local.root.join("ktra.toml");
    let mut text = fs::read_to_string(&settings).unwrap();
    text.push_str(&format!("\n[mirror]\nupstream = \"{}\"\n", up.sparse_url()));
    fs::write(&settings, text).unwrap();
    let out = local.ktra(&[
        "sync-mirror",
        "--all",
        "--upstream-git",
        &up.git_url(),
        "--retries",
        "0",
    ]);
    out.success();
    let all: Versions = up.all_versions().into_iter().collect();
    assert_eq!(all.len(), versions().len());
    local.assert_holds(&up, &all);
    // Every index file is the upstream's whole file.
    for (name, _) in &all {
        let path = Upstream::index_path(name);
        assert_eq!(
            fs::read_to_string(local.mirror().join("index").join(&path)).unwrap(),
            up.index_text(name),
            "{path}"
        );
    }
    local.verify().success();
}

/// A consumer built with `cargo run` through `ktra serve --mirror-upstream` (fresh CARGO_HOME),
/// checked, then the pull-through and the upstream stopped.
struct PulledThrough {
    up: Upstream,
    local: Local,
    consumer: Consumer,
    port: u16,
}

fn build_through_the_pull_through() -> PulledThrough {
    use crate::serve::request;
    let mut up = Upstream::start();
    let port = free_port();
    let local = Local::at(&format!("http://127.0.0.1:{port}"));
    let serve = PullThrough::start(&local.root, port, &up.sparse_url());

    // It made the mirror's config.json, and serves the upstream's whole index files.
    let config = request(port, "GET", "/mirror/index/config.json", &[]);
    assert_eq!(config.status, 200);
    local.assert_config_json();
    let leaf = request(port, "GET", "/mirror/index/le/af/leaf", &[]);
    assert_eq!(leaf.status, 200);
    assert!(
        leaf.body == up.index_text("leaf").as_bytes(),
        "the pull-through's leaf index file is not the upstream's:\n{}",
        String::from_utf8_lossy(&leaf.body)
    );
    // Looking at an index file mirrors nothing.
    assert!(local.mirror_crates().is_empty() && local.mirror_index_files().is_empty());

    let consumer =
        Consumer::replacing_with(&local.base, "pull", "pull", &local.mirror_sparse_url());
    let ran = consumer.cargo(&["run", "--quiet"]).success();
    assert_eq!(ran.stdout, format!("{APP_TREE}\n"), "{}", ran.describe());
    assert_eq!(consumer.locked(), app_locked());
    drop(serve);
    up.stop();
    PulledThrough {
        up,
        local,
        consumer,
        port,
    }
}

/// `ktra serve --mirror-upstream`: the upstream's whole index files through the mirror URL, and
/// each crate cargo downloads fetched, verified and recorded in the pruned mirror.
#[test]
fn pull_through_serves_the_upstream_and_fills_the_pruned_mirror() {
    let PulledThrough { up, local, .. } = build_through_the_pull_through();
    // What cargo downloaded is in the pruned mirror, and so are the required dependencies of
    // each crate it pulled, for every target (the windows-only crate cargo did not download on
    // linux), at their newest match: `dia-right` asks for `^0.1`, which is 0.1.1, though the
    // resolve settled on 0.1.0 for `dia-left`'s `=0.1.0`.
    let mut want = app_locked();
    want.insert(("dia-bottom".to_owned(), "0.1.1".to_owned()));
    assert_eq!(local.mirrored(), want, "versions in the mirror's index");
    local.assert_holds(&up, &want);
    let verify = local.verify().success();
    assert!(
        !verify.stderr.contains("not self-contained"),
        "{}",
        verify.stderr
    );
}

/// After a build through the pull-through, the static tree alone (python's http.server on the
/// same address, upstream stopped) builds the same project, with its Cargo.lock, for a
/// CARGO_HOME that never saw it.
#[test]
fn after_a_pull_through_build_the_static_tree_alone_builds_the_project() {
    let PulledThrough {
        local,
        consumer,
        port,
        ..
    } = build_through_the_pull_through();
    let _static = PyServer::start(
        &local.root.join("public"),
        port,
        None,
        local.logs.join("static.log"),
    );
    let fresh = Consumer {
        home: local.base.join("cargo-home-static"),
        ..consumer
    };
    let ran = fresh.cargo(&["run", "--quiet", "--locked"]).success();
    assert_eq!(ran.stdout, format!("{APP_TREE}\n"), "{}", ran.describe());
}

/// The pull-through never serves or records a crate file that does not match the upstream's
/// checksum, answers 404 for what the upstream lacks, and fetches a crate once however many
/// ask for it at the same time.
#[test]
fn pull_through_refuses_bad_files_and_fetches_each_crate_once() {
    use crate::serve::request;
    let leaf = versions()
        .into_iter()
        .find(|v| v.name == "leaf" && v.vers == "1.1.0")
        .unwrap();
    let up = Upstream::start_with(None, |root| {
        fs::write(
            root.join("public/crates/leaf-1.1.0.crate"),
            crate_bytes_with(&leaf, "// altered\n"),
        )
        .unwrap();
    });
    let port = free_port();
    let local = Local::at(&format!("http://127.0.0.1:{port}"));
    let _serve = PullThrough::start(&local.root, port, &up.sparse_url());

    let bad = request(port, "GET", "/mirror/crates/leaf-1.1.0.crate", &[]);
    assert!(
        bad.status >= 500,
        "a corrupted upstream file was answered {}",
        bad.status
    );
    assert!(!local.mirror().join("crates/leaf-1.1.0.crate").exists());
    for path in [
        "/mirror/crates/leaf-9.9.9.crate",
        "/mirror/crates/no-such-crate-1.0.0.crate",
        "/mirror/index/no/su/no-such-crate",
    ] {
        assert_eq!(request(port, "GET", path, &[]).status, 404, "{path}");
    }
    assert!(local.mirror_index_files().is_empty());

    let want = up.crate_bytes("leaf", "2.0.0");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || request(port, "GET", "/mirror/crates/leaf-2.0.0.crate", &[]))
        })
        .collect();
    for t in threads {
        let r = t.join().unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body == want, "a reply differs from the upstream's file");
    }
    assert_eq!(
        up.crate_requests(),
        ["leaf-1.1.0.crate", "leaf-2.0.0.crate"],
        "crate files asked of the upstream"
    );
    local.assert_holds(&up, &set(&[("leaf", "2.0.0")]));
    local.verify().success();
}

/// Crate files an interrupted sync left without index lines: once cargo downloads one through
/// the pull-through, its line is in the pruned index too (else the static tree lacks it).
#[test]
fn pull_through_records_crates_an_interrupted_sync_left_behind() {
    use crate::serve::request;
    let mut up = Upstream::start_with(Some(4), |_| {});
    let port = free_port();
    let local = Local::at(&format!("http://127.0.0.1:{port}"));
    let out = local.sync(&up, &["app", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    let left = local.mirror_crates();
    assert!(!left.is_empty(), "the interrupted sync kept no crate file");
    assert!(local.mirror_index_files().is_empty());

    up.restart();
    let _serve = PullThrough::start(&local.root, port, &up.sparse_url());
    let mut want = Versions::new();
    for file in &left {
        let (name, vers) = set(&APP_CLOSURE)
            .into_iter()
            .find(|v| crate_file_name(v) == *file)
            .unwrap();
        let reply = request(port, "GET", &format!("/mirror/crates/{file}"), &[]);
        assert_eq!(reply.status, 200, "{file}");
        assert!(reply.body == up.crate_bytes(&name, &vers), "{file}");
        want.insert((name, vers));
    }
    let mirrored = local.mirrored();
    assert!(
        want.is_subset(&mirrored),
        "versions cargo got through the pull-through but the pruned index lacks: {:?}",
        want.difference(&mirrored).collect::<Vec<_>>()
    );
    // Each pulled crate brought its required dependencies along.
    assert!(mirrored.len() > want.len(), "{mirrored:?}");
    local.assert_holds(&up, &mirrored);
}

/// A lock file of a project using crates.io (replaced) and a private registry: only the
/// replaced source's packages are the upstream's to mirror.
#[test]
fn lockfile_sync_leaves_packages_of_other_registries_alone() {
    let up = Upstream::start();
    let mut local = Local::served();
    // A private crate in the registry that holds the mirror, depended on by the project.
    let private = local.base.join("private-thing-1.0.0.crate");
    fs::write(
        &private,
        ktra::package::testing::simple("private-thing", "1.0.0", ""),
    )
    .unwrap();
    local.ktra(&["add", private.to_str().unwrap()]).success();
    // The private crate is the registry's own, not the mirror's.
    local.initial_public = local.public_outside_mirror();
    let config = format!(
        "[source.crates-io]\nreplace-with = \"upstream\"\n\n[source.upstream]\nregistry = \"{}\"\n\n\
         [registries.demo]\nindex = \"sparse+{}/index/\"\n",
        up.sparse_url(),
        local.url
    );
    let maker = Consumer::with_deps(
        &local.base,
        "mixed",
        &config,
        "private-thing = { version = \"1\", registry = \"demo\" }\n",
    );
    maker.cargo(&["generate-lockfile"]).success();
    let lock = fs::read_to_string(maker.lock_path()).unwrap();
    assert!(
        lock.contains(&format!("source = \"sparse+{}/index/\"", local.url)),
        "{lock}"
    );

    local
        .sync(&up, &["--lockfile", maker.lock_path().to_str().unwrap()])
        .success();
    local.assert_holds(&up, &app_locked());
    assert!(
        !up.requests()
            .iter()
            .any(|r| r.path.contains("private-thing")),
        "asked the upstream for the private crate: {:?}",
        up.requests()
    );
}

/// A sync killed at each step of making its round visible leaves a mirror that `ktra verify`
/// accepts with no gaps (index files go in dependencies-first), and the next run completes it.
#[test]
fn a_sync_killed_while_committing_leaves_a_sound_mirror_and_the_next_run_completes() {
    let up = Upstream::start();
    for point in [
        "mirror-crates-synced",
        "mirror-index-synced",
        "mirror-index-partial",
    ] {
        let local = Local::at(&format!("http://127.0.0.1:{}", free_port()));
        let mut cmd = Command::new(ktra_bin());
        cmd.env("KTRA_CRASH_AT", point)
            .env_remove("KTRA_REGISTRY")
            .arg("-r")
            .arg(&local.root)
            .args(["sync-mirror", "--upstream", &up.sparse_url(), "app"]);
        let crashed = run(cmd, &local.logs);
        assert!(!crashed.status.success(), "{point}: {}", crashed.describe());
        assert!(
            crashed.stderr.contains(point),
            "{point}: {}",
            crashed.describe()
        );
        let verify = local.verify().success();
        assert!(
            !verify.stderr.contains("not self-contained"),
            "{point}: {}",
            verify.stderr
        );
        if point == "mirror-index-partial" {
            assert_eq!(local.mirror_index_files().len(), 1, "{point}");
        }
        local.sync(&up, &["app"]).success();
        local.assert_holds(&up, &set(&APP_CLOSURE));
    }
}
