//! `ktra state migrate|check|copy` through the real binary against real servers (issue 13):
//! a registry's records carried from its state folder through PostgreSQL, Redis, MongoDB
//! (nx-27017) and MariaDB into another folder unchanged, an idempotent second copy, a copy
//! over a conflicting record, a dry run, wrong passwords, migrations, the latency line, and a
//! server switched to the copied state by `KTRA_STATE_URL` accepting an old token.

use crate::api::publish_body;
use crate::cli::Reg;
use crate::serve::{Serve, request_with_body};
use crate::support::dbservers::{MariaDb, Mongo, Postgres, Redis};
use crate::support::{Outcome, ktra_bin, run};
use ktra::package::testing::simple;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// `ktra -r ROOT ARGS` with these variables (and no `KTRA_STATE_URL` of the caller's).
fn ktra_env(reg: &Reg, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    let mut cmd = Command::new(ktra_bin());
    cmd.env_remove("KTRA_REGISTRY")
        .env_remove("KTRA_STATE_URL")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .arg("-r")
        .arg(&reg.root)
        .args(args);
    run(cmd, &reg.root.parent().unwrap().join("logs"))
}

/// `ktra state copy --from FROM --to TO [EXTRA]` (run from registry `reg`'s folder).
fn copy(reg: &Reg, from: &str, to: &str, extra: &[&str]) -> Outcome {
    let mut args = vec!["state", "copy", "--from", from, "--to", to];
    args.extend_from_slice(extra);
    ktra_env(reg, &[], &args)
}

