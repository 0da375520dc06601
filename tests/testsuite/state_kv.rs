//! The Redis and MongoDB backends of the registry's private records (issue 13), against real
//! servers started by the tests: Debian's `redis-server`, and nx-27017 (a MongoDB
//! wire-protocol server from PyPI; no real `mongod` is packaged here). Each runs the records
//! contract every backend must pass, races two writers for one name, and checks what the
//! backend leaves in the database.

use crate::support::dbservers::{Mongo, Redis};
use ktra::state::mongo::MongoRecords;
use ktra::state::redis::RedisRecords;
use ktra::state::{Expect, Records, contract::contract};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Two writers (two receivers: each its own connection) race `Expect::Absent` on `rounds`
/// keys, released together for each: exactly one wins every key, and the record holds the
/// winner's bytes.
fn race_for_names(a: Arc<dyn Records>, b: Arc<dyn Records>, rounds: usize) {
    let barrier = Arc::new(Barrier::new(2));
    let run = |records: Arc<dyn Records>, me: &'static [u8]| {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            (0..rounds)
                .map(|i| {
                    barrier.wait();
                    records
                        .put(&format!("owners/crate-{i}.json"), me, Expect::Absent)
                        .unwrap()
                })
                .collect::<Vec<bool>>()
        })
    };
    let left = run(a.clone(), b"left");
    let right = run(b.clone(), b"right");
    let (left, right) = (left.join().unwrap(), right.join().unwrap());
    let (mut left_wins, mut right_wins) = (0, 0);
    for i in 0..rounds {
        assert!(
            left[i] != right[i],
            "round {i}: exactly one writer must win (left {}, right {})",
            left[i],
            right[i]
        );
        let kept = a.get(&format!("owners/crate-{i}.json")).unwrap().unwrap();
        let winner: &[u8] = if left[i] { b"left" } else { b"right" };
        assert_eq!(kept.bytes, winner, "round {i}: the record is the winner's");
        if left[i] {
            left_wins += 1
        } else {
            right_wins += 1
        }
    }
    eprintln!("race: left won {left_wins}, right won {right_wins} of {rounds}");
    assert_eq!(a.list("owners").unwrap().len(), rounds);
}

/// A free port on 127.0.0.1 that nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn redis_connection(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

#[test]
fn redis_keeps_records_by_the_contract() {
    let server = Redis::start();
    let records = RedisRecords::connect(&server.url()).unwrap();
    contract(&records);

    let mut con = redis_connection(&server.url());
    // The audit log: a stream of two events, each with its stamp and line.
    let len: usize = redis::cmd("XLEN")
        .arg("ktra:audit")
        .query(&mut con)
        .unwrap();
    assert_eq!(len, 2);
    let events: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("ktra:audit")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        events[0].1,
        [
            ("stamp".to_owned(), "2026-12-06T040000.000Z".to_owned()),
            ("event".to_owned(), "{\"event\":\"test\"}".to_owned())
        ]
    );
    // Everything is under the prefix: records, folder sets, the version counter, the log.
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "ktra:audit",
            "ktra:index:",
            "ktra:index:owners",
            "ktra:index:tokens",
            "ktra:index:users",
            "ktra:rec:owners/x.json",
            "ktra:rec:tokens/ab.json",
            "ktra:rec:users/alice.json",
            "ktra:version",
        ]
    );
    // The removed record left no member behind in its folder's set.
    let users: Vec<String> = redis::cmd("ZRANGE")
        .arg("ktra:index:users")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(users, ["users/alice.json"]);
}

