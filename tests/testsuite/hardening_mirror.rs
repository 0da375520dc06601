//! Hardening of the mirror (issue 11, item 9), against a real upstream on 127.0.0.1 (the fixture
//! tree served by `upstream_server.py`, see support/upstream.rs): redirects to another host
//! are refused unless `allow-redirect-hosts` lists it, every body read from the upstream has a
//! limit, bad upstream index lines are dropped before they are served or stored, and a private
//! upstream gets the token from `--upstream-token-env`, and no other host ever sees it.

use crate::serve::request;
use crate::support::upstream::{PyServer, Upstream, read_requests};
use crate::support::{Outcome, ktra_bin, run, walk_files};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "up-Secret-7f3c9a1e";
const TOKEN_VAR: &str = "KTRA_TEST_UPSTREAM_TOKEN";

/// The registry holding the mirror, in a temporary folder.
struct Local {
    root: PathBuf,
    logs: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Local {
    fn new() -> Local {
        Self::at("http://127.0.0.1:9/local")
    }

    fn at(url: &str) -> Local {
        let tmp = tempfile::Builder::new()
            .prefix("ktra-hardening-mirror-")
            .tempdir()
            .expect("create temp dir");
        let root = tmp.path().join("reg");
        let logs = tmp.path().join("logs");
        fs::create_dir_all(&logs).unwrap();
        let mut init = Command::new(ktra_bin());
        init.env_remove("KTRA_REGISTRY")
            .arg("init")
            .arg(&root)
            .args(["--url", url, "--name", "demo", "--no-git"]);
        run(init, &logs).success();
        Local {
            root,
            logs,
            _tmp: tmp,
        }
    }

    fn ktra(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut cmd = Command::new(ktra_bin());
        cmd.env_remove("KTRA_REGISTRY")
            .env_remove(TOKEN_VAR)
            .env("NO_COLOR", "1")
            .arg("-r")
            .arg(&self.root)
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd, &self.logs)
    }

    /// `ktra sync-mirror --upstream UP --retries 0 ARGS`.
    fn sync(&self, upstream: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut all = vec!["sync-mirror", "--upstream", upstream, "--retries", "0"];
        all.extend_from_slice(args);
        self.ktra(&all, env)
    }

