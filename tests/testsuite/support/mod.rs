//! Harness for the end-to-end tests: a registry in a temporary directory served by
//! `python3 -m http.server` on 127.0.0.1, the real `ktra` binary, and the real `cargo`.
//!
//! Shared across tests and runs: `<target>/e2e-cargo-home/`, the CARGO_HOME of every cargo
//! run, so crates.io downloads are reused. Everything else lives in each test's temp dir.
//!
//! Environment knobs:
//! - `KTRA_E2E_BIN`: run this ktra binary instead of the one cargo built for the tests;
//! - `KTRA_E2E_KEEP=1`: keep each test's temporary directory (its path is printed).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod dbservers;
pub mod s3;
pub mod upstream;

/// The name every test registry gets; the example crates say `publish = ["demo"]`.
pub const REGISTRY_NAME: &str = "demo";

/// How long one child process may run before the test gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// The example directories in an order that `ktra add` can take one at a time: every crate
/// after the registry crates it depends on. `demo-workspace` is added in one call.
pub const EXAMPLES_IN_ORDER: [&str; 6] = [
    "demo-base",
    "demo-base-1.1",
    "demo-sys",
    "demo-codegen",
    "demo-workspace",
    "demo-features",
];

/// Every (name, version) the examples put in the registry.
pub const PUBLISHED: [(&str, &str); 7] = [
    ("demo-base", "1.0.0"),
    ("demo-base", "1.1.0"),
    ("demo-sys", "0.1.0"),
    ("demo-codegen", "0.1.0"),
    ("ws-core", "0.3.0"),
    ("ws-app", "0.3.0"),
    ("demo-features", "0.1.0"),
];

/// The consumer's whole stdout when demo-base 1.1.0 is yanked (on a unix target, where
/// demo-features depends on demo-sys).
pub const CONSUMER_STDOUT: &str = "\
demo-base: hello from demo-base 1.0.0
demo-base some-feature: on
demo-features base: hello from demo-base 1.0.0
demo-features weak feature: on
demo-features extra: on
demo-features itoa: 1234567
demo-features renamed: ws-core 0.3.0
demo-sys: DEMO_SYS_BUILT=yes
ws-app: ws-app 0.3.0 using ws-core 0.3.0, generated 42
consumer: done
";

/// The environment variable that sets the `demo` registry's index for cargo.
pub fn registry_env_var() -> String {
    format!("CARGO_REGISTRIES_{}_INDEX", REGISTRY_NAME.to_uppercase())
}

pub fn ktra_bin() -> PathBuf {
    match std::env::var_os("KTRA_E2E_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_ktra")),
    }
}

/// The cargo that runs the tests (cargo sets `CARGO` for them), else `cargo` from PATH.
/// `program` (cargo, or ktra, which runs cargo) with CARGO_HOME `home` and a clean
/// environment: small, quick builds, no colour or progress, no registry of the developer's.
pub fn quiet_command(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("CARGO_HOME", home)
        .env("CARGO_INCREMENTAL", "0")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .env_remove("KTRA_REGISTRY")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    cmd
}

