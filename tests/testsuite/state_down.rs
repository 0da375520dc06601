//! The state server fails (issue 13, item 7): while it is down, every API call that needs the
//! records answers 503 with a message cargo shows, and the static tree still serves cargo;
//! when it is back, the running receiver reconnects by itself and nothing acknowledged is lost.
//! No wait is unbounded: a server that accepts connections and never answers (a listener that
//! does nothing, a server frozen with SIGSTOP) fails calls within their timeouts, and the
//! backend works again as soon as the server answers.

use crate::serve::{Serve, settle};
use crate::support::dbservers::{self, Mongo, Postgres, Redis, find_program};
use crate::support::{Outcome, Protocol, Registry, ktra_bin, registry_env_var, run};
use ktra::state::mongo::MongoRecords;
use ktra::state::redis::RedisRecords;
use ktra::state::sql::{Settings, Sql};
use ktra::state::{Expect, Records, Unavailable};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What cargo must show for a call that needed the records while their server was down.
const SHOWN: &str = "the registry's state server is unavailable (users, tokens, owners): try \
                     again in a moment";

/// How long a call may take to fail against a server that accepts connections and never
/// answers, with room for a loaded machine: SQL, the 10 s statement timeout (5 s to get a
/// connection); Redis, the 10 s reply timeout (never waited twice: a timed-out read is not
/// retried); MongoDB, a heartbeat (5 s) and its timeout (5 s), checked twice before the driver
/// gives up on the server.
const SQL_BOUND: Duration = Duration::from_secs(14);
const REDIS_BOUND: Duration = Duration::from_secs(14);
const MONGO_BOUND: Duration = Duration::from_secs(25);

/// The state server behind one test.
enum Db {
    Postgres(Postgres),
    Redis(Redis),
    Mongo(Mongo),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Postgres(db) => db.url(),
            Db::Redis(db) => db.url(),
            Db::Mongo(db) => db.url(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "PostgreSQL",
            Db::Redis(_) => "Redis",
            Db::Mongo(_) => "MongoDB",
        }
    }

    fn server(&mut self) -> &mut dbservers::Server {
        match self {
            Db::Postgres(db) => &mut db.server,
            Db::Redis(db) => &mut db.server,
            Db::Mongo(db) => &mut db.server,
        }
    }

    /// Every line of the audit log, read with the server's own client.
    fn audit(&self, logs: &Path) -> Vec<String> {
        let cmd = match self {
            Db::Postgres(db) => {
                let mut cmd = Command::new(db.psql());
                cmd.arg(db.url()).args([
                    "-qtA",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    "SELECT line FROM ktra_audit ORDER BY id",
                ]);
                cmd
            }
            Db::Redis(db) => {
                // The stream's entries, one JSON event per line (the `event` field's value).
                let mut cmd = Command::new(find_program("redis-cli", &["/usr/bin"], "redis-tools"));
                cmd.args(["-u", &db.url(), "--raw", "XRANGE", "ktra:audit", "-", "+"]);
                cmd
            }
            Db::Mongo(db) => {
                let mut cmd = Command::new("python3");
                cmd.arg("-c")
                    .arg(
                        "import sys, pymongo\n\
                         c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)\n\
                         for d in c.ktra.audit.find():\n    print(d['event'])\n",
                    )
                    .arg(db.url());
                cmd
            }
        };
        run(cmd, logs)
            .success()
            .stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(str::to_owned)
            .collect()
    }
}

/// A registry on a local tree whose records are in `db`, served by `ktra serve` (index and
/// API), with a user `alice` and her token.
struct Site {
    local: Registry,
    root: PathBuf,
    state_url: String,
    serve: Serve,
    token: String,
}

impl Site {
    fn new(db: &Db) -> Site {
        let local = Registry::new(Protocol::Sparse);
        let root = local.base().join("on-db");
        let state_url = db.url();
        let mut init = Command::new(ktra_bin());
        init.env("NO_COLOR", "1")
            .arg("init")
            .arg(&root)
            .args(["--url", "http://127.0.0.1:1", "--name", "demo", "--no-git"])
            .args(["--state", &state_url]);
        run(init, &local.logs).success();
        let serve = Serve::start_with_env(&root, &[("KTRA_STATE_URL", &state_url)]);
        let mut site = Site {
            local,
            root,
            state_url,
            serve,
            token: String::new(),
        };
        let url = site.serve.url();
        site.ktra(&["set-url", &url, "--api", &url]).success();
        settle();
        site.ktra(&["user", "add", "alice"]).success();
        let scopes = "publish-new,publish-update,yank,change-owners,read";
        let token = site.ktra(&["token", "create", "alice", "--scope", scopes]);
        site.token = token.success().stdout.trim().to_owned();
        site
    }