    /// Sets a `KEY = VALUE` line in the `[mirror]` table of ktra.toml (made if missing).
    fn mirror_settings(&self, lines: &str) {
        let path = self.root.join("ktra.toml");
        let key = lines.split(" =").next().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| l.split(" =").next() != Some(key))
            .collect();
        let mut text = format!("{}\n", kept.join("\n"));
        if !text.contains("\n[mirror]\n") {
            text.push_str("\n[mirror]\n");
        }
        text = text.replace("\n[mirror]\n", &format!("\n[mirror]\n{lines}\n"));
        fs::write(&path, text).unwrap();
    }

    fn set_max_crate_size(&self, bytes: u64) {
        let path = self.root.join("ktra.toml");
        let text = fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("max-crate-size"))
            .collect();
        let text = format!("max-crate-size = {bytes}\n{}\n", kept.join("\n"));
        fs::write(&path, text).unwrap();
    }

    /// Files under `public/mirror/` other than its `config.json`.
    fn mirror_files(&self) -> Vec<String> {
        let dir = self.root.join("public/mirror");
        walk_files(&dir)
            .into_iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .filter(|p| p != "index/config.json")
            .collect()
    }

    fn mirror_index(&self, name: &str) -> String {
        let path = self
            .root
            .join("public/mirror/index")
            .join(Upstream::index_path(name));
        fs::read_to_string(path).unwrap_or_default()
    }

    fn upstream_cache(&self, name: &str) -> String {
        let path = self
            .root
            .join("state/mirror/upstream")
            .join(Upstream::index_path(name));
        fs::read_to_string(path).unwrap_or_default()
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ktra serve --mirror-upstream UP ARGS` on a free loopback port; killed on drop.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start(local: &Local, upstream: &str, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let port = free_port();
        let mut cmd = Command::new(ktra_bin());
        cmd.env_remove("KTRA_REGISTRY")
            .env_remove(TOKEN_VAR)
            .env("NO_COLOR", "1")
            .arg("-r")
            .arg(&local.root)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--mirror-upstream", upstream])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start ktra serve");
        let mut err = BufReader::new(child.stderr.take().expect("piped"));
        let mut line = String::new();
        err.read_line(&mut line).expect("read ktra serve output");
        let log = local.logs.join(format!("serve-{port}.log"));
        std::thread::spawn(move || {
            if let Ok(mut file) = fs::File::create(log) {
                let _ = std::io::copy(&mut err, &mut file);
            }
        });
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("ktra serve exited ({status}): {line}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ktra serve does not listen on {port}: {line}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Serve { child, port }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A second static server (a "CDN") on another port, serving the upstream's tree.
fn cdn(up: &Upstream) -> PyServer {
    let log = up.logs.join("cdn.log");
    PyServer::start_with_args(&up.root.join("public"), 0, &[], log)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn assert_error_mentions(out: &Outcome, words: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    for w in words {
        assert!(
            out.stderr.contains(w),
            "the error does not mention `{w}`:\n{}",
            out.describe()
        );
    }
}

#[test]
fn a_redirect_to_another_host_is_refused_until_allow_redirect_hosts_lists_it() {
    let mut up = Upstream::start();
    let cdn = cdn(&up);
    let target = format!("http://127.0.0.1:{}/crates/", cdn.port);
    up.restart_with(&args(&["--redirect", &format!("/crates/={target}")]));
    let local = Local::new();

    let out = local.sync(&up.sparse_url(), &["leaf@=1.1.0"], &[]);
    let host = format!("127.0.0.1:{}", cdn.port);
    assert_error_mentions(&out, &["allow-redirect-hosts", &host, "[mirror]"]);
    assert!(
        read_requests(&cdn.log).is_empty(),
        "the other host was asked: {:?}",
        read_requests(&cdn.log)
    );
    assert!(
        local.mirror_files().is_empty(),
        "{:?}",
        local.mirror_files()
    );
    // The pull-through refuses it the same way.
    let serve = Serve::start(&local, &up.sparse_url(), &[], &[]);
    let reply = request(serve.port, "GET", "/mirror/crates/leaf-1.1.0.crate", &[]);
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 502, "{body}");
    assert!(body.contains("allow-redirect-hosts"), "{body}");
    drop(serve);
    assert!(read_requests(&cdn.log).is_empty());

    // Listed: followed.
    local.mirror_settings(&format!("allow-redirect-hosts = [\"{host}\"]"));
    local
        .sync(&up.sparse_url(), &["leaf@=1.1.0"], &[])
        .success();
    assert!(
        read_requests(&cdn.log)
            .iter()
            .any(|r| r.path.ends_with("leaf-1.1.0.crate") && r.status == "200"),
        "{:?}",
        read_requests(&cdn.log)
    );
    assert_eq!(local.mirror_index("leaf"), up.lines_of("leaf", &["1.1.0"]));
}

#[test]
fn a_redirect_on_the_same_origin_is_followed() {
    let mut up = Upstream::start();
    up.restart_with(&args(&["--redirect", "/old-index/=/index/"]));
    let local = Local::new();
    let old = format!("sparse+{}/old-index/", up.url());
    local.sync(&old, &["chain-c"], &[]).success();
    assert_eq!(
        local.mirror_index("chain-c"),
        up.lines_of("chain-c", &["1.0.0"])
    );
    assert_eq!(local.mirror_index("leaf"), up.lines_of("leaf", &["1.1.0"]));
    assert!(up.requests().iter().any(|r| r.status == "302"));
}

#[test]
fn a_private_upstream_gets_the_token_and_no_other_host_does() {
    let mut up = Upstream::start();
    let cdn = cdn(&up);
    let cdn_host = format!("127.0.0.1:{}", cdn.port);
    let redirect = format!("/crates/=http://{cdn_host}/crates/");
    up.restart_with(&args(&["--token", TOKEN, "--redirect", &redirect]));
    let local = Local::new();
    local.mirror_settings(&format!("allow-redirect-hosts = [\"{cdn_host}\"]"));

    // No token: refused, with what to do.
    let out = local.sync(&up.sparse_url(), &["chain-c"], &[]);
    assert_error_mentions(&out, &["401", "--upstream-token-env"]);
    // A variable that is not set is named.
    let out = local.sync(
        &up.sparse_url(),
        &["chain-c", "--upstream-token-env", "KTRA_TEST_SURELY_UNSET"],
        &[],
    );
    assert_error_mentions(&out, &["KTRA_TEST_SURELY_UNSET"]);
    // A wrong token: refused, and not shown.
    let out = local.sync(
        &up.sparse_url(),
        &["chain-c", "--upstream-token-env", TOKEN_VAR],
        &[(TOKEN_VAR, "wrong-Token-d41d8c")],
    );
    assert_error_mentions(&out, &["401", "refused the token"]);
    assert!(
        !out.stderr.contains("wrong-Token-d41d8c"),
        "{}",
        out.describe()
    );
    assert!(local.mirror_files().is_empty());

    // The flag.
    let env = [(TOKEN_VAR, TOKEN)];
    let out = local.sync(
        &up.sparse_url(),
        &["chain-c", "--upstream-token-env", TOKEN_VAR],
        &env,
    );
    let out = out.success();
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));
    assert_eq!(
        local.mirror_index("chain-c"),
        up.lines_of("chain-c", &["1.0.0"])
    );
    assert_eq!(local.mirror_index("leaf"), up.lines_of("leaf", &["1.1.0"]));

    // The setting, with the pull-through too.
    local.mirror_settings(&format!("upstream-token-env = \"{TOKEN_VAR}\""));
    local.sync(&up.sparse_url(), &["xy"], &env).success();
    assert_eq!(local.mirror_index("xy"), up.lines_of("xy", &["1.0.0"]));
    let serve = Serve::start(&local, &up.sparse_url(), &[], &env);
    let index = request(serve.port, "GET", "/mirror/index/2/xy", &[]);
    assert_eq!(index.status, 200);
    assert_eq!(index.body, up.index_text("xy").as_bytes());
    let file = request(serve.port, "GET", "/mirror/crates/x-1.0.0.crate", &[]);
    assert_eq!(file.status, 200, "{}", String::from_utf8_lossy(&file.body));
    assert_eq!(file.body, up.crate_bytes("x", "1.0.0"));
    drop(serve);

    // Every request to the upstream carried the token; none to the other host did.
    let upstream_log = fs::read_to_string(up.logs.join("server-2.log")).unwrap();
    let cdn_log = fs::read_to_string(&cdn.log).unwrap();
    assert!(upstream_log.contains(" 200 ") && upstream_log.contains(" 302 "));
    for line in upstream_log
        .lines()
        .filter(|l| l.contains(" 200 ") || l.contains(" 302 "))
    {
        assert!(line.ends_with("auth=yes"), "{line}");
    }
    assert!(cdn_log.contains(".crate HTTP/1.1\" 200"), "{cdn_log}");
    for line in cdn_log.lines() {
        assert!(
            line.ends_with("auth=no"),
            "the other host saw a token: {line}"
        );
    }
    // The token is written nowhere.
    for path in walk_files(&local.root) {
        let bytes = fs::read(&path).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            path.display()
        );
    }
}

/// Appends `bytes` to a file of the upstream's tree.
fn append(root: &Path, rel: &str, bytes: &[u8]) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(root.join(rel))
        .unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn an_index_file_over_max_index_file_size_is_refused_while_it_streams() {
    // Blank lines: a valid index file, only too large.
    let mut up = Upstream::start_with(None, |root| {
        append(root, "public/index/le/af/leaf", &vec![b'\n'; 2 << 20]);
    });
    // No Content-Length: the size is only known by counting.
    up.restart_with(&args(&["--hide-length"]));
    let local = Local::new();
    local.mirror_settings("max-index-file-size = 1048576");
    let out = local.sync(&up.sparse_url(), &["leaf"], &[]);
    assert_error_mentions(&out, &["1048576", "max-index-file-size"]);
    assert!(local.mirror_files().is_empty());
    assert_eq!(local.upstream_cache("leaf"), "");
    // Under the limit, the same upstream is fine.
    local.mirror_settings("max-index-file-size = 4194304");
    local.sync(&up.sparse_url(), &["leaf"], &[]).success();
}

#[test]
fn the_pull_through_refuses_an_index_file_over_the_default_limit() {
    let up = Upstream::start_with(None, |root| {
        append(root, "public/index/le/af/leaf", &vec![b'\n'; 33 << 20]);
    });
    let local = Local::new();
    let serve = Serve::start(&local, &up.sparse_url(), &[], &[]);
    let reply = request(serve.port, "GET", "/mirror/index/le/af/leaf", &[]);
    assert_eq!(
        reply.status,
        502,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = String::from_utf8_lossy(&reply.body);
    assert!(body.contains("33554432"), "{body}");
    // Other crates are served as before.
    let reply = request(serve.port, "GET", "/mirror/index/2/xy", &[]);
    assert_eq!(reply.status, 200);
}

#[test]
fn a_config_json_over_64_kib_and_a_crate_over_max_crate_size_are_refused() {
    // After the start: `ktra set-url` rewrites config.json.
    let up = Upstream::start();
    let path = up.root.join("public/index/config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["padding"] = "x".repeat(70_000).into();
    fs::write(&path, config.to_string()).unwrap();
    let local = Local::new();
    let out = local.sync(&up.sparse_url(), &["leaf"], &[]);
    assert_error_mentions(&out, &["config.json", "65536"]);
    assert!(local.mirror_files().is_empty());

    let up = Upstream::start();
    let local = Local::new();
    local.set_max_crate_size(100);
    let out = local.sync(&up.sparse_url(), &["leaf@=1.1.0"], &[]);
    assert_error_mentions(&out, &["max-crate-size", "100 bytes", "leaf"]);
    assert!(
        local.mirror_files().is_empty(),
        "{:?}",
        local.mirror_files()
    );
}

/// Lines the upstream adds to leaf's index file, each breaking one rule.
fn bad_lines(up_root: &Path) -> String {
    let text = fs::read_to_string(up_root.join("public/index/le/af/leaf")).unwrap();
    let good: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        format!("{v}\n")
    };
    let mut out = String::new();
    out += &with(&|v| {
        v["vers"] = "3.0.0".into();
        v["deps"] = serde_json::json!([{"name": "../../evil", "req": "^1", "features": [],
            "optional": false, "default_features": true, "target": null, "kind": "normal"}]);
    });
    out += &with(&|v| {
        v["name"] = "evil".into();
        v["vers"] = "3.0.1".into();
    });
    out += &with(&|v| v["vers"] = "3.0".into());
    out += &with(&|v| {
        v["vers"] = "3.0.2".into();
        v["cksum"] = "00".into();
    });
    out += "not json\n";
    out
}

#[test]
fn bad_upstream_index_lines_are_dropped_with_a_warning_by_sync_and_pull_through() {
    let mut good = String::new();
    let up = Upstream::start_with(None, |root| {
        good = fs::read_to_string(root.join("public/index/le/af/leaf")).unwrap();
        let bad = bad_lines(root);
        append(root, "public/index/le/af/leaf", bad.as_bytes());
    });

    let local = Local::new();
    let out = local.sync(&up.sparse_url(), &["leaf"], &[]).success();
    assert_eq!(
        out.stderr.matches("dropped line").count(),
        5,
        "{}",
        out.describe()
    );
    let newest: String = good
        .split_inclusive('\n')
        .filter(|l| l.contains("\"vers\":\"2.0.0\""))
        .collect();
    assert_eq!(newest.lines().count(), 1, "{good}");
    assert_eq!(local.mirror_index("leaf"), newest);
    let cache = local.upstream_cache("leaf");
    assert!(cache.ends_with(&good), "{cache}");
    assert!(
        !cache.contains("evil") && !cache.contains("\"3.0"),
        "{cache}"
    );

    let local = Local::new();
    let serve = Serve::start(&local, &up.sparse_url(), &[], &[]);
    let reply = request(serve.port, "GET", "/mirror/index/le/af/leaf", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(String::from_utf8_lossy(&reply.body), good);
    let reply = request(serve.port, "GET", "/mirror/crates/leaf-3.0.0.crate", &[]);
    assert_eq!(reply.status, 404);
    let serve_log = local.logs.join(format!("serve-{}.log", serve.port));
    drop(serve);
    let start = Instant::now();
    let mut log = String::new();
    while !log.contains("warning: dropped line") && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        log = fs::read_to_string(&serve_log).unwrap_or_default();
    }
    assert_eq!(log.matches("warning: dropped line").count(), 5, "{log}");
}

#[test]
fn pull_through_errors_show_no_server_paths_or_upstream_credentials() {
    let mut up = Upstream::start();
    let local = Local::new();
    let with_credentials = format!("sparse+http://someone:hunter2@127.0.0.1:{}/index/", up.port);
    let serve = Serve::start(&local, &with_credentials, &[], &[]);
    // The upstream copies cannot be stored: a file stands where their folder goes.
    let upstream_dir = local.root.join("state/mirror/upstream");
    fs::create_dir_all(upstream_dir.parent().unwrap()).unwrap();
    fs::write(&upstream_dir, b"in the way").unwrap();
    let reply = request(serve.port, "GET", "/mirror/index/2/xy", &[]);
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 502, "{body}");
    let root = local.root.display().to_string();
    assert!(
        !body.contains(&root),
        "a server path in the response: {body}"
    );
    assert!(body.contains("<registry>"), "{body}");

    // An upstream that refuses the request: the message names the URL, less its credentials.
    fs::remove_file(&upstream_dir).unwrap();
    up.restart_with(&args(&["--token", TOKEN]));
    let reply = request(serve.port, "GET", "/mirror/index/2/xy", &[]);
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 502, "{body}");
    assert!(body.contains("401"), "{body}");
    let shown = format!("`http://127.0.0.1:{}/index/2/xy`", up.port);
    assert!(body.contains(&shown), "{body}");
    assert!(
        !body.contains("hunter2"),
        "credentials in the response: {body}"
    );
}

/// An upstream copy stored by an earlier ktra (format 1, whose lines were never checked) is
/// not served as it is: the pull-through fetches the file again.
#[test]
fn an_upstream_copy_from_before_the_line_checks_is_fetched_again() {
    let up = Upstream::start();
    let local = Local::new();
    let cache = local
        .root
        .join("state/mirror/upstream")
        .join(Upstream::index_path("xy"));
    fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let old = format!(
        "ktra-upstream-index 1 none\n{}{}",
        up.index_text("xy"),
        r#"{"name":"xy","vers":"9.0.0","deps":[{"name":"../../evil","req":"1"}],"cksum":"00","features":{}}"#
    );
    fs::write(&cache, old).unwrap();
    let serve = Serve::start(&local, &up.sparse_url(), &[], &[]);
    let reply = request(serve.port, "GET", "/mirror/index/2/xy", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(String::from_utf8_lossy(&reply.body), up.index_text("xy"));
}
