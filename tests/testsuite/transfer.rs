//! `ktra export` and `ktra import`: a registry (and its mirror) carried to another tree, whole
//! or as changes; archives that are tampered with, truncated, or continue another state are
//! refused without changing anything; a crash during an import leaves a registry that
//! verifies; and cargo builds from an imported tree.

use crate::cli::Reg;
use crate::support::{self, CONSUMER_STDOUT, Outcome, Protocol, ktra_bin, run};
use ktra::ops::transfer::manifest::{FileSum, Manifest, listing_id};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const DEP_ON_FOO: &str = "[dependencies.foo]\nversion = \"1.1\"\nregistry-index = \"sparse+http://127.0.0.1:9/r/index/\"\n";

/// `ktra -r ROOT ARGS` for any tree (it may not exist yet), logged beside `reg`.
fn ktra_at(reg: &Reg, root: &Path, args: &[&str]) -> Outcome {
    ktra_env(reg, root, args, None)
}

fn ktra_env(reg: &Reg, root: &Path, args: &[&str], crash_at: Option<&str>) -> Outcome {
    let mut cmd = Command::new(ktra_bin());
    cmd.env_remove("KTRA_REGISTRY")
        .env_remove(ktra::storage::crash::ENV)
        .arg("-r")
        .arg(root)
        .args(args);
    if let Some(point) = crash_at {
        cmd.env(ktra::storage::crash::ENV, point);
    }
    run(cmd, &tmp(reg).join("logs"))
}

/// The temporary folder holding `reg` (and anything else a test makes).
fn tmp(reg: &Reg) -> PathBuf {
    reg.root.parent().unwrap().to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn add(reg: &Reg, name: &str, vers: &str, extra: &str) {
    let file = reg.krate(name, vers, extra);
    reg.ktra(&["add", &file]).success();
}

/// The files that travel: index files (not `config.json`) and crate files, of the registry
/// and of the mirror, by path below `public/`.
fn content(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let public = root.join("public");
    let mut out = BTreeMap::new();
    for dir in ["index", "crates", "mirror/index", "mirror/crates"] {
        for path in support::walk_files(&public.join(dir)) {
            let rel = path
                .strip_prefix(&public)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !rel.ends_with("/config.json") {
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Every file of a tree but the (empty) lock files that taking a lock creates, with its bytes.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for path in support::walk_files(root) {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel != "state/lock" && rel != "state/mirror/lock" {
            out.insert(rel, fs::read(&path).unwrap());
        }
    }
    out
}

fn assert_same_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let differ: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    assert!(differ.is_empty(), "{what}: these differ: {differ:?}");
}

/// The entries of a tar archive, in order.
fn entries(archive: &Path) -> Vec<(String, Vec<u8>)> {
    let mut ar = tar::Archive::new(fs::File::open(archive).unwrap());
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
        out.push((p, bytes));
    }
    out
}

fn manifest(archive: &Path) -> Manifest {
    let all = entries(archive);
    assert_eq!(all[0].0, "ktra-export.json", "the manifest comes first");
    serde_json::from_slice(&all[0].1).unwrap()
}

/// Writes a tar with these entries; short names are stored verbatim (no checks, so `..` is
/// possible), long ones the usual way.
fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut tar = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(bytes.len() as u64);
        if name.len() < 100 {
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            tar.append(&h, bytes.as_slice()).unwrap();
        } else {
            tar.append_data(&mut h, name, bytes.as_slice()).unwrap();
        }
    }
    tar.finish().unwrap();
}

/// The archive with its files changed by `edit` and the manifest made to match again.
fn rewrite(from: &Path, to: &Path, edit: impl Fn(&str, &mut Vec<u8>)) {
    let mut all = entries(from);
    let mut m: Manifest = serde_json::from_slice(&all[0].1).unwrap();
    for (p, bytes) in all.iter_mut().skip(1) {
        edit(p, bytes);
        let sum = FileSum {
            sha256: format!("{:x}", Sha256::digest(&bytes)),
            size: bytes.len() as u64,
        };
        m.files.insert(p.clone(), sum);
    }
    m.id = listing_id(&m.files);
    all[0].1 = serde_json::to_vec(&m).unwrap();
    write_tar(to, &all);
}

