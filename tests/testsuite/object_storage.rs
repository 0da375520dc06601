//! A registry in S3-compatible object storage (issue 12), against a real S3 server (moto, on
//! 127.0.0.1): `ktra init --storage s3://… --state s3://…` leaves only `ktra.toml` in its
//! folder; `ktra add` (directories and `.crate` files), `yank`, `remove`, `list` and `verify`
//! work on the bucket; the real cargo reads the sparse index and downloads crates straight
//! from the bucket; concurrent writers lose nothing.

use crate::support::s3::S3Server;
use crate::support::upstream::{Version, crate_bytes, v};
use crate::support::{
    CONSUMER_STDOUT, EXAMPLES_IN_ORDER, Outcome, PUBLISHED, Protocol, Registry, cargo_home,
    ktra_bin, registry_env_var, run,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A registry in two buckets of one moto server, with a folder for its `ktra.toml`.
pub struct BucketRegistry {
    pub s3: S3Server,
    pub dir: PathBuf,
    pub bucket: String,
}

impl BucketRegistry {
    pub fn new(local: &Registry, bucket: &str) -> BucketRegistry {
        Self::with_init_args(local, bucket, &[])
    }

    /// [`BucketRegistry::new`] with more arguments for `ktra init` (`--auth-required`, ...).
    pub fn with_init_args(local: &Registry, bucket: &str, extra: &[&str]) -> BucketRegistry {
        let s3 = S3Server::start();
        s3.create_bucket(bucket);
        // The served bucket is a static host: anyone may read it; the state bucket is not.
        s3.allow_public_reads(bucket);
        s3.create_bucket(&format!("{bucket}-state"));
        let reg = BucketRegistry {
            s3,
            dir: local.base().join(format!("{bucket}-settings")),
            bucket: bucket.to_owned(),
        };
        let mut args: Vec<&std::ffi::OsStr> = vec!["init".as_ref(), reg.dir.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        reg.ktra(local, &args, false).args_done().success();
        reg
    }

    /// Where the bucket's objects are read anonymously (path-style).
    pub fn base_url(&self) -> String {
        format!("{}/{}", self.s3.endpoint(), self.bucket)
    }

    pub fn sparse_index(&self) -> String {
        format!("sparse+{}/index/", self.base_url())
    }

    /// `ktra` with the AWS variables of the test server; `-r DIR` unless it is `init`.
    fn ktra(&self, local: &Registry, args: &[&std::ffi::OsStr], with_registry: bool) -> Pending {
        let mut cmd = Command::new(ktra_bin());
        cmd.env("CARGO_HOME", cargo_home())
            .env("CARGO_TARGET_DIR", local.base().join("package-target"))
            .env("NO_COLOR", "1")
            .env_remove("KTRA_REGISTRY")
            .env_remove(registry_env_var())
            .envs(self.s3.env())
            .current_dir(local.base());
        if with_registry {
            cmd.arg("-r").arg(&self.dir);
        }
        cmd.args(args);
        if !with_registry {
            cmd.args([
                "--url",
                &self.base_url(),
                "--name",
                crate::support::REGISTRY_NAME,
                "--storage",
                &format!("s3://{}", self.bucket),
                "--state",
                &format!("s3://{}-state", self.bucket),
            ]);
        }
        Pending {
            cmd,
            logs: local.logs.clone(),
        }
    }

    pub fn run(&self, local: &Registry, args: &[&str]) -> Outcome {
        self.run_with(local, args, &[])
    }

    /// [`BucketRegistry::run`] with more environment variables (`KTRA_CRASH_AT`, ...).
    pub fn run_with(&self, local: &Registry, args: &[&str], envs: &[(&str, &str)]) -> Outcome {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        let mut pending = self.ktra(local, &args, true);
        pending.cmd.envs(envs.iter().copied());
        pending.args_done()
    }

    /// An object read anonymously over plain HTTP, as cargo reads it: (status, headers, body).
    pub fn get(&self, key: &str) -> (u16, String, Vec<u8>) {
        let r = self.s3.get(&format!("/{}/{key}", self.bucket));
        let headers: Vec<String> = r.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        (r.status, headers.join("\n"), r.body)
    }
}

struct Pending {
    cmd: Command,
    logs: PathBuf,
}

impl Pending {
    fn args_done(self) -> Outcome {
        run(self.cmd, &self.logs)
    }
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the settings folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn cargo_builds_from_a_registry_in_a_bucket() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "demo-registry");
    assert_eq!(
        files_in(&reg.dir),
        ["ktra.toml"],
        "the folder of a registry in object storage holds only its settings"
    );
    let settings = std::fs::read_to_string(reg.dir.join("ktra.toml")).expect("read ktra.toml");
    assert!(
        settings.contains("[storage]") && settings.contains("[state]"),
        "{settings}"
    );

    for example in EXAMPLES_IN_ORDER {
        let path = local.example(example);
        reg.run(&local, &["add", path.to_str().expect("utf-8 path")])
            .success();
    }
    assert_eq!(
        files_in(&reg.dir),
        ["ktra.toml"],
        "adds wrote beside the settings"
    );
    let list = reg.run(&local, &["list"]).success();
    for (name, vers) in PUBLISHED {
        assert!(
            list.stdout.contains(name),
            "`ktra list` misses {name}:\n{}",
            list.stdout
        );
        let (status, _, body) = reg.get(&format!("index/{}", index_path(name)));
        assert_eq!(status, 200, "the index file of {name}");
        let needle = format!("\"vers\":\"{vers}\"");
        assert!(
            String::from_utf8_lossy(&body).contains(&needle),
            "{name}@{vers} is not in its index file"
        );
    }

    // Objects carry what a CDN needs.
    let (status, headers, body) = reg.get("crates/demo-base-1.0.0.crate");
    assert_eq!(status, 200, "{headers}");
    assert!(body.starts_with(&[0x1f, 0x8b]), "a crate file is gzip");
    let lower = headers.to_ascii_lowercase();
    assert!(
        lower.contains("immutable"),
        "crate files are immutable:\n{headers}"
    );
    let (status, headers, _) = reg.get("index/de/mo/demo-base");
    assert_eq!(status, 200, "{headers}");
    assert!(
        !headers.to_ascii_lowercase().contains("immutable"),
        "index files are revalidated:\n{headers}"
    );

    // The real cargo, straight from the bucket.
    reg.run(&local, &["yank", "demo-base@1.1.0"]).success();
    let consumer = local.run_consumer_at(&reg.sparse_index(), "bucket");
    assert_eq!(consumer.outcome.stdout, CONSUMER_STDOUT);
    reg.run(&local, &["verify"]).success();

    // Removal: the line goes, then the file.
    reg.run(&local, &["remove", "--force", "demo-base@1.1.0"])
        .success();
    let (status, _, _) = reg.get("crates/demo-base-1.1.0.crate");
    assert_eq!(status, 404, "the removed version's crate file is gone");
    let (_, _, index) = reg.get("index/de/mo/demo-base");
    let index = String::from_utf8(index).expect("utf-8 index");
    assert!(!index.contains("\"1.1.0\""), "{index}");
    reg.run(&local, &["verify"]).success();

    // The same file again is a no-op; different bytes under the same version are refused.
    let (_, _, before) = reg.get("index/de/mo/demo-base");
    let (_, _, same) = reg.get("crates/demo-base-1.0.0.crate");
    let same_path = local.base().join("again/demo-base-1.0.0.crate");
    std::fs::create_dir_all(local.base().join("again")).expect("create a folder");
    std::fs::write(&same_path, &same).expect("write the crate file");
    reg.run(&local, &["add", same_path.to_str().expect("utf-8 path")])
        .success();
    let (_, _, after) = reg.get("index/de/mo/demo-base");
    assert_eq!(
        before, after,
        "adding an existing version again changed its index file"
    );
    std::fs::write(&same_path, crate_bytes(&v("demo-base", "1.0.0"))).expect("write");
    let out = reg
        .run(&local, &["add", same_path.to_str().expect("utf-8 path")])
        .failure();
    assert!(out.stderr.contains("1.0.0"), "{}", out.stderr);
    let (_, _, after) = reg.get("index/de/mo/demo-base");
    assert_eq!(before, after, "a refused add changed the index file");
    let (_, _, kept) = reg.get("crates/demo-base-1.0.0.crate");
    assert_eq!(kept, same, "a refused add changed the crate file");
}

#[test]
fn init_refuses_state_inside_the_served_location() {
    let local = Registry::new(Protocol::Sparse);
    let s3 = S3Server::start();
    s3.create_bucket("shared");
    let dir = local.base().join("overlap");
    let mut cmd = Command::new(ktra_bin());
    cmd.envs(s3.env())
        .env("NO_COLOR", "1")
        .arg("init")
        .arg(&dir)
        .args([
            "--url",
            "http://127.0.0.1:1/shared",
            "--storage",
            "s3://shared/public",
            "--state",
            "s3://shared/public/state",
        ]);
    let out = run(cmd, &local.logs).failure();
    assert!(
        out.stderr.contains("must not overlap"),
        "unexpected error:\n{}",
        out.stderr
    );
    assert!(
        !dir.join("ktra.toml").exists(),
        "a refused init wrote settings"
    );
}

/// Eight `ktra add` processes at once: four on versions of one crate, four on crates of their
/// own; afterwards every version is present exactly once and `verify` passes.
#[test]
fn concurrent_writers_lose_nothing() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "busy");
    let files = local.base().join("busy-crates");
    std::fs::create_dir_all(&files).expect("create the crates folder");
    const VERSIONS: [&str; 6] = ["0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0"];
    const OWN: [&str; 4] = ["solo-a", "solo-b", "solo-c", "solo-d"];
    let mut jobs: Vec<Vec<Version>> = Vec::new();
    for w in 0..4 {
        // Writer w adds 0.w.x versions of `shared-crate`.
        jobs.push(
            VERSIONS
                .iter()
                .map(|m| {
                    let vers: &'static str =
                        Box::leak(format!("{}.{w}", m.trim_end_matches(".0")).into_boxed_str());
                    v("shared-crate", vers)
                })
                .collect(),
        );
    }
    for name in OWN {
        jobs.push(VERSIONS.iter().map(|vers| v(name, vers)).collect());
    }
    let mut children = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        // One add per version, so the writers interleave on the shared index file.
        let paths: Vec<PathBuf> = job
            .iter()
            .map(|ver| {
                let path = files.join(ver.file_name());
                std::fs::write(&path, crate_bytes(ver)).expect("write a crate file");
                path
            })
            .collect();
        let dir = reg.dir.clone();
        let env = reg.s3.env();
        let logs = local.logs.join(format!("writer-{i}.log"));
        children.push(std::thread::spawn(move || {
            let mut failures = Vec::new();
            for path in paths {
                let out = Command::new(ktra_bin())
                    .envs(env.clone())
                    .env("NO_COLOR", "1")
                    .arg("-r")
                    .arg(&dir)
                    .arg("add")
                    .arg(&path)
                    .output()
                    .expect("run ktra add");
                let _ = std::fs::write(&logs, &out.stderr);
                if !out.status.success() {
                    failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                }
            }
            failures
        }));
    }
    let failures: Vec<String> = children
        .into_iter()
        .flat_map(|c| c.join().expect("writer thread"))
        .collect();
    assert!(
        failures.is_empty(),
        "writers failed:\n{}",
        failures.join("\n")
    );

    let (_, _, shared) = reg.get("index/sh/ar/shared-crate");
    let shared = String::from_utf8(shared).expect("utf-8 index");
    assert_eq!(shared.lines().count(), 24, "{shared}");
    for job in &jobs {
        for ver in job {
            let key = format!("index/{}", index_path(ver.name));
            let (status, _, body) = reg.get(&key);
            assert_eq!(status, 200, "{key}");
            let text = String::from_utf8(body).expect("utf-8 index");
            let needle = format!("\"vers\":\"{}\"", ver.vers);
            assert_eq!(
                text.matches(&needle).count(),
                1,
                "{}@{}:\n{text}",
                ver.name,
                ver.vers
            );
        }
    }
    reg.run(&local, &["verify"]).success();
    let added: Vec<(&str, &str)> = jobs.iter().flatten().map(|v| (v.name, v.vers)).collect();
    site_lists_every_crate(&reg, &added);
}

