//! One contract for every place that keeps records, run against each: the local state folder
//! and object storage (moto, as the bucket client's tests run it). The database backends of
//! issue 13 join the list.

use super::{Expect, Records, update};
use crate::ops::init::{InitOptions, init};

/// What every backend must do.
fn contract(records: &dyn Records) {
    assert_eq!(records.get("users/alice.json").unwrap(), None);
    // Create only if absent: exactly one writer gets a name.
    assert!(
        records
            .put("users/alice.json", b"1", Expect::Absent)
            .unwrap()
    );
    assert!(
        !records
            .put("users/alice.json", b"2", Expect::Absent)
            .unwrap()
    );
    let first = records.get("users/alice.json").unwrap().expect("created");
    assert_eq!(first.bytes, b"1");
    // Replace only if unchanged since read: a stale version is refused, nothing written.
    assert!(
        records
            .put(
                "users/alice.json",
                b"3",
                Expect::Version(first.version.clone())
            )
            .unwrap()
    );
    assert!(
        !records
            .put("users/alice.json", b"4", Expect::Version(first.version))
            .unwrap()
    );
    let now = records.get("users/alice.json").unwrap().expect("there");
    assert_eq!(now.bytes, b"3");
    // Listing: sorted keys below a folder, nothing of another folder.
    assert!(records.put("users/bob.json", b"5", Expect::Absent).unwrap());
    assert!(records.put("tokens/ab.json", b"6", Expect::Absent).unwrap());
    assert_eq!(
        records.list("users").unwrap(),
        ["users/alice.json", "users/bob.json"]
    );
    // A conditional change applied to what is there.
    let out = update(records, "owners/x.json", |old| {
        assert_eq!(old, None);
        Ok(b"[\"alice\"]".to_vec())
    })
    .unwrap();
    assert_eq!(out, b"[\"alice\"]");
    let out = update(records, "owners/x.json", |old| {
        let mut v = old.expect("written above").to_vec();
        v.truncate(v.len() - 1);
        v.extend_from_slice(b",\"bob\"]");
        Ok(v)
    })
    .unwrap();
    assert_eq!(out, b"[\"alice\",\"bob\"]");
    // Removal, also of what is not there.
    records.remove("users/bob.json").unwrap();
    records.remove("users/nobody.json").unwrap();
    assert_eq!(records.list("users").unwrap(), ["users/alice.json"]);
    records
        .append_audit("2026-12-06T040000.000Z", b"{\"event\":\"test\"}")
        .unwrap();
    records
        .append_audit("2026-12-06T040000.000Z", b"{\"event\":\"test\"}")
        .unwrap();
}

#[test]
fn the_local_state_folder_keeps_records() {
    let dir = tempfile::tempdir().unwrap();
    let reg = init(
        dir.path(),
        InitOptions {
            url: "http://127.0.0.1:1/".into(),
            name: "t".into(),
            api: None,
            auth_required: false,
            git: false,
            site: false,
            storage: None,
            state: None,
        },
    )
    .unwrap();
    contract(super::of(&reg.store).as_ref());
    let log = std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[cfg(feature = "aws")]
#[test]
fn object_storage_keeps_records() {
    let bucket = crate::storage::bucket::tests::bucket("state-contract", "state");
    let records = super::objects::Objects::new(&bucket);
    contract(&records);
    assert_eq!(records.list("audit").unwrap().len(), 2);
}
