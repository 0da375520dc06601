//! The upstream registry of the mirror tests: a real ktra tree holding a few dozen crates with
//! the dependency shapes a mirror has to follow (chains, a diamond, several versions, a yanked
//! version, a build script with a build dependency, dependencies for windows and for unix, an
//! optional one, a renamed one, a dev one, one on crates.io that the upstream does not have),
//! every crate a tiny library that compiles and reports the versions it was built with.
//!
//! The tree is built once per test process ([`fixture`]); each test serves a copy of its own
//! ([`Upstream::start`]) with `upstream_server.py` (python's `http.server`, plus an option to
//! die in the middle of a sync), so a test may yank, add, stop or corrupt its upstream.

use super::{Outcome, copy_tree, ktra_bin, run, walk_files};
use ktra::package::testing::{Entry, tarball};
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The address the fixture is built at; every copy moves to its server's with `ktra set-url`.
/// Index lines never hold the registry's own URL, so they are the same at any address.
const BUILT_AT: &str = "http://127.0.0.1:9/upstream";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Build,
    Dev,
}

/// One dependency of a fixture crate, as its Cargo.toml declares it.
#[derive(Clone, Debug)]
pub struct Dep {
    /// The name in Cargo.toml (the name the code uses, with `-` as `_`).
    pub key: &'static str,
    /// The real package, for a renamed dependency.
    pub package: Option<&'static str>,
    pub req: &'static str,
    pub kind: Kind,
    /// A `cfg(...)` target, for a target-specific dependency.
    pub target: Option<&'static str>,
    pub optional: bool,
    pub features: &'static [&'static str],
    /// A dependency on crates.io (no `registry-index`), which the upstream does not have.
    pub outside: bool,
}

/// One version of a fixture crate.
#[derive(Clone, Debug)]
pub struct Version {
    pub name: &'static str,
    pub vers: &'static str,
    pub deps: Vec<Dep>,
    /// Has a `build.rs` that reads its build dependencies.
    pub build_rs: bool,
    pub yanked: bool,
}

pub fn v(name: &'static str, vers: &'static str) -> Version {
    Version {
        name,
        vers,
        deps: Vec::new(),
        build_rs: false,
        yanked: false,
    }
}

impl Version {
    fn push(mut self, key: &'static str, req: &'static str, kind: Kind) -> Self {
        self.deps.push(Dep {
            key,
            package: None,
            req,
            kind,
            target: None,
            optional: false,
            features: &[],
            outside: false,
        });
        self
    }

    fn last(&mut self) -> &mut Dep {
        self.deps.last_mut().expect("a dependency was declared")
    }

    pub fn dep(self, key: &'static str, req: &'static str) -> Self {
        self.push(key, req, Kind::Normal)
    }

    pub fn build_dep(mut self, key: &'static str, req: &'static str) -> Self {
        self.build_rs = true;
        self.push(key, req, Kind::Build)
    }

    pub fn dev_dep(self, key: &'static str, req: &'static str) -> Self {
        self.push(key, req, Kind::Dev)
    }

    pub fn target_dep(self, target: &'static str, key: &'static str, req: &'static str) -> Self {
        let mut s = self.push(key, req, Kind::Normal);
        s.last().target = Some(target);
        s
    }

    pub fn optional_dep(self, key: &'static str, req: &'static str) -> Self {
        let mut s = self.push(key, req, Kind::Normal);
        s.last().optional = true;
        s
    }

    pub fn renamed_dep(self, key: &'static str, package: &'static str, req: &'static str) -> Self {
        let mut s = self.push(key, req, Kind::Normal);
        s.last().package = Some(package);
        s
    }

    pub fn outside_dep(self, key: &'static str, req: &'static str) -> Self {
        let mut s = self.push(key, req, Kind::Normal);
        s.last().outside = true;
        s
    }

    pub fn features(mut self, features: &'static [&'static str]) -> Self {
        self.last().features = features;
        self
    }

    pub fn yanked(mut self) -> Self {
        self.yanked = true;
        self
    }

    pub fn file_name(&self) -> String {
        format!("{}-{}.crate", self.name, self.vers)
    }
}

