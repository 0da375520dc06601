//! The regression subset of the long chaos runs (`scripts/chaos/`): kills at crash points and at
//! random moments of add, yank, remove, publish and sync-mirror; CLI writers and two receivers
//! at once with a reader; hostile requests, tokens and settings. Each case is a small, fast
//! instance of a script's case, through the real binary.

use crate::cli::Reg;
use crate::serve::Serve;
use crate::support::ktra_bin;
use crate::support::upstream::Upstream;
use ktra::package::testing::simple;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::publish_body;

/// One request; status 0 when the server closed or died without answering. Returns the status
/// and the body as text.
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, "connect failed".into());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// `ktra serve` on a free port with `KTRA_CRASH_AT=point` (none when empty).
fn serve_crashing(root: &std::path::Path, point: &str) -> crate::serve::Serve {
    crate::serve::Serve::start_with_env(root, &[(ktra::storage::crash::ENV, point)])
}

fn public_only(snapshot: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    snapshot
        .into_iter()
        .filter(|(k, _)| k.starts_with("public/"))
        .collect()
}

fn token(reg: &Reg, login: &str) -> String {
    reg.ktra(&["user", "add", login]).success();
    reg.ktra(&["token", "create", login])
        .success()
        .stdout
        .trim()
        .to_owned()
}

#[test]
fn a_publish_killed_at_each_step_leaves_a_registry_that_verifies_and_takes_the_next_publish() {
    let reg = Reg::new(true);
    let alice = token(&reg, "alice");
    let server = Serve::start(&reg.root);
    let points = [
        "journal-synced",
        "crates-synced",
        "index-partial",
        "git-objects",
        "git-ref",
        "before-finish",
    ];
    for (i, point) in points.iter().enumerate() {
        let name = format!("pub{i}");
        let body = publish_body(&name, "1.0.0", &simple(&name, "1.0.0", ""));
        let mut victim = serve_crashing(&reg.root, point);
        let (status, text) = send(
            victim.port,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &alice)],
            &body,
        );
        let died = victim.child.wait().expect("wait for the receiver");
        assert!(
            !died.success() && status == 0,
            "{point}: no crash ({status} {text})"
        );
        reg.ktra(&["verify"]).success();
        // The next write: the same publish through a receiver that does not crash.
        let (status, text) = send(
            server.port,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &alice)],
            &body,
        );
        assert!(
            status == 200 || (status == 409 && text.contains("already")),
            "{point}: the publish after the kill: {status} {text}"
        );
        assert!(
            reg.index_line(&format!("pu/b{i}/pub{i}"))
                .contains("\"vers\":\"1.0.0\"")
        );
    }
    let clean = reg.ktra(&["verify"]).success();
    assert!(
        !clean.stderr.contains("interrupted"),
        "{}",
        clean.describe()
    );
}