    fn ktra(&self, args: &[&str]) -> Outcome {
        self.local
            .ktra_with_state(&self.root, &self.state_url, args)
    }

    fn index(&self) -> String {
        format!("sparse+{}/index/", self.serve.url())
    }

    /// cargo, with the token, against `ktra serve`.
    fn cargo(&self, dir: &Path, args: &[&str]) -> Outcome {
        let mut cmd = self.local.cargo_command();
        cmd.current_dir(dir)
            .env(registry_env_var(), self.index())
            .env("CARGO_TARGET_DIR", self.local.base().join("publish-target"))
            .env("CARGO_HOME", self.local.base().join("publish-cargo-home"))
            .env("CARGO_REGISTRIES_DEMO_CREDENTIAL_PROVIDER", "cargo:token")
            .env("CARGO_REGISTRIES_DEMO_TOKEN", &self.token)
            .args(args);
        run(cmd, &self.local.logs)
    }

    fn publish(&self, example: &str) -> Outcome {
        let dir = self.local.example(example);
        self.cargo(
            &dir,
            &[
                "publish",
                "--registry",
                "demo",
                "--allow-dirty",
                "--no-verify",
            ],
        )
    }

    /// A crate depending on `demo-base = "1"`, built and run by cargo through the sparse index
    /// `ktra serve` serves (no token, no records needed): what it printed.
    fn consumer(&self) -> Outcome {
        let dir = self.local.base().join("outage-consumer");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"outage-consumer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n\
             demo-base = { version = \"1\", registry = \"demo\" }\n\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("src/main.rs"),
            "fn main() {\n    println!(\"{}\", demo_base::greeting());\n}\n",
        )
        .unwrap();
        let mut cmd = self.local.cargo_command();
        cmd.current_dir(&dir)
            .env(registry_env_var(), self.index())
            .env(
                "CARGO_TARGET_DIR",
                self.local.base().join("consumer-target"),
            )
            .env("CARGO_HOME", self.local.base().join("consumer-cargo-home"))
            .args(["run", "--quiet"]);
        run(cmd, &self.local.logs)
    }

    fn versions(&self) -> Vec<(String, bool)> {
        let path = self.root.join("public/index/de/mo/demo-base");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .map(|e| {
                (
                    e["vers"].as_str().unwrap().to_owned(),
                    e["yanked"].as_bool().unwrap(),
                )
            })
            .collect()
    }
}

/// A failed cargo command that shows the 503's message and nothing of the state server.
#[track_caller]
fn assert_unavailable(out: Outcome, db: &Db) {
    let out = out.failure();
    assert!(out.stderr.contains(SHOWN), "{}", out.describe());
    assert!(out.stderr.contains("503"), "{}", out.describe());
    let port = format!(":{}", db_port(db));
    assert!(!out.stderr.contains(&port), "{}", out.describe());
    if let Some(password) = ktra::state::password_of(&db.url()) {
        assert!(!out.stderr.contains(password), "{}", out.describe());
    }
}

fn db_port(db: &Db) -> u16 {
    match db {
        Db::Postgres(d) => d.server.port(),
        Db::Redis(d) => d.server.port(),
        Db::Mongo(d) => d.server.port(),
    }
}

