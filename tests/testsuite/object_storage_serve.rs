//! `ktra serve` on a registry in object storage (issue 12, item 5), against a real S3 server
//! (moto): the real cargo publishes, yanks, changes owners and searches through it; a private
//! (`auth-required`) registry is read through it with a token (401 without, 304 on a matching
//! ETag); CLI writers and two servers publishing at once on one bucket lose nothing, and the
//! private records many receivers share (owners, tokens) lose no update.

use crate::api::publish_body;
use crate::object_storage::{BucketRegistry, index_path};
use crate::serve::{Serve, request, request_with_body, settle};
use crate::support::{
    CONSUMER_STDOUT, EXAMPLES_IN_ORDER, Outcome, Protocol, Registry, registry_env_var, run,
};
use ktra::package::testing::simple;
use std::path::Path;
use std::process::Command;

/// `ktra serve` on the bucket registry, with the test server's AWS variables.
fn serve(reg: &BucketRegistry) -> Serve {
    let env = reg.s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Serve::start_with_env(&reg.dir, &env)
}

fn token(local: &Registry, reg: &BucketRegistry, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    reg.run(local, &all).success().stdout.trim().to_owned()
}

/// Lets the test read and list the state bucket anonymously, to look at the records the
/// servers wrote. A real state bucket has no such policy: it is never publicly readable.
fn inspect_state(reg: &BucketRegistry) {
    let bucket = format!("{}-state", reg.bucket);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}},{{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
    );
    let headers = [("Content-Type", "application/json")];
    let r = reg.s3.request(
        "PUT",
        &format!("/{bucket}?policy"),
        &headers,
        policy.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// An object of the state bucket (see [`inspect_state`]).
fn state_object(reg: &BucketRegistry, key: &str) -> Option<String> {
    let r = reg.s3.get(&format!("/{}-state/{key}", reg.bucket));
    (r.status == 200).then(|| String::from_utf8_lossy(&r.body).into_owned())
}

fn state_keys(reg: &BucketRegistry, prefix: &str) -> Vec<String> {
    let r = reg.s3.get(&format!(
        "/{}-state?list-type=2&prefix={prefix}",
        reg.bucket
    ));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let text = String::from_utf8_lossy(&r.body).into_owned();
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

/// The JSON lines of a crate's index file in the bucket.
fn index_lines(reg: &BucketRegistry, name: &str) -> Vec<serde_json::Value> {
    let (status, _, body) = reg.get(&format!("index/{}", index_path(name)));
    assert_eq!(status, 200, "the index file of {name}");
    String::from_utf8(body)
        .expect("utf-8 index")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn yanked(reg: &BucketRegistry, name: &str, vers: &str) -> bool {
    index_lines(reg, name)
        .iter()
        .find(|e| e["vers"] == vers)
        .unwrap_or_else(|| panic!("{name}@{vers} is not in the index"))["yanked"]
        .as_bool()
        .expect("`yanked` is a bool")
}

/// cargo with the `demo` registry at `index`, its own home and target (no stored token leaks
/// into other tests), and `token` (or none).
fn cargo(local: &Registry, index: &str, dir: &Path, args: &[&str], token: Option<&str>) -> Outcome {
    let mut cmd = local.cargo_command();
    cmd.current_dir(dir)
        .env(registry_env_var(), index)
        .env("CARGO_TARGET_DIR", local.base().join("publish-target"))
        .env("CARGO_HOME", local.base().join("publish-cargo-home"))
        .env("CARGO_REGISTRIES_DEMO_CREDENTIAL_PROVIDER", "cargo:token")
        .args(args);
    match token {
        Some(t) => cmd.env("CARGO_REGISTRIES_DEMO_TOKEN", t),
        None => cmd.env_remove("CARGO_REGISTRIES_DEMO_TOKEN"),
    };
    run(cmd, &local.logs)
}

fn publish(local: &Registry, index: &str, example: &str, token: &str) -> Outcome {
    let args = [
        "publish",
        "--registry",
        "demo",
        "--allow-dirty",
        "--no-verify",
    ];
    cargo(local, index, &local.example(example), &args, Some(token))
}

/// The real cargo publishes into a bucket registry through `ktra serve`, yanks and undoes,
/// changes owners and searches; the consumer then builds through the same server, which reads
/// every file from the bucket.
#[test]
fn cargo_publishes_and_yanks_through_ktra_serve_into_a_bucket() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "served-registry");
    inspect_state(&reg);
    let server = serve(&reg);
    let url = server.url();
    reg.run(&local, &["set-url", &url, "--api", &url]).success();
    settle();
    reg.run(&local, &["user", "add", "alice"]).success();
    reg.run(&local, &["user", "add", "bob"]).success();
    let alice = token(&local, &reg, &["alice"]);
    let bob = token(&local, &reg, &["bob"]);
    let owners_token = token(&local, &reg, &["alice", "--scope", "change-owners"]);
    let index = format!("sparse+{url}/index/");

    for example in ["demo-base", "demo-base-1.1", "demo-sys"] {
        publish(&local, &index, example, &alice).success();
    }
    assert_eq!(index_lines(&reg, "demo-base").len(), 2);
    let (status, _, body) = reg.get("crates/demo-sys-0.1.0.crate");
    assert_eq!(status, 200, "the published crate file is in the bucket");
    assert!(body.starts_with(&[0x1f, 0x8b]));
    assert_eq!(
        state_object(&reg, "owners/demo-base.json").map(|t| t.contains("alice")),
        Some(true),
        "the first publisher owns the crate, recorded in the state bucket"
    );
    // A version that is there already, and a crate of another owner, are refused.
    let out = publish(&local, &index, "demo-sys", &alice).failure();
    assert!(out.stderr.contains("already exists"), "{}", out.describe());
    let body = publish_body("demo-sys", "0.2.0", &simple("demo-sys", "0.2.0", ""));
    let refused = request_with_body(
        server.port,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &bob)],
        &body,
    );
    assert_eq!(refused.status, 403);
    assert!(
        String::from_utf8_lossy(&refused.body).contains("`bob` is not an owner"),
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(index_lines(&reg, "demo-sys").len(), 1);

    // Yank and undo.
    let base = local.example("demo-base");
    let yank = |args: &[&str], token: &str| {
        let mut all = vec!["yank", "--registry", "demo"];
        all.extend_from_slice(args);
        cargo(&local, &index, &base, &all, Some(token))
    };
    yank(&["demo-base@1.1.0"], &alice).success();
    assert!(yanked(&reg, "demo-base", "1.1.0"));
    let out = yank(&["demo-base@1.1.0"], &bob).failure();
    assert!(
        out.stderr.contains("`bob` is not an owner"),
        "{}",
        out.describe()
    );
    yank(&["--undo", "demo-base@1.1.0"], &alice).success();
    assert!(!yanked(&reg, "demo-base", "1.1.0"));

    // Owners.
    let owner = |args: &[&str], token: &str| {
        let mut all = vec!["owner", "--registry", "demo"];
        all.extend_from_slice(args);
        cargo(&local, &index, &base, &all, Some(token))
    };
    owner(&["--add", "bob", "demo-base"], &owners_token).success();
    let listed = owner(&["--list", "demo-base"], &alice).success();
    assert!(
        listed.stdout.contains("alice") && listed.stdout.contains("bob"),
        "{}",
        listed.describe()
    );
    owner(&["--remove", "bob", "demo-base"], &owners_token).success();
    let listed = owner(&["--list", "demo-base"], &alice).success();
    assert!(!listed.stdout.contains("bob"), "{}", listed.describe());

    // Search.
    let found = cargo(
        &local,
        &index,
        &base,
        &["search", "--registry", "demo", "demo"],
        None,
    )
    .success();
    assert!(
        found.stdout.contains("demo-base = \"1.1.0\"") && found.stdout.contains("demo-sys"),
        "{}",
        found.describe()
    );

    // The audit log: one object per event in the state bucket.
    let events: Vec<String> = state_keys(&reg, "audit/")
        .iter()
        .filter_map(|k| state_object(&reg, k))
        .collect();
    for event in ["\"publish\"", "\"yank\"", "\"unyank\"", "\"owner-added\""] {
        assert!(
            events.iter().any(|e| e.contains(event)),
            "no {event} event in {events:?}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&reg.dir)
            .expect("read the settings folder")
            .count(),
        1,
        "the settings folder holds only ktra.toml"
    );

    // The rest by the command line; then the consumer builds through `ktra serve`.
    for example in &EXAMPLES_IN_ORDER[3..] {
        let path = local.example(example);
        reg.run(&local, &["add", path.to_str().expect("utf-8 path")])
            .success();
    }
    reg.run(&local, &["yank", "demo-base@1.1.0"]).success();
    let consumer = local.run_consumer_at(&index, "through-serve");
    assert_eq!(consumer.outcome.stdout, CONSUMER_STDOUT);
    reg.run(&local, &["verify"]).success();
}

/// A private registry in a bucket, read through `ktra serve`: 401 (with cargo's challenge)
/// without a token, 304 on a matching ETag, and the real cargo publishes into it and builds
/// from it with a `read` token, and fails cleanly without one.
#[test]
fn a_private_bucket_registry_is_read_through_ktra_serve_with_a_token() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::with_init_args(&local, "private-registry", &["--auth-required"]);
    let server = serve(&reg);
    let url = server.url();
    reg.run(&local, &["set-url", &url, "--api", &url]).success();
    settle();
    reg.run(&local, &["user", "add", "alice"]).success();
    let alice = token(&local, &reg, &["alice"]);
    let publish_only = token(&local, &reg, &["alice", "--scope", "publish-new"]);
    let index = format!("sparse+{url}/index/");
    for example in ["demo-base", "demo-base-1.1"] {
        publish(&local, &index, example, &alice).success();
    }
    for example in &EXAMPLES_IN_ORDER[2..] {
        let path = local.example(example);
        reg.run(&local, &["add", path.to_str().expect("utf-8 path")])
            .success();
    }
    reg.run(&local, &["yank", "demo-base@1.1.0"]).success();

    let anonymous = request(server.port, "GET", "/index/config.json", &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(format!("Cargo login_url=\"{url}/me\"").as_str())
    );
    let crate_file = request(server.port, "GET", "/crates/demo-base-1.0.0.crate", &[]);
    assert_eq!(crate_file.status, 401);
    let wrong_scope = request(
        server.port,
        "GET",
        "/index/config.json",
        &[("Authorization", &publish_only)],
    );
    assert_eq!(wrong_scope.status, 403);

    // With a token: the bucket's object, its ETag, and 304 when the client has it.
    let auth = ("Authorization", alice.as_str());
    let file = request(server.port, "GET", "/index/de/mo/demo-base", &[auth]);
    assert_eq!(file.status, 200);
    let (_, _, in_bucket) = reg.get("index/de/mo/demo-base");
    assert_eq!(file.body, in_bucket, "served bytes are the bucket's");
    assert_eq!(
        file.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let etag = file.header("etag").expect("an ETag").to_owned();
    let again = request(
        server.port,
        "GET",
        "/index/de/mo/demo-base",
        &[auth, ("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let stale = request(
        server.port,
        "GET",
        "/index/de/mo/demo-base",
        &[auth, ("If-None-Match", "\"not-the-tag\"")],
    );
    assert_eq!(stale.status, 200);
    let head = request(
        server.port,
        "HEAD",
        "/crates/demo-base-1.0.0.crate",
        &[auth],
    );
    assert_eq!(head.status, 200);
    assert!(
        head.header("cache-control")
            .is_some_and(|c| c.contains("immutable"))
    );
    let missing = request(server.port, "GET", "/index/no/ne/nonexistent", &[auth]);
    assert_eq!(missing.status, 404);
    let escape = request(server.port, "GET", "/../ktra.toml", &[auth]);
    assert_eq!(escape.status, 404);

    crate::e2e_cargo::check_token_build_with(&local, &index, "private-bucket", &|login| {
        reg.run(&local, &["user", "add", login]).success();
        token(&local, &reg, &[login, "--scope", "read"])
    });
    reg.run(&local, &["verify"]).success();
}

/// At least eight writers at once on one bucket: four `ktra add` processes and four
/// publishers, two through each of two `ktra serve` processes, on versions of one shared crate
/// and on crates of their own; then two users race to publish one new crate (exactly one owns
/// it), and owners are added through both servers at once (none is lost). Afterwards every
/// version is present exactly once and `ktra verify` passes.
#[test]
fn cli_writers_and_two_servers_on_one_bucket_lose_nothing() {
    let local = Registry::new(Protocol::Sparse);
    let reg = BucketRegistry::new(&local, "many-writers");
    inspect_state(&reg);
    let servers = [serve(&reg), serve(&reg)];
    let ports = [servers[0].port, servers[1].port];
    let users = ["pub-a", "pub-b", "pub-c", "pub-d", "pub-e", "pub-f"];
    // Users added at once by several processes: each gets an id of its own.
    std::thread::scope(|s| {
        for user in users {
            let (reg, local) = (&reg, &local);
            s.spawn(move || reg.run(local, &["user", "add", user]).success());
        }
    });
    let mut ids: Vec<u64> = users
        .iter()
        .map(|u| {
            let record = state_object(&reg, &format!("users/{u}.json")).expect("a user record");
            let record: serde_json::Value = serde_json::from_str(&record).expect("JSON");
            record["id"].as_u64().expect("an id")
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), users.len(), "users share ids: {ids:?}");
    // Tokens created at once by several processes: each is recorded and works.
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = users
            .iter()
            .map(|u| s.spawn(|| token(&local, &reg, &[u])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(state_keys(&reg, "tokens/").len(), users.len());

    const VERSIONS: [&str; 5] = ["1", "2", "3", "4", "5"];
    let files = local.base().join("writer-crates");
    std::fs::create_dir_all(&files).expect("create a folder");
    // (writer, crate, version): CLI writers 0..4, publishers 4..8; each adds five versions of
    // `shared-crate` (minor = writer) and five of a crate of its own.
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut jobs: Vec<Vec<(String, String)>> = Vec::new();
    for w in 0..8 {
        let mut job = Vec::new();
        for patch in VERSIONS {
            job.push(("shared-crate".to_owned(), format!("1.{w}.{patch}")));
            job.push((format!("own-{w}"), format!("0.1.{patch}")));
        }
        expected.extend(job.iter().cloned());
        jobs.push(job);
    }
    // The shared crate exists before the race, owned by every publisher.
    let first = files.join("shared-crate-0.0.1.crate");
    std::fs::write(&first, simple("shared-crate", "0.0.1", "")).expect("write");
    reg.run(&local, &["add", first.to_str().expect("utf-8")])
        .success();
    for user in &users[..4] {
        reg.run(&local, &["owner", "add", "shared-crate", user])
            .success();
    }

    let failures: Vec<String> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (w, job) in jobs.iter().enumerate() {
            let (reg, files, tokens) = (&reg, &files, &tokens);
            handles.push(s.spawn(move || {
                let mut failures = Vec::new();
                for (name, vers) in job {
                    if w < 4 {
                        let bytes = simple(name, vers, "");
                        let path = files.join(format!("{name}-{vers}.crate"));
                        std::fs::write(&path, bytes).expect("write a crate file");
                        let out = ktra_add(reg, &path);
                        if !out.status.success() {
                            failures.push(format!(
                                "ktra add {name}@{vers}: {}",
                                String::from_utf8_lossy(&out.stderr)
                            ));
                        }
                    } else {
                        // Publishers 4 and 5 through the first server, 6 and 7 the second.
                        let port = ports[(w - 4) / 2];
                        let body = publish_body(name, vers, &simple(name, vers, ""));
                        let auth = [("Authorization", tokens[w - 4].as_str())];
                        let r = request_with_body(port, "PUT", "/api/v1/crates/new", &auth, &body);
                        if r.status != 200 {
                            failures.push(format!(
                                "publish {name}@{vers} on {port}: {} {}",
                                r.status,
                                String::from_utf8_lossy(&r.body)
                            ));
                        }
                    }
                }
                failures
            }));
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "writers failed:\n{}",
        failures.join("\n")
    );

    for (name, vers) in &expected {
        let count = index_lines(&reg, name)
            .iter()
            .filter(|e| e["vers"] == vers.as_str())
            .count();
        assert_eq!(count, 1, "{name}@{vers} is in its index file {count} times");
        let (status, _, _) = reg.get(&format!("crates/{name}-{vers}.crate"));
        assert_eq!(status, 200, "the crate file of {name}@{vers}");
    }
    assert_eq!(
        index_lines(&reg, "shared-crate").len(),
        1 + 8 * VERSIONS.len()
    );
    let added: Vec<(&str, &str)> = expected
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    crate::object_storage::site_lists_every_crate(&reg, &added);
    for w in 4..8 {
        let owners = state_object(&reg, &format!("owners/own-{w}.json")).expect("owners");
        assert!(owners.contains(users[w - 4]), "own-{w}: {owners}");
    }

    // Two users publish the same new crate at once, each through its own server: one wins
    // and owns it, the other is refused as not an owner.
    let contested: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = [4usize, 5]
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let (tokens, ports) = (&tokens, &ports);
                s.spawn(move || {
                    let vers = format!("1.0.{i}");
                    let body = publish_body("contested", &vers, &simple("contested", &vers, ""));
                    let auth = [("Authorization", tokens[t].as_str())];
                    let r = request_with_body(ports[i], "PUT", "/api/v1/crates/new", &auth, &body);
                    (r.status, String::from_utf8_lossy(&r.body).into_owned())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<usize> = (0..2).filter(|i| contested[*i].0 == 200).collect();
    let owners = state_object(&reg, "owners/contested.json").expect("owners of contested");
    let owners: Vec<String> = serde_json::from_str(&owners).expect("a JSON list");
    match won.as_slice() {
        [i] => {
            let loser = &contested[1 - i];
            assert_eq!(loser.0, 403, "{loser:?}");
            assert!(loser.1.contains("is not an owner"), "{loser:?}");
            assert_eq!(owners, [users[4 + i]], "the winner alone owns it");
            assert_eq!(index_lines(&reg, "contested").len(), 1);
        }
        _ => panic!("not exactly one publisher won: {contested:?}"),
    }

    // Owners added through both servers at once: every one is recorded.
    let owner_token = token(&local, &reg, &["pub-a", "--scope", "change-owners"]);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = users[1..]
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let (owner_token, ports) = (&owner_token, &ports);
                s.spawn(move || {
                    let body = format!(r#"{{"users":["{user}"]}}"#);
                    let auth = [("Authorization", owner_token.as_str())];
                    let path = "/api/v1/crates/own-4/owners";
                    request_with_body(ports[i % 2], "PUT", path, &auth, body.as_bytes()).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let owners = state_object(&reg, "owners/own-4.json").expect("owners of own-4");
    for user in users {
        assert!(owners.contains(user), "{user} is missing from {owners}");
    }

    reg.run(&local, &["verify"]).success();
    for server in &servers {
        assert!(!server.stderr().contains("error"), "{}", server.stderr());
    }
}

fn ktra_add(reg: &BucketRegistry, path: &Path) -> std::process::Output {
    Command::new(crate::support::ktra_bin())
        .envs(reg.s3.env())
        .env("NO_COLOR", "1")
        .arg("-r")
        .arg(&reg.dir)
        .arg("add")
        .arg(path)
        .output()
        .expect("run ktra add")
}