/// Every version in the upstream, in the order they are added (one `ktra add` call).
pub fn versions() -> Vec<Version> {
    let mut all = vec![
        // Several versions; 1.2.0 is yanked, so `^1` means 1.1.0.
        v("leaf", "1.0.0"),
        v("leaf", "1.1.0"),
        v("leaf", "1.2.0").yanked(),
        v("leaf", "2.0.0"),
        // A chain.
        v("chain-c", "1.0.0").dep("leaf", "^1"),
        v("chain-b", "1.0.0").dep("chain-c", "^1"),
        v("chain-b", "1.1.0").dep("chain-c", "^1"),
        v("chain-a", "1.0.0").dep("chain-b", "^1"),
        // A diamond whose sides ask for different versions of the bottom.
        v("dia-bottom", "0.1.0"),
        v("dia-bottom", "0.1.1"),
        v("dia-bottom", "0.2.0"),
        v("dia-left", "0.1.0").dep("dia-bottom", "^0.1"),
        v("dia-right", "0.1.0").dep("dia-bottom", "=0.1.0"),
        v("dia-top", "0.1.0")
            .dep("dia-left", "^0.1")
            .dep("dia-right", "^0.1"),
        // A build script with a build dependency.
        v("build-helper", "0.1.0"),
        v("with-build", "0.1.0").build_dep("build-helper", "^0.1"),
        // Target-specific dependencies.
        v("win-only", "1.0.0"),
        v("unix-only", "1.0.0"),
        v("plat", "1.0.0")
            .target_dep("cfg(windows)", "win-only", "^1")
            .target_dep("cfg(unix)", "unix-only", "^1"),
        // An optional dependency.
        v("opt-dep", "1.0.0"),
        v("opt-user", "1.0.0").optional_dep("opt-dep", "^1"),
        // A renamed dependency: the upstream has no crate `short`.
        v("real-name", "1.0.0"),
        v("real-name", "1.1.0"),
        v("renamer", "1.0.0").renamed_dep("short", "real-name", "^1"),
        // A dev dependency.
        v("dev-only", "1.0.0"),
        v("with-dev", "1.0.0")
            .dep("leaf", "^2")
            .dev_dep("dev-only", "^1"),
        // A dependency on crates.io that the upstream does not have.
        v("uses-outside", "1.0.0").outside_dep("outside-thing", "^1"),
        // A requirement only a yanked version matches.
        v("pins-yanked", "1.0.0").dep("leaf", "=1.2.0"),
        // Names of one, two and three characters, and one with capitals.
        v("x", "1.0.0"),
        v("xy", "1.0.0"),
        v("xyz", "1.0.0"),
        v("Mixed-Case", "1.0.0"),
        v("tiny-names", "1.0.0")
            .dep("x", "^1")
            .dep("xy", "^1")
            .dep("xyz", "^1")
            .dep("Mixed-Case", "^1"),
        // The crate consumers use: 1.0.0 is small, 1.1.0 reaches every shape above.
        v("app", "1.0.0").dep("leaf", "=1.0.0"),
        v("app", "1.1.0")
            .dep("chain-a", "^1")
            .dep("dia-top", "^0.1")
            .dep("with-build", "^0.1")
            .dep("plat", "^1")
            .dep("opt-user", "^1")
            .features(&["opt-dep"])
            .renamed_dep("renamed", "renamer", "^1")
            .dep("with-dev", "^1")
            .dep("tiny-names", "^1"),
    ];
    // Crates nobody depends on.
    const FILLERS: [&str; 10] = [
        "filler-01",
        "filler-02",
        "filler-03",
        "filler-04",
        "filler-05",
        "filler-06",
        "filler-07",
        "filler-08",
        "filler-09",
        "filler-10",
    ];
    for (i, name) in FILLERS.into_iter().enumerate() {
        all.push(v(name, "0.1.0"));
        if i % 3 == 0 {
            all.push(v(name, "0.2.0"));
        }
    }
    all
}

