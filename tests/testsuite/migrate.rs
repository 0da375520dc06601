//! `ktra migrate` (issue 12): a local registry copied into object storage (a real S3 server,
//! moto) and back into a folder, verified; the real cargo builds from both copies; users,
//! owners and token hashes come along (a token made before the migrate is accepted after);
//! a target that holds a registry is refused and left as it was; an interrupted migrate is
//! run again and completes; a registry with a mirror takes it along both ways.

use crate::object_storage_mirror::Consumer;
use crate::serve::{Serve, request};
use crate::support::s3::S3Server;
use crate::support::upstream::{APP_CLOSURE, Upstream};
use crate::support::{
    CONSUMER_STDOUT, Outcome, Protocol, Registry, Server, cargo_home, ktra_bin, registry_env_var,
    run,
};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `ktra ARGS` against the test's S3 server (its AWS variables), from the temp dir; the
/// registry is `local`'s unless ARGS name one with `-r`.
fn ktra_s3(local: &Registry, s3: &S3Server, env: &[(&str, &str)], args: &[&OsStr]) -> Outcome {
    let mut cmd = Command::new(ktra_bin());
    cmd.env("CARGO_HOME", cargo_home())
        .env("CARGO_TARGET_DIR", local.base().join("package-target"))
        .env("NO_COLOR", "1")
        .env_remove(registry_env_var())
        .env("KTRA_REGISTRY", &local.root)
        .envs(s3.env())
        .envs(env.iter().copied())
        .current_dir(local.base())
        .args(args);
    run(cmd, &local.logs)
}

/// `ktra -r DIR ARGS` without object storage.
/// `ktra migrate --to PUBLIC --state-to STATE --settings-dir SETTINGS EXTRA...` into buckets.
fn migrate_to_bucket(
    local: &Registry,
    s3: &S3Server,
    env: &[(&str, &str)],
    public: &str,
    state: &str,
    settings: &Path,
    extra: &[&str],
) -> Outcome {
    let settings = settings.to_str().expect("utf-8");
    let mut args = vec![
        "migrate",
        "--to",
        public,
        "--state-to",
        state,
        "--settings-dir",
        settings,
    ];
    args.extend_from_slice(extra);
    ktra_s3(local, s3, env, &os(&args))
}

fn ktra_in(local: &Registry, dir: &Path, args: &[&str]) -> Outcome {
    let mut cmd = Command::new(ktra_bin());
    cmd.env("NO_COLOR", "1")
        .env_remove("KTRA_REGISTRY")
        .current_dir(local.base())
        .arg("-r")
        .arg(dir)
        .args(args);
    run(cmd, &local.logs)
}

fn os<'a>(args: &'a [&'a str]) -> Vec<&'a OsStr> {
    args.iter().map(OsStr::new).collect()
}

/// A served bucket that anyone may read (a static host) and its private state bucket.
fn buckets(s3: &S3Server, name: &str) -> (String, String) {
    s3.create_bucket(name);
    s3.allow_public_reads(name);
    let state = format!("{name}-state");
    s3.create_bucket(&state);
    (format!("s3://{name}"), format!("s3://{state}"))
}

/// Every file below `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    crate::support::walk_files(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read a file");
            (p.strip_prefix(dir).expect("below").to_path_buf(), bytes)
        })
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The registry's own state files (users, tokens, owners), as `key -> bytes`.
fn auth_state(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let state = root.join("state");
    tree(&state)
        .into_iter()
        .filter(|(k, _)| {
            ["users", "tokens", "owners"]
                .iter()
                .any(|d| k.starts_with(d))
        })
        .collect()
}