#[test]
fn kills_at_random_moments_of_add_yank_and_remove_leave_a_registry_that_takes_the_next_write() {
    let reg = Reg::new(true);
    let k = reg.krate("flip", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    let start = Instant::now();
    reg.ktra(&["add", &reg.krate("timing", "1.0.0", "")])
        .success();
    let typical = start.elapsed();
    let mut landed = 0;
    for i in 0..18u32 {
        let (args, redo): (Vec<String>, Vec<String>) = match i % 3 {
            0 => {
                let f = reg.krate(&format!("rnd{i}"), "1.0.0", "");
                (vec!["add".into(), f.clone()], vec!["add".into(), f])
            }
            1 => {
                let verb = if i % 2 == 0 { "yank" } else { "unyank" };
                (
                    vec![verb.into(), "flip@1.0.0".into()],
                    vec![verb.into(), "flip@1.0.0".into()],
                )
            }
            _ => {
                let name = format!("gone{i}");
                reg.ktra(&["add", &reg.krate(&name, "1.0.0", "")]).success();
                reg.ktra(&["yank", &format!("{name}@1.0.0")]).success();
                (
                    vec!["remove".into(), format!("{name}@1.0.0")],
                    vec!["list".into()],
                )
            }
        };
        let mut child = Command::new(ktra_bin())
            .arg("-r")
            .arg(&reg.root)
            .args(&args)
            .env_remove(ktra::storage::crash::ENV)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread over the whole operation: from 0 to 1.2 times its typical duration.
        std::thread::sleep(typical * (i % 6) / 5);
        if child.try_wait().unwrap().is_none() {
            landed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let v = reg.ktra(&["verify"]);
        assert!(
            v.status.success(),
            "after kill {i} ({args:?}): {}",
            v.describe()
        );
        let refs: Vec<&str> = redo.iter().map(String::as_str).collect();
        reg.ktra(&refs).success();
    }
    assert!(
        landed >= 6,
        "only {landed} of 18 kills landed mid-operation"
    );
    reg.ktra(&["verify"]).success();
}

#[test]
fn a_sync_mirror_killed_at_each_step_is_finished_by_the_next_sync() {
    let up = Upstream::start();
    let reg = Reg::new(true);
    let upstream = up.sparse_url();
    for point in [
        "mirror-crates-synced",
        "mirror-index-synced",
        "mirror-index-partial",
        "mirror-config-synced",
    ] {
        let out = reg.ktra_crashing(
            point,
            &[
                "sync-mirror",
                "chain-a",
                "--upstream",
                &upstream,
                "--retries",
                "0",
            ],
        );
        assert!(
            out.stderr.contains(&format!("crashing at `{point}`")),
            "{point}: {}",
            out.describe()
        );
        reg.ktra(&["verify"]).success();
        reg.ktra(&[
            "sync-mirror",
            "chain-a",
            "--upstream",
            &upstream,
            "--retries",
            "0",
        ])
        .success();
        let line =
            std::fs::read_to_string(reg.root.join("public/mirror/index/ch/ai/chain-a")).unwrap();
        assert!(line.contains("\"vers\":\"1.0.0\""), "{point}: {line}");
        // Start the next point from an empty mirror.
        std::fs::remove_dir_all(reg.root.join("public/mirror")).unwrap();
        let _ = std::fs::remove_dir_all(reg.root.join("state/mirror"));
    }
}

#[test]
fn cli_writers_and_two_receivers_at_once_lose_nothing_acknowledged() {
    let reg = Reg::new(true);
    let alice = token(&reg, "alice");
    let servers = [Serve::start(&reg.root), Serve::start(&reg.root)];
    let ports = [servers[0].port, servers[1].port];
    let mut writers = Vec::new();
    for w in 0..2 {
        let files: Vec<String> = (0..6)
            .map(|j| reg.krate(&format!("cli{w}-{j}"), "1.0.0", ""))
            .collect();
        let root = reg.root.clone();
        writers.push(std::thread::spawn(move || {
            files
                .iter()
                .map(|f| {
                    let ok = Command::new(ktra_bin())
                        .arg("-r")
                        .arg(&root)
                        .args(["add", f])
                        .stderr(Stdio::null())
                        .status()
                        .unwrap()
                        .success();
                    let name = std::path::Path::new(f)
                        .file_name()
                        .unwrap()
                        .to_string_lossy();
                    (name.trim_end_matches("-1.0.0.crate").to_owned(), ok)
                })
                .collect::<Vec<_>>()
        }));
    }
    for w in 0..2 {
        let tok = alice.clone();
        writers.push(std::thread::spawn(move || {
            (0..8)
                .map(|j| {
                    let name = format!("api{w}-{j}");
                    let body = publish_body(&name, "1.0.0", &simple(&name, "1.0.0", ""));
                    let (status, _) = send(
                        ports[j % 2],
                        "PUT",
                        "/api/v1/crates/new",
                        &[("Authorization", &tok)],
                        &body,
                    );
                    (name, status == 200)
                })
                .collect::<Vec<_>>()
        }));
    }
    // The reader: what a receiver serves is always whole and consistent.
    let mut checked = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        for name in ["cli0-0", "api0-0", "api1-1"] {
            let path = format!("/index/{}", ktra::index::path::index_path(name).unwrap());
            let (status, text) = send(ports[checked % 2], "GET", &path, &[], &[]);
            if status != 200 {
                continue;
            }
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let e: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("partial line {line:?}: {e}"));
                let file = reg.root.join(format!("public/crates/{name}-1.0.0.crate"));
                let bytes = std::fs::read(&file)
                    .unwrap_or_else(|e| panic!("{name}: indexed without its file: {e}"));
                assert_eq!(
                    format!("{:x}", Sha256::digest(&bytes)),
                    e["cksum"].as_str().unwrap()
                );
                checked += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for w in writers {
        for (name, ok) in w.join().unwrap() {
            assert!(ok, "{name} was not acknowledged");
            let path = format!(
                "public/index/{}",
                ktra::index::path::index_path(&name).unwrap()
            );
            let text = std::fs::read_to_string(reg.root.join(&path)).unwrap_or_default();
            assert!(
                text.contains("\"vers\":\"1.0.0\""),
                "acknowledged {name} is missing"
            );
        }
    }
    reg.ktra(&["verify"]).success();
}

#[test]
fn hostile_urls_bodies_and_tokens_are_refused_and_change_nothing() {
    let reg = Reg::new(true);
    let alice = token(&reg, "alice");
    reg.ktra(&["add", &reg.krate("base", "1.0.0", "")])
        .success();
    let other = Reg::new(false);
    let foreign = token(&other, "alice");
    let server = Serve::start(&reg.root);
    let port = server.port;
    let before = public_only(reg.snapshot());
    for path in [
        "/../ktra.toml",
        "/%2e%2e/ktra.toml",
        "/..%2f..%2fetc/passwd",
        "/index/..%5c..%5cktra.toml",
        "/index.git/../../state/tokens.json",
        "//etc/passwd",
    ] {
        let (status, text) = send(port, "GET", path, &[], &[]);
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(
            !text.contains("max-crate-size") && !text.contains("root:"),
            "{path}: {text}"
        );
    }
    let long = format!("/{}", "a".repeat(100_000));
    assert!((400..500).contains(&send(port, "GET", &long, &[], &[]).0));
    let good = simple("tok", "1.0.0", "");
    let body = publish_body("tok", "1.0.0", &good);
    let huge = "k".repeat(64 << 10);
    for (what, tok) in [
        ("garbage", "abc"),
        ("long", huge.as_str()),
        ("another registry's", foreign.as_str()),
    ] {
        let (status, text) = send(
            port,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", tok)],
            &body,
        );
        assert!(
            status == 403 || status == 431,
            "{what} token: {status} {text}"
        );
    }
    let le = |n: u32| n.to_le_bytes().to_vec();
    let meta = br#"{"name":"tok","vers":"1.0.0","deps":[],"features":{}}"#;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        (
            "json length past the end",
            [le(1000), meta.to_vec()].concat(),
        ),
        (
            "json length u32::MAX",
            [le(u32::MAX), meta.to_vec()].concat(),
        ),
        (
            "crate length u32::MAX",
            [
                le(meta.len() as u32),
                meta.to_vec(),
                le(u32::MAX),
                good.clone(),
            ]
            .concat(),
        ),
        ("trailing bytes", [body.clone(), b"junk".to_vec()].concat()),
        (
            "over the crate limit",
            publish_body("tok", "1.0.0", &vec![0u8; 11 << 20]),
        ),
    ];
    for (what, b) in bodies {
        let (status, text) = send(
            port,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &alice)],
            &b,
        );
        assert!(matches!(status, 400 | 413), "{what}: {status} {text}");
    }
    assert_eq!(
        send(port, "GET", "/index/config.json", &[], &[]).0,
        200,
        "the server is still up"
    );
    let after = public_only(reg.snapshot());
    assert!(before == after, "hostile requests changed public/");
}