/// The consumer's output when it depends on `app = "1"` and builds on a unix target: every
/// crate prints its version and those of the dependencies it was built with (the build script's
/// dependency through the build script).
pub const APP_TREE: &str = "app 1.1.0 [\
chain-a 1.0.0 [chain-b 1.1.0 [chain-c 1.0.0 [leaf 1.1.0]]], \
dia-top 0.1.0 [dia-left 0.1.0 [dia-bottom 0.1.0], dia-right 0.1.0 [dia-bottom 0.1.0]], \
with-build 0.1.0 [build-helper 0.1.0], \
plat 1.0.0 [unix-only 1.0.0], \
opt-user 1.0.0 [opt-dep 1.0.0], \
renamer 1.0.0 [real-name 1.1.0], \
with-dev 1.0.0 [leaf 2.0.0], \
tiny-names 1.0.0 [x 1.0.0, xy 1.0.0, xyz 1.0.0, Mixed-Case 1.0.0]]";

/// The closure of `app` (newest: 1.1.0) without dev dependencies: every normal and build
/// dependency on every target, optional ones too, renamed ones by their real name, each
/// requirement at its newest non-yanked match.
pub const APP_CLOSURE: [(&str, &str); 26] = [
    ("app", "1.1.0"),
    ("chain-a", "1.0.0"),
    ("chain-b", "1.1.0"),
    ("chain-c", "1.0.0"),
    ("leaf", "1.1.0"),
    ("dia-top", "0.1.0"),
    ("dia-left", "0.1.0"),
    ("dia-right", "0.1.0"),
    ("dia-bottom", "0.1.0"),
    ("dia-bottom", "0.1.1"),
    ("with-build", "0.1.0"),
    ("build-helper", "0.1.0"),
    ("plat", "1.0.0"),
    ("win-only", "1.0.0"),
    ("unix-only", "1.0.0"),
    ("opt-user", "1.0.0"),
    ("opt-dep", "1.0.0"),
    ("renamer", "1.0.0"),
    ("real-name", "1.1.0"),
    ("with-dev", "1.0.0"),
    ("leaf", "2.0.0"),
    ("tiny-names", "1.0.0"),
    ("x", "1.0.0"),
    ("xy", "1.0.0"),
    ("xyz", "1.0.0"),
    ("Mixed-Case", "1.0.0"),
];

fn rust_name(key: &str) -> String {
    key.replace('-', "_")
}

/// `cfg(unix)` → `unix`.
fn cfg_inner(target: &str) -> &str {
    target
        .strip_prefix("cfg(")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("fixture targets are cfg(...): {target}"))
}

/// The normalized Cargo.toml `cargo package` would write for this version.
pub fn cargo_toml(ver: &Version) -> String {
    let sparse = format!("sparse+{BUILT_AT}/index/");
    let mut t = String::new();
    writeln!(t, "[package]\nedition = \"2021\"").unwrap();
    writeln!(t, "name = \"{}\"\nversion = \"{}\"", ver.name, ver.vers).unwrap();
    if ver.build_rs {
        writeln!(t, "build = \"build.rs\"").unwrap();
    }
    writeln!(
        t,
        "autobins = false\nautoexamples = false\nautotests = false\nautobenches = false"
    )
    .unwrap();
    writeln!(
        t,
        "description = \"a crate of the mirror tests' upstream\"\nlicense = \"MIT\""
    )
    .unwrap();
    writeln!(t, "\n[lib]\npath = \"src/lib.rs\"").unwrap();
    for d in &ver.deps {
        let table = match d.kind {
            Kind::Normal => "dependencies",
            Kind::Build => "build-dependencies",
            Kind::Dev => "dev-dependencies",
        };
        match d.target {
            Some(target) => writeln!(t, "\n[target.\"{target}\".{table}.{}]", d.key).unwrap(),
            None => writeln!(t, "\n[{table}.{}]", d.key).unwrap(),
        }
        writeln!(t, "version = \"{}\"", d.req).unwrap();
        if let Some(p) = d.package {
            writeln!(t, "package = \"{p}\"").unwrap();
        }
        if d.optional {
            writeln!(t, "optional = true").unwrap();
        }
        if !d.features.is_empty() {
            let list: Vec<String> = d.features.iter().map(|f| format!("\"{f}\"")).collect();
            writeln!(t, "features = [{}]", list.join(", ")).unwrap();
        }
        if !d.outside {
            writeln!(t, "registry-index = \"{sparse}\"").unwrap();
        }
    }
    t
}

