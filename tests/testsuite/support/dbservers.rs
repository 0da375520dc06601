//! Real state servers for the state-backend tests (issue 13): PostgreSQL, MariaDB, Redis and
//! nx-27017 (a MongoDB wire-protocol server from PyPI, the MongoDB stand-in), each started by
//! the test on 127.0.0.1 in a temporary directory and stopped when its handle drops.
//!
//! Every server runs under `scripts/supervise.py`, which ties the server's life to its stdin
//! (held here): dropping the handle closes it and the script stops the server (a graceful
//! signal, then SIGKILL of its process group after 10 s); if the test process dies, the kernel
//! closes the pipe and the same happens; if the script itself is SIGKILLed, the kernel signals
//! the server (`PR_SET_PDEATHSIG`). No server outlives its test.
//!
//! Ports: nx-27017 listens on port 0 and its log says which port the system gave it. The
//! others cannot take port 0 (PostgreSQL refuses it, MariaDB reads it as 3306, Redis as "no
//! TCP"), so the harness asks the system for a free port, passes it on, and on a bind race
//! (the log says "Address already in use") starts again on another port. A server is ready
//! when its own log says so (never a bare TCP connect, which another process's listener on a
//! raced port would also answer).
//!
//! A missing server binary fails the test with the package to install; there is no skip.
//! A server that is not ready within [`STARTUP_TIMEOUT`] fails the test with its log.

#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one server may take to be ready, and one setup step (initdb,
/// mariadb-install-db) to finish.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many ports a fixed-port server tries when another process takes the port first.
const BIND_ATTEMPTS: usize = 5;

/// How long dropping a handle waits for the supervisor to stop the server (its grace is 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The pinned nx-27017 of `.ci/run`.
pub const NX_27017_VERSION: &str = "0.8.1";

const DEBIAN_HINT: &str = "run `.ci/run`, or `apt-get install -y";

/// The user and database every SQL server is set up with (the password is random per server).
/// The user may do anything (PostgreSQL superuser; MariaDB `ALL ON *.*`), so tests can create
/// more databases.
pub const USER: &str = "ktra";
pub const DATABASE: &str = "ktra";

/// One running server under `scripts/supervise.py`, stopped on drop.
pub struct Server {
    name: &'static str,
    supervisor: Child,
    // Held open: the supervisor stops the server when its stdin closes.
    stdin: Option<ChildStdin>,
    pid: u32,
    port: u16,
    log: PathBuf,
    /// The supervisor's arguments with the port the server got: what starts it again.
    argv: Vec<OsString>,
    readiness: Readiness,
    /// Stopped by [`Server::pause`] (SIGSTOP), until [`Server::resume`].
    paused: bool,
    // Dropped after the server has stopped (fields drop after `Drop::drop`); `None` once kept.
    dir: Option<tempfile::TempDir>,
}

impl Server {
    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server process (not the supervisor).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The supervisor process (`scripts/supervise.py`).
    pub fn supervisor_pid(&self) -> u32 {
        self.supervisor.id()
    }

