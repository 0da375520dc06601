//! The receiver under attack: nothing is read or kept for a client without a token, slow or
//! idle clients are cut off, connections are bounded, refused tokens do not grow the disk,
//! owners' names are validated, errors show neither paths nor credentials, a publish is
//! streamed (memory does not grow with it) and is never half-done when its client hangs up.

use crate::cli::Reg;
use crate::serve::{Reply, request, request_with_body};
use ktra::package::testing::{Entry, manifest, simple, tarball};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::serve::Serve as Server;

use crate::api::publish_body;

fn detail(reply: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&reply.body)));
    v["errors"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn token(reg: &Reg, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    reg.ktra(&all).success().stdout.trim().to_owned()
}

fn edit_settings(reg: &Reg, edit: impl FnOnce(String) -> String) {
    let path = reg.root.join("ktra.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

fn add_settings(reg: &Reg, extra: &str) {
    edit_settings(reg, |t| format!("{t}\n{extra}"));
}

/// Sends only the head of a request that announces `content_length` bytes of body, and waits
/// at most `wait` for the status line.
fn head_only(port: u16, method: &str, path: &str, extra: &str, content_length: u64) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {content_length}\r\n{extra}\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A crate of about `size` bytes: incompressible data under `src/`.
fn big_crate(name: &str, version: &str, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size);
    let mut h = Sha256::digest(name.as_bytes());
    while data.len() < size {
        h = Sha256::digest(h);
        data.extend_from_slice(&h);
    }
    let root = format!("{name}-{version}");
    let m = manifest(name, version, "");
    tarball(&[
        Entry::File(&format!("{root}/Cargo.toml"), m.as_bytes()),
        Entry::File(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
        Entry::File(&format!("{root}/src/data.bin"), &data),
    ])
}

#[test]
fn bodies_are_not_read_for_a_request_without_a_token() {
    let reg = Reg::new(false);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice", "--scope", ALL_SCOPES]);
    let server = Server::start(&reg.root);
    let body = publish_body("widget", "1.0.0", &simple("widget", "1.0.0", ""));
    let put = |tok: &str| {
        request_with_body(
            server.port,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", tok)],
            &body,
        )
    };
    assert_eq!(put(&alice).status, 200);

    // 300 MB announced, none sent: the answer comes at once, from the headers alone.
    let started = Instant::now();
    for (method, path) in [
        ("PUT", "/api/v1/crates/widget/owners"),
        ("DELETE", "/api/v1/crates/widget/owners"),
        ("PUT", "/api/v1/crates/new"),
    ] {
        let status = head_only(server.port, method, path, "", 300_000_000);
        assert_eq!(status, Some(401), "{method} {path} without a token");
        let status = head_only(
            server.port,
            method,
            path,
            "Authorization: ktra_forged\r\n",
            300_000_000,
        );
        assert_eq!(status, Some(403), "{method} {path} with a forged token");
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // With a token: the owners body is limited to 64 KiB, a publish to the crate size.
    let status = head_only(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &format!("Authorization: {alice}\r\n"),
        300_000_000,
    );
    assert_eq!(status, Some(413));
    let big = format!(r#"{{"users":["{}"]}}"#, "a".repeat(OWNERS_LIMIT));
    let reply = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/widget/owners",
        &[("Authorization", &alice)],
        big.as_bytes(),
    );
    assert_eq!(
        reply.status,
        413,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // A token without any publish scope is refused before the body too.
    let yank_only = token(&reg, &["alice", "--scope", "yank"]);
    let status = head_only(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &format!("Authorization: {yank_only}\r\n"),
        1000,
    );
    assert_eq!(status, Some(403));
}

const OWNERS_LIMIT: usize = 64 * 1024;
const ALL_SCOPES: &str = "publish-new,publish-update,yank,change-owners,read";

#[test]
fn slow_headers_idle_connections_and_too_many_connections_are_bounded() {
    let reg = Reg::new(false);
    add_settings(
        &reg,
        "[serve]\nheader-timeout = \"1s\"\nmax-connections = 2\n",
    );
    let server = Server::start(&reg.root);
    // Headers that never end: the connection is closed after the header time limit.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"GET /index/config.json HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );

    // Two connections that send nothing hold both places; a third waits until one goes.
    let idle1 = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let _idle2 = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    third
        .write_all(b"GET /index/config.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 12];
    assert!(
        third.read(&mut buf).is_err(),
        "a third connection was served while two were open"
    );
    drop(idle1);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    third.read_to_end(&mut reply).unwrap();
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // The idle ones are closed by the header time limit too, and the server serves again.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        request(server.port, "GET", "/index/config.json", &[]).status,
        200
    );
}

#[test]
fn refused_reads_of_a_private_registry_do_not_grow_the_audit_log() {
    let reg = Reg::new(false);
    edit_settings(&reg, |t| {
        t.replace("auth-required = false", "auth-required = true")
    });
    let server = Server::start(&reg.root);
    let audit = reg.root.join("state/audit.jsonl");
    let size = || std::fs::metadata(&audit).map_or(0, |m| m.len());
    let before = size();
    for i in 0..60 {
        let tok = format!("ktra_guess{i}");
        let headers: Vec<(&str, &str)> = if i % 2 == 0 {
            vec![]
        } else {
            vec![("Authorization", &tok)]
        };
        let reply = request(server.port, "GET", "/index/config.json", &headers);
        assert!(matches!(reply.status, 401 | 403), "{}", reply.status);
    }
    let text = std::fs::read_to_string(&audit).unwrap_or_default();
    let lines = text.matches("token-refused").count();
    assert!(
        (1..=2).contains(&lines),
        "60 refusals wrote {lines} lines ({} bytes):\n{text}",
        size() - before
    );
}

#[test]
fn owners_and_crate_names_given_to_the_owners_api_are_validated() {
    let reg = Reg::new(false);
    reg.ktra(&["user", "add", "alice"]).success();
    reg.ktra(&["user", "add", "bob"]).success();
    let alice = token(&reg, &["alice", "--scope", ALL_SCOPES]);
    let server = Server::start(&reg.root);
    let body = publish_body("shared", "1.0.0", &simple("shared", "1.0.0", ""));
    // As cargo sends them (the JSON extractor used before wanted the content type).
    let auth = [
        ("Authorization", alice.as_str()),
        ("Content-Type", "application/json"),
    ];
    let published = request_with_body(server.port, "PUT", "/api/v1/crates/new", &auth, &body);
    assert_eq!(published.status, 200);
    let owners_file = reg.root.join("state/owners/shared.json");
    let owners_before = std::fs::read(&owners_file).unwrap();

    for login in ["../users/bob", "bob/../bob", "", "a b"] {
        let body = serde_json::json!({ "users": [login] }).to_string();
        let reply = request_with_body(
            server.port,
            "PUT",
            "/api/v1/crates/shared/owners",
            &auth,
            body.as_bytes(),
        );
        assert_eq!(reply.status, 400, "login {login:?}: {}", detail(&reply));
        assert!(
            detail(&reply).contains("not a valid login"),
            "{}",
            detail(&reply)
        );
    }
    for path in [
        "/api/v1/crates/..%2Fowners%2Fshared/owners",
        "/api/v1/crates/..%2Fusers%2Falice/owners",
    ] {
        let body = br#"{"users":["bob"]}"#;
        let reply = request_with_body(server.port, "PUT", path, &auth, body);
        assert_eq!(reply.status, 400, "{path}: {}", detail(&reply));
        assert!(
            detail(&reply).contains("not a crate name"),
            "{}",
            detail(&reply)
        );
        let listed = request(server.port, "GET", path, &auth);
        assert_eq!(listed.status, 400, "GET {path}");
    }
    assert_eq!(std::fs::read(&owners_file).unwrap(), owners_before);
    let out = reg
        .ktra(&["owner", "add", "shared", "../users/bob"])
        .failure();
    assert!(
        out.stderr.contains("not a valid login"),
        "{}",
        out.describe()
    );
    assert_eq!(std::fs::read(&owners_file).unwrap(), owners_before);
    let listed = reg.ktra(&["owner", "list", "shared"]).success().stdout;
    assert_eq!(listed.trim(), "alice");
}

#[test]
fn server_failures_show_a_request_id_not_server_paths() {
    let reg = Reg::new(false);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    let server = Server::start(&reg.root);
    // Temporary files cannot be made: an I/O failure on the server's side.
    let tmp = reg.root.join("state/tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::write(&tmp, b"not a folder").unwrap();
    let body = publish_body("widget", "1.0.0", &simple("widget", "1.0.0", ""));
    let reply = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &alice)],
        &body,
    );
    assert_eq!(reply.status, 500);
    let d = detail(&reply);
    let root = reg.root.display().to_string();
    let parent = reg.root.parent().unwrap().display().to_string();
    assert!(!d.contains(&parent) && !d.contains(&root), "{d}");
    let id = d
        .split("request id ")
        .nth(1)
        .and_then(|r| r.get(..8))
        .unwrap_or_else(|| panic!("no request id in `{d}`"));
    // The server's log has the whole cause under that id.
    std::thread::sleep(Duration::from_millis(200));
    let log = server.stderr();
    assert!(
        log.lines()
            .any(|l| l.contains(id) && l.contains("temporary file")),
        "{log}"
    );
    assert!(!reg.root.join("public/index/wi/dg/widget").exists());
}

#[test]
fn a_git_remote_with_credentials_is_never_shown() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    // Nothing listens on port 9: every push fails.
    edit_settings(&reg, |t| {
        t.replace(
            "[git]\nenabled = true\n",
            "[git]\nenabled = true\nremote = \"http://bob:hunter2@127.0.0.1:9/index.git\"\n",
        )
    });
    assert!(
        std::fs::read_to_string(reg.root.join("ktra.toml"))
            .unwrap()
            .contains("hunter2")
    );
    let k = reg.krate("pushed", "1.0.0", "");
    // The change is complete here, so it stands, with a warning that the remote is behind.
    let out = reg.ktra(&["add", &k]).success();
    assert!(out.stderr.contains("git push"), "{}", out.describe());
    assert!(out.stderr.contains("***@127.0.0.1:9"), "{}", out.describe());
    assert!(!out.stderr.contains("hunter2"), "{}", out.describe());

    let server = Server::start(&reg.root);
    let body = publish_body("viaapi", "1.0.0", &simple("viaapi", "1.0.0", ""));
    let reply = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &alice)],
        &body,
    );
    let text = String::from_utf8_lossy(&reply.body);
    // Published, and cargo is told (in the warnings it shows) that the push failed.
    assert_eq!(reply.status, 200, "{text}");
    let reply: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let other = reply["warnings"]["other"].to_string();
    assert!(other.contains("could not be pushed"), "{text}");
    assert!(other.contains("***@127.0.0.1:9"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(&reg.root.display().to_string()), "{text}");
    assert!(!text.contains("bob:"), "{text}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!server.stderr().contains("hunter2"), "{}", server.stderr());
}

/// Sends a publish request; `cut` bytes of the body are left out.
fn send_publish(port: u16, token: &str, name: &str, cut: usize) -> TcpStream {
    let body = publish_body(name, "1.0.0", &simple(name, "1.0.0", ""));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..body.len() - cut]).unwrap();
    s
}