/// A publish, the server stopped, the calls that need it refused with 503 while cargo still
/// builds from the tree, the server back on its port, and the running receiver publishing
/// again without a restart; nothing acknowledged lost.
fn survives_an_outage(mut db: Db) {
    let site = Site::new(&db);
    site.publish("demo-base").success();
    assert_eq!(site.versions(), [("1.0.0".to_owned(), false)]);

    db.server().stop_keeping_data();
    let down = Instant::now();
    assert_unavailable(site.publish("demo-base-1.1"), &db);
    let example = site.local.example("demo-base");
    assert_unavailable(
        site.cargo(
            &example,
            &["owner", "--registry", "demo", "--list", "demo-base"],
        ),
        &db,
    );
    let yank = [
        "yank",
        "--registry",
        "demo",
        "--version",
        "1.0.0",
        "demo-base",
    ];
    assert_unavailable(site.cargo(&example, &yank), &db);
    eprintln!(
        "{}: three refused calls took {:?}",
        db.name(),
        down.elapsed()
    );
    assert_eq!(
        site.versions(),
        [("1.0.0".to_owned(), false)],
        "a refused call changed the index"
    );
    // The server's log has the cause (the backend named, no password) under a request id.
    let log = site.serve.stderr();
    assert!(log.contains("error: request "), "{log}");
    assert!(log.contains(db.name()), "{log}");
    if let Some(password) = ktra::state::password_of(&db.url()) {
        assert!(!log.contains(password), "{log}");
    }
    // The static tree does not need the records.
    let built = site.consumer().success();
    assert_eq!(built.stdout, "hello from demo-base 1.0.0\n");

    db.server().start_again();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(30);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let out = site.publish("demo-base-1.1");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no publish within 30 s of the server's return ({attempts} attempts):\n{}",
            out.describe()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "{}: published again {:?} after the server's return ({attempts} attempt(s))",
        db.name(),
        back.elapsed()
    );
    site.cargo(&example, &yank).success();
    site.ktra(&["verify"]).success();
    assert_eq!(
        site.versions(),
        [("1.0.0".to_owned(), true), ("1.1.0".to_owned(), false)]
    );
    let audit = db.audit(&site.local.logs);
    let events = |event: &str, vers: &str| {
        audit
            .iter()
            .filter(|l| {
                let e: serde_json::Value = serde_json::from_str(l).expect("a JSON event");
                e["event"] == event && e["crate"] == "demo-base" && e["vers"] == vers
            })
            .count()
    };
    assert_eq!(events("publish", "1.0.0"), 1, "{audit:#?}");
    assert_eq!(events("publish", "1.1.0"), 1, "{audit:#?}");
    assert_eq!(events("yank", "1.0.0"), 1, "{audit:#?}");
}

#[test]
fn postgres_outage_is_503_for_the_api_and_the_receiver_reconnects() {
    survives_an_outage(Db::Postgres(Postgres::start()));
}

#[test]
fn redis_outage_is_503_for_the_api_and_the_receiver_reconnects() {
    survives_an_outage(Db::Redis(Redis::start_durable()));
}

#[test]
fn mongo_outage_is_503_for_the_api_and_the_receiver_reconnects() {
    survives_an_outage(Db::Mongo(Mongo::start()));
}

/// A listener on 127.0.0.1 that accepts connections, holds them, and never sends a byte.
struct Mute {
    port: u16,
}

impl Mute {
    fn start() -> Mute {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                held.lock().unwrap().push(stream);
            }
        });
        Mute { port }
    }
}

/// The time a failing call took; the error must be the state server's (a 503 for the API).
#[track_caller]
fn fails_within<T>(what: &str, bound: Duration, call: impl FnOnce() -> anyhow::Result<T>) {
    let start = Instant::now();
    let result = call();
    let took = start.elapsed();
    let Err(e) = result else {
        panic!("{what}: succeeded");
    };
    eprintln!("{what}: failed after {took:?}: {e:#}");
    assert!(took < bound, "{what}: {took:?} (bound {bound:?}): {e:#}");
    assert!(
        e.chain().any(|c| c.is::<Unavailable>()),
        "{what}: not a failure of the state server: {e:?}"
    );
}

#[test]
fn no_backend_waits_forever_for_a_server_that_never_answers() {
    let mute = Mute::start();
    let port = mute.port;
    let checks: Vec<std::thread::JoinHandle<()>> = vec![
        std::thread::spawn(move || {
            let url = format!("postgres://ktra:pw@127.0.0.1:{port}/ktra");
            let sql = Sql::connect(&url, &Settings::default()).unwrap();
            fails_within("PostgreSQL get", SQL_BOUND, || sql.get("tokens/a.json"));
        }),
        std::thread::spawn(move || {
            let url = format!("mysql://ktra:pw@127.0.0.1:{port}/ktra");
            let sql = Sql::connect(&url, &Settings::default()).unwrap();
            fails_within("MySQL get", SQL_BOUND, || sql.get("tokens/a.json"));
        }),
        std::thread::spawn(move || {
            let url = format!("redis://127.0.0.1:{port}/");
            fails_within("Redis connect", REDIS_BOUND, || RedisRecords::connect(&url));
        }),
        std::thread::spawn(move || {
            let url = format!("mongodb://127.0.0.1:{port}/");
            fails_within("MongoDB connect", MONGO_BOUND, || {
                MongoRecords::connect(&url)
            });
        }),
    ];
    for check in checks {
        check.join().expect("a check failed");
    }
}

