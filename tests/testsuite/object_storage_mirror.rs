//! The mirror of a registry in S3-compatible object storage (issue 12, items 0 and 1), against
//! a real S3 server (moto) and the mirror tests' upstream (support/upstream.rs): `ktra
//! sync-mirror` fills `mirror/` in the bucket and the real cargo builds from the bucket alone
//! with the upstream stopped; two syncs at once on one bucket lose nothing; `ktra serve
//! --mirror-upstream` on a bucket registry fetches what cargo asks for, stores it in the bucket,
//! and the bucket's mirror then builds the project with no upstream.

use crate::object_storage::{BucketRegistry, index_path};
use crate::support::upstream::{APP_CLOSURE, APP_TREE, Upstream};
use crate::support::{Outcome, Protocol, Registry, cargo_bin, ktra_bin, run};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Versions = BTreeSet<(String, String)>;

fn set(list: &[(&str, &str)]) -> Versions {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// `ktra -r DIR ARGS` on the bucket registry, not yet run (with the test server's variables).
fn ktra_cmd(local: &Registry, reg: &BucketRegistry, args: &[&str]) -> Command {
    let mut cmd = Command::new(ktra_bin());
    cmd.env("NO_COLOR", "1")
        .env_remove("KTRA_REGISTRY")
        .envs(reg.s3.env())
        .current_dir(local.base())
        .arg("-r")
        .arg(&reg.dir)
        .args(args);
    cmd
}

/// `ktra sync-mirror --upstream UP --retries 0 ARGS` on the bucket registry.
fn sync(local: &Registry, reg: &BucketRegistry, up: &Upstream, args: &[&str]) -> Outcome {
    let upstream = up.sparse_url();
    let mut all = vec!["sync-mirror", "--upstream", &upstream, "--retries", "0"];
    all.extend_from_slice(args);
    reg.run(local, &all)
}

/// The folder of a registry in object storage holds its settings and nothing else.
fn assert_only_settings(reg: &BucketRegistry) {
    let mut names: Vec<String> = std::fs::read_dir(&reg.dir)
        .expect("read the settings folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ktra.toml"], "files beside ktra.toml");
}

/// The bucket's mirror holds at least `want`: each crate's index file is exactly the upstream's
/// lines of the versions `want` has of it (upstream order, byte for byte), each crate file the
/// upstream's bytes, stored as a crate file (immutable) for a CDN.
fn assert_bucket_holds(reg: &BucketRegistry, up: &Upstream, want: &Versions) {
    let mut by_crate: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, vers) in want {
        by_crate.entry(name).or_default().push(vers);
    }
    for (name, vers) in &by_crate {
        let key = format!("mirror/index/{}", index_path(name));
        let (status, headers, body) = reg.get(&key);
        assert_eq!(status, 200, "{key}: {}", String::from_utf8_lossy(&body));
        assert_eq!(
            String::from_utf8_lossy(&body),
            up.lines_of(name, vers),
            "the bucket's {key} is not the upstream's lines of {vers:?}"
        );
        assert!(headers.contains("max-age=60"), "{key}: {headers}");
    }
    for (name, vers) in want {
        let key = format!("mirror/crates/{name}-{vers}.crate");
        let (status, headers, body) = reg.get(&key);
        assert_eq!(status, 200, "{key}");
        assert!(
            body == up.crate_bytes(name, vers),
            "the bucket's {key} differs from the upstream's file"
        );
        assert!(
            headers.contains("immutable") && headers.contains("application/gzip"),
            "{key}: {headers}"
        );
    }
}

/// The mirror's `config.json` in the bucket downloads from `base`'s `mirror/crates/`.
fn assert_config_json(reg: &BucketRegistry, base: &str) {
    let (status, _, body) = reg.get("mirror/index/config.json");
    assert_eq!(status, 200, "mirror/index/config.json");
    let config: serde_json::Value = serde_json::from_slice(&body).expect("config.json is JSON");
    assert_eq!(
        config["dl"],
        format!("{base}/mirror/crates/{{crate}}-{{version}}.crate"),
        "{config}"
    );
}

/// A project depending on `app = "1"` with crates-io replaced by `sparse_url`.
pub(crate) struct Consumer {
    dir: PathBuf,
    target: PathBuf,
    logs: PathBuf,
}

impl Consumer {
    pub(crate) fn new(base: &Path, tag: &str, sparse_url: &str) -> Consumer {
        let dir = base.join(format!("consumer-{tag}"));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join(".cargo")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"mirror-consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\napp = \"1\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("src/main.rs"),
            "fn main() {\n    println!(\"{}\", app::tree());\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join(".cargo/config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"bucket-mirror\"\n\n\
                 [source.bucket-mirror]\nregistry = \"{sparse_url}\"\n\n[net]\nretry = 0\n"
            ),
        )
        .unwrap();
        Consumer {
            target: base.join(format!("target-{tag}")),
            logs: base.join("logs"),
            dir,
        }
    }

    /// `cargo ARGS` with a CARGO_HOME of its own that has never seen anything.
    fn cargo(&self, home: &Path, args: &[&str]) -> Outcome {
        let mut cmd = crate::support::quiet_command(cargo_bin(), home);
        cmd.current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove(crate::support::registry_env_var())
            .args(args);
        run(cmd, &self.logs)
    }

    /// `cargo run` prints the tree of versions it was built with.
    pub(crate) fn runs(&self, home: &Path, extra: &[&str]) {
        let mut args = vec!["run", "--quiet"];
        args.extend_from_slice(extra);
        let ran = self.cargo(home, &args).success();
        assert_eq!(ran.stdout, format!("{APP_TREE}\n"), "{}", ran.describe());
    }
}