/// `id()` names the version; `tree()` adds the trees of the normal dependencies this build
/// has (by target and feature) and what the build script got from its build dependencies.
pub fn lib_rs(ver: &Version) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "//! {} {}: a crate of the mirror tests' upstream.",
        ver.name, ver.vers
    )
    .unwrap();
    writeln!(
        s,
        "pub fn id() -> &'static str {{\n    \"{} {}\"\n}}\n",
        ver.name, ver.vers
    )
    .unwrap();
    writeln!(s, "pub fn tree() -> String {{").unwrap();
    writeln!(
        s,
        "    #[allow(unused_mut)]\n    let mut parts: Vec<String> = Vec::new();"
    )
    .unwrap();
    for d in &ver.deps {
        if d.kind != Kind::Normal || d.outside {
            continue;
        }
        if let Some(target) = d.target {
            writeln!(s, "    #[cfg({})]", cfg_inner(target)).unwrap();
        }
        if d.optional {
            writeln!(s, "    #[cfg(feature = \"{}\")]", d.key).unwrap();
        }
        writeln!(s, "    parts.push({}::tree());", rust_name(d.key)).unwrap();
    }
    if ver.build_rs {
        writeln!(s, "    parts.push(env!(\"BUILT_WITH\").to_owned());").unwrap();
    }
    writeln!(
        s,
        "    if parts.is_empty() {{\n        id().to_owned()\n    }} else {{\n        \
         format!(\"{{}} [{{}}]\", id(), parts.join(\", \"))\n    }}\n}}"
    )
    .unwrap();
    s
}

/// The build script: hands the trees of its build dependencies to the library.
pub fn build_rs(ver: &Version) -> String {
    let calls: Vec<String> = ver
        .deps
        .iter()
        .filter(|d| d.kind == Kind::Build)
        .map(|d| format!("{}::tree()", rust_name(d.key)))
        .collect();
    format!(
        "fn main() {{\n    let parts: Vec<String> = vec![{}];\n    \
         println!(\"cargo:rustc-env=BUILT_WITH={{}}\", parts.join(\", \"));\n}}\n",
        calls.join(", ")
    )
}

/// The `.crate` file of a version, `lib_marker` appended to its lib.rs (to make a file that
/// differs from the published one).
pub fn crate_bytes_with(ver: &Version, lib_marker: &str) -> Vec<u8> {
    let root = format!("{}-{}", ver.name, ver.vers);
    let paths = [
        format!("{root}/Cargo.toml"),
        format!("{root}/src/lib.rs"),
        format!("{root}/build.rs"),
    ];
    let manifest = cargo_toml(ver);
    let lib = format!("{}{lib_marker}", lib_rs(ver));
    let build = build_rs(ver);
    let mut entries = vec![
        Entry::File(&paths[0], manifest.as_bytes()),
        Entry::File(&paths[1], lib.as_bytes()),
    ];
    if ver.build_rs {
        entries.push(Entry::File(&paths[2], build.as_bytes()));
    }
    tarball(&entries)
}

pub fn crate_bytes(ver: &Version) -> Vec<u8> {
    crate_bytes_with(ver, "")
}

/// A ktra command on a tree, with nothing from the environment pointing elsewhere.
pub fn ktra_on(root: &Path, logs: &Path, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(ktra_bin());
    cmd.env_remove("KTRA_REGISTRY")
        .env_remove(ktra::storage::crash::ENV)
        .env("NO_COLOR", "1")
        .arg("-r")
        .arg(root)
        .args(args);
    run(cmd, logs)
}

/// Adds versions to a tree in one `ktra add` call, then yanks those marked yanked.
pub fn add_versions(root: &Path, files: &Path, logs: &Path, list: &[Version]) {
    fs::create_dir_all(files).expect("create files dir");
    let mut paths = Vec::new();
    for ver in list {
        let path = files.join(ver.file_name());
        fs::write(&path, crate_bytes(ver)).expect("write crate file");
        paths.push(path.to_str().expect("utf-8 temp path").to_owned());
    }
    let mut args = vec!["add"];
    args.extend(paths.iter().map(String::as_str));
    ktra_on(root, logs, &args).success();
    for ver in list.iter().filter(|v| v.yanked) {
        ktra_on(root, logs, &["yank", &format!("{}@{}", ver.name, ver.vers)]).success();
    }
}