#[test]
fn hostile_settings_are_refused_with_a_clear_error() {
    let reg = Reg::new(true);
    let k = reg.krate("setting", "1.0.0", "");
    let settings = reg.root.join("ktra.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    let nested = format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    for (what, variant) in [
        ("unknown key", format!("{text}\nsurprise = 1\n")),
        (
            "negative size",
            text.replace("max-crate-size = 10485760", "max-crate-size = -1"),
        ),
        (
            "size over u64",
            text.replace(
                "max-crate-size = 10485760",
                "max-crate-size = 18446744073709551616",
            ),
        ),
        (
            "not a URL",
            text.replace("url = \"http://127.0.0.1:9/r\"", "url = \"not a url\""),
        ),
        ("deep nesting", format!("{text}{nested}")),
        (
            "a git remote that is an option of git push",
            text.replace(
                "[git]\nenabled = true\n",
                "[git]\nenabled = true\nremote = \"--receive-pack=touch /tmp/ktra-pwned\"\n",
            ),
        ),
        ("binary", "\0\u{1}\u{2}".to_owned()),
    ] {
        std::fs::write(&settings, &variant).unwrap();
        for args in [vec!["verify"], vec!["add", k.as_str()]] {
            let out = reg.ktra(&args).failure();
            assert!(
                out.status.code() == Some(1)
                    && out.stderr.starts_with("error:")
                    && !out.stderr.contains("panicked"),
                "{what}: {}",
                out.describe()
            );
        }
    }
    std::fs::write(&settings, &text).unwrap();
    reg.ktra(&["verify"]).success();
}

// The holes the chaos runs found (issue 11), one fast case each. They fail until the fixes of
// the other slices land: the git lock and verify under load (storage), dependency paths and
// manifest limits (manifest), unauthenticated resource use and owner logins (server).