#[test]
fn sync_mirror_fills_a_bucket_and_cargo_builds_from_it_alone() {
    let mut up = Upstream::start();
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "mirror-sync");
    // Killed after its first index file: the crate files it verified are in the bucket, the
    // index file written names only what is there (dependencies go first), and the next run
    // downloads nothing again.
    let upstream = up.sparse_url();
    let mut crash = ktra_cmd(
        &local,
        &reg,
        &[
            "sync-mirror",
            "--upstream",
            &upstream,
            "--retries",
            "0",
            "app",
        ],
    );
    crash.env("KTRA_CRASH_AT", "mirror-index-partial");
    let crashed = run(crash, &local.logs);
    assert!(
        !crashed.status.success() && crashed.stderr.contains("mirror-index-partial"),
        "{}",
        crashed.describe()
    );
    let verify = reg.run(&local, &["verify"]).success();
    assert!(
        !verify.stderr.contains("not self-contained") && !verify.stderr.contains("needs"),
        "{}",
        verify.describe()
    );
    let out = sync(&local, &reg, &up, &["app", "--json"]).success();
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("--json");
    assert_eq!(report["versions"], 26, "{report}");
    assert_eq!(report["downloaded"], 0, "{report}");
    // (Those of the index file written are not new: found in place, not counted.)
    assert!(report["reused"].as_u64() >= Some(24), "{report}");
    assert_eq!(report["updated"], 23, "{report}");
    assert_bucket_holds(&reg, &up, &set(&APP_CLOSURE));
    assert_config_json(&reg, &reg.base_url());
    assert_only_settings(&reg);
    reg.run(&local, &["verify"]).success();
    // The home page shows the mirror's setup.
    let (status, _, home) = reg.get("index.html");
    assert_eq!(status, 200);
    let home = String::from_utf8_lossy(&home);
    assert!(
        home.contains("Mirror of <code>crates-io</code>"),
        "the home page does not show the mirror:\n{home}"
    );

    // Nothing changed upstream: nothing downloaded, no index file rewritten.
    let again = sync(&local, &reg, &up, &["app", "--json"]).success();
    let again: serde_json::Value = serde_json::from_str(again.stdout.trim()).expect("--json");
    assert_eq!(again["downloaded"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    assert!(
        up.crate_requests().len() == 26,
        "crate files asked of the upstream: {:?}",
        up.crate_requests()
    );

    // Lines left behind the upstream copy the mirror keeps (what two syncs at once can leave
    // on object storage: no lock orders their commits): a refresh, which gets a 304, puts them
    // right from that copy.
    reg.s3.allow_public_writes(&reg.bucket);
    let key = format!("mirror/index/{}", index_path("leaf"));
    let good = reg.get(&key).2;
    let behind = String::from_utf8_lossy(&good).replacen("\"yanked\":false", "\"yanked\":true", 1);
    assert_ne!(behind.as_bytes(), &good[..]);
    let put = reg.s3.request(
        "PUT",
        &format!("/{}/{key}", reg.bucket),
        &[],
        behind.as_bytes(),
    );
    assert!(put.status < 300, "put: {}", put.status);
    let refresh = sync(&local, &reg, &up, &["--json"]).success();
    let refresh: serde_json::Value = serde_json::from_str(refresh.stdout.trim()).expect("--json");
    assert_eq!(refresh["downloaded"], 0, "{refresh}");
    assert_eq!(refresh["updated"], 1, "{refresh}");
    assert_eq!(reg.get(&key).2, good, "the refresh left {key} behind");
    assert_bucket_holds(&reg, &up, &set(&APP_CLOSURE));

    // The bucket is the static host: cargo reads the mirror's index and crate files from it,
    // with the upstream stopped and a CARGO_HOME that never saw anything.
    up.stop();
    let consumer = Consumer::new(
        local.base(),
        "bucket",
        &format!("sparse+{}/mirror/index/", reg.base_url()),
    );
    consumer.runs(&local.base().join("cargo-home-bucket"), &[]);
    assert_only_settings(&reg);
}

/// A sync paused just before it writes its index files, while another sync of overlapping
/// crates completes: the first one's conditional writes meet the second one's files and keep
/// both. Then three syncs at once. Every version either asked for is there, once.
#[test]
fn syncs_at_once_on_one_bucket_lose_nothing() {
    let up = Upstream::start();
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "mirror-race");
    let pause = local.base().join("pause");
    std::fs::create_dir_all(&pause).unwrap();
    let upstream = up.sparse_url();
    let mut first: Child = ktra_cmd(
        &local,
        &reg,
        &[
            "sync-mirror",
            "--upstream",
            &upstream,
            "--retries",
            "0",
            "app",
        ],
    )
    .env("KTRA_PAUSE_AT", "mirror-crates-synced")
    .env("KTRA_PAUSE_DIR", &pause)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start the first sync");
    let started = Instant::now();
    while !pause.join("paused").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first sync never reached its pause"
        );
        if let Ok(Some(status)) = first.try_wait() {
            panic!("the first sync ended before its pause: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // leaf, chain-c and chain-b are in both; the first sync read them as absent.
    sync(&local, &reg, &up, &["leaf@=1.0.0", "chain-b@=1.0.0"]).success();
    std::fs::write(pause.join("resume"), "").unwrap();
    let status = first.wait().expect("wait for the first sync");
    assert!(status.success(), "the first sync failed: {status}");
    let mut want = set(&APP_CLOSURE);
    want.extend(set(&[
        ("leaf", "1.0.0"),
        ("chain-b", "1.0.0"),
        ("chain-c", "1.0.0"),
    ]));
    assert_bucket_holds(&reg, &up, &want);
    reg.run(&local, &["verify"]).success();

    // Three at once, all touching leaf and dia-bottom.
    let specs: [&[&str]; 3] = [
        &["--all-versions", "leaf@^1"],
        &["--all-versions", "dia-bottom@*", "pins-yanked"],
        &["dia-top", "leaf@=2.0.0", "filler-01"],
    ];
    let children: Vec<Child> = specs
        .iter()
        .map(|args| {
            let mut all = vec!["sync-mirror", "--upstream", &upstream, "--retries", "0"];
            all.extend_from_slice(args);
            ktra_cmd(&local, &reg, &all)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a sync")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for a sync");
        assert!(
            out.status.success(),
            "a concurrent sync failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    want.extend(set(&[
        ("leaf", "1.2.0"),
        ("dia-bottom", "0.2.0"),
        ("pins-yanked", "1.0.0"),
        ("filler-01", "0.2.0"),
    ]));
    assert_bucket_holds(&reg, &up, &want);
    reg.run(&local, &["verify"]).success();
    assert_only_settings(&reg);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ktra serve` on the bucket registry at a given port (with `--mirror-upstream` when given);
/// killed on drop.
struct Served(Child);

impl Served {
    fn start(local: &Registry, reg: &BucketRegistry, port: u16, upstream: Option<&str>) -> Served {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        if let Some(up) = upstream {
            args.extend(["--mirror-upstream", up]);
        }
        let log = local
            .logs
            .join(format!("serve-{port}-{}.log", upstream.is_some()));
        let mut child = ktra_cmd(local, reg, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the server's log"))
            .spawn()
            .expect("start ktra serve");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "ktra serve exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "ktra serve does not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Served(child)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ktra serve --mirror-upstream` on a bucket registry: cargo builds through it, every crate
/// it downloads is fetched once, verified and stored in the bucket with its line; afterwards
/// the bucket's mirror alone (served by a plain `ktra serve`, upstream stopped) builds the
/// project from its lock file for a CARGO_HOME that never saw it.
#[test]
fn pull_through_on_a_bucket_registry_stores_what_cargo_fetches() {
    use crate::serve::request;
    let mut up = Upstream::start();
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "mirror-pull");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    reg.run(&local, &["set-url", &url]).success();
    let serve = Served::start(&local, &reg, port, Some(&up.sparse_url()));
    assert_config_json(&reg, &url);

    // The upstream's whole index file, and a crate the upstream lacks is a 404.
    let leaf = request(port, "GET", "/mirror/index/le/af/leaf", &[]);
    assert_eq!(leaf.status, 200);
    assert!(leaf.body == up.index_text("leaf").as_bytes());
    let missing = request(port, "GET", "/mirror/crates/leaf-9.9.9.crate", &[]);
    assert_eq!(missing.status, 404);
    // Looking at an index file mirrors nothing.
    assert_eq!(reg.get("mirror/index/le/af/leaf").0, 404);

    // Eight clients ask for the same missing crate at once: one fetch, eight good replies.
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
    assert_eq!(up.crate_requests(), ["leaf-2.0.0.crate"]);
    assert_bucket_holds(&reg, &up, &set(&[("leaf", "2.0.0")]));

    let consumer = Consumer::new(local.base(), "pull", &format!("sparse+{url}/mirror/index/"));
    consumer.runs(&local.base().join("cargo-home-pull"), &[]);
    drop(serve);
    up.stop();
    // What cargo downloaded, and the required dependencies of each pulled crate for every
    // target at their newest match (so `dia-bottom` 0.1.1 and `win-only` too), are in the
    // bucket, not on this machine.
    assert_bucket_holds(&reg, &up, &set(&APP_CLOSURE));
    reg.run(&local, &["verify"]).success();
    assert_only_settings(&reg);

    // The bucket's mirror alone, served without an upstream.
    let _plain = Served::start(&local, &reg, port, None);
    consumer.runs(&local.base().join("cargo-home-static"), &["--locked"]);
}
