//! The object-storage harness itself (`support::s3`): moto starts on a port of its own, takes
//! buckets and objects, serves them anonymously once a bucket allows public reads, and is gone
//! when the handle is dropped.

use crate::support::s3::S3Server;
use std::net::TcpStream;

#[test]
fn moto_serves_a_public_bucket_and_stops_on_drop() {
    let s3 = S3Server::start();
    let endpoint = s3.endpoint();
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    let env = s3.env();
    assert!(env.contains(&("AWS_ENDPOINT_URL".to_owned(), endpoint.clone())));
    assert!(env.contains(&("AWS_ALLOW_HTTP".to_owned(), "true".to_owned())));

    s3.create_bucket("pub-bkt");
    let headers = [
        ("Content-Type", "application/gzip"),
        ("Cache-Control", "immutable"),
    ];
    let put = s3.request("PUT", "/pub-bkt/crates/a-1.0.0.crate", &headers, b"bytes");
    assert_eq!(put.status, 200);
    // Private until the policy says otherwise, as on S3.
    assert_eq!(s3.get("/pub-bkt/crates/a-1.0.0.crate").status, 403);
    s3.allow_public_reads("pub-bkt");
    let got = s3.get("/pub-bkt/crates/a-1.0.0.crate");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"bytes"[..]));
    assert_eq!(got.header("Content-Type"), Some("application/gzip"));
    assert_eq!(got.header("cache-control"), Some("immutable"));
    assert_eq!(s3.get("/pub-bkt/crates/missing.crate").status, 404);

    // A second server has a port of its own.
    let other = S3Server::start();
    assert_ne!(other.endpoint(), endpoint);
    drop(other);

    drop(s3);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "moto still listens"
    );
}