#[test]
fn a_local_registry_moves_to_a_bucket_and_back() {
    // A registry with a git index, users, an owner and a token.
    let local = Registry::new(Protocol::Git);
    local.add_all_examples();
    // Yanked: the consumer gets 1.0.0 (CONSUMER_STDOUT), so the yank must come along.
    local.ktra(["yank", "demo-base@1.1.0"]).success();
    local.ktra(["user", "add", "alice"]).success();
    local.ktra(["owner", "add", "demo-base", "alice"]).success();
    let token = local.token(&["alice"]);
    let auth = auth_state(&local.root);
    assert_eq!(auth.len(), 3, "user, token, owners: {:?}", auth.keys());
    let before = tree(&local.root);

    let s3 = S3Server::start();
    let (public, state) = buckets(&s3, "moved");
    let settings = local.base().join("moved-settings");
    let bucket_url = format!("{}/moved", s3.endpoint());
    let out = migrate_to_bucket(
        &local,
        &s3,
        &[],
        &public,
        &state,
        &settings,
        &["--url", &bucket_url],
    )
    .success();
    assert!(
        out.stderr.contains("index.git") && out.stderr.contains("Verified"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout
            .contains(&format!("index = \"sparse+{bucket_url}/index/\"")),
        "{}",
        out.describe()
    );
    assert_eq!(tree(&local.root), before, "the migrate changed its source");
    assert_eq!(files_in(&settings), ["ktra.toml"]);
    let toml = std::fs::read_to_string(settings.join("ktra.toml")).expect("read ktra.toml");
    for needle in [
        "[storage]",
        "url = \"s3://moved\"",
        "[state]",
        "enabled = false",
    ] {
        assert!(toml.contains(needle), "{needle} missing:\n{toml}");
    }

    // The bucket: config.json for its address, no git index, no private file in public.
    let config = s3.get("/moved/index/config.json");
    assert_eq!(config.status, 200);
    assert!(
        String::from_utf8_lossy(&config.body).contains(&bucket_url),
        "{}",
        String::from_utf8_lossy(&config.body)
    );
    assert_ne!(
        s3.get("/moved/index.git/HEAD").status,
        200,
        "git index copied"
    );
    for key in auth.keys() {
        let key = key.to_str().expect("utf-8");
        assert_ne!(
            s3.get(&format!("/moved/{key}")).status,
            200,
            "{key} is public"
        );
        assert_ne!(
            s3.get(&format!("/moved-state/{key}")).status,
            200,
            "{key} is readable anonymously"
        );
    }

    // The copy works: verify, its users and tokens, the real cargo straight from the bucket.
    let r = |args: &[&str]| {
        let mut all = vec!["-r", settings.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        ktra_s3(&local, &s3, &[], &os(&all)).success()
    };
    r(&["verify"]);
    assert!(r(&["token", "list"]).stdout.contains("alice"));
    assert!(r(&["owner", "list", "demo-base"]).stdout.contains("alice"));
    let consumer = local.run_consumer_at(&format!("sparse+{bucket_url}/index/"), "moved");
    assert_eq!(consumer.outcome.stdout, CONSUMER_STDOUT);

    // And back into a folder, served by a plain web server at a new address.
    let (back, server) = back_folder(&local);
    r(&[
        "migrate",
        "--to",
        back.to_str().expect("utf-8"),
        "--url",
        &server.base_url(),
    ]);
    assert_eq!(
        s3.get("/moved/index/config.json").body,
        config.body,
        "migrating back changed the bucket"
    );
    let v = ktra_in(&local, &back, &["verify"]).success();
    assert!(v.stderr.contains("7 versions"), "{}", v.describe());
    assert!(
        back.join("public/index.git/HEAD").is_file(),
        "no git index in the folder"
    );
    assert_eq!(
        auth_state(&back),
        auth,
        "users, tokens or owners differ after the round trip"
    );
    for (key, bytes) in &before {
        let key = key.to_string_lossy();
        if key.starts_with("public/crates/") || key.starts_with("public/index/") {
            if key.ends_with("config.json") {
                continue;
            }
            assert_eq!(
                std::fs::read(back.join(&*key)).ok().as_ref(),
                Some(bytes),
                "{key} differs after the round trip"
            );
        }
    }
    let consumer = local.run_consumer_at(&format!("sparse+{}/index/", server.base_url()), "back");
    assert_eq!(consumer.outcome.stdout, CONSUMER_STDOUT);

    // The token made before the migrate is accepted by `ktra serve` of the copy.
    let serve = Serve::start(&back);
    let unyank = |tok: &str| {
        request(
            serve.port,
            "PUT",
            "/api/v1/crates/demo-base/1.1.0/unyank",
            &[("Authorization", tok)],
        )
    };
    let wrong = format!("ktra_{}", "0".repeat(64));
    assert_eq!(unyank(&wrong).status, 403, "an unknown token was accepted");
    let ok = unyank(&token);
    assert_eq!(
        ok.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&ok.body),
        serve.stderr()
    );
    let index = std::fs::read_to_string(back.join("public/index/de/mo/demo-base")).expect("read");
    assert!(!index.contains("\"yanked\":true"), "{index}");
}

#[test]
fn a_target_holding_a_registry_is_refused_and_left_alone() {
    let local = Registry::new(Protocol::Sparse);
    local
        .ktra([OsStr::new("add"), local.example("demo-base").as_os_str()])
        .success();
    let s3 = S3Server::start();
    let (public, state) = buckets(&s3, "taken");
    let other = local.base().join("other");
    let url = format!("{}/taken", s3.endpoint());
    ktra_s3(
        &local,
        &s3,
        &[],
        &os(&[
            "init",
            other.to_str().expect("utf-8"),
            "--url",
            &url,
            "--storage",
            &public,
            "--state",
            &state,
        ]),
    )
    .success();
    let config = s3.get("/taken/index/config.json");
    assert_eq!(config.status, 200);
    let home = s3.get("/taken/index.html").body;

    let settings = local.base().join("taken-settings");
    let out = migrate_to_bucket(&local, &s3, &[], &public, &state, &settings, &[]).failure();
    assert!(
        out.stderr.contains("already holds a registry"),
        "{}",
        out.describe()
    );
    assert!(!settings.exists(), "a refused migrate wrote settings");
    assert_eq!(s3.get("/taken/index/config.json").body, config.body);
    assert_eq!(s3.get("/taken/index.html").body, home);
    assert_ne!(
        s3.get("/taken/crates/demo-base-1.0.0.crate").status,
        200,
        "a refused migrate copied a crate file"
    );
    let list = ktra_s3(
        &local,
        &s3,
        &[],
        &os(&["-r", other.to_str().expect("utf-8"), "list"]),
    )
    .success();
    assert!(!list.stdout.contains("demo-base"), "{}", list.stdout);

    // While another process holds the source's lock (a change in progress), nothing is read.
    let (free_public, free_state) = buckets(&s3, "free");
    let lock = std::fs::File::options()
        .write(true)
        .open(local.root.join("state/lock"))
        .expect("open the lock file");
    lock.lock().expect("take the registry lock");
    let out = ktra_s3(
        &local,
        &s3,
        &[("KTRA_LOCK_TIMEOUT", "1s")],
        &os(&[
            "migrate",
            "--to",
            &free_public,
            "--state-to",
            &free_state,
            "--settings-dir",
            local.base().join("free-settings").to_str().expect("utf-8"),
        ]),
    )
    .failure();
    assert!(
        out.stderr.contains("failed to lock the registry"),
        "{}",
        out.describe()
    );
    assert_eq!(s3.get("/free/crates/demo-base-1.0.0.crate").status, 404);
    drop(lock);

    // The registry in the bucket cannot be copied over a folder that is a registry either.
    let before = tree(&local.root);
    let out = ktra_s3(
        &local,
        &s3,
        &[],
        &os(&[
            "-r",
            other.to_str().expect("utf-8"),
            "migrate",
            "--to",
            local.root.to_str().expect("utf-8"),
        ]),
    )
    .failure();
    assert!(out.stderr.contains("already exists"), "{}", out.describe());
    assert_eq!(
        tree(&local.root),
        before,
        "a refused migrate changed the folder"
    );
}

#[test]
fn an_interrupted_migrate_runs_again_to_the_end() {
    let local = Registry::new(Protocol::Sparse);
    local.add_all_examples();
    let s3 = S3Server::start();
    let (public, state) = buckets(&s3, "halfway");
    let settings = local.base().join("halfway-settings");
    let url = format!("{}/halfway", s3.endpoint());
    let migrate = |env: &[(&str, &str)], public: &str, state: &str, settings: &Path| {
        migrate_to_bucket(&local, &s3, env, public, state, settings, &["--url", &url])
    };
    // Killed after the crate files and the private files, before any index file.
    migrate(
        &[("KTRA_CRASH_AT", "migrate-before-index")],
        &public,
        &state,
        &settings,
    )
    .failure();
    assert_eq!(s3.get("/halfway/crates/demo-base-1.0.0.crate").status, 200);
    assert_eq!(
        s3.get("/halfway/index/config.json").status,
        404,
        "an unfinished copy looks like a registry"
    );
    assert_eq!(s3.get("/halfway/index/de/mo/demo-base").status, 404);
    assert!(!settings.exists(), "an unfinished copy has settings");

    // Another registry may not finish it.
    let stranger = Registry::new(Protocol::Sparse);
    let mut cmd = stranger.ktra_command();
    cmd.envs(s3.env()).args([
        "migrate",
        "--to",
        &public,
        "--state-to",
        &state,
        "--settings-dir",
        local.base().join("stranger").to_str().expect("utf-8"),
    ]);
    let out = run(cmd, &stranger.logs).failure();
    assert!(
        out.stderr
            .contains("unfinished migrate of another registry"),
        "{}",
        out.describe()
    );

    // The source changed meanwhile: the copy has what it has now.
    local.ktra(["yank", "demo-base@1.1.0"]).success();
    let out = migrate(&[], &public, &state, &settings).success();
    assert!(
        out.stderr.contains("Resuming") && out.stderr.contains("already there"),
        "{}",
        out.describe()
    );
    let index = s3.get("/halfway/index/de/mo/demo-base");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.body,
        std::fs::read(local.index_file("demo-base")).expect("read the index file"),
        "the copy's index file is not the source's"
    );
    let verify = |settings: &Path| {
        ktra_s3(
            &local,
            &s3,
            &[],
            &os(&["-r", settings.to_str().expect("utf-8"), "verify"]),
        )
        .success()
    };
    verify(&settings);
    // Finished: running it again is refused, as for any registry.
    let out = migrate(&[], &public, &state, &settings).failure();
    assert!(out.stderr.contains("already"), "{}", out.describe());

    // Killed after config.json, before the settings: the next run writes them.
    let (public, state) = buckets(&s3, "late");
    let late = local.base().join("late-settings");
    migrate(
        &[("KTRA_CRASH_AT", "migrate-before-settings")],
        &public,
        &state,
        &late,
    )
    .failure();
    assert!(!late.join("ktra.toml").exists());
    let out = migrate(&[], &public, &state, &late).success();
    assert!(out.stderr.contains("Resuming"), "{}", out.describe());
    verify(&late);

    // Into a folder: a crate file that an unfinished copy holds with other bytes is refused.
    let back = local.base().join("back");
    let r = |env: &[(&str, &str)]| {
        ktra_s3(
            &local,
            &s3,
            env,
            &os(&[
                "-r",
                settings.to_str().expect("utf-8"),
                "migrate",
                "--to",
                back.to_str().expect("utf-8"),
            ]),
        )
    };
    r(&[("KTRA_CRASH_AT", "migrate-before-index")]).failure();
    let tampered = back.join("public/crates/demo-base-1.0.0.crate");
    std::fs::write(&tampered, b"not the crate").expect("write");
    let out = r(&[]).failure();
    assert!(out.stderr.contains("other bytes"), "{}", out.describe());
    assert!(!back.join("ktra.toml").exists());
    std::fs::remove_file(&tampered).expect("remove");
    r(&[]).success();
    ktra_in(&local, &back, &["verify"]).success();
}