#[test]
fn redis_lists_nested_keys_and_the_root_without_scanning() {
    let server = Redis::start();
    let records = RedisRecords::connect(&server.url()).unwrap();
    for key in ["a/b/c.json", "a/d.json", "ab/e.json", "top.json"] {
        assert!(records.put(key, b"x", Expect::Absent).unwrap());
    }
    assert_eq!(records.list("a").unwrap(), ["a/b/c.json", "a/d.json"]);
    assert_eq!(records.list("a/").unwrap(), ["a/b/c.json", "a/d.json"]);
    assert_eq!(records.list("a/b").unwrap(), ["a/b/c.json"]);
    assert_eq!(
        records.list("").unwrap(),
        ["a/b/c.json", "a/d.json", "ab/e.json", "top.json"]
    );
    assert!(records.list("nothing").unwrap().is_empty());
    records.remove("a/b/c.json").unwrap();
    assert!(records.list("a/b").unwrap().is_empty());
    assert_eq!(records.list("a").unwrap(), ["a/d.json"]);
}

#[test]
fn redis_version_is_not_reused_after_a_removal() {
    let server = Redis::start();
    let records = RedisRecords::connect(&server.url()).unwrap();
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    let old = records.get("users/a.json").unwrap().unwrap().version;
    records.remove("users/a.json").unwrap();
    assert!(records.put("users/a.json", b"2", Expect::Absent).unwrap());
    // A writer holding the version read before the removal must not overwrite the new record.
    assert!(
        !records
            .put("users/a.json", b"3", Expect::Version(old))
            .unwrap()
    );
    assert_eq!(records.get("users/a.json").unwrap().unwrap().bytes, b"2");
    // Expecting a version of a record that is not there writes nothing.
    assert!(
        !records
            .put("users/none.json", b"4", Expect::Version("1".into()))
            .unwrap()
    );
    assert_eq!(records.get("users/none.json").unwrap(), None);
    assert_eq!(records.list("users").unwrap(), ["users/a.json"]);
}

#[test]
fn redis_prefixes_keep_two_registries_apart_in_one_server() {
    let server = Redis::start();
    let mut con = redis_connection(&server.url());
    let _: () = redis::cmd("SET")
        .arg("someone-else")
        .arg("theirs")
        .query(&mut con)
        .unwrap();
    let one = RedisRecords::connect(&server.url()).unwrap();
    let two = RedisRecords::connect_with_prefix(&server.url(), "other:").unwrap();
    contract(&one);
    contract(&two);
    assert!(one.put("users/x.json", b"one", Expect::Absent).unwrap());
    assert_eq!(two.get("users/x.json").unwrap(), None);
    assert_eq!(two.list("users").unwrap(), ["users/alice.json"]);
    let theirs: String = redis::cmd("GET")
        .arg("someone-else")
        .query(&mut con)
        .unwrap();
    assert_eq!(theirs, "theirs");
}

#[test]
fn redis_first_writer_of_a_name_is_the_only_one() {
    let server = Redis::start();
    let a: Arc<dyn Records> = Arc::new(RedisRecords::connect(&server.url()).unwrap());
    let b: Arc<dyn Records> = Arc::new(RedisRecords::connect(&server.url()).unwrap());
    race_for_names(a, b, 300);
}