    /// The server's temporary directory (data, sockets, its log).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the server's dir").path()
    }

    /// Everything the server (and its supervisor) wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILLs the supervisor (what happens to it when a test runner kills everything): the
    /// kernel must then stop the server by itself.
    pub fn kill_supervisor(&mut self) {
        self.supervisor.kill().expect("kill the supervisor");
        self.supervisor.wait().expect("wait for the supervisor");
    }

    /// Whether the server runs (not stopped by [`Server::stop_keeping_data`]).
    pub fn running(&self) -> bool {
        self.stdin.is_some()
    }

    /// Stops the server as its service manager would (its stop signal: a clean shutdown),
    /// keeping its data and its port: [`Server::start_again`] brings it back as it was.
    pub fn stop_keeping_data(&mut self) {
        assert!(self.running(), "{} is not running", self.name);
        if self.paused {
            self.resume();
        }
        let stop = option_value(&self.argv, "--stop-signal").unwrap_or_else(|| "TERM".into());
        signal(&stop, &self.pid.to_string());
        // The server exits by itself: the supervisor exits with it and leaves the dir.
        if wait_bounded(&mut self.supervisor, STOP_TIMEOUT).is_none() {
            panic!(
                "{} did not stop within {STOP_TIMEOUT:?} of SIG{stop}\n--- log\n{}",
                self.name,
                tail(&self.log())
            );
        }
        drop(self.stdin.take());
        // Nothing listens any more (a refused connection, as from a stopped server).
        assert!(
            TcpStream::connect(("127.0.0.1", self.port)).is_err(),
            "{} still answers on port {} after stopping",
            self.name,
            self.port
        );
    }

    /// Starts the server again after [`Server::stop_keeping_data`], on the same port, with the
    /// same data.
    pub fn start_again(&mut self) {
        assert!(!self.running(), "{} is running", self.name);
        let start_of_log = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let (mut supervisor, stdin, pid) = spawn_supervisor(self.name, &self.argv, &self.log);
        match await_ready(
            &mut supervisor,
            &self.log,
            start_of_log,
            self.readiness,
            self.port,
        ) {
            Ready::Port(_) => {}
            Ready::Exited(status, text) => panic!(
                "{} did not start again on port {} ({})\n--- log\n{}",
                self.name,
                self.port,
                describe(status),
                tail(&text)
            ),
            Ready::TimedOut(text) => {
                drop(stdin);
                let _ = wait_bounded(&mut supervisor, STOP_TIMEOUT);
                panic!(
                    "{} was not ready again within {STARTUP_TIMEOUT:?}\n--- log\n{}",
                    self.name,
                    tail(&text)
                );
            }
        }
        (self.supervisor, self.stdin, self.pid) = (supervisor, Some(stdin), pid);
    }

    /// Freezes the server and every process it started (SIGSTOP; PostgreSQL's backends are
    /// in sessions of their own, so not in its process group): its port still accepts
    /// connections (the kernel completes them) but nothing answers, as with a hung server.
    pub fn pause(&mut self) {
        assert!(
            self.running() && !self.paused,
            "{} is not running",
            self.name
        );
        signal("STOP", &self.pid.to_string());
        for pid in descendants(self.pid) {
            signal("STOP", &pid.to_string());
        }
        self.paused = true;
    }

    /// Lets a [`Server::pause`]d server run again.
    pub fn resume(&mut self) {
        if self.paused {
            for pid in descendants(self.pid) {
                signal("CONT", &pid.to_string());
            }
            signal("CONT", &self.pid.to_string());
            self.paused = false;
        }
    }

    fn stop(&mut self) {
        self.resume();
        // Closing stdin tells the supervisor to stop the server.
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.supervisor.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // Last resort: the kernel then sends the server its stop signal.
        let _ = self.supervisor.kill();
        let _ = self.supervisor.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if keep_dirs()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("kept {} ({})", dir.keep().display(), self.name);
        }
    }
}

/// `KTRA_E2E_KEEP=1` keeps each server's temp dir (data and log), as for the other tests.
fn keep_dirs() -> bool {
    std::env::var_os("KTRA_E2E_KEEP").is_some_and(|v| v == "1")
}

