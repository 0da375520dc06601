//! Manifests (what an export holds, checked on reading) and plans (what an import changes).

use super::{listing, sum};
use crate::ops::transfer::manifest::{Manifest, listing_id};
use crate::ops::transfer::plan::{Plan, plan};

fn roundtrip(m: &Manifest) -> Result<Manifest, String> {
    Manifest::parse(&serde_json::to_vec(m).unwrap())
}

const V1: [(&str, &str); 3] = [
    ("crates/a-1.0.0.crate", "A1"),
    ("index/1/a", "a1"),
    ("index/1/b", "b1"),
];
const V2: [(&str, &str); 3] = [
    ("crates/a-1.0.0.crate", "A1"),
    ("crates/a-1.1.0.crate", "A2"),
    ("index/1/a", "a2"),
];

fn full() -> Manifest {
    Manifest::new("demo", "t".into(), listing(&V1), None)
}

fn incremental() -> Manifest {
    Manifest::new("demo", "t".into(), listing(&V2), Some(&full()))
}

#[test]
fn a_full_manifest_carries_everything_and_round_trips() {
    let m = full();
    assert_eq!(m.carried.len(), 3);
    assert_eq!(m.id, listing_id(&listing(&V1)));
    assert_eq!(roundtrip(&m).unwrap(), m);
    assert!(m.base_listing().is_none());
}

#[test]
fn an_incremental_manifest_carries_changes_and_describes_its_base() {
    let m = incremental();
    let carried: Vec<&str> = m.carried.iter().map(String::as_str).collect();
    assert_eq!(carried, ["crates/a-1.1.0.crate", "index/1/a"]);
    let removed: Vec<&str> = m.removed.iter().map(String::as_str).collect();
    assert_eq!(removed, ["index/1/b"]);
    assert_eq!(m.base.as_deref(), Some(full().id.as_str()));
    assert_eq!(m.base_listing().unwrap(), listing(&V1));
    assert_eq!(roundtrip(&m).unwrap(), m);
}

#[test]
fn inconsistent_manifests_are_refused() {
    let mut m = incremental();
    m.files.get_mut("index/1/a").unwrap().size += 1;
    assert!(roundtrip(&m).unwrap_err().contains("id"));

    let mut m = incremental();
    m.before.get_mut("index/1/b").unwrap().size += 1;
    assert!(roundtrip(&m).unwrap_err().contains("base id"));

    let mut m = full();
    m.files.insert("../etc/passwd".into(), sum(b"x"));
    assert!(
        roundtrip(&m)
            .unwrap_err()
            .contains("not a plain relative path")
    );

    let mut m = full();
    m.carried.insert("index/1/c".into());
    assert!(roundtrip(&m).unwrap_err().contains("listing lacks"));

    let mut m = full();
    m.format = 2;
    assert!(roundtrip(&m).unwrap_err().contains("newer ktra"));

    assert!(Manifest::parse(b"{\"format\":1}").is_err());
    assert!(Manifest::parse(b"\xff").is_err());
}

#[test]
fn an_incremental_plan_applies_to_its_base_its_result_or_anything_between() {
    let m = incremental();
    let p = plan(&m, &listing(&V1), false).unwrap();
    assert_eq!(p.writes, ["crates/a-1.1.0.crate", "index/1/a"]);
    assert_eq!(p.removals, ["index/1/b"]);
    assert_eq!(plan(&m, &listing(&V2), false).unwrap(), Plan::default());
    // Interrupted after the crate file was written.
    let mut between = listing(&V1);
    between.insert("crates/a-1.1.0.crate".into(), sum(b"A2"));
    let p = plan(&m, &between, false).unwrap();
    assert_eq!(p.writes, ["index/1/a"]);

    for (current, want) in [
        (listing(&[]), "`public/crates/a-1.0.0.crate` is missing"),
        (
            listing(&[
                ("crates/a-1.0.0.crate", "A1"),
                ("index/1/a", "a1"),
                ("index/1/b", "bX"),
            ]),
            "`public/index/1/b` differs",
        ),
        (
            listing(&[
                ("crates/a-1.0.0.crate", "A1"),
                ("index/1/a", "a1"),
                ("index/1/b", "b1"),
                ("index/1/c", "c"),
            ]),
            "`public/index/1/c` is in the registry but not in that export",
        ),
    ] {
        let e = plan(&m, &current, false).unwrap_err();
        assert!(e.contains("continues export") && e.contains(want), "{e}");
    }
}

#[test]
fn a_full_plan_replaces_index_files_but_never_crate_files() {
    let m = full();
    let p = plan(&m, &listing(&[("index/1/a", "old")]), false).unwrap();
    assert_eq!(p.writes, ["crates/a-1.0.0.crate", "index/1/a", "index/1/b"]);
    let e = plan(&m, &listing(&[("crates/a-1.0.0.crate", "other")]), false).unwrap_err();
    assert!(e.contains("never changes"), "{e}");
    let extra = listing(&[("index/1/z", "z")]);
    assert!(plan(&m, &extra, false).unwrap_err().contains("--prune"));
    assert_eq!(plan(&m, &extra, true).unwrap().removals, ["index/1/z"]);
}