/// `ktra rebuild` on a bucket: a lost index file comes back from the crate files, a kept one
/// keeps its yank, and nothing is written beside `ktra.toml`; then `ktra set-url`.
#[test]
fn rebuild_restores_the_index_in_a_bucket() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "rebuilt");
    let files = local.base().join("rebuilt-crates");
    std::fs::create_dir_all(&files).expect("create the crates folder");
    for ver in [v("alpha", "1.0.0"), v("alpha", "1.1.0"), v("beta", "0.1.0")] {
        std::fs::write(files.join(ver.file_name()), crate_bytes(&ver)).expect("write a crate");
    }
    reg.run(&local, &["add", &files.to_string_lossy()])
        .success();
    reg.run(&local, &["yank", "alpha@1.0.0"]).success();
    let (_, _, alpha) = reg.get("index/al/ph/alpha");
    reg.s3.allow_public_writes("rebuilt");
    let lost = reg
        .s3
        .request("DELETE", "/rebuilt/index/be/ta/beta", &[], b"");
    assert!(lost.status < 300, "delete: {}", lost.status);
    assert_eq!(reg.get("index/be/ta/beta").0, 404);

    reg.run(&local, &["rebuild"]).success();
    assert_eq!(
        reg.get("index/al/ph/alpha").2,
        alpha,
        "alpha's lines changed"
    );
    let (status, _, beta) = reg.get("index/be/ta/beta");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&beta).contains("\"vers\":\"0.1.0\""));
    assert_eq!(files_in(&reg.dir), ["ktra.toml"]);
    reg.run(&local, &["verify"]).success();

    // `set-url` rewrites config.json and the site in the bucket.
    reg.run(&local, &["set-url", "https://crates.example.org/reg"])
        .success();
    let (_, _, config) = reg.get("index/config.json");
    assert!(
        String::from_utf8_lossy(&config).contains("https://crates.example.org/reg/crates/"),
        "{}",
        String::from_utf8_lossy(&config)
    );
    let (_, _, home) = reg.get("index.html");
    assert!(String::from_utf8_lossy(&home).contains("https://crates.example.org/reg/index/"));
    assert_eq!(files_in(&reg.dir), ["ktra.toml"]);
    reg.run(&local, &["verify"]).success();
}