/// Whether process `pid` still runs (a zombie, dead but not yet reaped, does not).
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `PID (COMM) S ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// PostgreSQL from Debian's `postgresql` package: `initdb` into a temp dir and `postgres` in
/// the foreground, both as an unprivileged user when the tests run as root (the server
/// refuses root). TCP on 127.0.0.1 only (no Unix socket), password authentication, and
/// `fsync=off` (a test server loses nothing worth keeping in a crash).
pub struct Postgres {
    pub server: Server,
    password: String,
}

impl Postgres {
    pub fn start() -> Postgres {
        let initdb = postgres_program("initdb");
        let bin = initdb
            .parent()
            .expect("initdb lives in a bin dir")
            .to_owned();
        let postgres = bin.join("postgres");
        let psql = bin.join("psql");
        let user = unprivileged_user(&["postgres", "nobody"]);
        let password = random_password();

        let dir = server_dir("postgres");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("password");
        fs::write(&pwfile, format!("{password}\n")).expect("write the password file");
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o644)).expect("chmod");
        if let Some(user) = &user {
            // initdb creates `data` itself; its parent must be the server user's.
            chown(dir.path(), user);
        }
        let log = dir.path().join("server.log");
        let mut args: Vec<OsString> = vec!["--stop-signal".into(), "INT".into()];
        if let Some(user) = &user {
            args.extend(["--user".into(), user.name.clone().into()]);
        }
        let mut init_args = args.clone();
        init_args.extend([
            "--".into(),
            initdb.clone().into(),
            "-D".into(),
            data.clone().into(),
            "-U".into(),
            USER.into(),
            format!("--pwfile={}", pwfile.display()).into(),
            "--auth-host=scram-sha-256".into(),
            "--auth-local=trust".into(),
            "--no-locale".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-sync".into(),
        ]);
        run_step("PostgreSQL (initdb)", "postgresql", &init_args, &log);

        let server = start_server(
            "PostgreSQL",
            "postgresql",
            dir,
            &log,
            Readiness::FixedPort("database system is ready to accept connections"),
            |port| {
                let mut a = args.clone();
                a.extend(["--".into(), postgres.clone().into(), "-D".into()]);
                a.push(data.clone().into());
                a.extend(["-p".into(), port.to_string().into()]);
                for setting in [
                    "listen_addresses=127.0.0.1",
                    // No Unix socket: Debian's default directory is root's.
                    "unix_socket_directories=",
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                ] {
                    a.extend(["-c".into(), setting.into()]);
                }
                a
            },
        );
        let pg = Postgres { server, password };
        let created = Command::new(&psql)
            .arg(pg.url_for("postgres"))
            .args(["-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE {DATABASE}"))
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", psql.display()));
        assert!(
            created.status.success(),
            "PostgreSQL: CREATE DATABASE failed ({}): {}\nserver log:\n{}",
            created.status,
            String::from_utf8_lossy(&created.stderr),
            tail(&pg.server.log())
        );
        pg
    }

    /// `postgres://ktra:PASSWORD@127.0.0.1:PORT/ktra`
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of another database on this server.
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{database}",
            self.password,
            self.server.port()
        )
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// `psql` next to the server's binaries (Debian's `/usr/bin/psql` is a wrapper that picks
    /// a version).
    pub fn psql(&self) -> PathBuf {
        postgres_program("psql")
    }
}

/// MariaDB from Debian's `mariadb-server` package: `mariadb-install-db` into a temp dir, then
/// `mariadbd` on 127.0.0.1 (and a Unix socket in the temp dir), with the user and database made
/// by an `--init-file` at each start. As root it runs with `--user=root` (mariadbd refuses root
/// otherwise); small InnoDB files keep the setup under a second.
pub struct MariaDb {
    pub server: Server,
    password: String,
}

impl MariaDb {
    pub fn start() -> MariaDb {
        let install_db = find_program(
            "mariadb-install-db",
            &["/usr/bin", "/usr/sbin"],
            "mariadb-server",
        );
        let mariadbd = find_program("mariadbd", &["/usr/sbin", "/usr/bin"], "mariadb-server");
        let password = random_password();
        let dir = server_dir("mariadb");
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        let as_root = running_as_root();
        let innodb = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"];

        let mut init_args: Vec<OsString> = vec![
            "--".into(),
            install_db.into(),
            "--no-defaults".into(),
            format!("--datadir={}", data.display()).into(),
            "--auth-root-authentication-method=normal".into(),
            "--skip-test-db".into(),
        ];
        if as_root {
            init_args.push("--user=root".into());
        }
        init_args.extend(innodb.map(OsString::from));
        run_step(
            "MariaDB (mariadb-install-db)",
            "mariadb-server",
            &init_args,
            &log,
        );

        let init_sql = dir.path().join("init.sql");
        fs::write(
            &init_sql,
            format!(
                "CREATE DATABASE IF NOT EXISTS {DATABASE};\n\
                 CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{password}';\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;\n"
            ),
        )
        .expect("write the init file");

        let server = start_server(
            "MariaDB",
            "mariadb-server",
            dir,
            &log,
            Readiness::FixedPort("ready for connections"),
            |port| {
                let mut a: Vec<OsString> = vec![
                    "--".into(),
                    mariadbd.clone().into(),
                    // Not /etc/mysql/my.cnf: its socket and pid paths are root's.
                    "--no-defaults".into(),
                    format!("--datadir={}", data.display()).into(),
                    format!("--socket={}", data.join("mysqld.sock").display()).into(),
                    format!("--pid-file={}", data.join("mysqld.pid").display()).into(),
                    format!("--init-file={}", init_sql.display()).into(),
                    "--bind-address=127.0.0.1".into(),
                    format!("--port={port}").into(),
                    "--skip-name-resolve".into(),
                    "--skip-log-bin".into(),
                ];
                if as_root {
                    a.push("--user=root".into());
                }
                a.extend(innodb.map(OsString::from));
                a
            },
        );
        MariaDb { server, password }
    }

