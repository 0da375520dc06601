//! `ktra export` and `ktra import` with a registry in S3-compatible object storage (a real S3
//! server, moto): an export of a local registry imports into a bucket, from which the real
//! cargo builds; an export of a bucket registry imports into a new local one that verifies and
//! lists the same crates; a crash at any step of an import into a bucket leaves a registry that
//! verifies, and importing again completes it. Nothing is ever written beside `ktra.toml`.

use crate::object_storage::{BucketRegistry, files_in};
use crate::support::upstream::{Version, crate_bytes, v};
use crate::support::{
    CONSUMER_STDOUT, Outcome, PUBLISHED, Protocol, Registry, ktra_bin, run, walk_files,
};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

/// The files that travel (index and crate files but `config.json`), by key below `public/`.
fn transferable(public: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for dir in ["index", "crates"] {
        for path in walk_files(&public.join(dir)) {
            let key = path
                .strip_prefix(public)
                .expect("below public/")
                .to_string_lossy()
                .into_owned();
            if key != "index/config.json" {
                out.insert(key, fs::read(&path).expect("read a registry file"));
            }
        }
    }
    out
}

/// The entry names of a tar archive, in order.
fn entry_names(archive: &Path) -> Vec<String> {
    let mut ar = tar::Archive::new(fs::File::open(archive).expect("open the archive"));
    ar.entries()
        .expect("read the archive")
        .map(|e| {
            let e = e.expect("an entry");
            String::from_utf8(e.path_bytes().into_owned()).expect("a UTF-8 name")
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `ktra -r ROOT ARGS` for a local tree (it may not exist yet).
fn ktra_at(local: &Registry, root: &Path, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(ktra_bin());
    cmd.env_remove("KTRA_REGISTRY")
        .env("NO_COLOR", "1")
        .arg("-r")
        .arg(root)
        .args(args);
    run(cmd, &local.logs)
}

/// Writes these versions' crate files into a new folder of `local`'s temp dir.
fn crate_files(local: &Registry, folder: &str, versions: &[Version]) -> String {
    let dir = local.base().join(folder);
    fs::create_dir_all(&dir).expect("create a folder");
    for ver in versions {
        fs::write(dir.join(ver.file_name()), crate_bytes(ver)).expect("write a crate file");
    }
    dir.to_string_lossy().into_owned()
}

/// `ktra list --json`, and each crate's versions (checksums, yanks, publication times).
fn listing(list: impl Fn(&[&str]) -> Outcome) -> String {
    let crates = list(&["list", "--json"]).success().stdout;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&crates).expect("list --json");
    let mut out = crates.clone();
    for row in rows {
        let name = row["name"].as_str().expect("a name");
        out.push_str(&list(&["list", name, "--json"]).success().stdout);
    }
    out
}

#[test]
fn an_export_imports_into_a_bucket_and_cargo_builds_from_it() {
    let local = Registry::new(Protocol::Sparse);
    local.add_all_examples();
    crate::e2e_cargo::yank_base_1_1(&local);
    let archive = local.base().join("all.tar");
    local
        .ktra([OsStr::new("export"), archive.as_os_str()])
        .success();

    let reg = BucketRegistry::new(&local, "imported");
    let out = reg.run(&local, &["import", s(&archive)]).success();
    assert!(out.stderr.contains("Imported"), "{}", out.describe());
    assert_eq!(
        files_in(&reg.dir),
        ["ktra.toml"],
        "an import wrote beside the settings"
    );
    let files = transferable(&local.public());
    assert!(files.keys().any(|k| k.starts_with("crates/")));
    for (key, bytes) in &files {
        let (status, _, body) = reg.get(key);
        assert_eq!(status, 200, "{key}");
        assert!(body == *bytes, "{key} differs in the bucket");
    }
    let (_, headers, _) = reg.get("crates/demo-base-1.0.0.crate");
    assert!(
        headers.to_ascii_lowercase().contains("immutable"),
        "an imported crate file lacks the headers of one:\n{headers}"
    );
    reg.run(&local, &["verify"]).success();
    let in_bucket = listing(|a| reg.run(&local, a));
    assert_eq!(listing(|a| local.ktra(a)), in_bucket);
    // The site was built from the imported crates.
    let (status, _, home) = reg.get("index.html");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&home).contains("c/demo-base.html"));

    // The real cargo, straight from the bucket.
    let consumer = local.run_consumer_at(&reg.sparse_index(), "bucket-import");
    assert_eq!(
        consumer.outcome.stdout,
        CONSUMER_STDOUT,
        "{}",
        consumer.outcome.describe()
    );
    for (name, version) in PUBLISHED.into_iter().filter(|(_, v)| *v != "1.1.0") {
        let locked = consumer.locked(name);
        assert!(
            locked.len() == 1
                && locked[0].0 == version
                && locked[0]
                    .1
                    .starts_with(&format!("sparse+{}/", reg.base_url())),
            "{name}: {locked:?}\n{}",
            consumer.lock_text
        );
    }

    // Once more: nothing to do.
    let out = reg.run(&local, &["import", s(&archive)]).success();
    assert!(
        out.stderr.contains("already holds export"),
        "{}",
        out.describe()
    );

    // What changed since travels: a removed version goes from the bucket, line then file.
    local
        .ktra(["remove", "--force", "demo-base@1.1.0"])
        .success();
    let inc = local.base().join("inc.tar");
    local
        .ktra([
            OsStr::new("export"),
            inc.as_os_str(),
            OsStr::new("--since"),
            archive.as_os_str(),
        ])
        .success();
    let out = reg.run(&local, &["import", s(&inc)]).success();
    assert!(
        out.stderr.contains("1 files written") && out.stderr.contains("1 removed"),
        "{}",
        out.describe()
    );
    assert_eq!(reg.get("crates/demo-base-1.1.0.crate").0, 404);
    let index = fs::read(local.public().join("index/de/mo/demo-base")).expect("read");
    assert!(reg.get("index/de/mo/demo-base").2 == index);
    assert!(!String::from_utf8_lossy(&index).contains("\"1.1.0\""));
    reg.run(&local, &["verify"]).success();
    assert_eq!(listing(|a| local.ktra(a)), listing(|a| reg.run(&local, a)));

    // A mirror's files go into the bucket too: its crate file, its index file, its own
    // config.json.
    let public = local.public();
    fs::create_dir_all(public.join("mirror/index/de/mo")).expect("create a folder");
    fs::create_dir_all(public.join("mirror/crates")).expect("create a folder");
    fs::copy(
        public.join("index/de/mo/demo-base"),
        public.join("mirror/index/de/mo/demo-base"),
    )
    .expect("copy an index file");
    fs::copy(
        public.join("crates/demo-base-1.0.0.crate"),
        public.join("mirror/crates/demo-base-1.0.0.crate"),
    )
    .expect("copy a crate file");
    let with_mirror = local.base().join("with-mirror.tar");
    local
        .ktra([OsStr::new("export"), with_mirror.as_os_str()])
        .success();
    reg.run(&local, &["import", s(&with_mirror), "--prune"])
        .success();
    let mirrored = fs::read(public.join("mirror/index/de/mo/demo-base")).expect("read");
    assert_eq!(reg.get("mirror/index/de/mo/demo-base").2, mirrored);
    let krate = fs::read(public.join("mirror/crates/demo-base-1.0.0.crate")).expect("read");
    assert_eq!(reg.get("mirror/crates/demo-base-1.0.0.crate").2, krate);
    assert_eq!(reg.get("mirror/index/config.json").0, 200);
    reg.run(&local, &["verify"]).success();
    assert_eq!(files_in(&reg.dir), ["ktra.toml"]);
}