/// Frozen (SIGSTOP) after the records were opened, the server holds the pooled connections
/// open and answers nothing: reads and writes fail within their bounds; thawed, the next calls
/// work.
fn a_frozen_server_fails_calls_in_time(
    server: &mut dbservers::Server,
    records: &dyn Records,
    bound: Duration,
) {
    assert!(
        records
            .put("users/a.json", b"1", Expect::Absent)
            .expect("a write")
    );
    server.pause();
    fails_within("a read from a frozen server", bound, || {
        records.get("users/a.json")
    });
    fails_within("a write to a frozen server", bound, || {
        records.put("users/b.json", b"2", Expect::Absent)
    });
    server.resume();
    let start = Instant::now();
    assert_eq!(records.get("users/a.json").unwrap().unwrap().bytes, b"1");
    assert!(
        records
            .put("users/c.json", b"3", Expect::Absent)
            .expect("a write")
    );
    eprintln!("working again {:?} after the thaw", start.elapsed());
}

#[test]
fn postgres_frozen_fails_calls_in_time_and_works_when_thawed() {
    let mut pg = Postgres::start();
    let sql = Sql::connect(&pg.url(), &Settings::default()).unwrap();
    sql.migrate().unwrap();
    a_frozen_server_fails_calls_in_time(&mut pg.server, &sql, SQL_BOUND);
}

#[test]
fn redis_frozen_fails_calls_in_time_and_works_when_thawed() {
    let mut redis = Redis::start();
    let records = RedisRecords::connect(&redis.url()).unwrap();
    a_frozen_server_fails_calls_in_time(&mut redis.server, &records, REDIS_BOUND);
}

#[test]
fn mongo_frozen_fails_calls_in_time_and_works_when_thawed() {
    let mut mongo = Mongo::start();
    let records = MongoRecords::connect(&mongo.url()).unwrap();
    a_frozen_server_fails_calls_in_time(&mut mongo.server, &records, MONGO_BOUND);
}

/// Redis restarted under a pool of several connections (all dead after the restart): a write
/// while it is down fails, and the first write after it is back works (a pooled connection is
/// checked before a write, and one failure drops every idle connection), as does every call
/// after; the write acknowledged before the restart is still there.
#[test]
fn redis_writes_work_at_once_after_a_restart_under_a_full_pool() {
    let mut redis = Redis::start_durable();
    let records = Arc::new(RedisRecords::connect(&redis.url()).unwrap());
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    // Four readers at once leave four connections in the pool.
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (records, barrier) = (records.clone(), barrier.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    barrier.wait();
                    records.get("users/a.json").unwrap().unwrap();
                }
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    let clients = {
        let mut cmd = Command::new(find_program("redis-cli", &["/usr/bin"], "redis-tools"));
        cmd.args(["-u", &redis.url(), "CLIENT", "LIST"]);
        let logs = tempfile::tempdir().unwrap();
        run(cmd, logs.path()).success().stdout.lines().count() - 1
    };
    assert!(clients >= 2, "only {clients} pooled connection(s)");

    redis.server.stop_keeping_data();
    assert!(records.put("users/b.json", b"2", Expect::Absent).is_err());
    redis.server.start_again();
    for (key, value) in [("users/c.json", b"3"), ("users/d.json", b"4")] {
        assert!(
            records
                .put(key, value, Expect::Absent)
                .unwrap_or_else(|e| panic!("{key}: {e:#}")),
            "{key}"
        );
    }
    assert_eq!(records.get("users/a.json").unwrap().unwrap().bytes, b"1");
    assert!(records.get("users/b.json").unwrap().is_none());
    assert_eq!(
        records.list("users").unwrap(),
        ["users/a.json", "users/c.json", "users/d.json"]
    );
}
