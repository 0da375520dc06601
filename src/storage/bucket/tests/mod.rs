//! [`Bucket`] against a real S3-compatible server: moto, through `scripts/moto-server.py` (one
//! request at a time, so conditional writes are atomic as on S3). One server for the test
//! process, one bucket per test. Without moto these tests fail and say how to install it.
//! The conditional writes are tested here, the rest in `objects`.

mod objects;

use super::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

struct Moto {
    port: u16,
    // Held open: the server exits when its stdin closes, i.e. when this process ends.
    _child: Mutex<(Child, ChildStdin)>,
}

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto-server.py");
        let mut child = Command::new("python3")
            .args([script, "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 scripts/moto-server.py (is python3 installed?)");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout.read_line(&mut line).expect("read moto's port");
        let Ok(port) = line.trim().parse::<u16>() else {
            let status = child.wait().expect("wait for moto");
            panic!(
                "scripts/moto-server.py did not start ({status}, said {line:?}): \
                 run `.ci/run` or `pip install 'moto[server]==5.2.1'`"
            );
        };
        Moto {
            port,
            _child: Mutex::new((child, stdin)),
        }
    })
}

/// One plain HTTP/1.1 request (no credentials), answered as (status, lowercase headers, body).
fn http(
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, HashMap<String, String>, Vec<u8>) {
    let port = moto().port;
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole answer");
    let text = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

/// A new bucket whose objects anyone may read (as a registry's public bucket), and a client
/// for `s3://NAME/PREFIX`.
pub(crate) fn bucket(name: &str, prefix: &str) -> Bucket {
    let (status, _, _) = http("PUT", &format!("/{name}"), "", b"");
    assert_eq!(status, 200, "create bucket {name}");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{name}/*"}}]}}"#
    );
    let (status, _, _) = http(
        "PUT",
        &format!("/{name}?policy"),
        "Content-Type: application/json\r\n",
        policy.as_bytes(),
    );
    assert_eq!(status, 200, "bucket policy of {name}");
    client(&format!("s3://{name}/{prefix}"))
}

fn client(url: &str) -> Bucket {
    client_of(url, &format!("http://127.0.0.1:{}", moto().port))
}

fn client_of(url: &str, endpoint: &str) -> Bucket {
    let endpoint = endpoint.to_owned();
    let env: HashMap<&str, String> = [
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
    ]
    .into();
    let url = BucketUrl::parse(url).unwrap();
    Bucket::connect_with_env(&url, &BucketSettings::default(), |k| env.get(k).cloned()).unwrap()
}

fn done(w: Written) -> Tag {
    match w {
        Written::Done(tag) => tag,
        Written::Conflict => panic!("unexpected conflict"),
    }
}

#[test]
fn if_absent_twice_conflicts_and_keeps_the_first() {
    let b = bucket("if-absent", "");
    let key = "crates/a-1.0.0.crate";
    let tag = done(b.put(key, b"first".to_vec(), Cond::IfAbsent).unwrap());
    assert_eq!(
        b.put(key, b"second".to_vec(), Cond::IfAbsent).unwrap(),
        Written::Conflict
    );
    let got = b.get(key).unwrap().unwrap();
    assert_eq!((got.bytes.as_slice(), got.tag), (&b"first"[..], tag));
}

#[test]
fn if_match_needs_the_current_tag() {
    let b = bucket("if-match", "p");
    let stale = done(b.put("index/1/a", b"v1".to_vec(), Cond::IfAbsent).unwrap());
    let current = done(
        b.put("index/1/a", b"v2".to_vec(), Cond::IfMatch(stale.clone()))
            .unwrap(),
    );
    assert_eq!(
        b.put("index/1/a", b"v3".to_vec(), Cond::IfMatch(stale))
            .unwrap(),
        Written::Conflict
    );
    assert_eq!(b.get("index/1/a").unwrap().unwrap().bytes, b"v2");
    // A key that is not there matches no tag.
    assert_eq!(
        b.put("index/1/b", b"x".to_vec(), Cond::IfMatch(current))
            .unwrap(),
        Written::Conflict
    );
    assert_eq!(b.get("index/1/b").unwrap(), None);
}

/// 8 writers, 25 read-modify-write increments each, every one retried on a conflict: the
/// counter ends at exactly 200 only if conditional writes are atomic (no lost update).
#[test]
fn concurrent_conditional_increments_lose_nothing() {
    let b = bucket("counter", "state");
    done(b.put("counter", b"0".to_vec(), Cond::IfAbsent).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut conflicts = 0;
                for _ in 0..25 {
                    loop {
                        let got = b.get("counter").unwrap().unwrap();
                        let n: u32 = String::from_utf8(got.bytes).unwrap().parse().unwrap();
                        let next = (n + 1).to_string().into_bytes();
                        match b.put("counter", next, Cond::IfMatch(got.tag)).unwrap() {
                            Written::Done(_) => break,
                            Written::Conflict => conflicts += 1,
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let got = b.get("counter").unwrap().unwrap();
    assert_eq!(
        String::from_utf8(got.bytes).unwrap(),
        "200",
        "{conflicts} conflicts"
    );
}
