//! The state servers of `support::dbservers` (issue 13) start, answer their own clients at the
//! URL ktra will be given, and leave no process behind: not when their handle drops, not when
//! their supervisor is SIGKILLed, and they find another port when theirs is taken.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::dbservers::{
    self, DATABASE, MariaDb, Mongo, Postgres, Redis, USER, find_program, process_alive,
};
use crate::support::{Outcome, run};

/// Runs a client to completion (logs in a temp dir of its own), and demands success.
fn client(cmd: Command) -> Outcome {
    let logs = tempfile::tempdir().expect("temp dir");
    run(cmd, logs.path()).success()
}

/// The server process is gone and its port refuses connections.
fn assert_stopped(what: &str, pid: u32, port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while process_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) still runs {within:?} after it should have stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "{what}'s port {port} still accepts connections after it stopped"
    );
}

/// The real user id of a process, from `/proc/PID/status`.
fn uid_of(pid: u32) -> u32 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
        .expect("a Uid line")
}

#[test]
fn postgres_answers_psql_at_its_url_as_an_unprivileged_user() {
    let pg = Postgres::start();
    let url = pg.url();
    assert!(
        url.starts_with(&format!("postgres://{USER}:{}@127.0.0.1:", pg.password()))
            && url.ends_with(&format!(":{}/{DATABASE}", pg.server.port())),
        "{url}"
    );
    let mut psql = Command::new(pg.psql());
    psql.arg(&url).args([
        "-qtA",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "select 1",
        "-c",
        "select current_user || ' ' || current_database()",
        "-c",
        "create table t (x int); insert into t values (42); select x from t",
    ]);
    let out = client(psql);
    assert_eq!(
        out.stdout,
        format!("1\n{USER} {DATABASE}\n42\n"),
        "{}",
        out.describe()
    );
    // A wrong password is refused: the URL's password is the one that counts.
    let mut wrong = Command::new(pg.psql());
    wrong
        .arg(url.replace(pg.password(), "wrong"))
        .args(["-c", "select 1"]);
    let logs = tempfile::tempdir().expect("temp dir");
    let refused = run(wrong, logs.path()).failure();
    assert!(
        refused.stderr.contains("password authentication failed"),
        "{}",
        refused.describe()
    );
    // PostgreSQL refuses to run as root.
    assert_ne!(uid_of(pg.server.pid()), 0, "postgres runs as root");

    let (pid, port) = (pg.server.pid(), pg.server.port());
    drop(pg);
    assert_stopped("postgres", pid, port, Duration::from_secs(5));
}

#[test]
fn postgres_stops_when_its_supervisor_is_killed() {
    // What a test runner's SIGKILL does to the supervisor: the kernel must stop the server
    // (parent-death signal, set after the switch to the unprivileged user).
    let mut pg = Postgres::start();
    let (pid, port) = (pg.server.pid(), pg.server.port());
    pg.server.kill_supervisor();
    assert_stopped(
        "postgres without its supervisor",
        pid,
        port,
        Duration::from_secs(20),
    );
    let log = pg.server.log();
    assert!(
        log.contains("database system is shut down"),
        "postgres did not shut down cleanly:\n{log}"
    );
}

#[test]
fn mariadb_answers_the_mariadb_client_at_its_url() {
    let db = MariaDb::start();
    let url = db.url();
    let port = db.server.port();
    assert_eq!(
        url,
        format!(
            "mysql://{USER}:{}@127.0.0.1:{port}/{DATABASE}",
            db.password()
        )
    );
    let mariadb = find_program("mariadb", &["/usr/bin"], "mariadb-client");
    let mut cmd = Command::new(&mariadb);
    cmd.arg("--no-defaults")
        .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", USER])
        .arg(format!("-p{}", db.password()))
        .args(["-N", "-B", DATABASE, "-e"])
        .arg(
            "select 1; select concat(current_user(), ' ', database()); \
             create table t (x int); insert into t values (42); select x from t;",
        );
    let out = client(cmd);
    assert_eq!(
        out.stdout,
        format!("1\n{USER}@% {DATABASE}\n42\n"),
        "{}",
        out.describe()
    );

    let pid = db.server.pid();
    drop(db);
    assert_stopped("mariadbd", pid, port, Duration::from_secs(5));
}