    /// `mysql://ktra:PASSWORD@127.0.0.1:PORT/ktra`
    pub fn url(&self) -> String {
        format!(
            "mysql://{USER}:{}@127.0.0.1:{}/{DATABASE}",
            self.password,
            self.server.port()
        )
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's Unix socket (root may log in there as `root` without a password).
    pub fn socket(&self) -> PathBuf {
        self.server.dir().join("data/mysqld.sock")
    }
}

/// Redis from Debian's `redis-server` package, in the foreground on 127.0.0.1, no password, no
/// persistence (`save ""`, no AOF) unless started [`Redis::start_durable`].
pub struct Redis {
    pub server: Server,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(None, false)
    }

    /// Like [`Redis::start`], but tries `port` first: a test of the bind-race retry.
    pub fn start_trying(port: Option<u16>) -> Redis {
        Redis::start_with(port, false)
    }

    /// A Redis that keeps its data across a restart, as one holding ktra's records must: an
    /// append-only file written before each command is answered (`appendfsync always`).
    pub fn start_durable() -> Redis {
        Redis::start_with(None, true)
    }

    fn start_with(port: Option<u16>, durable: bool) -> Redis {
        let program = find_program("redis-server", &["/usr/bin", "/usr/sbin"], "redis-server");
        let dir = server_dir("redis");
        let data = dir.path().to_owned();
        let log = dir.path().join("server.log");
        let mut first = port;
        let server = start_server(
            "Redis",
            "redis-server",
            dir,
            &log,
            Readiness::FixedPort("Ready to accept connections"),
            |free| {
                let port = first.take().unwrap_or(free);
                let mut a: Vec<OsString> = vec!["--".into(), program.clone().into()];
                for (k, v) in [
                    ("--port", port.to_string()),
                    ("--bind", "127.0.0.1".into()),
                    ("--save", String::new()),
                    ("--appendonly", if durable { "yes" } else { "no" }.into()),
                    ("--appendfsync", "always".into()),
                    ("--daemonize", "no".into()),
                    ("--logfile", String::new()),
                ] {
                    a.extend([k.into(), v.into()]);
                }
                a.extend(["--dir".into(), data.clone().into()]);
                a
            },
        );
        Redis { server }
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.server.port())
    }
}

/// The MongoDB stand-in: nx-27017 (PyPI, pinned in `.ci/run`), a MongoDB wire-protocol server
/// over SQLite, on 127.0.0.1 port 0 with one SQLite file per database in the temp dir. It
/// answers `hello` as a standalone server (no replica set), so drivers refuse multi-document
/// transactions against it.
pub struct Mongo {
    pub server: Server,
}

/// nx-27017's console script, run by the `python3` that `.ci/run` installed it for (no
/// dependence on where pip put its scripts).
const NX_27017_MAIN: &str = "import sys\n\
from nx_27017.nx_27017 import main\n\
sys.argv[0] = 'nx-27017'\n\
sys.exit(main())\n";