pub fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// `<target>/<profile>/ktra` is where cargo put the binary; its grandparent is the target
/// directory, wherever CARGO_TARGET_DIR points.
pub fn target_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_ktra"));
    bin.parent()
        .and_then(Path::parent)
        .expect("ktra binary lives in <target>/<profile>/")
        .to_path_buf()
}

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Caches of test registries older than this are left from earlier runs.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The CARGO_HOME shared by every cargo run of the tests. On first use in a process, the
/// caches of earlier runs' test registries are dropped (each registry has an index URL of
/// its own, so they are never used again and would only pile up); crates.io's stay.
pub fn cargo_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = target_dir().join("e2e-cargo-home");
        for sub in ["registry/index", "registry/cache", "registry/src"] {
            let Ok(entries) = fs::read_dir(home.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                // Only what an earlier run left: another test process (nextest runs one
                // per test) may be using the fresh ones right now.
                let age = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if age.is_none_or(|age| age < STALE_AFTER) {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                // Sparse registries on 127.0.0.1 (the tests' and ktra's own short-lived
                // ones) and `file://` git indexes, which cargo names `-<hash>`; the crates.io
                // caches keep their own names and stay.
                if name.starts_with("127.0.0.1-") || name.starts_with('-') {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        fs::create_dir_all(&home).expect("create the shared CARGO_HOME");
        home
    })
}

/// What a finished child process left: exit status and its whole stdout and stderr.
pub struct Outcome {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn describe(&self) -> String {
        format!(
            "{}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }

    pub fn success(self) -> Self {
        assert!(
            self.status.success(),
            "command failed:\n{}",
            self.describe()
        );
        self
    }

    pub fn failure(self) -> Self {
        assert!(
            !self.status.success(),
            "command succeeded but should have failed:\n{}",
            self.describe()
        );
        self
    }
}

/// Runs `cmd` to completion with stdout and stderr going to files under `log_dir` (no pipe
/// can fill up), killing it after [`COMMAND_TIMEOUT`].
pub fn run(mut cmd: Command, log_dir: &Path) -> Outcome {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    fs::create_dir_all(log_dir).expect("create log dir");
    let out_path = log_dir.join(format!("{n:03}.stdout"));
    let err_path = log_dir.join(format!("{n:03}.stderr"));
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("create stdout log"))
        .stderr(fs::File::create(&err_path).expect("create stderr log"));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "timed out after {COMMAND_TIMEOUT:?}: {what}\n--- stdout\n{}\n--- stderr\n{}",
                read_lossy(&out_path),
                read_lossy(&err_path)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        what,
        status,
        stdout: read_lossy(&out_path),
        stderr: read_lossy(&err_path),
    }
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `python3 -m http.server` on 127.0.0.1 with a port the system picked, serving `dir`.
/// Files are looked up per request, so what is under `dir` may appear later. Killed on drop.
pub struct Server {
    child: Child,
    /// URL path at which the served registry's public/ folder appears, e.g. `/x/public`.
    path: String,
    // Kept open so the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    pub fn start(dir: &Path, log: PathBuf, path: &str) -> Server {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).expect("create server log"))
            .spawn()
            .expect("start python3 -m http.server (is python3 installed?)");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..." comes once the
        // socket is listening. read_line returns 0 at EOF if python died first.
        let mut line = String::new();
        let read = stdout.read_line(&mut line).expect("read server stdout");
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port.filter(|_| read > 0) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "http.server did not report its port; stdout: {line:?}\nlog:\n{}",
                read_lossy(&log)
            );
        };
        Server {
            child,
            path: path.trim_end_matches('/').to_owned(),
            _stdout: stdout,
            port,
            log,
        }
    }

    /// The registry's BASE_URL: where its public/ folder is served.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// The request log so far (http.server writes one line per request to stderr).
    pub fn requests(&self) -> String {
        read_lossy(&self.log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `ktra init --no-git`, cargo reads `sparse+http://127.0.0.1:PORT/index/`.
    Sparse,
    /// `ktra init` with its git index, cargo reads `file:///…/public/index.git`.
    Git,
    /// The same git index fetched over plain static HTTP (git's dumb protocol) by the git
    /// command line: `http://127.0.0.1:PORT/…/index.git` with `net.git-fetch-with-cli`.
    GitHttp,
}

/// One registry in a temporary directory, served over http, plus a copy of the examples
/// (so packaging writes nothing into the source tree and no VCS state gets in the way).
pub struct Registry {
    pub protocol: Protocol,
    pub root: PathBuf,
    pub examples: PathBuf,
    pub server: Server,
    pub logs: PathBuf,
    // Dropped last: the server goes before its directory does.
    tmp: Option<tempfile::TempDir>,
}

impl Registry {
    pub fn new(protocol: Protocol) -> Registry {
        let tmp = tempfile::Builder::new()
            .prefix("ktra-e2e-")
            .tempdir()
            .expect("create temp dir");
        let base = tmp.path().to_path_buf();
        // The registry sits in a directory with the temp dir's random name, and the server
        // serves the temp dir, so the base URL is http://127.0.0.1:PORT/<random>/public.
        // Cargo keys its caches by index URL; a URL no earlier registry had means no cached
        // download from another test (a port can be reused) can stand in for this one's.
        let unique = base
            .file_name()
            .expect("temp dir has a name")
            .to_string_lossy()
            .into_owned();
        let root = base.join(&unique);
        let logs = base.join("logs");
        fs::create_dir_all(&logs).expect("create logs dir");
        let examples = base.join("examples");
        copy_tree(&examples_dir(), &examples);
        let server = Server::start(
            &base,
            logs.join("http-server.log"),
            &format!("/{unique}/public"),
        );
        let reg = Registry {
            protocol,
            root,
            examples,
            server,
            logs,
            tmp: Some(tmp),
        };
        let mut init = reg.ktra_command();
        init.arg("init").arg(&reg.root).args([
            "--url",
            &reg.server.base_url(),
            "--name",
            REGISTRY_NAME,
        ]);
        if protocol == Protocol::Sparse {
            init.arg("--no-git");
        }
        run(init, &reg.logs).success();
        assert!(
            reg.root.join("ktra.toml").is_file(),
            "ktra init wrote no ktra.toml"
        );
        assert!(
            reg.public().join("index/config.json").is_file(),
            "ktra init wrote no public/index/config.json"
        );
        reg
    }

    /// The temporary directory holding the registry, the examples copy and the logs.
    pub fn base(&self) -> &Path {
        self.tmp.as_ref().expect("temp dir").path()
    }

    pub fn public(&self) -> PathBuf {
        self.root.join("public")
    }

    pub fn sparse_index(&self) -> String {
        format!("sparse+{}/index/", self.server.base_url())
    }

    pub fn git_index(&self) -> String {
        format!("file://{}", self.public().join("index.git").display())
    }

    /// The index URL cargo uses for this registry's protocol.
    pub fn index_url(&self) -> String {
        match self.protocol {
            Protocol::Sparse => self.sparse_index(),
            Protocol::Git => self.git_index(),
            Protocol::GitHttp => format!("{}/index.git", self.server.base_url()),
        }
    }

    /// A cargo-or-ktra command with a clean, shared environment.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        quiet_command(program, cargo_home())
    }

    /// `ktra -r ROOT ...`. The cargo that `ktra add` runs to package directories gets a
    /// target directory inside the temp dir and is not told where the `demo` registry is:
    /// ktra shows it the registry itself.
    pub fn ktra_command(&self) -> Command {
        let mut cmd = self.command(ktra_bin());
        cmd.env_remove(registry_env_var())
            .env("CARGO_TARGET_DIR", self.base().join("package-target"))
            .current_dir(self.base())
            .arg("-r")
            .arg(&self.root);
        cmd
    }

    /// `cargo` with the shared environment and the `demo` registry set to this one.
    pub fn cargo_command(&self) -> Command {
        let mut cmd = self.command(cargo_bin());
        cmd.env(registry_env_var(), self.index_url());
        cmd
    }

    pub fn ktra<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.ktra_command();
        cmd.args(args);
        run(cmd, &self.logs)
    }

    /// `ktra -r ROOT ARGS...` for another registry folder (made in this one's temp dir), with
    /// its state at `state_url` given through `KTRA_STATE_URL`.
    pub fn ktra_with_state(&self, root: &Path, state_url: &str, args: &[&str]) -> Outcome {
        let mut cmd = self.command(ktra_bin());
        cmd.env("KTRA_STATE_URL", state_url)
            .current_dir(self.base())
            .arg("-r")
            .arg(root)
            .args(args);
        run(cmd, &self.logs)
    }

    /// `ktra token create ARGS...`: the new token (printed alone on stdout).
    pub fn token(&self, args: &[&str]) -> String {
        let mut all = vec!["token", "create"];
        all.extend_from_slice(args);
        self.ktra(all).success().stdout.trim().to_owned()
    }

    pub fn example(&self, dir: &str) -> PathBuf {
        self.examples.join(dir)
    }

    /// `ktra add` each example directory, one call each, leaves first.
    pub fn add_all_examples(&self) {
        for dir in EXAMPLES_IN_ORDER {
            self.ktra([OsStr::new("add"), self.example(dir).as_os_str()])
                .success();
        }
    }

    /// Path of a crate's file in the sparse index (`public/index/<prefix>/<name>`).
    pub fn index_file(&self, name: &str) -> PathBuf {
        let lower = name.to_ascii_lowercase();
        let prefix = match lower.len() {
            1 => "1".to_owned(),
            2 => "2".to_owned(),
            3 => format!("3/{}", &lower[..1]),
            _ => format!("{}/{}", &lower[..2], &lower[2..4]),
        };
        self.public().join("index").join(prefix).join(lower)
    }

    /// The JSON lines of a crate's index file, in file order.
    pub fn index_entries(&self, name: &str) -> Vec<serde_json::Value> {
        let path = self.index_file(name);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read index file {}: {e}", path.display()));
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("bad JSON line in {}: {e}\n{l}", path.display()))
            })
            .collect()
    }

    /// The index entry of one version.
    pub fn index_entry(&self, name: &str, version: &str) -> serde_json::Value {
        self.index_entries(name)
            .into_iter()
            .find(|e| e["vers"] == version)
            .unwrap_or_else(|| panic!("{name}@{version} is not in the index"))
    }

    /// The one file named `NAME-VERSION.crate` under public/crates/.
    pub fn crate_file(&self, name: &str, version: &str) -> PathBuf {
        let file_name = format!("{name}-{version}.crate");
        let found: Vec<PathBuf> = walk_files(&self.public().join("crates"))
            .into_iter()
            .filter(|p| p.file_name() == Some(OsStr::new(&file_name)))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {file_name} under public/crates, found {found:?}"
        );
        found.into_iter().next().unwrap()
    }

    /// Copies examples/consumer into the temp dir, points it at this registry with
    /// `.cargo/config.toml`, and runs `cargo run`. Only the config file tells cargo where the
    /// registry is.
    pub fn run_consumer(&self) -> ConsumerRun {
        self.run_consumer_at(&self.index_url(), &format!("{:?}", self.protocol))
    }

    /// The same with the registry at another index URL (another server for the same tree);
    /// `tag` names the consumer's copy.
    pub fn run_consumer_at(&self, index_url: &str, tag: &str) -> ConsumerRun {
        let (cmd, dir) = self.consumer_command(index_url, tag);
        let outcome = run(cmd, &self.logs).success();
        let lock_text = fs::read_to_string(dir.join("Cargo.lock")).expect("read Cargo.lock");
        let lock: toml::Table = lock_text
            .parse()
            .unwrap_or_else(|e| panic!("Cargo.lock does not parse: {e}\n{lock_text}"));
        ConsumerRun {
            outcome,
            lock_text,
            lock,
        }
    }

    /// `cargo run` of a fresh copy of the consumer pointed at `index_url`, not yet run (add
    /// environment, then `run` it).
    pub fn consumer_command(&self, index_url: &str, tag: &str) -> (Command, PathBuf) {
        let dir = self.base().join(format!("consumer-{tag}").to_lowercase());
        copy_tree(&examples_dir().join("consumer"), &dir);
        let _ = fs::remove_file(dir.join("Cargo.lock"));
        fs::create_dir_all(dir.join(".cargo")).expect("create .cargo");
        fs::write(
            dir.join(".cargo/config.toml"),
            format!(
                "[registries.{REGISTRY_NAME}]\nindex = \"{}\"\n{}",
                index_url,
                if self.protocol == Protocol::GitHttp {
                    "[net]\ngit-fetch-with-cli = true\n"
                } else {
                    ""
                }
            ),
        )
        .expect("write .cargo/config.toml");

        // A target directory of its own: the registry crates have this registry's source id,
        // so no other build has artifacts for them (a shared directory would only reuse
        // itoa's, while growing every run and racing other tests between build and run).
        let mut cmd = self.command(cargo_bin());
        cmd.current_dir(&dir)
            .env("CARGO_TARGET_DIR", self.base().join("consumer-target"))
            .env_remove(registry_env_var())
            .args(["run", "--quiet"]);
        (cmd, dir)
    }

    /// Keeps the temp dir when KTRA_E2E_KEEP=1 (for looking at a failure afterwards).
    fn keep_if_asked(&mut self) {
        if std::env::var_os("KTRA_E2E_KEEP").is_some_and(|v| v == "1")
            && let Some(tmp) = self.tmp.take()
        {
            eprintln!("kept {}", tmp.keep().display());
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.keep_if_asked();
    }
}