#[test]
fn redis_answers_redis_cli_at_its_url() {
    let redis = Redis::start();
    let port = redis.server.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));
    let cli = find_program("redis-cli", &["/usr/bin"], "redis-tools");
    let mut ping = Command::new(&cli);
    ping.args(["-u", &redis.url(), "ping"]);
    assert_eq!(client(ping).stdout, "PONG\n");
    let mut set = Command::new(&cli);
    set.args(["-u", &redis.url(), "set", "k", "v"]);
    client(set);
    let mut get = Command::new(&cli);
    get.args(["-u", &redis.url(), "get", "k"]);
    assert_eq!(client(get).stdout, "v\n");

    let pid = redis.server.pid();
    drop(redis);
    assert_stopped("redis-server", pid, port, Duration::from_secs(5));
}

#[test]
fn redis_moves_to_another_port_when_its_port_is_taken() {
    // Another process got the free port first (a bind race): the harness starts again on
    // another port instead of failing.
    let taken = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let redis = Redis::start_trying(Some(taken_port));
    assert_ne!(redis.server.port(), taken_port);
    assert!(
        redis.server.log().contains("Address already in use"),
        "the first attempt should have failed:\n{}",
        redis.server.log()
    );
    let cli = find_program("redis-cli", &["/usr/bin"], "redis-tools");
    let mut ping = Command::new(&cli);
    ping.args(["-u", &redis.url(), "ping"]);
    assert_eq!(client(ping).stdout, "PONG\n");
    drop(taken);
}

#[test]
fn mongo_stand_in_answers_pymongo_at_its_url() {
    let mongo = Mongo::start();
    let port = mongo.server.port();
    assert_eq!(mongo.url(), format!("mongodb://127.0.0.1:{port}/"));
    // pymongo comes with nx-27017; the official driver's handshake, a write and a read.
    let mut py = Command::new("python3");
    py.arg("-c")
        .arg(
            "import sys, pymongo\n\
             c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)\n\
             print(c.admin.command('ping')['ok'])\n\
             c.ktra.t.insert_one({'x': 42})\n\
             print(c.ktra.t.find_one({}, {'_id': 0})['x'])\n",
        )
        .arg(mongo.url());
    let out = client(py);
    assert_eq!(out.stdout, "1\n42\n", "{}", out.describe());

    let pid = mongo.server.pid();
    drop(mongo);
    assert_stopped("nx-27017", pid, port, Duration::from_secs(5));
}

