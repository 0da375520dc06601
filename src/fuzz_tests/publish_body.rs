//! The publish body decoder (`server::publish_body::parse`, called only through that function)
//! on random bytes and on bodies of cargo's layout with random lengths and JSON: it never
//! panics, and what it accepts is exactly the body's parts.

use super::{mutate, run, word};
use crate::server::publish_body::parse;
use arbitrary::Unstructured;

fn check_body(body: &[u8], max_crate: usize) -> bool {
    let parsed = parse(body, max_crate);
    let accepted = parsed.is_ok();
    if let Ok((meta, krate)) = parsed {
        assert!(krate.len() <= max_crate);
        let json_len = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
        assert_eq!(8 + json_len + krate.len(), body.len());
        assert_eq!(krate, &body[body.len() - krate.len()..]);
        let _ = (meta.name, meta.vers);
    }
    accepted
}

const JSON: &[&str] = &[
    r#"{"name":"a","vers":"1.0.0"}"#,
    r#"{"name":"a","vers":"1.0.0","deps":[],"features":{}}"#,
    r#"{"name":1}"#,
    r#"{"name":"a"}"#,
    "not json",
    "",
    "{}",
];

fn structured(u: &mut Unstructured<'_>) -> bool {
    let json = word(u, JSON);
    let krate: &[u8] = u.arbitrary().unwrap_or_default();
    let lie = |u: &mut Unstructured<'_>, real: usize| -> u32 {
        match u.ratio(1u8, 4u8).unwrap_or(false) {
            true => u.arbitrary().unwrap_or(0),
            false => real as u32,
        }
    };
    let mut body = lie(u, json.len()).to_le_bytes().to_vec();
    body.extend_from_slice(json.as_bytes());
    body.extend_from_slice(&lie(u, krate.len()).to_le_bytes());
    body.extend_from_slice(krate);
    mutate(u, &mut body);
    let max = u.int_in_range(0..=4096usize).unwrap_or(0);
    check_body(&body, max)
}

#[test]
fn random_bytes() {
    run("publish-body-bytes", 256, |u| {
        let max = u.int_in_range(0..=1024usize).unwrap_or(0);
        let body = u.bytes(u.len()).unwrap_or_default();
        check_body(body, max)
    });
}

#[test]
fn bodies_of_cargos_layout() {
    run("publish-body-layout", 1024, structured);
}
