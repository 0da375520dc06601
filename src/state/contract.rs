//! The contract every place that keeps records must meet, as a function any test can run
//! against a backend (the unit tests for the state folder and object storage, the integration
//! tests for the database backends against real servers).

use super::{Expect, Records, update};

/// What every backend must do. Uses the keys `users/*`, `tokens/ab.json` and
/// `owners/x.json`: run it on an empty store.
pub fn contract(records: &dyn Records) {
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
    let second = b"{\"time\":\"2026-12-06T04:00:01Z\",\"event\":\"test\"}";
    records
        .append_audit("2026-12-06T040001.000Z", second)
        .unwrap();
    // Read back in order; the state folder's stamp is the line's `time` (none: empty).
    let mut events = Vec::new();
    records
        .audit_events(&mut |stamp, line| {
            events.push((stamp.to_owned(), line.to_vec()));
            Ok(())
        })
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].1, b"{\"event\":\"test\"}");
    assert!(
        ["", "2026-12-06T040000.000Z"].contains(&events[0].0.as_str()),
        "{events:?}"
    );
    assert_eq!(
        events[1],
        ("2026-12-06T040001.000Z".to_owned(), second.to_vec())
    );
    // Every record, and nothing else (not the audit events, wherever a backend keeps them).
    assert_eq!(
        records.list("").unwrap(),
        ["owners/x.json", "tokens/ab.json", "users/alice.json"]
    );
}
