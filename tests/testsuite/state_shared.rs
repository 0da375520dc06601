//! Two `ktra serve` sharing one registry whose records live in a database (issue 13, items 5
//! and 8): PostgreSQL, MariaDB, Redis and MongoDB (nx-27017). The real cargo publishes, changes
//! owners and yanks, each command sent to one receiver or the other through a switch that plays
//! the load balancer; users and tokens come from the CLI; a revoked token is refused by both
//! receivers at once; two receivers given the first publish of one name at the same moment
//! make exactly one owner. A registry in a bucket keeps its records in PostgreSQL and its other
//! private files in `[state] files`.

use crate::api::publish_body;
use crate::serve::{Serve, request, request_with_body};
use crate::support::dbservers::{MariaDb, Mongo, Postgres, Redis};
use crate::support::{Outcome, Protocol, Registry, ktra_bin, registry_env_var, run};
use ktra::package::testing::simple;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// A TCP switch on a free port: every new connection goes to the receiver it points at (the
/// load balancer in front of several receivers).
struct Switch {
    port: u16,
    target: Arc<AtomicU16>,
}

impl Switch {
    fn start() -> Switch {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the switch");
        let port = listener.local_addr().expect("an address").port();
        let target = Arc::new(AtomicU16::new(0));
        let to = target.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let port = to.load(Ordering::SeqCst);
                std::thread::spawn(move || pipe(client, port));
            }
        });
        Switch { port, target }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn route_to(&self, server: &Serve) {
        self.target.store(server.port, Ordering::SeqCst);
    }
}