/// The derived objects converged: every crate is on the home page and on its letter's list
/// page, in the search index, and its page shows its newest version. `versions`: (crate,
/// version) of every version added.
pub fn site_lists_every_crate(reg: &BucketRegistry, versions: &[(&str, &str)]) {
    let text = |key: &str| {
        let (status, _, body) = reg.get(key);
        assert_eq!(status, 200, "{key}");
        String::from_utf8(body).expect("utf-8 page")
    };
    let home = text("index.html");
    let manifest: serde_json::Value =
        serde_json::from_str(&text("search-index.json")).expect("search manifest");
    let mut search = String::new();
    for part in manifest["parts"].as_array().expect("parts") {
        let key = part
            .as_str()
            .expect("a part")
            .split('?')
            .next()
            .unwrap_or_default();
        search.push_str(&text(key));
    }
    let mut newest: std::collections::BTreeMap<&str, semver::Version> = Default::default();
    for (name, vers) in versions {
        let vers = semver::Version::parse(vers).expect("a version");
        let slot = newest.entry(name).or_insert_with(|| vers.clone());
        if vers > *slot {
            *slot = vers;
        }
    }
    for (name, newest) in newest {
        let link = format!("c/{name}.html");
        assert!(
            home.contains(&link),
            "{name} is not on the home page:\n{home}"
        );
        let list = text(&format!("all/{}.html", &name[..1]));
        assert!(
            list.contains(&link),
            "{name} is not on its list page:\n{list}"
        );
        assert!(
            search.contains(&format!("[\"{name}\",\"{newest}\"")),
            "{name} {newest} is not in the search index:\n{search}"
        );
        let page = text(&link);
        assert!(
            page.contains(&newest.to_string()),
            "{link} lacks {newest}:\n{page}"
        );
    }
}

pub fn index_path(name: &str) -> String {
    ktra::index::path::index_path(name).expect("a crate name")
}