impl Mongo {
    pub fn start() -> Mongo {
        let install = format!(
            "run `.ci/run`, or `python3 -m pip install nx-27017=={NX_27017_VERSION}` \
             (with `--break-system-packages` on Debian's own python)"
        );
        match Command::new("python3")
            .args(["-c", "import nx_27017, pymongo"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "nx-27017 (the MongoDB stand-in) is not installed for python3: {install}\n{}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run python3 ({e}): nx-27017 needs it; {install}"),
        }
        let dir = server_dir("nx-27017");
        let log = dir.path().join("server.log");
        let data = dir.path().join("data");
        let pid_file = dir.path().join("nx-27017.pid");
        let server = start_server(
            "nx-27017",
            "nx-27017 (PyPI)",
            dir,
            &log,
            Readiness::PortInLog("Listening on 127.0.0.1:"),
            |_| {
                vec![
                    "--".into(),
                    "python3".into(),
                    "-c".into(),
                    NX_27017_MAIN.into(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    "0".into(),
                    "--data-dir".into(),
                    data.clone().into(),
                    // Its defaults are shared paths in /tmp, and it refuses to start while
                    // the pid file names a live process.
                    "--pid-file".into(),
                    pid_file.clone().into(),
                    // Its log also goes to stderr, which is in server.log.
                    "--log-file".into(),
                    "/dev/null".into(),
                ]
            },
        );
        Mongo { server }
    }

    /// `mongodb://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}/", self.server.port())
    }
}