const FIXTURE_PREFIX: &str = "ktra-mirror-upstream-";

/// The upstream tree (with a git index), built once per test process. Never served itself:
/// tests serve copies. Left in the temp folder at exit; runs an hour later clean it up.
pub fn fixture() -> &'static Path {
    static FIXTURE: OnceLock<PathBuf> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        remove_stale_fixtures();
        let dir = tempfile::Builder::new()
            .prefix(FIXTURE_PREFIX)
            .tempdir()
            .expect("create fixture dir")
            .keep();
        let root = dir.join("up");
        let logs = dir.join("logs");
        let mut init = Command::new(ktra_bin());
        init.env_remove("KTRA_REGISTRY")
            .arg("init")
            .arg(&root)
            .args(["--url", BUILT_AT, "--name", "upstream"]);
        run(init, &logs).success();
        add_versions(&root, &dir.join("files"), &logs, &versions());
        root
    })
}

fn remove_stale_fixtures() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(FIXTURE_PREFIX)
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// `upstream_server.py` serving a folder on 127.0.0.1; killed on drop (and it exits by itself
/// when this process goes away, since its stdin closes).
pub struct PyServer {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    pub log: PathBuf,
}

impl PyServer {
    pub fn start(dir: &Path, port: u16, die_at_crate: Option<usize>, log: PathBuf) -> PyServer {
        let extra = match die_at_crate {
            Some(n) => vec!["--die-at-crate".to_owned(), n.to_string()],
            None => Vec::new(),
        };
        Self::start_with_args(dir, port, &extra, log)
    }

    /// With more arguments of `upstream_server.py` (`--token T`, `--redirect PREFIX=TARGET`).
    pub fn start_with_args(dir: &Path, port: u16, extra: &[String], log: PathBuf) -> PyServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/testsuite/support/upstream_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg("-u")
            .arg(script)
            .arg("--directory")
            .arg(dir)
            .args(["--port", &port.to_string()])
            .args(extra);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).expect("create server log"))
            .spawn()
            .expect("start python3 (is it installed?)");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let Some(port) = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse::<u16>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "upstream_server.py did not start: {line:?}\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        };
        PyServer {
            child,
            _stdin: stdin,
            port,
            log,
        }
    }

    /// Whether the process has exited (for the server that dies on purpose).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request in a server log: path and status (`DIED` for the one that killed the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    pub status: String,
}

/// The requests in a log written by `upstream_server.py`.
pub fn read_requests(log: &Path) -> Vec<Request> {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            // "GET /path HTTP/1.1" 200 -
            let mut quoted = l.splitn(3, '"');
            quoted.next()?;
            let request_line = quoted.next()?;
            let rest = quoted.next()?;
            let path = request_line.split_whitespace().nth(1)?.to_owned();
            let status = rest.split_whitespace().next()?.to_owned();
            Some(Request { path, status })
        })
        .collect()
}

/// A test's own copy of the upstream, served on 127.0.0.1.
pub struct Upstream {
    pub root: PathBuf,
    pub dir: PathBuf,
    pub logs: PathBuf,
    pub port: u16,
    server: Option<PyServer>,
    starts: usize,
    // Dropped after the server (fields drop in order).
    _tmp: tempfile::TempDir,
}

impl Upstream {
    pub fn start() -> Upstream {
        Self::start_with(None, |_| {})
    }

    /// A copy of the fixture, changed by `edit` (given the copy's root) before it is served,
    /// served by a server that dies at the `die_at_crate`th crate request when set.
    pub fn start_with(die_at_crate: Option<usize>, edit: impl FnOnce(&Path)) -> Upstream {
        let tmp = tempfile::Builder::new()
            .prefix("ktra-mirror-up-")
            .tempdir()
            .expect("create temp dir");
        let dir = tmp.path().to_path_buf();
        let root = dir.join("up");
        let logs = dir.join("logs");
        fs::create_dir_all(&logs).expect("create logs dir");
        copy_tree(fixture(), &root);
        edit(&root);
        let mut up = Upstream {
            root,
            dir,
            logs,
            port: 0,
            server: None,
            starts: 0,
            _tmp: tmp,
        };
        up.serve(0, die_at_crate);
        up.ktra(&["set-url", &up.url()]).success();
        up
    }