/// A registry with a user and a token, two crates (one depending on the other), and a yank.
fn source() -> (Reg, String) {
    let a = Reg::new(true);
    add(&a, "foo", "1.0.0", "");
    add(&a, "foo", "1.1.0", "");
    add(&a, "Bar_Baz", "0.1.0", DEP_ON_FOO);
    a.ktra(&["yank", "foo@1.0.0"]).success();
    a.ktra(&["user", "add", "alice"]).success();
    let token = a
        .ktra(&["token", "create", "alice"])
        .success()
        .stdout
        .trim()
        .to_owned();
    (a, token)
}

#[test]
fn a_full_export_imports_into_a_new_tree_that_verifies() {
    let (a, token) = source();
    let archive = tmp(&a).join("full.tar");
    let out = a.ktra(&["export", s(&archive)]).success();
    assert!(
        out.stderr.contains("Exported 5 of 5 files"),
        "{}",
        out.describe()
    );

    let all = entries(&archive);
    let names: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "ktra-export.json",
            "crates/Bar_Baz-0.1.0.crate",
            "crates/foo-1.0.0.crate",
            "crates/foo-1.1.0.crate",
            "index/3/f/foo",
            "index/ba/r_/bar_baz"
        ]
    );
    let hash = format!("{:x}", Sha256::digest(token.as_bytes()));
    let raw = fs::read(&archive).unwrap();
    for secret in [token.as_str(), hash.as_str(), "alice"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` is in the archive"
        );
    }
    let m = manifest(&archive);
    assert_eq!(
        (m.format, m.registry.as_str(), m.base.as_ref()),
        (1, "demo", None)
    );
    assert_eq!(m.files.len(), 5);
    assert_eq!(m.carried.len(), 5);
    assert_eq!(
        m.files["crates/foo-1.0.0.crate"].size,
        fs::metadata(a.root.join("public/crates/foo-1.0.0.crate"))
            .unwrap()
            .len()
    );

    // No tree yet: import says how to create one, and creates nothing.
    let b = tmp(&a).join("copy");
    let out = ktra_at(&a, &b, &["import", s(&archive)]).failure();
    assert!(
        out.stderr.contains("error: failed to import") && out.stderr.contains("--init-url"),
        "{}",
        out.describe()
    );
    assert!(!b.exists());

    ktra_at(
        &a,
        &b,
        &[
            "import",
            s(&archive),
            "--init-url",
            "http://127.0.0.1:9/copy",
        ],
    )
    .success();
    assert_same_files(&content(&a.root), &content(&b), "imported tree");
    ktra_at(&a, &b, &["verify"]).success();
    let config = fs::read_to_string(b.join("public/index/config.json")).unwrap();
    assert!(
        config.contains("http://127.0.0.1:9/copy/crates/"),
        "{config}"
    );
    assert!(
        b.join("public/index.git/HEAD").is_file(),
        "the git index is regenerated"
    );
    assert!(!b.join("state/users").exists() && !b.join("state/tokens").exists());

    // Once more: nothing to do, nothing changes.
    let before = snapshot(&b);
    let out = ktra_at(&a, &b, &["import", s(&archive)]).success();
    assert!(
        out.stderr.contains("already holds export"),
        "{}",
        out.describe()
    );
    assert_same_files(&before, &snapshot(&b), "a second import");

    // The archive is never replaced unless asked to.
    let out = a.ktra(&["export", s(&archive)]).failure();
    assert!(
        out.stderr.contains("already exists; pass `--force`"),
        "{}",
        out.describe()
    );
    a.ktra(&["export", s(&archive), "--force"]).success();
}

#[test]
fn an_incremental_export_carries_only_changes_and_applies_on_top() {
    let a = Reg::new(true);
    add(&a, "foo", "1.0.0", "");
    add(&a, "gone", "1.0.0", "");
    let full = tmp(&a).join("full.tar");
    a.ktra(&["export", s(&full)]).success();
    let b = tmp(&a).join("copy");
    ktra_at(
        &a,
        &b,
        &["import", s(&full), "--init-url", "http://127.0.0.1:9/copy"],
    )
    .success();

    add(&a, "foo", "1.1.0", "");
    a.ktra(&["yank", "gone@1.0.0"]).success();
    let inc = tmp(&a).join("inc.tar");
    let out = a
        .ktra(&["export", s(&inc), "--since", s(&full), "--json"])
        .success();
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (summary["carried"].as_u64(), summary["files"].as_u64()),
        (Some(3), Some(5))
    );
    let m = manifest(&inc);
    assert_eq!(m.base, Some(manifest(&full).id));
    let carried: Vec<&str> = m.carried.iter().map(String::as_str).collect();
    assert_eq!(
        carried,
        [
            "crates/foo-1.1.0.crate",
            "index/3/f/foo",
            "index/go/ne/gone"
        ]
    );
    let names: Vec<String> = entries(&inc).into_iter().skip(1).map(|(p, _)| p).collect();
    assert_eq!(names, carried);
    assert!(m.removed.is_empty());

    ktra_at(&a, &b, &["import", s(&inc)]).success();
    assert_same_files(
        &content(&a.root),
        &content(&b),
        "after the first incremental import",
    );
    ktra_at(&a, &b, &["verify"]).success();
    ktra_at(&a, &b, &["import", s(&inc)]).success();

    // Removals travel too: a removed version and a crate removed entirely.
    a.ktra(&["yank", "foo@1.1.0"]).success();
    a.ktra(&["remove", "foo@1.1.0"]).success();
    a.ktra(&["remove", "gone@1.0.0"]).success();
    let inc2 = tmp(&a).join("inc2.tar");
    a.ktra(&["export", s(&inc2), "--since", s(&inc)]).success();
    let m = manifest(&inc2);
    let removed: Vec<&str> = m.removed.iter().map(String::as_str).collect();
    assert_eq!(
        removed,
        [
            "crates/foo-1.1.0.crate",
            "crates/gone-1.0.0.crate",
            "index/go/ne/gone"
        ]
    );
    assert_eq!(m.carried.iter().collect::<Vec<_>>(), ["index/3/f/foo"]);
    let out = ktra_at(&a, &b, &["import", s(&inc2)]).success();
    assert!(
        out.stderr.contains("1 files written") && out.stderr.contains("3 removed"),
        "{}",
        out.describe()
    );
    assert_same_files(
        &content(&a.root),
        &content(&b),
        "after the second incremental import",
    );
    let verified = ktra_at(&a, &b, &["verify"]).success();
    assert!(
        verified.stderr.contains("1 crates, 1 versions"),
        "{}",
        verified.describe()
    );
}

#[test]
fn an_archive_for_another_state_is_refused_and_changes_nothing() {
    let a = Reg::new(true);
    add(&a, "foo", "1.0.0", "");
    let full = tmp(&a).join("full.tar");
    a.ktra(&["export", s(&full)]).success();
    add(&a, "foo", "1.1.0", "");
    let inc = tmp(&a).join("inc.tar");
    a.ktra(&["export", s(&inc), "--since", s(&full)]).success();

    // An empty registry, one that went its own way, one with other crates.
    let empty = Reg::new(true);
    let diverged = Reg::new(true);
    ktra_at(&a, &diverged.root, &["import", s(&full)]).success();
    diverged.ktra(&["yank", "foo@1.0.0"]).success();
    let other = Reg::new(true);
    add(&other, "other", "1.0.0", "");
    for (reg, archive, want) in [
        (
            &empty,
            &inc,
            "`public/crates/foo-1.0.0.crate` is missing from the registry",
        ),
        (
            &diverged,
            &inc,
            "`public/index/3/f/foo` differs from that export's",
        ),
        (&other, &inc, "continues export"),
        (&other, &full, "pass `--prune`"),
    ] {
        let before = snapshot(&reg.root);
        let out = reg.ktra(&["import", s(archive)]).failure();
        assert!(
            out.stderr.contains("error: failed to import") && out.stderr.contains(want),
            "want `{want}`:\n{}",
            out.describe()
        );
        assert_same_files(&before, &snapshot(&reg.root), "a refused import");
    }
    // A new tree is not created for an archive that continues another.
    let b = tmp(&a).join("new");
    ktra_at(
        &a,
        &b,
        &["import", s(&inc), "--init-url", "http://127.0.0.1:9/new"],
    )
    .failure();
    assert!(!b.exists());
    // A full import may make a copy of a registry that had other files, when told to.
    other.ktra(&["import", s(&full), "--prune"]).success();
    let carried: BTreeMap<String, Vec<u8>> = entries(&full).into_iter().skip(1).collect();
    assert_same_files(&carried, &content(&other.root), "a pruned full import");
    other.ktra(&["verify"]).success();
    // `--since` needs an export of the same registry.
    let renamed = Reg::new(false);
    fs::write(
        renamed.root.join("ktra.toml"),
        fs::read_to_string(renamed.root.join("ktra.toml"))
            .unwrap()
            .replace("\"demo\"", "\"elsewhere\""),
    )
    .unwrap();
    let out = renamed
        .ktra(&[
            "export",
            s(&tmp(&renamed).join("x.tar")),
            "--since",
            s(&full),
        ])
        .failure();
    assert!(
        out.stderr
            .contains("of registry `demo`, not of `elsewhere`"),
        "{}",
        out.describe()
    );
}

#[test]
fn damaged_archives_are_refused_and_change_nothing() {
    let (a, _) = source();
    let full = tmp(&a).join("full.tar");
    a.ktra(&["export", s(&full)]).success();
    let good = fs::read(&full).unwrap();
    let dir = tmp(&a);
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();

    // One byte of a crate file changed.
    let krate = fs::read(a.root.join("public/crates/foo-1.1.0.crate")).unwrap();
    let at = good.windows(krate.len()).position(|w| w == krate).unwrap() + krate.len() / 2;
    let mut bytes = good.clone();
    bytes[at] ^= 1;
    fs::write(dir.join("tampered.tar"), &bytes).unwrap();
    cases.push((
        dir.join("tampered.tar"),
        "`crates/foo-1.1.0.crate` in the archive has sha256",
    ));
    // Cut short: inside the manifest, inside a crate file, and after a whole entry.
    fs::write(dir.join("cut-manifest.tar"), &good[..700]).unwrap();
    cases.push((dir.join("cut-manifest.tar"), "is cut short"));
    fs::write(dir.join("cut-crate.tar"), &good[..at]).unwrap();
    cases.push((dir.join("cut-crate.tar"), "truncated"));
    let last = tar::Archive::new(good.as_slice())
        .entries()
        .unwrap()
        .last()
        .unwrap()
        .unwrap()
        .raw_header_position() as usize;
    fs::write(dir.join("cut-entry.tar"), &good[..last]).unwrap();
    cases.push((
        dir.join("cut-entry.tar"),
        "ends before `index/ba/r_/bar_baz`",
    ));
    fs::write(
        dir.join("garbage.tar"),
        b"this is not a tar archive at all".repeat(40),
    )
    .unwrap();
    cases.push((dir.join("garbage.tar"), "failed to read the archive"));
    fs::write(dir.join("empty.tar"), b"").unwrap();
    cases.push((dir.join("empty.tar"), "the archive is empty"));
    // Consistent sums, but an index line that does not match its crate file.
    rewrite(&full, &dir.join("cksum.tar"), |p, bytes| {
        if p == "index/3/f/foo" {
            let text = String::from_utf8(bytes.clone()).unwrap();
            let sum = format!("{:x}", Sha256::digest(b"other"));
            let mut v: serde_json::Value =
                serde_json::from_str(text.lines().next().unwrap()).unwrap();
            v["cksum"] = sum.into();
            *bytes = text
                .replacen(text.lines().next().unwrap(), &v.to_string(), 1)
                .into_bytes();
        }
    });
    cases.push((dir.join("cksum.tar"), "gives `foo@1.0.0` the checksum"));
    // An index file put where another crate's belongs.
    rewrite(&full, &dir.join("misplaced.tar"), |p, bytes| {
        if p == "index/3/f/foo" {
            *bytes = fs::read(a.root.join("public/index/ba/r_/bar_baz")).unwrap();
        }
    });
    cases.push((
        dir.join("misplaced.tar"),
        "crate `Bar_Baz` belongs in `index/ba/r_/bar_baz`",
    ));
    // Sound lines, but not laid out as ktra writes an index file (no newline at the end): the
    // registry would not hold the archive's listing afterwards.
    rewrite(&full, &dir.join("layout.tar"), |p, bytes| {
        if p == "index/3/f/foo" {
            assert_eq!(bytes.pop(), Some(b'\n'));
        }
    });
    cases.push((
        dir.join("layout.tar"),
        "is not laid out as ktra writes index files",
    ));
    // A file the manifest does not carry, with a path that leaves the tree.
    let mut all = entries(&full);
    all.push(("../../escaped".into(), b"x".to_vec()));
    write_tar(&dir.join("escape.tar"), &all);
    cases.push((dir.join("escape.tar"), "may not be imported"));

    let b = Reg::new(true);
    for (archive, want) in &cases {
        let before = snapshot(&b.root);
        let out = b.ktra(&["import", s(archive)]).failure();
        assert_eq!(out.status.code(), Some(1), "{}", out.describe());
        assert!(
            out.stderr.contains("error: failed to import")
                && out.stderr.contains("Caused by:")
                && out.stderr.contains(want),
            "want `{want}`:\n{}",
            out.describe()
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.describe());
        assert_same_files(&before, &snapshot(&b.root), &archive.display().to_string());
        // A tree to be created is not.
        let new = dir.join("new");
        ktra_at(
            &a,
            &new,
            &["import", s(archive), "--init-url", "http://127.0.0.1:9/new"],
        )
        .failure();
        assert!(!new.exists(), "{}", archive.display());
    }
    assert!(!dir.join("escaped").exists() && !dir.parent().unwrap().join("escaped").exists());
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ktra-import-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // And the undamaged archive goes in.
    b.ktra(&["import", s(&full)]).success();
    b.ktra(&["verify"]).success();
}

#[test]
fn mirror_files_travel_and_private_state_never_does() {
    let (a, token) = source();
    // A mirror in the tree: another registry's files in the mirror's shape.
    let up = Reg::new(false);
    add(&up, "up", "1.0.0", "");
    add(&up, "up", "2.0.0", "");
    add(&up, "Mixed_Case", "0.1.0", "");
    // A path longer than a plain tar header holds (100 bytes).
    let long = format!("long-{}", "n".repeat(51));
    let long_vers = "1.0.0-alpha.1+build.123456789";
    add(&up, &long, long_vers, "");
    for (from, to) in [("index", "mirror/index"), ("crates", "mirror/crates")] {
        support::copy_tree(
            &up.root.join("public").join(from),
            &a.root.join("public").join(to),
        );
    }
    let cache = a.root.join("state/mirror/upstream/2");
    fs::create_dir_all(&cache).unwrap();
    fs::write(cache.join("up"), "UPSTREAM-CACHE-MARKER").unwrap();
    assert!(a.root.join("public/mirror/index/config.json").is_file());

    let archive = tmp(&a).join("with-mirror.tar");
    a.ktra(&["export", s(&archive)]).success();
    let names: Vec<String> = entries(&archive).into_iter().map(|(p, _)| p).collect();
    let long_path = format!("mirror/crates/{long}-{long_vers}.crate");
    assert!(long_path.len() > 100);
    for want in [
        long_path.as_str(),
        "mirror/index/2/up",
        "mirror/index/mi/xe/mixed_case",
        "mirror/crates/up-2.0.0.crate",
        "mirror/crates/Mixed_Case-0.1.0.crate",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    for n in &names {
        assert!(
            !n.starts_with("state/")
                && !n.ends_with("config.json")
                && !n.contains("index.git")
                && n != "ktra.toml",
            "{n}"
        );
    }
    let raw = fs::read(&archive).unwrap();
    let hash = format!("{:x}", Sha256::digest(token.as_bytes()));
    for secret in ["UPSTREAM-CACHE-MARKER", &token, &hash] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` is in the archive"
        );
    }

    let b = tmp(&a).join("copy");
    ktra_at(
        &a,
        &b,
        &[
            "import",
            s(&archive),
            "--init-url",
            "http://127.0.0.1:9/copy",
        ],
    )
    .success();
    assert_same_files(&content(&a.root), &content(&b), "imported tree");
    assert!(content(&b).keys().any(|k| k.starts_with("mirror/crates/")));
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(b.join("public/mirror/index/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["dl"],
        "http://127.0.0.1:9/copy/mirror/crates/{crate}-{version}.crate"
    );
    assert!(!b.join("state/mirror/upstream").exists());
    ktra_at(&a, &b, &["verify"]).success();

    // Mirror files gone since an export travel as removals: index file, then crate files.
    fs::remove_file(a.root.join("public/mirror/index/2/up")).unwrap();
    for vers in ["1.0.0", "2.0.0"] {
        fs::remove_file(a.root.join(format!("public/mirror/crates/up-{vers}.crate"))).unwrap();
    }
    let inc = tmp(&a).join("mirror-inc.tar");
    a.ktra(&["export", s(&inc), "--since", s(&archive)])
        .success();
    assert_eq!(manifest(&inc).removed.len(), 3);
    ktra_at(&a, &b, &["import", s(&inc)]).success();
    assert_same_files(&content(&a.root), &content(&b), "after mirror removals");
    assert!(!b.join("public/mirror/crates/up-1.0.0.crate").exists());
    ktra_at(&a, &b, &["verify"]).success();

    // A tampered mirror crate file is caught like any other.
    rewrite(&archive, &tmp(&a).join("bad-mirror.tar"), |p, bytes| {
        if p == "mirror/crates/up-1.0.0.crate" {
            bytes.push(0);
        }
    });
    let out = up
        .ktra(&["import", s(&tmp(&a).join("bad-mirror.tar")), "--prune"])
        .failure();
    assert!(
        out.stderr.contains("`mirror/crates/up-1.0.0.crate` has"),
        "{}",
        out.describe()
    );
}