#[test]
fn an_export_of_a_bucket_imports_into_a_new_local_registry() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "exported");
    let first = crate_files(
        &local,
        "first",
        &[
            v("alpha", "1.0.0"),
            v("alpha", "1.1.0"),
            v("beta", "0.1.0"),
            v("gamma", "0.1.0"),
        ],
    );
    reg.run(&local, &["add", &first]).success();
    reg.run(&local, &["yank", "alpha@1.0.0"]).success();
    // A crate removed whole: its index file stays in the bucket, empty.
    reg.run(&local, &["remove", "--force", "gamma@0.1.0"])
        .success();
    let (status, _, gamma) = reg.get("index/ga/mm/gamma");
    assert_eq!((status, gamma.len()), (200, 0));
    reg.run(&local, &["verify"]).success();
    // What a writer killed before its index line leaves: a crate file no line names.
    reg.s3.allow_public_writes("exported");
    let put = reg.s3.request(
        "PUT",
        "/exported/crates/orphan-1.0.0.crate",
        &[],
        &crate_bytes(&v("orphan", "1.0.0")),
    );
    assert!(put.status < 300, "put: {}", put.status);

    let archive = local.base().join("from-bucket.tar");
    let out = reg.run(&local, &["export", s(&archive)]).success();
    assert!(
        out.stderr.contains("crates/orphan-1.0.0.crate") && out.stderr.contains("not exported"),
        "{}",
        out.describe()
    );
    assert_eq!(
        files_in(&reg.dir),
        ["ktra.toml"],
        "an export wrote beside the settings"
    );
    assert_eq!(
        entry_names(&archive),
        [
            "ktra-export.json",
            "crates/alpha-1.0.0.crate",
            "crates/alpha-1.1.0.crate",
            "crates/beta-0.1.0.crate",
            "index/al/ph/alpha",
            "index/be/ta/beta",
        ]
    );

    let copy = local.base().join("copy");
    ktra_at(
        &local,
        &copy,
        &[
            "import",
            s(&archive),
            "--init-url",
            "http://127.0.0.1:9/copy",
        ],
    )
    .success();
    ktra_at(&local, &copy, &["verify"]).success();
    let in_bucket = listing(|a| reg.run(&local, a));
    assert!(in_bucket.contains("\"alpha\"") && !in_bucket.contains("gamma"));
    assert_eq!(listing(|a| ktra_at(&local, &copy, a)), in_bucket);
    for key in ["index/al/ph/alpha", "crates/alpha-1.1.0.crate"] {
        let here = fs::read(copy.join("public").join(key)).expect("read an imported file");
        assert!(here == reg.get(key).2, "{key} differs");
    }

    // What changed in the bucket since travels alone and applies on top.
    let second = crate_files(&local, "second", &[v("beta", "0.2.0")]);
    reg.run(&local, &["add", &second]).success();
    let inc = local.base().join("from-bucket-2.tar");
    reg.run(&local, &["export", s(&inc), "--since", s(&archive)])
        .success();
    assert_eq!(
        entry_names(&inc),
        [
            "ktra-export.json",
            "crates/beta-0.2.0.crate",
            "index/be/ta/beta"
        ]
    );
    ktra_at(&local, &copy, &["import", s(&inc)]).success();
    ktra_at(&local, &copy, &["verify"]).success();
    assert_eq!(
        listing(|a| ktra_at(&local, &copy, a)),
        listing(|a| reg.run(&local, a))
    );

    // A line whose crate file is lost: no archive an import would refuse.
    let lost = reg
        .s3
        .request("DELETE", "/exported/crates/alpha-1.1.0.crate", &[], b"");
    assert!(lost.status < 300, "delete: {}", lost.status);
    let broken = local.base().join("broken.tar");
    let out = reg.run(&local, &["export", s(&broken)]).failure();
    assert!(
        out.stderr
            .contains("names `public/crates/alpha-1.1.0.crate`, which is missing"),
        "{}",
        out.describe()
    );
    assert!(!broken.exists());
    assert_eq!(files_in(&reg.dir), ["ktra.toml"]);
}

