//! The state benchmark's harness (`scripts/bench-state.sh`, issue 13 item 9), not the benchmark
//! (no timing is asserted here): its servers run durable, unlike the test servers, and leave
//! nothing behind; and it reads the one line `ktra state check --samples N` prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/bench")
        .join(name)
}

fn python(script_name: &str, arg: &str, stdin: &str) -> Output {
    let mut child = Command::new("python3")
        .arg(script(script_name))
        .arg(arg)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for python3")
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// PostgreSQL with fsync, synchronous_commit and full_page_writes on, MariaDB flushing its log
/// at every commit, Redis with an append-only file (the test servers run with none of these);
/// every server process gone and its folder removed once stopped.
#[test]
fn bench_state_servers_run_durable_and_stop() {
    let out = python("state_servers.py", "--self-check", "");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
        assert_eq!(v["postgres"][setting], "on", "PostgreSQL {setting}: {v}");
    }
    assert_eq!(v["mariadb"]["innodb_flush_log_at_trx_commit"], "1", "{v}");
    assert_eq!(v["redis"]["appendonly"], "yes", "{v}");
    assert_eq!(v["redis"]["appendfsync"], "everysec", "{v}");
    let stopped = v["stopped"].as_object().expect("the servers stopped");
    assert_eq!(stopped.len(), 4, "{v}");
    for (name, s) in stopped {
        assert_eq!(s["process_gone"], true, "{name} still runs: {v}");
        assert_eq!(s["dir_removed"], true, "{name} left its folder: {v}");
    }
}

/// The line of `ktra state check --samples N` (after anything else on stdout), figures in
/// milliseconds; anything else is no figure at all.
#[test]
fn bench_state_reads_the_state_check_line() {
    let line = "token lookup: p50 0.071 ms, p99 0.190 ms, max 1.234 ms (10000 samples) on \
                the PostgreSQL state at postgres://ktra:***@127.0.0.1:5432/ktra";
    let out = python(
        "state_run.py",
        "--parse-line",
        &format!("checked\n{line}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["p50_ms"], 0.071);
    assert_eq!(v["p99_ms"], 0.19);
    assert_eq!(v["max_ms"], 1.234);
    assert_eq!(v["samples"], 10000);
    assert_eq!(
        v["on"],
        "the PostgreSQL state at postgres://ktra:***@127.0.0.1:5432/ktra"
    );
    for other in [
        "token lookup: p50 71 µs, p99 190 µs, max 1234 µs (10000 samples) on the state folder",
        "token lookup: p50 0.071 ms, p99 0.190 ms (10000 samples) on the state folder",
        "token lookup: p50 0.071 ms, p99 0.190 ms, max 1.234 s (10000 samples) on the state folder",
        "error: no such command: `state`",
    ] {
        let out = python("state_run.py", "--parse-line", other);
        assert!(!out.status.success(), "read figures from `{other}`");
    }
}
