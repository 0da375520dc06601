//! A real S3-compatible server for the object-storage tests: moto, run by
//! `scripts/moto-server.py` on 127.0.0.1 with a port the system picked, one request at a time
//! (so conditional writes are atomic, as on S3; see the script). Each test starts its own
//! ([`S3Server::start`]); it is killed on drop, and exits by itself if the test process dies
//! (its stdin closes).
//!
//! moto accepts any credentials and anonymous requests, so buckets are made with a plain HTTP
//! `PUT`, and [`S3Server::allow_public_reads`] turns a bucket into a static host the way a
//! bucket policy does on S3. Without moto the tests fail and say how to install it.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "run `.ci/run` or `pip install 'moto[server]==5.2.1'`";

pub struct S3Server {
    child: Child,
    // Held open: the server exits when its stdin closes.
    _stdin: ChildStdin,
    _stdout: BufReader<ChildStdout>,
    port: u16,
    /// moto's request log and any traceback.
    pub log: tempfile::NamedTempFile,
}

/// One answer to [`S3Server::request`]; header names are lowercase.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl S3Server {
    pub fn start() -> S3Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/moto-server.py");
        let log = tempfile::NamedTempFile::new().expect("create the moto log");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("open the moto log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        // The first line is the port, printed once the socket listens; EOF if python died.
        let mut line = String::new();
        let read = stdout.read_line(&mut line).expect("read moto's stdout");
        let Some(port) = line.trim().parse::<u16>().ok().filter(|_| read > 0) else {
            let _ = child.kill();
            let status = child.wait().expect("wait for moto");
            panic!(
                "scripts/moto-server.py did not start ({status}): {INSTALL}\nstdout: {line:?}\n\
                 log:\n{}",
                fs::read_to_string(log.path()).unwrap_or_default()
            );
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto on port {port} never accepted"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        S3Server {
            child,
            _stdin: stdin,
            _stdout: stdout,
            port,
            log,
        }
    }

    /// `http://127.0.0.1:PORT`, the value of AWS_ENDPOINT_URL (path-style requests).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment that points a ktra process at this server: dummy credentials (moto
    /// takes any), its region, its endpoint, plain HTTP allowed.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn create_bucket(&self, name: &str) {
        let r = self.request("PUT", &format!("/{name}"), &[], b"");
        assert_eq!(r.status, 200, "create bucket {name}: {}", lossy(&r.body));
    }

    /// A bucket policy that lets anyone read its objects (`s3:GetObject`), as a registry's
    /// public bucket behind a CDN has: cargo can then read the index and crate files straight
    /// from `ENDPOINT/BUCKET/...`. Listing and writing stay private.
    pub fn allow_public_reads(&self, bucket: &str) {
        self.allow_anyone(bucket, r#""s3:GetObject""#);
    }

    /// A bucket policy that lets anyone also put and delete its objects: for tests that damage
    /// a registry on purpose (a lost object, an operator's mistake) with plain requests.
    pub fn allow_public_writes(&self, bucket: &str) {
        self.allow_anyone(
            bucket,
            r#"["s3:GetObject","s3:PutObject","s3:DeleteObject"]"#,
        );
    }

    /// A bucket policy that lets anyone do `actions` (a JSON string or list) on its objects.
    fn allow_anyone(&self, bucket: &str, actions: &str) {
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":{actions},"Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
        );
        let headers = [("Content-Type", "application/json")];
        let r = self.request(
            "PUT",
            &format!("/{bucket}?policy"),
            &headers,
            policy.as_bytes(),
        );
        assert_eq!(r.status, 200, "policy of {bucket}: {}", lossy(&r.body));
    }

    /// An anonymous `GET` of `/BUCKET/KEY` (what cargo or a CDN sees).
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"")
    }

    /// One plain HTTP/1.1 request without credentials.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).expect("send to moto");
        s.write_all(body).expect("send to moto");
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).expect("read moto's answer");
        let end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete answer from moto: {}", lossy(&answer)));
        let text = String::from_utf8_lossy(&answer[..end]).into_owned();
        let mut lines = text.lines();
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line from moto: {status_line:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: answer[end + 4..].to_vec(),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
