//! Every API path that reads or writes the records answers 503 when the state server is down
//! (never "unknown token", "not an owner" or a 400), and a record that cannot be parsed is the
//! server's failure (500), never a refusal.

use super::auth;
use super::error::{ApiError, STATE_UNAVAILABLE};
use crate::auth::Scope;
use crate::ops::add::{AddOptions, add_crates};
use crate::ops::init::{InitOptions, init};
use crate::ops::inspect::{CrateInput, CrateSource};
use crate::printer::Printer;
use crate::registry::Registry;
use crate::state::{Expect, Record, Records, Unavailable};
use anyhow::Result;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use std::sync::Arc;

/// A state server that refuses every connection.
struct Down;

impl Down {
    fn fail<T>(op: &str) -> Result<T> {
        Err(anyhow::Error::new(Unavailable(
            "error communicating with database: Connection refused (os error 111)".into(),
        ))
        .context(format!(
            "failed to {op} in the PostgreSQL state at postgres://ktra:***@db.internal:5432/ktra"
        )))
    }
}

impl Records for Down {
    fn get(&self, key: &str) -> Result<Option<Record>> {
        Self::fail(&format!("read `{key}`"))
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Self::fail(&format!("list `{prefix}`"))
    }
    fn put(&self, key: &str, _: &[u8], _: Expect) -> Result<bool> {
        Self::fail(&format!("write `{key}`"))
    }
    fn remove(&self, key: &str) -> Result<()> {
        Self::fail(&format!("remove `{key}`"))
    }
    fn append_audit(&self, _: &str, _: &[u8]) -> Result<()> {
        Self::fail("append to the audit log")
    }
    fn audit_events(&self, _: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        Self::fail("read the audit log")
    }
    fn describe(&self) -> String {
        "the PostgreSQL state at postgres://ktra:***@db.internal:5432/ktra".into()
    }
}

/// Records that answer, with garbage under every key.
struct Garbled;

impl Records for Garbled {
    fn get(&self, _: &str) -> Result<Option<Record>> {
        Ok(Some(Record {
            bytes: b"{ not json".to_vec(),
            version: "1".into(),
        }))
    }
    fn list(&self, _: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn put(&self, _: &str, _: &[u8], _: Expect) -> Result<bool> {
        Ok(true)
    }
    fn remove(&self, _: &str) -> Result<()> {
        Ok(())
    }
    fn append_audit(&self, _: &str, _: &[u8]) -> Result<()> {
        Ok(())
    }
    fn audit_events(&self, _: &mut dyn FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "garbled records".into()
    }
}

/// A fresh, empty registry whose records are `records`.
fn registry(
    dir: &std::path::Path,
    auth_required: bool,
    records: Arc<dyn Records>,
) -> Arc<Registry> {
    init(
        dir,
        InitOptions {
            url: "http://127.0.0.1:1/".into(),
            name: "t".into(),
            api: None,
            auth_required,
            git: false,
            site: false,
            storage: None,
            state: None,
            state_files: None,
        },
    )
    .unwrap();
    let reg = Registry::open(dir).unwrap();
    reg.use_state(records);
    Arc::new(reg)
}

fn with_token() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("ktra_0123456789abcdef0123456789abcdef"),
    );
    headers
}

#[track_caller]
fn assert_unavailable(e: &ApiError) {
    assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE, "{}", e.detail);
    assert!(e.detail.starts_with(STATE_UNAVAILABLE), "{}", e.detail);
    for hidden in ["db.internal", "postgres", "refused", "tokens/", "owners/"] {
        assert!(!e.detail.contains(hidden), "{hidden}: {}", e.detail);
    }
}

#[test]
fn token_checks_answer_503_when_the_state_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path(), true, Arc::new(Down));
    let headers = with_token();
    assert_unavailable(&auth::check(&reg, &headers, Scope::Yank, Some("demo")).unwrap_err());
    assert_unavailable(&auth::check_publisher(&reg, &headers).unwrap_err());
    // A private registry's file reads (and nginx's auth_request) check the token too.
    assert_unavailable(&auth::check_read(&reg, &headers).unwrap_err());
    // Without a token there is nothing to look up: still 401.
    let none = auth::check_read(&reg, &HeaderMap::new()).unwrap_err();
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn owner_checks_answer_503_when_the_state_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path(), false, Arc::new(Down));
    // The crate is in the tree (only its owners are in the records).
    let index = dir.path().join("public/index/de/mo/demo");
    std::fs::create_dir_all(index.parent().unwrap()).unwrap();
    std::fs::write(&index, "{}\n").unwrap();
    assert_unavailable(&auth::require_owner(&reg, "alice", "demo").unwrap_err());
    let e = crate::ops::owners::change(&reg, "demo", &["bob".to_owned()], true, Printer::new(true))
        .unwrap_err();
    assert_unavailable(&ApiError::from_op(&e, reg.root()));
}

#[test]
fn a_publish_whose_owner_claim_fails_answers_503_and_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path(), false, Arc::new(Down));
    let file = dir.path().join("demo-1.0.0.crate");
    std::fs::write(&file, crate::package::testing::simple("demo", "1.0.0", "")).unwrap();
    let input = CrateInput {
        label: "demo@1.0.0".into(),
        source: CrateSource::File(file),
        expect: Some(("demo".into(), "1.0.0".into())),
    };
    let opts = AddOptions {
        publisher: Some("alice".into()),
        reject_existing: true,
        ..AddOptions::default()
    };
    let e = add_crates(&reg, vec![input], &opts, Printer::new(true)).unwrap_err();
    assert_unavailable(&ApiError::from_op(&e, reg.root()));
    assert!(
        !dir.path().join("public/index/de/mo/demo").exists(),
        "the crate was added without an owner"
    );
}

#[test]
fn a_record_that_does_not_parse_is_the_servers_failure_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path(), false, Arc::new(Garbled));
    let e = auth::check(&reg, &with_token(), Scope::Yank, Some("demo")).unwrap_err();
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", e.detail);
    let e = auth::require_owner(&reg, "alice", "demo").unwrap_err();
    assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", e.detail);
}