/// The record files of a registry's state folder, by key.
fn records_of(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let state = root.join("state");
    let mut out = BTreeMap::new();
    for folder in ["owners", "tokens", "user-ids", "users"] {
        for entry in walkdir::WalkDir::new(state.join(folder)) {
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_file() {
                let key = entry.path().strip_prefix(&state).unwrap();
                out.insert(key.display().to_string(), fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

fn audit_of(root: &Path) -> Vec<String> {
    fs::read_to_string(root.join("state/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The figures a copy prints: `(records count, sha256, audit count, sha256)`, after checking
/// that the source's and the destination's are the same.
fn figures(out: &Outcome) -> (usize, String, usize, String) {
    let mut found = Vec::new();
    for what in ["records", "audit events"] {
        let line = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{what}: source ")))
            .unwrap_or_else(|| panic!("no `{what}` figures:\n{}", out.describe()));
        let (source, destination) = line.split_once(", destination ").unwrap();
        assert_eq!(source, destination, "{what}:\n{}", out.describe());
        let (count, sha) = source.split_once(" sha256 ").unwrap();
        assert_eq!(sha.len(), 64, "{line}");
        found.push((count.parse::<usize>().unwrap(), sha.to_owned()));
    }
    let [(r, rs), (a, as_)] = <[_; 2]>::try_from(found).unwrap();
    (r, rs, a, as_)
}

/// What the CLI says about a registry's records: users, tokens, and the owners of the two
/// crates when the registry has them.
fn listings(reg: &Reg, env: &[(&str, &str)], crates: bool) -> Vec<String> {
    let mut commands = vec![vec!["user", "list"], vec!["token", "list"]];
    if crates {
        commands.extend([
            vec!["owner", "list", "alpha"],
            vec!["owner", "list", "beta"],
        ]);
    }
    commands
        .iter()
        .map(|args| ktra_env(reg, env, args).success().stdout)
        .collect()
}

#[test]
fn state_copy_moves_everything_through_every_backend_and_back() {
    // Started side by side; a server that fails to start panics with its log.
    let (pg, redis, mongo, maria) = std::thread::scope(|s| {
        let pg = s.spawn(Postgres::start);
        let redis = s.spawn(Redis::start);
        let mongo = s.spawn(Mongo::start);
        let maria = s.spawn(MariaDb::start);
        (
            pg.join().unwrap(),
            redis.join().unwrap(),
            mongo.join().unwrap(),
            maria.join().unwrap(),
        )
    });
    let a = Reg::new(false);
    a.ktra(&["user", "add", "alice", "--name", "Alice A."])
        .success();
    a.ktra(&["user", "add", "bob"]).success();
    let token = |args: &[&str]| {
        let mut all = vec!["token", "create"];
        all.extend_from_slice(args);
        a.ktra(&all).success().stdout.trim().to_owned()
    };
    let alice = token(&["alice", "--name", "ci"]);
    token(&["alice", "--name", "alpha-only", "--crate", "alpha*"]);
    let bob = token(&["bob", "--expires-in", "30d", "--scope", "publish-update"]);
    for name in ["alpha", "beta"] {
        a.ktra(&["add", &a.krate(name, "1.0.0", "")]).success();
    }
    a.ktra(&["owner", "add", "alpha", "alice"]).success();
    a.ktra(&["owner", "add", "beta", "bob"]).success();
    a.ktra(&["owner", "add", "beta", "alice"]).success();
    let records = records_of(&a.root);
    assert_eq!(records.len(), 7, "{:?}", records.keys());
    // A log of several pages (500 events a page where the backend pages), with a line twice.
    let mut padding = String::new();
    for n in 0..1100 {
        padding.push_str(&format!(
            "{{\"time\":\"2026-12-06T04:00:00Z\",\"event\":\"padding\",\"n\":{n}}}\n"
        ));
    }
    padding.push_str("{\"event\":\"twice\"}\n{\"event\":\"twice\"}\n");
    let log = a.root.join("state/audit.jsonl");
    let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut file, padding.as_bytes()).unwrap();
    drop(file);
    let audit = audit_of(&a.root);
    assert_eq!(audit.len(), 8 + 1102, "{audit:?}");
    let listed = listings(&a, &[], true);

    // Folder -> PostgreSQL -> Redis -> MongoDB -> MariaDB -> a fresh folder.
    let b = Reg::new(false);
    let (a_dir, b_dir) = (a.root.display().to_string(), b.root.display().to_string());
    let chain = [
        a_dir.clone(),
        pg.url(),
        redis.url(),
        mongo.url(),
        maria.url(),
        b_dir,
    ];
    let mut seen = None;
    for hop in chain.windows(2) {
        let out = copy(&a, &hop[0], &hop[1], &[]).success();
        assert!(
            out.stderr.contains("Copied 7 record(s) (7 new"),
            "{}",
            out.describe()
        );
        for secret in [pg.password(), maria.password()] {
            assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
        }
        let (count, sha, events, audit_sha) = figures(&out);
        assert_eq!((count, events), (7, audit.len()), "{}", out.describe());
        // The same records and events at every hop.
        let now = (sha, audit_sha);
        assert_eq!(seen.get_or_insert_with(|| now.clone()), &now, "{hop:?}");
    }
    assert_eq!(
        records_of(&b.root),
        records,
        "the records came back unchanged"
    );
    assert_eq!(
        audit_of(&b.root),
        audit,
        "the audit log came back unchanged"
    );
    assert_eq!(listings(&b, &[], false), listed[..2]);

    // Again: nothing to copy, and the check still passes.
    let again = copy(&a, &a_dir, &pg.url(), &[]).success();
    assert!(
        again.stderr.contains("nothing to copy"),
        "{}",
        again.describe()
    );
    assert_eq!(figures(&again).0, 7);

    // A registry switched to the copied state by KTRA_STATE_URL: tokens made before the copy
    // work (alice owns alpha), the owners came along (bob does not), the folder is not used.
    let pg_url = pg.url();
    let env = [("KTRA_STATE_URL", pg_url.as_str())];
    assert_eq!(listings(&a, &env, true), listed);
    let server = Serve::start_with_env(&a.root, &env);
    let publish = |token: &str, name: &str, vers: &str| {
        let body = publish_body(name, vers, &simple(name, vers, ""));
        let headers = [("Authorization", token)];
        request_with_body(server.port, "PUT", "/api/v1/crates/new", &headers, &body)
    };
    let ok = publish(&alice, "alpha", "1.0.1");
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let refused = publish(&bob, "alpha", "1.0.2");
    assert_eq!(
        refused.status,
        403,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    drop(server);
    assert_eq!(records_of(&a.root), records);
    assert_eq!(
        audit_of(&a.root),
        audit,
        "the server wrote its events to PostgreSQL"
    );
    // The publish's event is there: a dry run back into the folder would append it, and
    // writes nothing.
    let dry = copy(&a, &pg_url, &a_dir, &["--dry-run"]).success();
    assert!(
        dry.stdout.contains("would append 1 audit event(s)")
            && !dry.stdout.contains("would create"),
        "{}",
        dry.describe()
    );
    assert_eq!(audit_of(&a.root), audit);

    // A destination that cannot hold an event as it is (MongoDB keeps an event as text, and
    // this one is not UTF-8): the check finds it and the copy fails.
    let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut file, b"{\"event\":\"bad \xff\"}\n").unwrap();
    drop(file);
    let bad = copy(&a, &a_dir, &mongo.url(), &[]).failure();
    assert!(
        bad.stderr
            .contains("error: the copy does not match the source (the state folder")
            && bad.stderr.contains(&format!(
                "audit events: the source has {} (sha256 ",
                audit.len() + 1
            ))
            && bad.stdout.contains("records: source 7 sha256"),
        "{}",
        bad.describe()
    );
}

#[test]
fn state_copy_overwrites_a_conflicting_record_and_leaves_the_others_alone() {
    let redis = Redis::start();
    let a = Reg::new(false);
    a.ktra(&["user", "add", "alice", "--name", "Alice A."])
        .success();
    a.ktra(&["token", "create", "alice"]).success();
    // The destination already holds another `alice` and a user of its own.
    let c = Reg::new(false);
    let url = redis.url();
    let env = [("KTRA_STATE_URL", url.as_str())];
    ktra_env(&c, &env, &["state", "migrate"]).success();
    ktra_env(&c, &env, &["user", "add", "alice", "--name", "Other"]).success();
    ktra_env(&c, &env, &["user", "add", "zed"]).success();
    let users = || ktra_env(&c, &env, &["user", "list"]).success().stdout;
    let before = users();
    assert!(
        before.contains("Other") && before.contains("zed"),
        "{before}"
    );

    let a_dir = a.root.display().to_string();
    let dry = copy(&a, &a_dir, &url, &["--dry-run"]).success();
    assert!(
        dry.stdout.contains("would overwrite users/alice.json")
            && dry.stdout.contains("would create tokens/")
            && dry.stdout.contains("would append "),
        "{}",
        dry.describe()
    );
    assert!(dry.stderr.contains("users/zed.json"), "{}", dry.describe());
    assert_eq!(users(), before, "a dry run writes nothing");

    let out = copy(&a, &a_dir, &url, &[]).success();
    assert!(
        out.stderr
            .contains("(1 new, 1 overwritten, 0 already there)"),
        "{}",
        out.describe()
    );
    // Its own user, and the ids its users reserved (a shared store's), are left alone.
    assert!(
        out.stderr
            .contains("warning: 3 record(s) in the Redis state")
            && out
                .stderr
                .contains("user-ids/1.json, user-ids/2.json, users/zed.json"),
        "the destination's own records are reported:\n{}",
        out.describe()
    );
    assert_eq!(figures(&out).0, 2);
    let after = users();
    assert!(
        after.contains("Alice A.") && !after.contains("Other"),
        "{after}"
    );
    assert!(after.contains("zed"), "left alone: {after}");
    assert!(
        copy(&a, &a_dir, &url, &[])
            .success()
            .stderr
            .contains("nothing to copy")
    );

    // A store with no schema yet: a dry run takes it for empty and leaves it so.
    let fresh = format!("{}3", redis.url());
    let dry = copy(&a, &a_dir, &fresh, &["--dry-run"]).success();
    assert!(
        dry.stderr.contains("no ktra schema yet")
            && dry.stdout.contains("would create users/alice.json"),
        "{}",
        dry.describe()
    );
    let check = ktra_env(&a, &[], &["state", "check", "--url", &fresh]).failure();
    assert!(
        check.stderr.contains("no ktra schema yet"),
        "{}",
        check.describe()
    );
}

/// `token lookup: p50 0.071 ms, p99 0.190 ms, max 1.234 ms (N samples) on WHERE`: the three
/// figures, after checking the shape.
fn latency_line(stdout: &str, samples: usize, on: &str) -> [f64; 3] {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {stdout:?}");
    let rest = lines[0].strip_prefix("token lookup: ").expect(lines[0]);
    let (figures, tail) = rest.split_once(" (").expect(lines[0]);
    assert_eq!(tail, format!("{samples} samples) on {on}"), "{}", lines[0]);
    let mut out = [0.0; 3];
    for (i, (part, name)) in figures.split(", ").zip(["p50", "p99", "max"]).enumerate() {
        let value = part
            .strip_prefix(&format!("{name} "))
            .and_then(|v| v.strip_suffix(" ms"))
            .expect(lines[0]);
        let (whole, decimals) = value.split_once('.').expect(lines[0]);
        assert!(!whole.is_empty() && decimals.len() == 3, "{}", lines[0]);
        out[i] = value.parse().expect(lines[0]);
    }
    assert!(out[0] <= out[1] && out[1] <= out[2], "{}", lines[0]);
    out
}

#[test]
fn state_migrate_and_check_name_the_backend_and_never_the_password() {
    let pg = Postgres::start();
    let a = Reg::new(false);
    let url = pg.url();
    let port = pg.server.port();
    let shown = format!("the PostgreSQL state at postgres://***@127.0.0.1:{port}/ktra");

    let first = ktra_env(&a, &[], &["state", "migrate", "--url", &url]).success();
    assert!(
        first
            .stderr
            .contains(&format!("Migrated {shown} from schema 0 to 1")),
        "{}",
        first.describe()
    );
    let env = [("KTRA_STATE_URL", url.as_str())];
    let again = ktra_env(&a, &env, &["state", "migrate"]).success();
    assert!(
        again
            .stderr
            .contains(&format!("{shown} is at schema 1, nothing to do")),
        "{}",
        again.describe()
    );
    let checked = ktra_env(&a, &env, &["state", "check", "--samples", "200"]).success();
    latency_line(&checked.stdout, 200, &shown);
    assert_eq!(
        ktra_env(&a, &env, &["token", "list"]).success().stdout,
        "",
        "the throwaway token record is gone"
    );
    for out in [&first, &again, &checked] {
        assert!(!out.stderr.contains(pg.password()) && !out.stdout.contains(pg.password()));
    }

    // The state folder: always at its one schema; timed too, and left as it was.
    let folder = ktra_env(&a, &[], &["state", "migrate"]).success();
    assert!(
        folder.stderr.contains("is at schema 1, nothing to do"),
        "{}",
        folder.describe()
    );
    let before = records_of(&a.root);
    let timed = ktra_env(&a, &[], &["state", "check", "--samples", "5"]).success();
    let on = format!("the state folder `{}/`", a.root.join("state").display());
    latency_line(&timed.stdout, 5, &on);
    assert_eq!(records_of(&a.root), before);

    // A wrong password, as the destination, the source, or to migrate.
    let wrong = format!("postgres://ktra:Wr0ngPassw0rd@127.0.0.1:{port}/ktra");
    let a_dir = a.root.display().to_string();
    for args in [
        vec!["state", "copy", "--from", &a_dir, "--to", &wrong],
        vec!["state", "copy", "--from", &wrong, "--to", &a_dir],
        vec!["state", "migrate", "--url", &wrong],
        vec!["state", "check", "--url", &wrong],
    ] {
        let out = ktra_env(&a, &[], &args).failure();
        assert!(
            out.stderr.contains("error: failed to")
                && out.stderr.contains("PostgreSQL state at postgres://***@")
                && out.stderr.contains("password authentication failed"),
            "{}",
            out.describe()
        );
        assert!(!out.stderr.contains("Wr0ngPassw0rd"), "{}", out.describe());
    }

    // A schema from a newer ktra is refused, by migrate and by check.
    let marked = Command::new(pg.psql())
        .arg(&url)
        .args(["-v", "ON_ERROR_STOP=1", "-c"])
        .arg("INSERT INTO ktra_schema (version, name) VALUES (99, 'future')")
        .output()
        .unwrap();
    assert!(marked.status.success(), "{marked:?}");
    for args in [["state", "migrate"], ["state", "check"]] {
        let out = ktra_env(&a, &env, &args).failure();
        assert!(
            out.stderr
                .contains("schema version 99, newer than this ktra's (1)"),
            "{}",
            out.describe()
        );
    }
}