/// Runs `ktra -r ROOT ARGS` under a 1 GiB address-space limit, killed after `limit`: the exit
/// code (None when it had to be killed), stderr and how long it ran.
fn ktra_bounded(reg: &Reg, args: &[&str], limit: Duration) -> (Option<i32>, String, Duration) {
    let err_path = reg.files.join("bounded.stderr");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$0\" \"$@\"")
        .arg(ktra_bin())
        .arg("-r")
        .arg(&reg.root)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    (code, stderr, start.elapsed())
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_git_branch_lock_left_by_a_kill_is_recovered_by_the_next_write_and_reported() {
    let reg = Reg::new(true);
    reg.ktra(&["add", &reg.krate("one", "1.0.0", "")]).success();
    let two = reg.krate("two", "1.0.0", "");
    let out = reg.ktra_crashing("git-objects", &["add", &two]);
    assert!(
        out.stderr.contains("crashing at `git-objects`"),
        "{}",
        out.describe()
    );
    // What a kill inside the git library's branch update leaves behind.
    let lock = reg.root.join("public/index.git/refs/heads/main.lock");
    std::fs::write(&lock, "").unwrap();
    let verify = reg.ktra(&["verify"]).success();
    assert!(
        verify.stderr.contains("main.lock"),
        "verify says nothing of the lock:\n{}",
        verify.describe()
    );
    reg.ktra(&["add", &reg.krate("three", "1.0.0", "")])
        .success();
    assert!(!lock.exists(), "the stale lock is still there");
    let clean = reg.ktra(&["verify"]).success();
    assert!(!clean.stderr.contains("main.lock"), "{}", clean.describe());
}

