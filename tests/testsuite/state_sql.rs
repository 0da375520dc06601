//! The PostgreSQL and MySQL/MariaDB state backends (issue 13) against real servers started on
//! 127.0.0.1 by `support::dbservers`: the records contract, a race for one name, the schema
//! check, and errors that never show the password. Latency is measured by
//! `scripts/bench-state.sh`, not here.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ktra::state::Migrated;
use ktra::state::sql::{Settings, Sql, latest_schema};
use ktra::state::{Expect, Records, contract::contract, update};

use crate::support::dbservers::{MariaDb, Postgres};

fn connect(url: &str) -> Sql {
    Sql::connect(url, &Settings::default()).expect("a client")
}

/// Migrates an empty database, then runs the contract and what the contract leaves out.
fn keeps_records(url: &str) {
    let sql = connect(url);
    let err = sql.check().expect_err("an empty database has no schema");
    assert!(format!("{err:#}").contains("no ktra schema yet"), "{err:#}");
    assert_eq!(sql.schema_version().unwrap(), None);
    let latest = latest_schema();
    assert_eq!(
        sql.migrate().unwrap(),
        Migrated {
            from: 0,
            to: latest
        }
    );
    // Migrating again changes nothing.
    assert_eq!(
        sql.migrate().unwrap(),
        Migrated {
            from: latest,
            to: latest
        }
    );
    sql.check().expect("migrated");
    contract(&sql);

    // Listing is by folder, never by pattern: `_` and `%` are plain characters.
    for key in [
        "us_rs/a.json",
        "users/b.json",
        "u%/c.json",
        "u%x/d.json",
        "users0",
        "users.json",
        "users/deep/e.json",
    ] {
        assert!(sql.put(key, b"x", Expect::Absent).unwrap(), "{key}");
    }
    assert_eq!(sql.list("us_rs").unwrap(), ["us_rs/a.json"]);
    assert_eq!(sql.list("u%").unwrap(), ["u%/c.json"]);
    assert_eq!(
        sql.list("users/").unwrap(),
        ["users/alice.json", "users/b.json", "users/deep/e.json"]
    );
    let all = sql.list("").unwrap();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert!(all.len() >= 10, "{all:?}");

    // A record removed and written again does not take a version someone may still hold.
    let old = sql.get("users/b.json").unwrap().unwrap();
    sql.remove("users/b.json").unwrap();
    assert!(sql.put("users/b.json", b"x", Expect::Absent).unwrap());
    assert!(
        !sql.put("users/b.json", b"y", Expect::Version(old.version))
            .unwrap()
    );
    // A version of another backend (a hash, an ETag) matches nothing.
    assert!(
        !sql.put("users/b.json", b"y", Expect::Version("\"abc\"".into()))
            .unwrap()
    );
    // Bytes come back as written, whatever they are.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    assert!(sql.put("blobs/all.bin", &bytes, Expect::Absent).unwrap());
    assert_eq!(sql.get("blobs/all.bin").unwrap().unwrap().bytes, bytes);

    // Another client (another receiver) sees the same records.
    let other = connect(url);
    other.check().unwrap();
    assert_eq!(other.list("users").unwrap(), sql.list("users").unwrap());
}

/// Two clients (two receivers), four threads each: every round, all eight create the same key
/// at once and exactly one wins; then all eight add to one counter with `update` and no
/// increment is lost.
fn first_writer_wins(url: &str) {
    let clients = [Arc::new(connect(url)), Arc::new(connect(url))];
    // Two receivers migrating an empty database at once: each step is applied once.
    let migrating: Vec<_> = clients
        .iter()
        .map(|c| {
            let c = Arc::clone(c);
            std::thread::spawn(move || c.migrate().unwrap())
        })
        .collect();
    let mut froms: Vec<i64> = migrating
        .into_iter()
        .map(|h| h.join().unwrap().from)
        .collect();
    froms.sort();
    assert_eq!(froms, [0, latest_schema()]);
    const THREADS: usize = 8;
    const ROUNDS: usize = 20;
    const INCREMENTS: usize = 10;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let sql = Arc::clone(&clients[t % 2]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for round in 0..ROUNDS {
                    barrier.wait();
                    let key = format!("owners/race-{round}.json");
                    let body = format!("{t}");
                    if sql.put(&key, body.as_bytes(), Expect::Absent).unwrap() {
                        won.push(round);
                    }
                }
                for _ in 0..INCREMENTS {
                    update(sql.as_ref(), "counters/n", |old| {
                        let n: usize =
                            old.map_or(0, |b| std::str::from_utf8(b).unwrap().parse().unwrap());
                        Ok((n + 1).to_string().into_bytes())
                    })
                    .unwrap();
                }
                won
            })
        })
        .collect();
    let mut winners = vec![0; ROUNDS];
    for h in handles {
        for round in h.join().unwrap() {
            winners[round] += 1;
        }
    }
    assert_eq!(winners, vec![1; ROUNDS], "winners per round");
    let sql = &clients[0];
    for round in 0..ROUNDS {
        let r = sql
            .get(&format!("owners/race-{round}.json"))
            .unwrap()
            .unwrap();
        let t: usize = std::str::from_utf8(&r.bytes).unwrap().parse().unwrap();
        assert!(t < THREADS);
    }
    let n = sql.get("counters/n").unwrap().unwrap().bytes;
    assert_eq!(n, (THREADS * INCREMENTS).to_string().into_bytes());
}