/// Copies bytes both ways between `client` and the receiver on `port`.
fn pipe(client: TcpStream, port: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    let _ = std::io::copy(&mut server_in, &mut client_out);
    let _ = client_out.flush();
    let _ = client_out.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// The registry folder, whose records are in the database at `url` (given only through
/// `KTRA_STATE_URL`: its password is not in ktra.toml).
struct Shared {
    local: Registry,
    root: PathBuf,
    state_url: String,
}

impl Shared {
    fn ktra(&self, args: &[&str]) -> Outcome {
        self.local
            .ktra_with_state(&self.root, &self.state_url, args)
    }

    fn serve(&self) -> Serve {
        Serve::start_with_env(&self.root, &[("KTRA_STATE_URL", &self.state_url)])
    }

    /// cargo with the `demo` registry behind the switch and `token`.
    fn cargo(&self, switch: &Switch, dir: &Path, args: &[&str], token: &str) -> Outcome {
        let mut cmd = self.local.cargo_command();
        cmd.current_dir(dir)
            .env(
                registry_env_var(),
                format!("sparse+{}/index/", switch.url()),
            )
            .env("CARGO_TARGET_DIR", self.local.base().join("publish-target"))
            .env("CARGO_HOME", self.local.base().join("publish-cargo-home"))
            .env("CARGO_REGISTRIES_DEMO_CREDENTIAL_PROVIDER", "cargo:token")
            .env("CARGO_REGISTRIES_DEMO_TOKEN", token)
            .args(args);
        run(cmd, &self.local.logs)
    }

    fn yanked(&self, name: &str, vers: &str) -> bool {
        self.local_entries(name)
            .iter()
            .find(|e| e["vers"] == vers)
            .unwrap_or_else(|| panic!("{name}@{vers} is not in the index"))["yanked"]
            .as_bool()
            .expect("`yanked` is a bool")
    }

    fn local_entries(&self, name: &str) -> Vec<serde_json::Value> {
        let path = self
            .root
            .join("public/index")
            .join(crate::object_storage::index_path(name));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

fn two_receivers_share_one_database(state_url: &str, kind: &str) {
    let switch = Switch::start();
    let local = Registry::new(Protocol::Sparse);
    let root = local.base().join("shared");
    let mut init = Command::new(ktra_bin());
    init.env("NO_COLOR", "1").args(["init"]).arg(&root).args([
        "--url",
        &switch.url(),
        "--api",
        &switch.url(),
        "--name",
        "demo",
        "--no-git",
        "--state",
        state_url,
    ]);
    let created = run(init, &local.logs).success();
    let settings = std::fs::read_to_string(root.join("ktra.toml")).expect("ktra.toml");
    assert!(settings.contains("[state]"), "{settings}");
    if let Some(password) = ktra::state::password_of(state_url) {
        assert!(
            !settings.contains(password),
            "the password is in ktra.toml:\n{settings}"
        );
        assert!(
            created.stderr.contains("KTRA_STATE_URL"),
            "{}",
            created.stderr
        );
    }
    assert!(
        !root.join("state/users").exists(),
        "records went to the state folder"
    );
    let reg = Shared {
        local,
        root,
        state_url: state_url.to_owned(),
    };
    for user in ["alice", "bob"] {
        reg.ktra(&["user", "add", user]).success();
    }
    let all = "publish-new,publish-update,yank,change-owners,read";
    let alice = reg.ktra(&["token", "create", "alice", "--scope", all]);
    let bob = reg.ktra(&["token", "create", "bob", "--scope", all]);
    let (alice, bob) = (alice.success().stdout, bob.success().stdout);
    let (alice, bob) = (alice.trim(), bob.trim());
    let servers = [reg.serve(), reg.serve()];

    // Published through the first receiver; owners changed through the second; yanked by the
    // new owner through the second; the first sees every change.
    switch.route_to(&servers[0]);
    let example = reg.local.example("demo-base");
    let publish = [
        "publish",
        "--registry",
        "demo",
        "--allow-dirty",
        "--no-verify",
    ];
    reg.cargo(&switch, &example, &publish, alice).success();
    switch.route_to(&servers[1]);
    let owner = ["owner", "--registry", "demo", "--add", "bob", "demo-base"];
    reg.cargo(&switch, &example, &owner, alice).success();
    switch.route_to(&servers[0]);
    let list = reg
        .cargo(
            &switch,
            &example,
            &["owner", "--registry", "demo", "--list", "demo-base"],
            bob,
        )
        .success();
    assert!(
        list.stdout.contains("alice") && list.stdout.contains("bob"),
        "{kind}: {}",
        list.describe()
    );
    let vers = reg.local_entries("demo-base")[0]["vers"]
        .as_str()
        .expect("a version")
        .to_owned();
    switch.route_to(&servers[1]);
    let yank = [
        "yank",
        "--registry",
        "demo",
        "--version",
        &vers,
        "demo-base",
    ];
    reg.cargo(&switch, &example, &yank, bob).success();
    assert!(reg.yanked("demo-base", &vers), "{kind}: not yanked");

    // A token revoked with the CLI is refused by both receivers within a second.
    let listed = reg.ktra(&["token", "list", "--json"]).success().stdout;
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("token list JSON");
    let bob_id = listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["login"] == "bob")
        .and_then(|t| t["id"].as_str())
        .expect("bob's token")
        .to_owned();
    let unyank = format!("/api/v1/crates/demo-base/{vers}/unyank");
    let yank = format!("/api/v1/crates/demo-base/{vers}/yank");
    let bob_auth = [("Authorization", bob)];
    assert_eq!(
        request(servers[0].port, "PUT", &unyank, &bob_auth).status,
        200,
        "{kind}"
    );
    assert_eq!(
        request(servers[1].port, "DELETE", &yank, &bob_auth).status,
        200,
        "{kind}"
    );
    reg.ktra(&["token", "revoke", &bob_id]).success();
    let revoked = Instant::now();
    for server in &servers {
        loop {
            let r = request(server.port, "PUT", &unyank, &bob_auth);
            if r.status == 403 {
                break;
            }
            assert!(
                revoked.elapsed() < Duration::from_secs(1),
                "{kind}: receiver {} still takes a revoked token ({})",
                server.port,
                r.status
            );
        }
    }
    assert!(
        reg.yanked("demo-base", &vers),
        "{kind}: a revoked token unyanked"
    );

    // The first publish of one name reaches both receivers at once: one owner.
    let carol = {
        reg.ktra(&["user", "add", "carol"]).success();
        reg.ktra(&["token", "create", "carol"]).success().stdout
    };
    let tokens = [alice.to_owned(), carol.trim().to_owned()];
    let outcomes: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (servers, tokens) = (&servers, &tokens);
                s.spawn(move || {
                    let vers = format!("0.1.{i}");
                    let body = publish_body("first-name", &vers, &simple("first-name", &vers, ""));
                    let auth = [("Authorization", tokens[i].as_str())];
                    let port = servers[i].port;
                    request_with_body(port, "PUT", "/api/v1/crates/new", &auth, &body).status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a publisher"))
            .collect()
    });
    let winners: Vec<usize> = (0..2).filter(|i| outcomes[*i] == 200).collect();
    assert_eq!(winners.len(), 1, "{kind}: {outcomes:?}");
    assert_eq!(outcomes[1 - winners[0]], 403, "{kind}: {outcomes:?}");
    let owners = request(
        servers[0].port,
        "GET",
        "/api/v1/crates/first-name/owners",
        &[("Authorization", alice)],
    );
    let owners: serde_json::Value = serde_json::from_slice(&owners.body).expect("owners JSON");
    let logins: Vec<&str> = owners["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["login"].as_str())
        .collect();
    assert_eq!(logins, [["alice", "carol"][winners[0]]], "{kind}");

    reg.ktra(&["verify"]).success();

    // Made private while serving (by hand; `config.json` is left behind, which does not
    // matter to this check): each receiver reads the token of a file request from the
    // database (off its event loop), refusing a request without one.
    let settings_path = reg.root.join("ktra.toml");
    let settings = std::fs::read_to_string(&settings_path).expect("ktra.toml");
    let private = settings.replace("auth-required = false", "auth-required = true");
    assert_ne!(settings, private, "no `auth-required` line in ktra.toml");
    std::fs::write(&settings_path, private).expect("write ktra.toml");
    let config = "/index/config.json";
    for server in &servers {
        let deadline = Instant::now() + Duration::from_secs(10);
        while request(server.port, "GET", config, &[]).status != 401 {
            assert!(
                Instant::now() < deadline,
                "{kind}: the receiver stays public"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let r = request(server.port, "GET", config, &[("Authorization", alice)]);
        assert_eq!(r.status, 200, "{kind}: a private read with a token");
    }

    for server in &servers {
        let log = server.stderr();
        assert!(!log.contains("error"), "{kind}: {log}");
    }
}

#[test]
fn two_receivers_share_postgresql() {
    let db = Postgres::start();
    two_receivers_share_one_database(&db.url(), "PostgreSQL");
}

#[test]
fn two_receivers_share_mariadb() {
    let db = MariaDb::start();
    two_receivers_share_one_database(&db.url(), "MariaDB");
}

#[test]
fn two_receivers_share_redis() {
    let db = Redis::start();
    two_receivers_share_one_database(&db.url(), "Redis");
}

#[test]
fn two_receivers_share_mongodb() {
    let db = Mongo::start();
    two_receivers_share_one_database(&db.url(), "MongoDB (nx-27017)");
}

/// A registry in object storage whose records are in PostgreSQL: `[state] url` names the
/// database, `[state] files` the private bucket for the rest (the site's metadata). Users and
/// tokens go to the database, never into a bucket; a publish through `ktra serve` works.
#[test]
fn a_bucket_registry_keeps_its_records_in_postgresql() {
    let local = Registry::new(Protocol::Sparse);
    let db = Postgres::start();
    let s3 = crate::support::s3::S3Server::start();
    for bucket in ["pgreg", "pgreg-state"] {
        s3.create_bucket(bucket);
        // The state bucket too, only so that this test can look inside it.
        s3.allow_public_reads(bucket);
    }
    let dir = local.base().join("pgreg-settings");
    let ktra = |args: &[&str]| {
        let mut cmd = Command::new(ktra_bin());
        cmd.env("NO_COLOR", "1")
            .env("CARGO_TARGET_DIR", local.base().join("package-target"))
            .env("KTRA_STATE_URL", db.url())
            .envs(s3.env())
            .current_dir(local.base())
            .arg("-r")
            .arg(&dir)
            .args(args);
        run(cmd, &local.logs)
    };
    let url = format!("{}/pgreg", s3.endpoint());
    let mut init = Command::new(ktra_bin());
    init.env("NO_COLOR", "1")
        .envs(s3.env())
        .arg("init")
        .arg(&dir);
    init.args(["--url", &url, "--name", "demo", "--storage", "s3://pgreg"]);
    init.args(["--state", &db.url(), "--state-files", "s3://pgreg-state"]);
    run(init, &local.logs).success();
    let settings = std::fs::read_to_string(dir.join("ktra.toml")).expect("ktra.toml");
    assert!(
        settings.contains("files = \"s3://pgreg-state\""),
        "{settings}"
    );
    assert!(!settings.contains(db.password()), "{settings}");

    ktra(&["user", "add", "alice"]).success();
    let token = ktra(&["token", "create", "alice"]).success().stdout;
    let example = local.example("demo-base");
    ktra(&["add", example.to_str().expect("utf-8")]).success();
    let env = s3.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let state_url = db.url();
    env.push(("KTRA_STATE_URL", &state_url));
    let server = Serve::start_with_env(&dir, &env);
    let body = publish_body("fresh", "0.1.0", &simple("fresh", "0.1.0", ""));
    let auth = [("Authorization", token.trim())];
    let r = request_with_body(server.port, "PUT", "/api/v1/crates/new", &auth, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let index = crate::object_storage::index_path("fresh");
    assert_eq!(s3.get(&format!("/pgreg/index/{index}")).status, 200);
    assert_eq!(
        s3.get("/pgreg-state/site/state.json").status,
        200,
        "no site state"
    );
    for key in ["users/alice.json", "owners/fresh.json"] {
        let r = s3.get(&format!("/pgreg-state/{key}"));
        assert_eq!(
            r.status, 404,
            "`{key}` is in the private bucket, not the database"
        );
    }
    let owners = ktra(&["owner", "list", "fresh"]).success().stdout;
    assert!(owners.contains("alice"), "{owners}");
    ktra(&["verify"]).success();
}