/// Stopped (a clean shutdown) and started again, a server is back on its port with its data;
/// paused, it accepts connections and answers nothing until resumed.
#[test]
fn servers_stop_and_start_again_on_their_port_with_their_data() {
    let cli = find_program("redis-cli", &["/usr/bin"], "redis-tools");
    let redis_cli = |url: &str, args: &[&str]| {
        let mut cmd = Command::new(&cli);
        cmd.args(["-u", url]).args(args);
        client(cmd).stdout
    };
    let mut redis = Redis::start_durable();
    let (url, port, dir) = (
        redis.url(),
        redis.server.port(),
        redis.server.dir().to_owned(),
    );
    redis_cli(&url, &["set", "k", "v"]);
    let pid = redis.server.pid();
    redis.server.stop_keeping_data();
    assert_stopped("redis-server", pid, port, Duration::from_secs(5));
    assert!(dir.is_dir(), "the data dir went away with the server");
    redis.server.start_again();
    assert_eq!(redis.server.port(), port);
    assert_eq!(redis_cli(&url, &["get", "k"]), "v\n");

    // Paused: the connection is made, no answer comes.
    redis.server.pause();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the kernel still accepts");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    std::io::Write::write_all(&mut stream, b"PING\r\n").unwrap();
    let mut buf = [0u8; 16];
    let read = std::io::Read::read(&mut stream, &mut buf);
    assert!(read.is_err(), "a paused server answered: {read:?}");
    redis.server.resume();
    assert_eq!(redis_cli(&url, &["ping"]), "PONG\n");

    let mut pg = Postgres::start();
    let psql = |pg: &Postgres, sql: &str| {
        let mut cmd = Command::new(pg.psql());
        cmd.arg(pg.url())
            .args(["-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        client(cmd).stdout
    };
    psql(&pg, "create table t (x int); insert into t values (42)");
    let (pid, port) = (pg.server.pid(), pg.server.port());
    pg.server.stop_keeping_data();
    assert_stopped("postgres", pid, port, Duration::from_secs(5));
    pg.server.start_again();
    assert_eq!(psql(&pg, "select x from t"), "42\n");

    let mut mongo = Mongo::start();
    let pymongo = |url: &str, code: &str| {
        let mut py = Command::new("python3");
        py.arg("-c")
            .arg(format!(
                "import sys, pymongo\n\
                 c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=10000)\n{code}"
            ))
            .arg(url);
        client(py).stdout
    };
    let url = mongo.url();
    pymongo(&url, "c.ktra.t.insert_one({'x': 42})");
    let (pid, port) = (mongo.server.pid(), mongo.server.port());
    mongo.server.stop_keeping_data();
    assert_stopped("nx-27017", pid, port, Duration::from_secs(5));
    mongo.server.start_again();
    assert_eq!(mongo.url(), url, "nx-27017 came back on another port");
    assert_eq!(
        pymongo(&url, "print(c.ktra.t.find_one({}, {'_id': 0})['x'])"),
        "42\n"
    );
}

/// Set for the child process of [`a_dying_test_process_leaves_no_server_behind`].
const HOLDER: &str = "KTRA_DBSERVERS_HOLD_A_SERVER";

/// Does nothing unless run by [`a_dying_test_process_leaves_no_server_behind`]: then starts
/// Redis, says where, and waits to be killed (or for its stdin to close, should the test that
/// started it die first).
#[test]
fn hold_a_server_until_killed() {
    if std::env::var_os(HOLDER).is_none() {
        return;
    }
    let redis = Redis::start();
    println!(
        "HOLDING pid={} supervisor={} port={} dir={}",
        redis.server.pid(),
        redis.server.supervisor_pid(),
        redis.server.port(),
        redis.server.dir().display()
    );
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

#[test]
fn a_dying_test_process_leaves_no_server_behind() {
    // A test process killed with SIGKILL runs no destructor: its servers must still stop
    // and their temp dirs go.
    let mut holder = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "dbservers::hold_a_server_until_killed",
            "--exact",
            "--nocapture",
        ])
        .env(HOLDER, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the holder");
    let mut line = String::new();
    let mut out = BufReader::new(holder.stdout.take().expect("piped stdout"));
    while !line.starts_with("HOLDING") {
        line.clear();
        if out.read_line(&mut line).expect("read the holder") == 0 {
            let _ = holder.kill();
            panic!("the holder ended without starting a server");
        }
    }
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            .to_owned()
    };
    let pid: u32 = field("pid").parse().expect("pid");
    let supervisor: u32 = field("supervisor").parse().expect("supervisor pid");
    let port: u16 = field("port").parse().expect("port");
    let dir = std::path::PathBuf::from(field("dir"));
    assert!(process_alive(pid) && dir.is_dir(), "{line}");

    holder.kill().expect("SIGKILL the holder");
    holder.wait().expect("wait for the holder");
    assert_stopped(
        "redis-server of a killed test",
        pid,
        port,
        Duration::from_secs(15),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while process_alive(supervisor) || dir.exists() {
        assert!(
            Instant::now() < deadline,
            "15 s after the test process died: supervisor alive {}, {} exists {}",
            process_alive(supervisor),
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[should_panic(expected = "install Debian's `no-such-package` package")]
fn a_missing_server_names_its_package() {
    find_program("ktra-no-such-server", &[], "no-such-package");
}

#[test]
fn the_pinned_nx_27017_is_the_one_ci_installs() {
    let ci = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).expect(".ci/run");
    assert!(
        ci.contains(&format!(
            "\nNX_27017_VERSION={}\n",
            dbservers::NX_27017_VERSION
        )),
        ".ci/run does not pin nx-27017 {}",
        dbservers::NX_27017_VERSION
    );
}