/// A database migrated by a newer ktra is refused, by `check` and by `migrate`.
fn refuses_a_newer_schema(url: &str) {
    let sql = connect(url);
    sql.migrate().unwrap();
    let newer = latest_schema() + 1;
    sql.mark_schema_version_for_tests(newer).unwrap();
    for err in [
        sql.check().expect_err("a newer schema"),
        sql.migrate().expect_err("a newer schema"),
    ] {
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("schema version {newer}, newer than this ktra's")),
            "{text}"
        );
    }
    assert_eq!(sql.schema_version().unwrap(), Some(newer));
}

/// A wrong password fails with the backend, the operation and the place named, and neither
/// the password given nor the right one anywhere in the error.
fn never_shows_the_password(url: &str, password: &str, backend: &str) {
    let wrong = "Wr0ngPassw0rdXyz";
    let bad_url = url.replace(password, wrong);
    assert_ne!(bad_url, url);
    let settings = Settings {
        connect_timeout: Duration::from_secs(3),
        ..Settings::default()
    };
    let sql = Sql::connect(&bad_url, &settings).unwrap();
    for err in [
        sql.check().expect_err("a wrong password"),
        sql.get("users/a.json").expect_err("a wrong password"),
        sql.put("users/a.json", b"1", Expect::Absent)
            .expect_err("a wrong password"),
    ] {
        for text in [format!("{err:#}"), format!("{err:?}"), err.to_string()] {
            assert!(!text.contains(wrong), "{text}");
            assert!(!text.contains(password), "{text}");
            assert!(text.contains(backend), "{text}");
            assert!(text.contains("127.0.0.1"), "{text}");
        }
        assert!(
            err.downcast_ref::<ktra::state::Unavailable>().is_some(),
            "{err:?}"
        );
    }
    let err = sql.get("users/a.json").unwrap_err();
    assert!(
        format!("{err:#}").contains("failed to read `users/a.json`"),
        "{err:#}"
    );
    assert!(!format!("{sql:?}").contains(wrong));
    // An unreachable server: bounded, named.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let port = url
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let nowhere = url.replace(&format!(":{port}/"), &format!(":{closed}/"));
    let sql = Sql::connect(&nowhere, &settings).unwrap();
    let start = Instant::now();
    let err = sql.check().unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(15), "{err:#}");
    let text = format!("{err:#}");
    assert!(!text.contains(password), "{text}");
    assert!(text.contains(backend), "{text}");
}

/// p50 and p99 of `get` by primary key over 10,000 calls (after a warm-up).
#[test]
fn postgres_keeps_records_to_the_contract() {
    let pg = Postgres::start();
    keeps_records(&pg.url());
}

#[test]
fn postgres_first_writer_of_a_key_wins_a_race() {
    let pg = Postgres::start();
    first_writer_wins(&pg.url());
}

#[test]
fn postgres_refuses_a_schema_newer_than_the_binary() {
    let pg = Postgres::start();
    refuses_a_newer_schema(&pg.url());
}

#[test]
fn postgres_errors_never_show_the_password() {
    let pg = Postgres::start();
    never_shows_the_password(&pg.url(), pg.password(), "PostgreSQL");
}

#[test]
fn mariadb_keeps_records_to_the_contract() {
    let db = MariaDb::start();
    keeps_records(&db.url());
}

#[test]
fn mariadb_first_writer_of_a_key_wins_a_race() {
    let db = MariaDb::start();
    first_writer_wins(&db.url());
}

#[test]
fn mariadb_refuses_a_schema_newer_than_the_binary() {
    let db = MariaDb::start();
    refuses_a_newer_schema(&db.url());
}

#[test]
fn mariadb_errors_never_show_the_password() {
    let db = MariaDb::start();
    never_shows_the_password(&db.url(), db.password(), "MySQL/MariaDB");
}