/// Every point where an import (a change of the pipeline) can stop: journal written, crate
/// files, index files, between deleting index and crate files, the git index, and just before
/// the end.
const IMPORT_POINTS: [&str; 10] = [
    "journal-partial",
    "crates-synced",
    "crates-partial",
    "index-synced",
    "index-partial",
    "before-crate-removal",
    "before-git",
    "git-objects",
    "git-ref",
    "before-finish",
];

#[test]
fn a_crash_during_an_import_leaves_a_registry_that_verifies_and_the_import_completes() {
    let a = Reg::new(true);
    add(&a, "foo", "1.0.0", "");
    add(&a, "gone", "1.0.0", "");
    let full = tmp(&a).join("full.tar");
    a.ktra(&["export", s(&full)]).success();
    add(&a, "foo", "1.1.0", "");
    add(&a, "bar", "1.0.0", DEP_ON_FOO);
    a.ktra(&["yank", "gone@1.0.0"]).success();
    a.ktra(&["remove", "gone@1.0.0"]).success();
    let inc = tmp(&a).join("inc.tar");
    a.ktra(&["export", s(&inc), "--since", s(&full)]).success();
    for point in IMPORT_POINTS {
        let b = Reg::new(true);
        b.ktra(&["import", s(&full)]).success();
        let out = ktra_env(&a, &b.root, &["import", s(&inc)], Some(point));
        assert!(
            !out.status.success() && out.stderr.contains(&format!("crashing at `{point}`")),
            "{point}: {}",
            out.describe()
        );
        let verified = b.ktra(&["verify"]).success();
        assert!(
            verified.stderr.contains("interrupted `import`"),
            "{point}: {}",
            verified.describe()
        );
        b.ktra(&["import", s(&inc)]).success();
        let clean = b.ktra(&["verify"]).success();
        assert!(
            !clean.stderr.contains("interrupted"),
            "{point}: {}",
            clean.describe()
        );
        assert_same_files(&content(&a.root), &content(&b.root), point);
    }
}