    fn serve(&mut self, port: u16, die_at_crate: Option<usize>) {
        self.starts += 1;
        let log = self.logs.join(format!("server-{}.log", self.starts));
        let server = PyServer::start(&self.root.join("public"), port, die_at_crate, log);
        self.port = server.port;
        self.server = Some(server);
    }

    /// Stops the server: nothing answers on its port any more.
    pub fn stop(&mut self) {
        self.server = None;
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err(),
            "something still answers on the stopped upstream's port {}",
            self.port
        );
    }

    /// Serves the same tree again on the same port (config.json names it), never dying. A
    /// fresh request log starts.
    pub fn restart(&mut self) {
        self.server = None;
        self.serve(self.port, None);
    }

    /// Serves the same tree again on the same port with more arguments of `upstream_server.py`
    /// (`--token T`, `--redirect PREFIX=TARGET`). A fresh request log starts.
    pub fn restart_with(&mut self, extra: &[String]) {
        self.server = None;
        self.starts += 1;
        let log = self.logs.join(format!("server-{}.log", self.starts));
        let server = PyServer::start_with_args(&self.root.join("public"), self.port, extra, log);
        self.server = Some(server);
    }

    /// Whether the server process has exited by itself.
    pub fn server_exited(&mut self) -> bool {
        self.server.as_mut().is_none_or(PyServer::exited)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What `--upstream` takes.
    pub fn sparse_url(&self) -> String {
        format!("sparse+{}/index/", self.url())
    }

    pub fn git_url(&self) -> String {
        format!("file://{}", self.root.join("public/index.git").display())
    }

    /// `ktra -r UPSTREAM ARGS`.
    pub fn ktra(&self, args: &[&str]) -> Outcome {
        ktra_on(&self.root, &self.logs, args)
    }

    /// Adds versions to the upstream (and yanks those marked yanked).
    pub fn add(&self, list: &[Version]) {
        add_versions(&self.root, &self.dir.join("files"), &self.logs, list);
    }

    /// Index path relative to an index root, as `ktra::index::path` makes it.
    pub fn index_path(name: &str) -> String {
        ktra::index::path::index_path(name).unwrap()
    }

    /// The upstream's whole index file of a crate.
    pub fn index_text(&self, name: &str) -> String {
        let path = self.root.join("public/index").join(Self::index_path(name));
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The upstream's lines (with their `\n`) of the given versions, in upstream order.
    pub fn lines_of(&self, name: &str, versions: &[&str]) -> String {
        let text = self.index_text(name);
        let kept: String = text
            .split_inclusive('\n')
            .filter(|l| versions.contains(&line_version(l).as_str()))
            .collect();
        assert_eq!(
            kept.lines().count(),
            versions.len(),
            "the upstream lacks some of {name} {versions:?}:\n{text}"
        );
        kept
    }

    pub fn crate_file(&self, name: &str, vers: &str) -> PathBuf {
        self.root
            .join("public")
            .join(ktra::index::path::crate_path(name, vers))
    }

    pub fn crate_bytes(&self, name: &str, vers: &str) -> Vec<u8> {
        let path = self.crate_file(name, vers);
        fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Every (name, version) the upstream has.
    pub fn all_versions(&self) -> Vec<(String, String)> {
        let index = self.root.join("public/index");
        let mut out = Vec::new();
        for file in walk_files(&index) {
            if file.file_name().is_some_and(|n| n == "config.json") {
                continue;
            }
            for line in fs::read_to_string(&file).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                out.push((
                    v["name"].as_str().unwrap().to_owned(),
                    v["vers"].as_str().unwrap().to_owned(),
                ));
            }
        }
        out.sort();
        out
    }

    /// The requests the current server has seen.
    pub fn requests(&self) -> Vec<Request> {
        let log = self.logs.join(format!("server-{}.log", self.starts));
        read_requests(&log)
    }

    /// The crate files the current server was asked for (`NAME-VERSION.crate`).
    pub fn crate_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(".crate"))
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
            .collect()
    }
}

/// The `vers` of an index line.
pub fn line_version(line: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad index line ({e}): {line}"));
    v["vers"].as_str().expect("vers").to_owned()
}
