//! `ktra serve` as a static server: caching headers, conditional requests, and nothing outside
//! `public/`; real cargo builds through it.

use crate::cli::Reg;
use crate::support::ktra_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A running `ktra serve` on a free loopback port, its stderr kept in a file beside the
/// registry; killed on drop.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    log: std::path::PathBuf,
}

impl Serve {
    pub fn start(root: &std::path::Path) -> Serve {
        Self::start_with_env(root, &[])
    }

    /// [`Serve::start`] with these environment variables set for the server.
    pub fn start_with_env(root: &std::path::Path, env: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(ktra_bin())
            .arg("-r")
            .arg(root)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ktra serve");
        let mut err = BufReader::new(child.stderr.take().expect("piped"));
        let mut line = String::new();
        err.read_line(&mut line).expect("read ktra serve output");
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        let log = root
            .join("..")
            .join(format!("serve-stderr-{}.log", child.id()));
        let mut file = std::fs::File::create(&log).expect("create the server's log");
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut err, &mut file);
        });
        Serve { child, port, log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Peak resident memory of the server so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ktra serve` looks at `ktra.toml` at most once a second: wait that out after changing
/// settings under a running server.
pub fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with the path sent exactly as given (no client-side normalising).
pub fn request(port: u16, method: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    request_with_body(port, method, path, extra, &[])
}

pub fn request_with_body(
    port: u16,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn serves_public_with_caching_headers_and_conditional_requests() {
    let reg = Reg::new(true);
    let k = reg.krate("served", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    let server = Serve::start(&reg.root);
    let port = server.port;

    let index = request(port, "GET", "/index/se/rv/served", &[]);
    assert_eq!(index.status, 200);
    assert_eq!(
        index.body,
        std::fs::read(reg.root.join("public/index/se/rv/served")).unwrap()
    );
    assert_eq!(index.header("cache-control"), Some("public, max-age=60"));
    let etag = index.header("etag").expect("an ETag").to_owned();
    let modified = index
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();

    let again = request(
        port,
        "GET",
        "/index/se/rv/served",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let since = request(
        port,
        "GET",
        "/index/se/rv/served",
        &[("If-Modified-Since", &modified)],
    );
    assert_eq!(since.status, 304);
    let other = request(
        port,
        "GET",
        "/index/se/rv/served",
        &[("If-None-Match", "\"nope\"")],
    );
    assert_eq!(other.status, 200);

    // A change makes the old ETag stale.
    reg.ktra(&["yank", "served@1.0.0"]).success();
    let changed = request(
        port,
        "GET",
        "/index/se/rv/served",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(changed.status, 200);
    assert!(String::from_utf8_lossy(&changed.body).contains("\"yanked\":true"));

    let krate = request(port, "GET", "/crates/served-1.0.0.crate", &[]);
    assert_eq!(krate.status, 200);
    assert_eq!(
        krate.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(krate.header("content-type"), Some("application/gzip"));
    assert_eq!(
        krate.body,
        std::fs::read(reg.root.join("public/crates/served-1.0.0.crate")).unwrap()
    );

    let head = request(port, "HEAD", "/crates/served-1.0.0.crate", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        krate.header("content-length")
    );

    assert_eq!(
        request(port, "GET", "/index/no/ne/nonexistent", &[]).status,
        404
    );
    assert_eq!(request(port, "POST", "/index/config.json", &[]).status, 405);
}

#[test]
fn nothing_outside_public_is_ever_served() {
    let reg = Reg::new(true);
    let public = reg.root.join("public");
    std::os::unix::fs::symlink(reg.root.join("ktra.toml"), public.join("settings-link")).unwrap();
    std::os::unix::fs::symlink(reg.root.join("state"), public.join("state-link")).unwrap();
    let server = Serve::start(&reg.root);
    for path in [
        "/../ktra.toml",
        "/%2e%2e/ktra.toml",
        "/%2E%2E/state/lock",
        "/index/..%2f..%2fktra.toml",
        "/index/%2e%2e/%2e%2e/ktra.toml",
        "/..%5cktra.toml",
        "/settings-link",
        "/state-link/lock",
        "//etc/passwd",
    ] {
        let reply = request(server.port, "GET", path, &[]);
        assert_eq!(
            reply.status,
            404,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert!(
            !String::from_utf8_lossy(&reply.body).contains("version = 1"),
            "{path} leaked ktra.toml"
        );
    }
    assert_eq!(
        request(server.port, "GET", "/index/config.json", &[]).status,
        200
    );
}

#[test]
fn a_port_in_use_is_an_error_though_the_server_shares_its_port_between_its_loops() {
    let reg = Reg::new(false);
    let server = Serve::start(&reg.root);
    let listen = format!("127.0.0.1:{}", server.port);
    let mut second = Command::new(ktra_bin())
        .arg("-r")
        .arg(&reg.root)
        .args(["serve", "--listen", &listen])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second `ktra serve` on {listen} started: the port was shared");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("failed to listen on {listen}")),
        "{stderr}"
    );
    // The first server still has the port, and still answers.
    assert_eq!(
        request(server.port, "GET", "/index/config.json", &[]).status,
        200
    );
}

#[test]
fn files_skip_the_router_but_the_api_and_other_methods_still_reach_it() {
    let reg = Reg::new(false);
    let k = reg.krate("routed", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    let server = Serve::start(&reg.root);
    let port = server.port;
    // The API paths are never files, even when public/ holds a file of that name.
    std::fs::create_dir_all(reg.root.join("public/api/v1")).unwrap();
    std::fs::write(reg.root.join("public/api/v1/crates"), "a file").unwrap();
    std::fs::write(reg.root.join("public/me"), "a file").unwrap();
    let search = request(port, "GET", "/api/v1/crates?q=routed", &[]);
    assert_eq!(search.status, 200);
    assert!(String::from_utf8_lossy(&search.body).contains("\"routed\""));
    let me = request(port, "GET", "/me", &[]);
    assert!(String::from_utf8_lossy(&me.body).contains("cargo login"));
    // Other methods on files go through the router's fallback: 405 with Allow.
    for method in ["PUT", "DELETE", "POST"] {
        let reply = request(port, method, "/index/ro/ut/routed", &[]);
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method}");
    }
    // Files, on many keep-alive connections at once (spread over the server's loops).
    let expected = std::fs::read(reg.root.join("public/index/ro/ut/routed")).unwrap();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let expected = expected.clone();
            std::thread::spawn(move || keep_alive_gets(port, "/index/ro/ut/routed", 5, &expected))
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}

/// `n` GETs of `path` on one keep-alive connection, each answered 200 with `expected`.
fn keep_alive_gets(port: u16, path: &str, n: usize, expected: &[u8]) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut writer = s;
    for _ in 0..n {
        write!(writer, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let mut length = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a Content-Length")];
        reader.read_exact(&mut body).unwrap();
        assert_eq!(body, expected);
    }
}