/// The points where an import into a bucket can stop: after a crate file, after an index
/// file, before the crate files no line names any more are deleted.
const BUCKET_IMPORT_POINTS: [&str; 3] = ["crates-synced", "index-partial", "before-crate-removal"];

#[test]
fn a_crash_during_an_import_into_a_bucket_leaves_a_registry_that_verifies() {
    let local = Registry::new(Protocol::Sparse);
    let first = crate_files(&local, "first", &[v("foo", "1.0.0"), v("gone", "1.0.0")]);
    local.ktra(["add", first.as_str()]).success();
    let full = local.base().join("full.tar");
    local
        .ktra([OsStr::new("export"), full.as_os_str()])
        .success();
    let second = crate_files(&local, "second", &[v("foo", "1.1.0"), v("bar", "1.0.0")]);
    local.ktra(["add", second.as_str()]).success();
    local.ktra(["yank", "gone@1.0.0"]).success();
    local.ktra(["remove", "gone@1.0.0"]).success();
    let inc = local.base().join("inc.tar");
    local
        .ktra([
            OsStr::new("export"),
            inc.as_os_str(),
            OsStr::new("--since"),
            full.as_os_str(),
        ])
        .success();
    let want = listing(|a| local.ktra(a));

    for point in BUCKET_IMPORT_POINTS {
        let reg = BucketRegistry::new(&local, &format!("crash-{point}"));
        reg.run(&local, &["import", s(&full)]).success();
        let out = reg.run_with(&local, &["import", s(&inc)], &[("KTRA_CRASH_AT", point)]);
        assert!(
            !out.status.success() && out.stderr.contains(&format!("crashing at `{point}`")),
            "{point}: {}",
            out.describe()
        );
        reg.run(&local, &["verify"]).success();
        reg.run(&local, &["import", s(&inc)]).success();
        let clean = reg.run(&local, &["verify"]).success();
        assert!(
            !clean.stderr.contains("not referenced"),
            "{point}: {}",
            clean.describe()
        );
        assert_eq!(listing(|a| reg.run(&local, a)), want, "{point}");
        assert_eq!(reg.get("crates/gone-1.0.0.crate").0, 404, "{point}");
        assert_eq!(files_in(&reg.dir), ["ktra.toml"], "{point}");
    }
}