/// A local registry with a mirror (synced from the mirror tests' upstream) moves to a bucket and
/// back. Killed between the mirror's crate files and its index files, the bucket holds the
/// former and none of the latter; run again, it completes. Each copy holds the mirror's files
/// and the upstream's index files as last fetched (a sync afterwards revalidates every index
/// file and downloads nothing), verifies, and the real cargo builds from its mirror with the
/// upstream stopped.
#[test]
fn a_registry_with_a_mirror_moves_to_a_bucket_and_back() {
    let mut up = Upstream::start();
    let local = Registry::new(Protocol::Sparse);
    let upstream = up.sparse_url();
    let sync = |ktra: &dyn Fn(&[&str]) -> Outcome| -> serde_json::Value {
        let out = ktra(&[
            "sync-mirror",
            "--upstream",
            &upstream,
            "--retries",
            "0",
            "--json",
            "app",
        ])
        .success();
        serde_json::from_str(out.stdout.trim()).expect("--json")
    };
    let first = sync(&|args| local.ktra(args));
    assert_eq!(first["downloaded"], 26, "{first}");
    let mirror = tree(&local.root.join("public/mirror"));
    let upstream_copies = tree(&local.root.join("state/mirror/upstream"));
    assert!(!upstream_copies.is_empty());

    // Into a bucket, killed after the mirror's crate files: none of its lines is there yet.
    let s3 = S3Server::start();
    let (public, state) = buckets(&s3, "mirrored");
    let settings = local.base().join("mirrored-settings");
    let bucket_url = format!("{}/mirrored", s3.endpoint());
    let migrate = |env: &[(&str, &str)]| {
        migrate_to_bucket(
            &local,
            &s3,
            env,
            &public,
            &state,
            &settings,
            &["--url", &bucket_url],
        )
    };
    migrate(&[("KTRA_CRASH_AT", "migrate-mirror-crates-copied")]).failure();
    for (name, vers) in APP_CLOSURE {
        let key = format!("/mirrored/mirror/crates/{name}-{vers}.crate");
        assert_eq!(s3.get(&key).status, 200, "{key}");
    }
    for key in mirror.keys().filter(|k| k.starts_with("index")) {
        let key = format!("/mirrored/mirror/{}", key.display());
        assert_eq!(
            s3.get(&key).status,
            404,
            "{key} before the crate files' end"
        );
    }
    let out = migrate(&[]).success();
    assert!(
        out.stderr.contains("Resuming") && out.stderr.contains("index files of the mirror"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout
            .contains(&format!("sparse+{bucket_url}/mirror/index/")),
        "{}",
        out.describe()
    );

    // The bucket holds the mirror's files; its config.json downloads from the bucket.
    let mirror_config_says = |bytes: &[u8], base: &str| {
        let config: serde_json::Value = serde_json::from_slice(bytes).expect("config.json");
        assert_eq!(
            config["dl"],
            format!("{base}/mirror/crates/{{crate}}-{{version}}.crate"),
            "{config}"
        );
    };
    for (key, bytes) in &mirror {
        let got = s3.get(&format!("/mirrored/mirror/{}", key.display()));
        assert_eq!(got.status, 200, "mirror/{}", key.display());
        match key.ends_with("index/config.json") {
            true => mirror_config_says(&got.body, &bucket_url),
            false => assert!(got.body == *bytes, "mirror/{} differs", key.display()),
        }
    }
    let r = |args: &[&str]| {
        let mut all = vec!["-r", settings.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        ktra_s3(&local, &s3, &[], &os(&all))
    };
    let v = r(&["verify"]).success();
    assert!(v.stderr.contains("26 versions of"), "{}", v.describe());
    // The upstream's index files came along: every one is revalidated, nothing downloaded.
    let revalidates = |report: serde_json::Value, seen: usize| {
        assert_eq!(report["downloaded"], 0, "{report}");
        assert_eq!(report["updated"], 0, "{report}");
        assert_eq!(report["index_unchanged"], report["crates"], "{report}");
        let requests = up.requests().split_off(seen);
        assert!(
            requests.iter().all(|r| !r.path.ends_with(".crate")),
            "{requests:?}"
        );
    };
    let seen = up.requests().len();
    revalidates(sync(&|args| r(args)), seen);

    // And back into a folder, served at a new address.
    let (back, server) = back_folder(&local);
    r(&[
        "migrate",
        "--to",
        back.to_str().expect("utf-8"),
        "--url",
        &server.base_url(),
    ])
    .success();
    let v = ktra_in(&local, &back, &["verify"]).success();
    assert!(v.stderr.contains("26 versions of"), "{}", v.describe());
    let back_mirror = tree(&back.join("public/mirror"));
    assert_eq!(
        back_mirror.keys().collect::<Vec<_>>(),
        mirror.keys().collect::<Vec<_>>()
    );
    for (key, bytes) in &back_mirror {
        match key.ends_with("index/config.json") {
            true => mirror_config_says(bytes, &server.base_url()),
            false => assert!(mirror[key] == *bytes, "mirror/{} differs", key.display()),
        }
    }
    assert!(
        tree(&back.join("state/mirror/upstream")) == upstream_copies,
        "the upstream's index files differ after the round trip"
    );
    let seen = up.requests().len();
    revalidates(sync(&|args| ktra_in(&local, &back, args)), seen);

    // The real cargo, from each copy's mirror alone.
    up.stop();
    let bucket = Consumer::new(
        local.base(),
        "bucket",
        &format!("sparse+{bucket_url}/mirror/index/"),
    );
    bucket.runs(&local.base().join("cargo-home-bucket"), &[]);
    let folder = Consumer::new(
        local.base(),
        "back",
        &format!("sparse+{}/mirror/index/", server.base_url()),
    );
    folder.runs(&local.base().join("cargo-home-back"), &[]);
}

/// A folder to migrate back into, beside the test's registry, and a plain web server that
/// serves its `public/`.
fn back_folder(local: &Registry) -> (PathBuf, Server) {
    let unique = local
        .base()
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let back = local.base().join(format!("back-{unique}"));
    let server = Server::start(
        local.base(),
        local.logs.join("back-server.log"),
        &format!("/back-{unique}/public"),
    );
    (back, server)
}