#[test]
fn verify_passes_while_writers_run() {
    let reg = Reg::new(true);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let files: Vec<String> = (0..20)
                .map(|i| reg.krate(&format!("busy{w}-{i}"), "1.0.0", ""))
                .collect();
            let root = reg.root.clone();
            std::thread::spawn(move || {
                for f in files {
                    let ok = Command::new(ktra_bin())
                        .arg("-r")
                        .arg(&root)
                        .args(["add", &f])
                        .stderr(Stdio::null())
                        .status()
                        .unwrap()
                        .success();
                    assert!(ok, "add {f}");
                }
            })
        })
        .collect();
    let (mut runs, mut failed) = (0, Vec::new());
    while writers.iter().any(|w| !w.is_finished()) {
        let v = reg.ktra(&["verify"]);
        if !v.status.success() {
            failed.push(v.describe());
        }
        runs += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    assert!(runs >= 10, "only {runs} verify runs overlapped the writers");
    assert!(
        failed.is_empty(),
        "{} of {runs} verify runs failed during writes:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn dependency_names_that_are_paths_are_refused_quickly() {
    use ktra::package::testing::{Entry, manifest, tarball};
    let reg = Reg::new(true);
    let before = public_only(reg.snapshot());
    let own = "sparse+http://127.0.0.1:9/r/index/";
    let up = "../".repeat(reg.root.join("public").components().count() - 1);
    let fifo = reg.files.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo_rel = format!("{up}{}", fifo.display().to_string().trim_start_matches('/'));
    let cases = [
        (
            "crates.io dependency `../../evil`",
            "[dependencies.x]\nversion = \"1\"\npackage = \"../../evil\"\n".to_owned(),
        ),
        (
            "/dev/zero",
            format!(
                "[dependencies.z]\nversion = \"1\"\npackage = \"{up}dev/zero\"\nregistry-index = \"{own}\"\n"
            ),
        ),
        (
            "a named pipe",
            format!(
                "[dependencies.p]\nversion = \"1\"\npackage = \"{fifo_rel}\"\nregistry-index = \"{own}\"\n"
            ),
        ),
    ];
    for (i, (what, deps)) in cases.iter().enumerate() {
        let name = format!("evil{i}");
        let root = format!("{name}-1.0.0");
        let bytes = tarball(&[
            Entry::File(
                &format!("{root}/Cargo.toml"),
                manifest(&name, "1.0.0", deps).as_bytes(),
            ),
            Entry::File(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
        ]);
        let file = reg.file(&format!("{root}.crate"), &bytes);
        let (code, stderr, took) = ktra_bounded(&reg, &["add", &file], Duration::from_secs(15));
        assert!(
            code == Some(1) && stderr.starts_with("error:"),
            "{what}: exit {code:?} after {took:?}\n{stderr}"
        );
        assert!(took < Duration::from_secs(10), "{what}: took {took:?}");
    }
    assert!(
        before == public_only(reg.snapshot()),
        "refused adds changed public/"
    );
}

#[test]
fn manifests_over_the_limits_and_a_file_named_like_the_top_folder_are_refused() {
    use ktra::package::testing::{Entry, manifest, tarball};
    let reg = Reg::new(true);
    let before = public_only(reg.snapshot());
    let features: String = (0..300_000).map(|i| format!("f{i} = []\n")).collect();
    let big = format!(
        "# {}\n[dependencies]\nhidden = \"1\"\n",
        "x".repeat(9 << 20)
    );
    for (i, (what, extra, top_file)) in [
        ("300,000 features", format!("[features]\n{features}"), false),
        ("a Cargo.toml over 8 MiB", big, false),
        (
            "a regular file named like the top folder",
            String::new(),
            true,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("big{i}");
        let root = format!("{name}-1.0.0");
        let toml = manifest(&name, "1.0.0", &extra);
        let (toml_path, lib) = (format!("{root}/Cargo.toml"), format!("{root}/src/lib.rs"));
        let mut entries = vec![
            Entry::File(&toml_path, toml.as_bytes()),
            Entry::File(&lib, b"pub fn f() {}\n"),
        ];
        if top_file {
            entries.insert(0, Entry::File(&root, b"not a folder"));
        }
        let file = reg.file(&format!("{root}.crate"), &tarball(&entries));
        let out = reg.ktra(&["add", &file]);
        assert!(out.status.code() == Some(1), "{what}: {}", out.describe());
    }
    assert!(
        before == public_only(reg.snapshot()),
        "refused adds changed public/"
    );
}

#[test]
fn an_unauthenticated_owners_body_is_refused_without_buffering_it() {
    let reg = Reg::new(true);
    reg.ktra(&["add", &reg.krate("owned", "1.0.0", "")])
        .success();
    let server = crate::serve::Serve::start(&reg.root);
    let (port, pid) = (server.port, server.child.id());
    let base = peak_rss_kib(pid);
    let body = [b"{\"users\":[\"".as_slice(), &vec![b'a'; 64 << 20], b"\"]}"].concat();
    let (status, text) = send(
        port,
        "PUT",
        "/api/v1/crates/owned/owners",
        &[("Content-Type", "application/json")],
        &body,
    );
    let grown = peak_rss_kib(pid).saturating_sub(base) / 1024;
    // A server that answers before the body is read may reset the connection, and the client
    // then never sees the answer: that is a refusal too, as long as the server still serves.
    let still_up = send(port, "GET", "/index/config.json", &[], &[]).0 == 200;
    drop(server);
    assert!(
        matches!(status, 401 | 413) || (status == 0 && still_up),
        "{status} {text}"
    );
    assert!(
        grown < 32,
        "the server's peak memory grew by {grown} MiB for a request without a token"
    );
}

#[test]
fn owner_logins_that_are_paths_are_refused() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = reg
        .ktra(&["token", "create", "alice", "--scope", "change-owners"])
        .success()
        .stdout
        .trim()
        .to_owned();
    reg.ktra(&["add", &reg.krate("owned", "1.0.0", "")])
        .success();
    reg.ktra(&["owner", "add", "owned", "alice"]).success();
    // `../users/bob` resolves to bob's record when taken as a path.
    reg.ktra(&["user", "add", "bob"]).success();
    let server = Serve::start(&reg.root);
    let (status, text) = send(
        server.port,
        "PUT",
        "/api/v1/crates/owned/owners",
        &[
            ("Authorization", &alice),
            ("Content-Type", "application/json"),
        ],
        br#"{"users":["../users/bob"]}"#,
    );
    assert!((400..500).contains(&status), "{status} {text}");
    let listed = reg.ktra(&["owner", "list", "owned"]).success().stdout;
    assert!(!listed.contains(".."), "{listed}");
}

#[test]
fn failed_reads_of_a_private_registry_do_not_add_an_audit_line_each() {
    let reg = Reg::new(true);
    let settings = reg.root.join("ktra.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("auth-required = false", "auth-required = true"),
    )
    .unwrap();
    let server = Serve::start(&reg.root);
    let audit = reg.root.join("state/audit.jsonl");
    let lines = || std::fs::read_to_string(&audit).map_or(0, |t| t.lines().count());
    let before = lines();
    for i in 0..200 {
        let tok = format!("bad{i}");
        let (status, _) = send(
            server.port,
            "GET",
            "/index/config.json",
            &[("Authorization", &tok)],
            &[],
        );
        assert_eq!(status, 403);
    }
    let added = lines() - before;
    assert!(added < 20, "200 refused reads added {added} audit lines");
}