#[test]
fn a_publish_whose_client_hangs_up_is_completed_with_its_audit_line() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    let server = Server::start(&reg.root);
    // The registry lock held here keeps the publishes waiting until their clients are gone.
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(reg.root.join("state/lock"))
        .unwrap();
    lock.lock().unwrap();
    let clients: Vec<TcpStream> = (0..3)
        .map(|i| send_publish(server.port, &alice, &format!("gone{i}"), 0))
        .collect();
    // A body cut short: nothing is started for it.
    let partial = send_publish(server.port, &alice, "partial", 10);
    std::thread::sleep(Duration::from_millis(500));
    drop(clients);
    drop(partial);
    std::thread::sleep(Duration::from_millis(500));
    lock.unlock().unwrap();

    let audit = reg.root.join("state/audit.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        let published = text
            .lines()
            .filter(|l| l.contains(r#""event":"publish""#) && l.contains(r#""crate":"gone"#))
            .count();
        if published == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "publishes whose client hung up were not all recorded:\n{text}\nserver: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let listed = reg.ktra(&["list", "--json"]).success().stdout;
    for i in 0..3 {
        assert!(listed.contains(&format!("\"gone{i}\"")), "{listed}");
    }
    assert!(!listed.contains("partial"), "{listed}");
    reg.ktra(&["verify"]).success();
    // The running server keeps its own temporary folder (with its `.lock`), and nothing in it.
    let leftovers: Vec<_> = crate::support::walk_files(&reg.root.join("state/tmp"))
        .into_iter()
        .filter(|p| p.file_name().is_none_or(|n| n != ".lock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_publish_is_streamed_not_held_in_memory() {
    let reg = Reg::new(false);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    let server = Server::start(&reg.root);
    let auth = [("Authorization", alice.as_str())];
    // Warm up: threads, buffers and the allocator's arenas as any publish leaves them.
    for i in 0..2 {
        let name = format!("warm{i}");
        let small = big_crate(&name, "1.0.0", 512 * 1024);
        let reply = request_with_body(
            server.port,
            "PUT",
            "/api/v1/crates/new",
            &auth,
            &publish_body(&name, "1.0.0", &small),
        );
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let before = server.peak_kib();
    let big = big_crate("heavy", "1.0.0", 8 * 1024 * 1024);
    assert!(big.len() > 8 * 1024 * 1024);
    let reply = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &auth,
        &publish_body("heavy", "1.0.0", &big),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let grown = server.peak_kib().saturating_sub(before);
    eprintln!("peak RSS grew by {grown} KiB for an 8 MiB publish");
    assert!(grown < 4 * 1024, "peak RSS grew by {grown} KiB");
    assert_eq!(
        std::fs::read(reg.root.join("public/crates/heavy-1.0.0.crate")).unwrap(),
        big
    );
}

#[test]
fn a_body_sent_too_slowly_is_cut_off_and_changes_nothing() {
    let reg = Reg::new(false);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice", "--scope", ALL_SCOPES]);
    add_settings(&reg, "[serve]\nbody-timeout = \"1s\"\n");
    let server = Server::start(&reg.root);
    let body = publish_body("slow", "1.0.0", &simple("slow", "1.0.0", ""));
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nAuthorization: {alice}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..40]).unwrap();
    let started = Instant::now();
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 408"), "{line:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!reg.root.join("public/index/sl/ow/slow").exists());
    // The running server keeps its own temporary folder (with its `.lock`), and nothing in it.
    let leftovers: Vec<_> = crate::support::walk_files(&reg.root.join("state/tmp"))
        .into_iter()
        .filter(|p| p.file_name().is_none_or(|n| n != ".lock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_stopped_server_finishes_the_publish_in_progress() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    let mut server = Server::start(&reg.root);
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(reg.root.join("state/lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut client = send_publish(server.port, &alice, "stopping", 0);
    std::thread::sleep(Duration::from_millis(500));
    // What a service manager sends to stop the server.
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    lock.unlock().unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(&mut client).read_line(&mut line).unwrap();
    assert!(
        line.starts_with("HTTP/1.1 200"),
        "{line:?}\n{}",
        server.stderr()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", server.stderr());
    let audit = std::fs::read_to_string(reg.root.join("state/audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains(r#""event":"publish""#) && l.contains(r#""crate":"stopping""#)),
        "{audit}"
    );
    reg.ktra(&["verify"]).success();
}

#[test]
fn a_publish_that_cannot_get_the_lock_in_time_is_a_503_and_changes_nothing() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    edit_settings(&reg, |t| format!("lock-timeout = \"1s\"\n{t}"));
    let server = Server::start(&reg.root);
    let lock = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(reg.root.join("state/lock"))
        .unwrap();
    lock.lock().unwrap();
    let body = publish_body("waiting", "1.0.0", &simple("waiting", "1.0.0", ""));
    let started = Instant::now();
    let reply = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &alice)],
        &body,
    );
    let waited = started.elapsed();
    lock.unlock().unwrap();
    let text = detail(&reply);
    assert_eq!(reply.status, 503, "{text}");
    assert!(
        text.contains("busy") && text.contains("nothing was changed"),
        "{text}"
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(!reg.root.join("public/index/wa/it/waiting").exists());
    // Once the lock is free, the same publish goes through.
    let reply = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &alice)],
        &body,
    );
    assert_eq!(reply.status, 200, "{}", detail(&reply));
    reg.ktra(&["verify"]).success();
}