/// How to tell that a server is ready, from its log.
#[derive(Clone, Copy)]
enum Readiness {
    /// The harness picked the port; this line appears once the server accepts connections.
    FixedPort(&'static str),
    /// The server picked the port (port 0) and prints it right after this text, once it
    /// listens.
    PortInLog(&'static str),
}

/// Starts `scripts/supervise.py ARGS(port)` and waits until the server's log says it is
/// ready. `args` gets a free port (ignored by [`Readiness::PortInLog`] servers); on a bind
/// race it is called again with another.
fn start_server(
    name: &'static str,
    package: &str,
    dir: tempfile::TempDir,
    log: &Path,
    readiness: Readiness,
    mut args: impl FnMut(u16) -> Vec<OsString>,
) -> Server {
    let mut dir = Some(dir);
    for attempt in 1..=BIND_ATTEMPTS {
        let port = free_port();
        let argv = args(port);
        // The port the server was told, for a fixed-port server.
        let told = port_argument(&argv).unwrap_or(port);
        let start_of_log = fs::metadata(log).map(|m| m.len()).unwrap_or(0);
        let (mut supervisor, stdin, pid) = spawn_supervisor(name, &argv, log);
        let ready_port = match await_ready(&mut supervisor, log, start_of_log, readiness, told) {
            Ready::Port(port) => port,
            Ready::Exited(_, text)
                if text.contains("Address already in use") && attempt < BIND_ATTEMPTS =>
            {
                // Another process took the port between our probe and the server's bind.
                continue;
            }
            Ready::Exited(status, text) => panic!(
                "{name} did not start ({}); if it is not installed: {DEBIAN_HINT} \
                 {package}`\n--- log ({})\n{}",
                describe(status),
                log.display(),
                tail(&text)
            ),
            Ready::TimedOut(text) => {
                drop(stdin);
                let _ = wait_bounded(&mut supervisor, STOP_TIMEOUT);
                panic!(
                    "{name} was not ready within {STARTUP_TIMEOUT:?}\n--- log ({})\n{}",
                    log.display(),
                    tail(&text)
                );
            }
        };
        // The log said so; a connection proves it.
        if let Err(e) = TcpStream::connect(("127.0.0.1", ready_port)) {
            panic!(
                "{name} said it was ready but 127.0.0.1:{ready_port} refuses: {e}\n--- log\n{}",
                tail(&read_from(log, start_of_log))
            );
        }
        return Server {
            name,
            supervisor,
            stdin: Some(stdin),
            pid,
            port: ready_port,
            log: log.to_owned(),
            argv: with_port(argv, ready_port),
            readiness,
            paused: false,
            dir: Some(dir.take().expect("the dir is used once")),
        };
    }
    unreachable!("the last attempt panics or returns")
}

/// What the server's log said while it started.
enum Ready {
    /// Ready, on this port.
    Port(u16),
    /// The supervisor exited (the server did not start), with the log of this attempt.
    Exited(ExitStatus, String),
    /// Not ready within [`STARTUP_TIMEOUT`], with the log of this attempt.
    TimedOut(String),
}

/// Waits until the log (from byte `start_of_log`) says the server is ready; `told` is the port
/// a [`Readiness::FixedPort`] server was given.
fn await_ready(
    supervisor: &mut Child,
    log: &Path,
    start_of_log: u64,
    readiness: Readiness,
    told: u16,
) -> Ready {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let text = read_from(log, start_of_log);
        let ready = match readiness {
            Readiness::FixedPort(line) => text.contains(line).then_some(told),
            Readiness::PortInLog(prefix) => text.find(prefix).and_then(|at| {
                let rest = &text[at + prefix.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                // The whole number: the line must have ended.
                rest[digits.len()..]
                    .starts_with('\n')
                    .then(|| digits.parse().ok())
                    .flatten()
            }),
        };
        if let Some(port) = ready {
            return Ready::Port(port);
        }
        if let Some(status) = supervisor.try_wait().expect("wait for the supervisor") {
            return Ready::Exited(status, read_from(log, start_of_log));
        }
        if Instant::now() > deadline {
            // Read first: stopping the server removes its dir, log included.
            return Ready::TimedOut(read_from(log, start_of_log));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The command line with `port` as the value of its `--port` (nx-27017 was told port 0), so
/// that it starts again on the port it got.
fn with_port(mut argv: Vec<OsString>, port: u16) -> Vec<OsString> {
    if let Some(i) = argv.iter().position(|a| a == "--port")
        && let Some(value) = argv.get_mut(i + 1)
    {
        *value = port.to_string().into();
    }
    argv
}

/// The value after `name` in a command line, if any.
fn option_value(argv: &[OsString], name: &str) -> Option<String> {
    let i = argv.iter().position(|a| a == name)?;
    argv.get(i + 1).map(|v| v.to_string_lossy().into_owned())
}

/// The processes below `pid` (children, their children, ...), from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // `PID (COMM) STATE PPID ...`: the command may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((child, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// `kill -s SIGNAL PID`.
fn signal(name: &str, target: &str) {
    let status = Command::new("kill")
        .args(["-s", name, "--", target])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -s {name} -- {target}: {status}");
}

/// The value of `--port N`, `--port=N` or `-p N` in a command line, if any.
fn port_argument(argv: &[OsString]) -> Option<u16> {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix("--port=") {
            return v.parse().ok();
        }
        if a == "--port" || a == "-p" {
            return args.get(i + 1).and_then(|v| v.parse().ok());
        }
        None
    })
}

/// Runs a setup step (initdb, mariadb-install-db) under the supervisor to completion.
fn run_step(name: &'static str, package: &str, args: &[OsString], log: &Path) {
    let (mut supervisor, stdin, _) = spawn_supervisor(name, args, log);
    let status = wait_bounded(&mut supervisor, STARTUP_TIMEOUT);
    // Read first: stopping an unfinished step removes the dir, log included.
    let text = fs::read_to_string(log).unwrap_or_default();
    drop(stdin);
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "{name} failed ({}); if it is not installed: {DEBIAN_HINT} {package}`\n--- log ({})\n{}",
            describe(s),
            log.display(),
            tail(&text)
        ),
        None => {
            let _ = wait_bounded(&mut supervisor, STOP_TIMEOUT);
            panic!(
                "{name} did not finish within {STARTUP_TIMEOUT:?}\n--- log ({})\n{}",
                log.display(),
                tail(&text)
            )
        }
    }
}

/// Starts `scripts/supervise.py --log LOG ARGS` and reads the pid it prints. The log's
/// directory is the server's temp dir: the supervisor removes it when it stops the command
/// (dropped handle or dead test process), unless `KTRA_E2E_KEEP=1`.
fn spawn_supervisor(name: &str, args: &[OsString], log: &Path) -> (Child, ChildStdin, u32) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/supervise.py");
    let mut options: Vec<OsString> = vec!["--log".into(), log.into()];
    if !keep_dirs() {
        let dir = log.parent().expect("the log is in the server's dir");
        options.extend(["--remove-dir".into(), dir.into()]);
    }
    let open_log = || {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the server log")
    };
    let mut supervisor = Command::new("python3")
        .arg(&script)
        .args(options)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(open_log())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start python3 {}: {e}", script.display()));
    let stdin = supervisor.stdin.take().expect("piped stdin");
    // The first line is the server's pid; EOF if it could not start.
    let mut line = String::new();
    let mut stdout = BufReader::new(supervisor.stdout.take().expect("piped stdout"));
    let _ = stdout.read_line(&mut line);
    let Ok(pid) = line.trim().parse::<u32>() else {
        drop(stdin);
        let status = supervisor.wait().expect("wait for the supervisor");
        panic!(
            "{name}: scripts/supervise.py did not start it ({})\n--- log ({})\n{}",
            describe(status),
            log.display(),
            tail(&fs::read_to_string(log).unwrap_or_default())
        );
    };
    (supervisor, stdin, pid)
}

fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the supervisor") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(127) => "exit status 127: the program could not be run".to_owned(),
        _ => status.to_string(),
    }
}

/// The log from byte `start` on (what the current attempt wrote).
fn read_from(log: &Path, start: u64) -> String {
    let bytes = fs::read(log).unwrap_or_default();
    let start = usize::try_from(start).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The last 150 lines of a log, for a panic message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(150);
    lines[from..].join("\n")
}

/// A port nobody listens on now: the system's pick for port 0. Ports handed out earlier in
/// this process are skipped, so two servers of one test run never race for the same one.
fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        if given.insert(port) {
            return port;
        }
    }
}

/// A temp dir for one server, which other users may enter (PostgreSQL runs as one).
fn server_dir(what: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("ktra-{what}-"))
        .tempdir()
        .expect("create a temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    dir
}

/// `name` from PATH or the given directories, else a failure naming the Debian package.
pub fn find_program(name: &str, dirs: &[&str], package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(dirs.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found in PATH or {dirs:?}: install Debian's `{package}` package \
                 ({DEBIAN_HINT} {package}`)"
            )
        })
}

/// A PostgreSQL program: Debian keeps them in `/usr/lib/postgresql/VERSION/bin`, off PATH
/// (the highest version wins); else PATH.
fn postgres_program(name: &str) -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let program = e.path().join("bin").join(name);
            program.is_file().then_some((version, program))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, program)) => program,
        None => find_program(name, &[], "postgresql"),
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

struct Account {
    name: String,
    uid: u32,
    gid: u32,
}

/// The first of `names` that exists, when running as root (else `None`: run as ourselves).
fn unprivileged_user(names: &[&str]) -> Option<Account> {
    if !running_as_root() {
        return None;
    }
    for name in names {
        let Ok(out) = Command::new("getent").args(["passwd", name]).output() else {
            continue;
        };
        let line = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = line.trim().split(':').collect();
        if let (true, Some(uid), Some(gid)) = (
            out.status.success(),
            fields.get(2).and_then(|s| s.parse().ok()),
            fields.get(3).and_then(|s| s.parse().ok()),
        ) {
            return Some(Account {
                name: (*name).to_owned(),
                uid,
                gid,
            });
        }
    }
    panic!("running as root, but none of the users {names:?} exists to run the server as");
}

fn chown(path: &Path, user: &Account) {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .unwrap_or_else(|e| panic!("chown {} to {}: {e}", path.display(), user.name));
}

/// 20 random letters and digits: no character a URL would need to escape.
fn random_password() -> String {
    let mut rng = fastrand::Rng::new();
    (0..20).map(|_| rng.alphanumeric()).collect()
}
