//! One contract for every place that keeps records, run against each: the local state folder
//! and object storage (moto, as the bucket client's tests run it). The database backends of
//! issue 13 join the list.

use super::Records;
use super::contract::contract;
use crate::ops::init::{InitOptions, init};

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
            state_files: None,
        },
    )
    .unwrap();
    contract(reg.state().unwrap());
    let log = std::fs::read_to_string(dir.path().join("state/audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[cfg(feature = "aws")]
#[test]
fn object_storage_keeps_records() {
    let bucket = crate::storage::bucket::tests::bucket("state-contract", "state");
    let records = super::objects::Objects::new(bucket);
    contract(&records);
    assert_eq!(records.list("audit").unwrap().len(), 2);
}

#[test]
fn a_database_url_is_shown_without_its_password() {
    use super::{password_of, redact, scrub};
    assert_eq!(
        redact("redis://ktra:s3cret@127.0.0.1:6379/0"),
        "redis://ktra:***@127.0.0.1:6379/0"
    );
    assert_eq!(
        redact("mongodb://u:p%40ss@h1:1,h2:2/db?authSource=admin"),
        "mongodb://u:***@h1:1,h2:2/db?authSource=admin"
    );
    // Redis' password-only form: `redis://:PASSWORD@host`.
    assert_eq!(redact("redis://:pw@h/"), "redis://:***@h/");
    // No password, or an `@` only after the host: nothing to hide.
    assert_eq!(redact("redis://127.0.0.1:1/"), "redis://127.0.0.1:1/");
    assert_eq!(redact("redis://user@h/"), "redis://user@h/");
    assert_eq!(redact("mongodb://h/db?x=a@b:c"), "mongodb://h/db?x=a@b:c");
    assert_eq!(password_of("redis://ktra:s3cret@h/"), Some("s3cret"));
    assert_eq!(password_of("redis://:pw@h/"), Some("pw"));
    assert_eq!(password_of("redis://user@h/"), None);
    assert_eq!(password_of("redis://h/x:y@z"), None);
    assert_eq!(
        scrub("auth p@ss and p%40ss failed", Some("p%40ss")),
        "auth *** and *** failed"
    );
    assert_eq!(scrub("unchanged", None), "unchanged");
}
