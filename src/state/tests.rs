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