pub struct ConsumerRun {
    pub outcome: Outcome,
    pub lock_text: String,
    pub lock: toml::Table,
}

impl ConsumerRun {
    /// (version, source) of every locked package with this name.
    pub fn locked(&self, name: &str) -> Vec<(String, String)> {
        self.lock
            .get("package")
            .and_then(|p| p.as_array())
            .expect("Cargo.lock has [[package]] entries")
            .iter()
            .filter(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
            .map(|p| {
                let field = |k: &str| {
                    p.get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                (field("version"), field("source"))
            })
            .collect()
    }
}

/// All string values anywhere in a JSON document.
pub fn json_strings(v: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::String(s) => {
                out.insert(s.clone());
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

/// Copies a directory tree, leaving out build output and lock files.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        }
    }
}

/// Every regular file under `dir` (none if it does not exist).
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk_files(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

/// Whether a path (relative to the registry, `public/...`, or to `public/`) is part of the
/// browsable site rather than of the registry proper.
pub fn is_site_file(path: &str) -> bool {
    let rel = path.strip_prefix("public/").unwrap_or(path);
    matches!(
        rel,
        "index.html" | "404.html" | "feed.xml" | "search-index.json"
    ) || [
        "c/",
        "static/",
        "all/",
        "search/",
        "versions/",
        "features/",
        "readme/",
    ]
    .iter()
    .any(|dir| rel.starts_with(dir))
}
