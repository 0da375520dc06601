//! Reading, writing, listing and deleting objects; their headers; errors and bounds.

use super::{bucket, client, client_of, done, http, moto};
use crate::storage::bucket::{Cond, headers_for};

#[test]
fn get_and_head_of_a_missing_key_are_none() {
    let b = bucket("missing-key", "reg");
    assert_eq!(b.head("index/se/rd/serde").unwrap(), None);
    assert_eq!(b.get("index/se/rd/serde").unwrap(), None);
    assert_eq!(b.head("index/se/rd/serde").unwrap(), None);
}

#[test]
fn put_then_get_returns_the_bytes_and_a_tag() {
    let b = bucket("put-get", "reg");
    let tag = done(
        b.put("index/3/a/abc", b"line 1\n".to_vec(), Cond::Any)
            .unwrap(),
    );
    let got = b.get("index/3/a/abc").unwrap().unwrap();
    assert_eq!(got.bytes, b"line 1\n");
    assert_eq!(got.tag, tag);
    let head = b
        .head("index/3/a/abc")
        .unwrap()
        .expect("the object's metadata");
    assert_eq!((head.size, head.tag.as_str()), (7, tag.as_str()));
    // The store's clock, to the second (here the same machine's).
    let now = std::time::SystemTime::now();
    let minute = std::time::Duration::from_secs(60);
    assert!(
        head.last_modified > now - minute && head.last_modified <= now + minute,
        "{head:?}"
    );
    // Any overwrites, and the tag follows the content.
    let tag2 = done(
        b.put("index/3/a/abc", b"line 2\n".to_vec(), Cond::Any)
            .unwrap(),
    );
    assert_ne!(tag2, tag);
    assert_eq!(b.get("index/3/a/abc").unwrap().unwrap().bytes, b"line 2\n");
}

#[test]
fn list_is_sorted_relative_and_stays_in_its_folder() {
    let b = bucket("listing", "reg");
    let outside = client("s3://listing/other");
    done(outside.put("index/x/y", b"-".to_vec(), Cond::Any).unwrap());
    for key in [
        "index/se/rd/serde",
        "index/config.json",
        "index/1/a",
        "index.git/HEAD",
        "crates/a-1.0.0.crate",
    ] {
        done(b.put(key, b"-".to_vec(), Cond::Any).unwrap());
    }
    assert_eq!(
        b.list("index").unwrap(),
        ["index/1/a", "index/config.json", "index/se/rd/serde"]
    );
    assert_eq!(b.list("index/").unwrap(), b.list("index").unwrap());
    assert_eq!(b.list("index/se").unwrap(), ["index/se/rd/serde"]);
    assert_eq!(b.list("nothing").unwrap(), Vec::<String>::new());
    let all = b.list("").unwrap();
    assert_eq!(all.len(), 5);
    assert!(
        all.is_sorted() && all[0] == "crates/a-1.0.0.crate",
        "{all:?}"
    );
    let whole = client("s3://listing").list("").unwrap();
    assert!(
        whole.contains(&"other/index/x/y".to_owned()) && whole.len() == 6,
        "{whole:?}"
    );
}

#[test]
fn delete_then_get_is_none() {
    let b = bucket("deleting", "reg");
    done(
        b.put("users/alice.json", b"{}".to_vec(), Cond::Any)
            .unwrap(),
    );
    b.delete("users/alice.json").unwrap();
    assert_eq!(b.get("users/alice.json").unwrap(), None);
    b.delete("users/alice.json").unwrap();
    b.delete("users/never.json").unwrap();
}