#[test]
fn cargo_builds_the_consumer_from_an_imported_tree() {
    let reg = support::Registry::new(Protocol::Sparse);
    reg.add_all_examples();
    crate::e2e_cargo::yank_base_1_1(&reg);
    let archive = reg.base().join("all.tar");
    reg.ktra([OsStr::new("export"), archive.as_os_str()])
        .success();

    // A tree of its own beside the original, served by the same server at its own URL.
    let unique = reg.root.file_name().unwrap().to_string_lossy().into_owned();
    let copy = reg.base().join(format!("{unique}-copy"));
    let url = format!("http://127.0.0.1:{}/{unique}-copy/public", reg.server.port);
    let mut import = Command::new(ktra_bin());
    import
        .env_remove("KTRA_REGISTRY")
        .arg("-r")
        .arg(&copy)
        .arg("import")
        .arg(&archive)
        .args(["--init-url", &url]);
    run(import, &reg.logs).success();
    let mut verify = Command::new(ktra_bin());
    verify
        .env_remove("KTRA_REGISTRY")
        .arg("-r")
        .arg(&copy)
        .arg("verify");
    run(verify, &reg.logs).success();

    let consumer = reg.run_consumer_at(&format!("sparse+{url}/index/"), "imported");
    assert_eq!(
        consumer.outcome.stdout,
        CONSUMER_STDOUT,
        "{}",
        consumer.outcome.describe()
    );
    for (name, version) in support::PUBLISHED
        .into_iter()
        .filter(|(_, v)| *v != "1.1.0")
    {
        let locked = consumer.locked(name);
        assert!(
            locked.len() == 1
                && locked[0].0 == version
                && locked[0].1.starts_with(&format!("sparse+{url}/")),
            "{name}: {locked:?}\n{}",
            consumer.lock_text
        );
    }
    let requests = reg.server.requests();
    assert!(
        requests.lines().any(|l| l.contains(&format!(
            "/{unique}-copy/public/crates/demo-base-1.0.0.crate "
        )) && l.contains("\" 200 ")),
        "the crate did not come from the imported tree:\n{requests}"
    );
}