#[test]
fn redis_concurrent_updates_lose_nothing() {
    // Two writers append to one record with `update` (read, change, write if unchanged):
    // every append is there at the end.
    let server = Redis::start();
    let per_writer = 100;
    let writers: Vec<_> = ["l", "r"]
        .into_iter()
        .map(|name| {
            let records = RedisRecords::connect(&server.url()).unwrap();
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    ktra::state::update(&records, "owners/shared.json", |old| {
                        let mut v = old.unwrap_or_default().to_vec();
                        v.extend_from_slice(format!("{name}{i},").as_bytes());
                        Ok(v)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let records = RedisRecords::connect(&server.url()).unwrap();
    let all = records.get("owners/shared.json").unwrap().unwrap().bytes;
    let all = String::from_utf8(all).unwrap();
    assert_eq!(
        all.split(',').filter(|s| !s.is_empty()).count(),
        200,
        "{all}"
    );
}

#[test]
fn redis_errors_name_the_backend_and_the_operation_but_no_password() {
    let port = closed_port();
    let url = format!("redis://ktra:Sekret0Word@127.0.0.1:{port}/");
    let e = RedisRecords::connect(&url).err().expect("nothing listens");
    let text = format!("{e:#}");
    assert!(
        text.starts_with("failed to connect to the Redis state at "),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("Sekret0Word"), "{text}");
    assert!(text.contains("ktra:***@"), "{text}");

    // A server that goes away: the operation says which and on what key.
    let server = Redis::start();
    let records = RedisRecords::connect(&server.url()).unwrap();
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    drop(server);
    let e = records.get("users/a.json").expect_err("the server is gone");
    let text = format!("{e:#}");
    assert!(
        text.starts_with("failed to read `users/a.json` in the Redis state at redis://127.0.0.1:"),
        "{text}"
    );
    let e = records
        .put("users/b.json", b"1", Expect::Absent)
        .expect_err("the server is gone");
    assert!(
        format!("{e:#}").starts_with("failed to write `users/b.json`"),
        "{e:#}"
    );
}

#[test]
fn redis_with_a_password_connects_and_a_wrong_one_is_not_shown() {
    let server = Redis::start();
    let mut con = redis_connection(&server.url());
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("Right0Word")
        .query(&mut con)
        .unwrap();
    let port = server.server.port();
    let good = format!("redis://:Right0Word@127.0.0.1:{port}/");
    let records = RedisRecords::connect(&good).unwrap();
    contract(&records);
    let bad = format!("redis://default:Wrong0Word@127.0.0.1:{port}/");
    let text = format!("{:#}", RedisRecords::connect(&bad).err().expect("refused"));
    assert!(
        text.starts_with("failed to connect to the Redis state at redis://default:***@"),
        "{text}"
    );
    assert!(!text.contains("Wrong0Word"), "{text}");
    let none = format!("redis://127.0.0.1:{port}/");
    let text = format!("{:#}", RedisRecords::connect(&none).err().expect("refused"));
    assert!(
        text.starts_with("failed to connect to the Redis state at "),
        "{text}"
    );
}

#[test]
fn redis_reconnects_when_its_pooled_connection_was_closed() {
    let server = Redis::start();
    let records = RedisRecords::connect(&server.url()).unwrap();
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    // The server drops every client (as a restart or an idle timeout would).
    let mut con = redis_connection(&server.url());
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut con)
        .unwrap();
    assert_eq!(records.get("users/a.json").unwrap().unwrap().bytes, b"1");
    assert_eq!(records.list("users").unwrap(), ["users/a.json"]);
}

/// 32 threads reading at once share at most `POOL` connections: the server sees no more.
#[test]
fn redis_connections_are_bounded_under_many_callers() {
    let server = Redis::start();
    let records = RedisRecords::connect(&server.url()).unwrap();
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    let mut con = redis_connection(&server.url());
    let most = std::sync::atomic::AtomicUsize::new(0);
    let clients = |con: &mut redis::Connection| -> usize {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
        list.lines().count() - 1 // this connection
    };
    std::thread::scope(|s| {
        for _ in 0..32 {
            s.spawn(|| {
                for _ in 0..200 {
                    records.get("users/a.json").unwrap().unwrap();
                }
            });
        }
        for _ in 0..50 {
            most.fetch_max(clients(&mut con), std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
    let most = most.into_inner().max(clients(&mut con));
    assert!(most >= 1, "no connection seen");
    assert!(
        most <= ktra::state::redis::POOL,
        "{most} connections for {} allowed",
        ktra::state::redis::POOL
    );
}

fn mongo_db(url: &str) -> mongodb::sync::Database {
    mongodb::sync::Client::with_uri_str(url)
        .unwrap()
        .database("ktra")
}

#[test]
fn mongo_keeps_records_by_the_contract() {
    let server = Mongo::start();
    let records = MongoRecords::connect(&server.url()).unwrap();
    contract(&records);

    let db = mongo_db(&server.url());
    let audit = db.collection::<mongodb::bson::Document>("audit");
    let events: Vec<_> = audit
        .find(mongodb::bson::doc! {})
        .run()
        .unwrap()
        .map(|d| d.unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].get_str("stamp").unwrap(),
        "2026-12-06T040000.000Z"
    );
    assert_eq!(events[0].get_str("event").unwrap(), "{\"event\":\"test\"}");
    let stored = db
        .collection::<mongodb::bson::Document>("records")
        .find_one(mongodb::bson::doc! { "_id": "users/alice.json" })
        .run()
        .unwrap()
        .expect("the record is a document keyed by its name");
    assert_eq!(stored.get_binary_generic("value").unwrap(), b"3");
}

#[test]
fn mongo_lists_with_an_escaped_anchored_prefix() {
    let server = Mongo::start();
    let records = MongoRecords::connect(&server.url()).unwrap();
    for key in [
        "a.b/x.json",
        "aXb/y.json",
        "za.b/z.json",
        "a.b/c/d.json",
        "(x)/w.json",
    ] {
        assert!(records.put(key, b"x", Expect::Absent).unwrap());
    }
    assert_eq!(records.list("a.b").unwrap(), ["a.b/c/d.json", "a.b/x.json"]);
    assert_eq!(records.list("a.b/c/").unwrap(), ["a.b/c/d.json"]);
    assert_eq!(records.list("(x)").unwrap(), ["(x)/w.json"]);
    assert_eq!(records.list("").unwrap().len(), 5);
    assert!(records.list("a").unwrap().is_empty());
}

#[test]
fn mongo_version_is_not_reused_after_a_removal() {
    let server = Mongo::start();
    let records = MongoRecords::connect(&server.url()).unwrap();
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    let old = records.get("users/a.json").unwrap().unwrap().version;
    records.remove("users/a.json").unwrap();
    assert!(records.put("users/a.json", b"2", Expect::Absent).unwrap());
    assert!(
        !records
            .put("users/a.json", b"3", Expect::Version(old))
            .unwrap()
    );
    assert_eq!(records.get("users/a.json").unwrap().unwrap().bytes, b"2");
    assert!(
        !records
            .put("users/none.json", b"4", Expect::Version("1".into()))
            .unwrap()
    );
    assert_eq!(records.get("users/none.json").unwrap(), None);
}

#[test]
fn mongo_first_writer_of_a_name_is_the_only_one() {
    let server = Mongo::start();
    let a: Arc<dyn Records> = Arc::new(MongoRecords::connect(&server.url()).unwrap());
    let b: Arc<dyn Records> = Arc::new(MongoRecords::connect(&server.url()).unwrap());
    race_for_names(a, b, 100);
}

#[test]
fn mongo_errors_name_the_backend_and_the_operation_but_no_password() {
    let port = closed_port();
    let url = format!("mongodb://ktra:Sekret0Word@127.0.0.1:{port}/ktra");
    let started = Instant::now();
    let e = MongoRecords::connect(&url).err().expect("nothing listens");
    let text = format!("{e:#}");
    assert!(started.elapsed() < Duration::from_secs(30), "{text}");
    assert!(
        text.starts_with("failed to connect to the MongoDB state at "),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("Sekret0Word"), "{text}");
    assert!(text.contains("ktra:***@"), "{text}");

    // A server that goes away: the operation says which and on what key.
    let server = Mongo::start();
    let records = MongoRecords::connect(&server.url()).unwrap();
    assert!(records.put("users/a.json", b"1", Expect::Absent).unwrap());
    drop(server);
    let e = records.get("users/a.json").expect_err("the server is gone");
    let text = format!("{e:#}");
    eprintln!("{text}");
    assert!(
        text.starts_with(
            "failed to read `users/a.json` in the MongoDB state at mongodb://127.0.0.1:"
        ),
        "{text}"
    );
}