#[test]
fn objects_are_served_with_their_type_and_cache_rules() {
    let b = bucket("served", "reg");
    for key in [
        "crates/a-1.0.0.crate",
        "index/1/a",
        "index/config.json",
        "index.html",
    ] {
        done(b.put(key, b"x".to_vec(), Cond::IfAbsent).unwrap());
        let (status, headers, body) = http("GET", &format!("/served/reg/{key}"), "", b"");
        assert_eq!((status, body.as_slice()), (200, &b"x"[..]), "{key}");
        let (content_type, cache_control) = headers_for(key);
        assert_eq!(headers["content-type"], content_type, "{key}");
        assert_eq!(headers["cache-control"], cache_control, "{key}");
    }
    let (_, headers, _) = http("GET", "/served/reg/crates/a-1.0.0.crate", "", b"");
    assert_eq!(headers["content-type"], "application/gzip");
    assert!(headers["cache-control"].contains("immutable"));
}

/// A `+` (build metadata) is stored as itself: a URL names it as `%2B`, and a listing gives it
/// back as written.
#[test]
fn keys_are_stored_as_written() {
    let b = bucket("plus-keys", "reg");
    let key = "crates/a-1.0.0+build.5.crate";
    done(b.put(key, b"x".to_vec(), Cond::IfAbsent).unwrap());
    assert_eq!(b.get(key).unwrap().unwrap().bytes, b"x");
    assert_eq!(b.list("crates").unwrap(), [key]);
    let (status, _, body) = http(
        "GET",
        "/plus-keys/reg/crates/a-1.0.0%2Bbuild.5.crate",
        "",
        b"",
    );
    assert_eq!((status, body.as_slice()), (200, &b"x"[..]));
}

#[test]
fn a_missing_bucket_is_a_clear_error() {
    moto();
    let b = client("s3://no-such-bucket/pfx");
    let errors = [
        b.head("index/se/rd/serde").map(|_| ()),
        b.get("index/se/rd/serde").map(|_| ()),
        b.put("index/se/rd/serde", b"x".to_vec(), Cond::Any)
            .map(|_| ()),
        b.put(
            "index/se/rd/serde",
            b"x".to_vec(),
            Cond::IfMatch("\"t\"".into()),
        )
        .map(|_| ()),
        b.delete("index/se/rd/serde"),
        b.list("index").map(|_| ()),
    ];
    for (result, op) in errors.into_iter().zip([
        "read the metadata of",
        "read",
        "write",
        "write",
        "delete",
        "list",
    ]) {
        let e = format!("{:#}", result.expect_err(op));
        assert!(e.starts_with(&format!("failed to {op} `index")), "{e}");
        assert!(e.contains("s3://no-such-bucket/pfx"), "{e}");
        assert!(
            e.contains("the bucket `no-such-bucket` does not exist"),
            "{e}"
        );
        assert!(!e.contains("testing"), "no credentials: {e}");
        assert!(
            !e.contains('\n') && !e.contains("<?xml"),
            "S3's answer, tidied: {e}"
        );
    }
}

#[test]
fn bad_keys_are_refused_before_any_request() {
    let b = client("s3://unused-bucket");
    for key in [
        "",
        "/index/1/a",
        "index/1/a/",
        "index//a",
        "index/../state",
        "./a",
        "a\nb",
    ] {
        let e = format!("{:#}", b.get(key).unwrap_err());
        assert!(e.contains("key"), "{key:?}: {e}");
    }
}

/// `ktra serve` calls storage from threads of its own runtime, and may drop the last clone
/// there: neither may panic.
#[test]
fn usable_and_droppable_inside_another_runtime() {
    let b = bucket("in-runtime", "");
    let outer = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    outer.block_on(async move {
        done(b.put("k", b"v".to_vec(), Cond::Any).unwrap());
        assert_eq!(b.get("k").unwrap().unwrap().bytes, b"v");
        drop(b);
    });
}

/// A store that does not answer: the operation fails after its bounded retries, in seconds.
#[test]
fn an_unreachable_store_fails_in_bounded_time() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let b = client_of("s3://bkt/pfx", &endpoint);
    let start = std::time::Instant::now();
    let e = format!("{:#}", b.get("index/config.json").unwrap_err());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert!(
        e.starts_with("failed to read `index/config.json` from s3://bkt/pfx: "),
        "{e}"
    );
}
