//! End-to-end tests: the real `ktra` binary builds a registry from examples/, a static
//! http server (`python3 -m http.server` on 127.0.0.1) serves it, and the real `cargo`
//! builds and runs examples/consumer from it, over the sparse index and over the git index.
//!
//! Needs python3 and cargo, and network access to crates.io for `itoa` (cached across runs
//! in `<target>/e2e-cargo-home`). See tests/testsuite/support/mod.rs for the knobs.

// The expected output assumes a unix target (demo-sys is a `cfg(unix)` dependency) and the
// git index is reached by a `file://` URL built from a unix path.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::time::Duration;

use crate::support::{
    CONSUMER_STDOUT, ConsumerRun, PUBLISHED, Protocol, Registry, json_strings, run,
};
use sha2::{Digest, Sha256};

const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn yanked(reg: &Registry, name: &str, version: &str) -> bool {
    let entry = reg.index_entry(name, version);
    entry["yanked"]
        .as_bool()
        .unwrap_or_else(|| panic!("{name}@{version}: `yanked` is not a bool: {entry}"))
}

/// `ktra yank demo-base@1.1.0` and check the index file says so.
pub fn yank_base_1_1(reg: &Registry) {
    // http.server's Last-Modified has one-second resolution and cargo revalidates its cached
    // index files with If-Modified-Since: had cargo fetched demo-base's index file through
    // this server since its last write, a change within the same second would be answered
    // "304 Not Modified" and cargo would keep the unyanked copy.
    std::thread::sleep(Duration::from_millis(1100));
    reg.ktra(["yank", "demo-base@1.1.0"]).success();
    assert!(yanked(reg, "demo-base", "1.1.0"), "1.1.0 not marked yanked");
    assert!(!yanked(reg, "demo-base", "1.0.0"), "1.0.0 was yanked too");
}

/// Every example crate is in the index, with a crate file whose checksum matches, and
/// `ktra list --json` names them all.
fn check_everything_published(reg: &Registry) {
    for (name, version) in PUBLISHED {
        let entry = reg.index_entry(name, version);
        assert_eq!(entry["name"], name, "index entry name: {entry}");
        let file = reg.crate_file(name, version);
        let bytes = fs::read(&file).expect("read crate file");
        assert_eq!(
            entry["cksum"].as_str(),
            Some(sha256_hex(&bytes).as_str()),
            "{name}@{version}: index cksum does not match {}",
            file.display()
        );
    }
    // `list` names every crate; `list NAME` every version of one.
    let names = list_json_strings(reg, None);
    for (name, _) in PUBLISHED {
        assert!(names.contains(name), "`ktra list --json` lacks {name}");
    }
    let versions = list_json_strings(reg, Some("demo-base"));
    for version in ["1.0.0", "1.1.0"] {
        assert!(
            versions.contains(version),
            "`ktra list demo-base --json` lacks {version}"
        );
    }
}

/// Every string in the output of `ktra list [NAME] --json`, whatever its shape.
fn list_json_strings(reg: &Registry, name: Option<&str>) -> BTreeSet<String> {
    let listed = reg
        .ktra(["list"].into_iter().chain(name).chain(["--json"]))
        .success();
    let json: serde_json::Value = serde_json::from_str(&listed.stdout)
        .unwrap_or_else(|e| panic!("`ktra list --json` is not JSON ({e}):\n{}", listed.stdout));
    json_strings(&json)
}

/// One dependency of an index entry, by the name the depending crate uses.
fn dep<'a>(entry: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    entry["deps"]
        .as_array()
        .unwrap_or_else(|| panic!("no deps array: {entry}"))
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no dependency {name}: {entry}"))
}

/// A dependency in the same registry has no `registry` (or null); anything else makes
/// cargo look for it elsewhere.
fn assert_same_registry(dep: &serde_json::Value) {
    assert!(
        dep.get("registry").is_none_or(|r| r.is_null()),
        "same-registry dependency names a registry: {dep}"
    );
}

/// The manifest shapes of the examples, as cargo will read them from the index.
fn check_index_shapes(reg: &Registry) {
    let sys = reg.index_entry("demo-sys", "0.1.0");
    assert_eq!(sys["links"], "demo", "demo-sys links: {sys}");

    let features = reg.index_entry("demo-features", "0.1.0");
    let itoa = dep(&features, "itoa");
    assert_eq!(
        itoa["registry"], CRATES_IO_INDEX,
        "a crates.io dependency of a crate in another registry must name crates.io: {itoa}"
    );
    let base = dep(&features, "demo-base");
    assert_eq!(base["optional"], true, "demo-base is optional: {base}");
    assert_same_registry(base);
    let renamed = dep(&features, "renamed");
    assert_eq!(
        renamed["package"], "ws-core",
        "renamed dependency: {renamed}"
    );
    assert_same_registry(renamed);
    let sys_dep = dep(&features, "demo-sys");
    assert_eq!(sys_dep["target"], "cfg(unix)", "target-specific: {sys_dep}");
    assert_same_registry(sys_dep);
    // `dep:` and `?/` features may sit in `features` or (as crates.io does) `features2`.
    let feature = |name: &str| {
        [&features["features"], &features["features2"]]
            .into_iter()
            .find_map(|table| table.get(name))
            .cloned()
            .unwrap_or_else(|| panic!("no feature {name}: {features}"))
    };
    assert_eq!(feature("base"), serde_json::json!(["dep:demo-base"]));
    assert_eq!(
        feature("extra"),
        serde_json::json!(["demo-base?/some-feature"])
    );

    let app = reg.index_entry("ws-app", "0.3.0");
    let codegen = dep(&app, "demo-codegen");
    assert_eq!(codegen["kind"], "build", "build-dependency: {codegen}");
    assert_same_registry(codegen);
    let core = dep(&app, "ws-core");
    assert!(
        core.get("kind")
            .is_none_or(|k| k.is_null() || k == "normal"),
        "ws-core is a normal dependency: {core}"
    );
    assert!(
        core["req"] == "^0.3.0" || core["req"] == "0.3.0",
        "ws-core requirement: {core}"
    );
    assert_same_registry(core);
}

/// The consumer ran every crate and resolved demo-base to 1.0.0, all from `source`.
fn check_consumer(reg: &Registry, run: &ConsumerRun, source_prefix: &str) {
    assert_eq!(
        run.outcome.stdout,
        CONSUMER_STDOUT,
        "consumer output\n{}",
        run.outcome.describe()
    );
    assert_eq!(
        run.locked("demo-base")
            .into_iter()
            .map(|(v, _)| v)
            .collect::<Vec<_>>(),
        ["1.0.0"],
        "Cargo.lock must hold demo-base 1.0.0 only (1.1.0 is yanked):\n{}",
        run.lock_text
    );
    for (name, version) in PUBLISHED.into_iter().filter(|(_, v)| *v != "1.1.0") {
        let locked = run.locked(name);
        assert!(
            locked.len() == 1 && locked[0].0 == version && locked[0].1.starts_with(source_prefix),
            "Cargo.lock: want {name} {version} from {source_prefix}..., got {locked:?}\n{}",
            run.lock_text
        );
    }
    let itoa = run.locked("itoa");
    assert!(
        itoa.len() == 1 && itoa[0].1 == format!("registry+{CRATES_IO_INDEX}"),
        "itoa must come from crates.io: {itoa:?}"
    );
    // The crate file came through the http server, whatever the index protocol.
    let requests = reg.server.requests();
    assert!(
        requests
            .lines()
            .any(|l| l.contains("/demo-base-1.0.0.crate ") && l.contains("\" 200 ")),
        "no successful download of demo-base-1.0.0.crate in the server log:\n{requests}"
    );
}

#[test]
fn sparse_index_over_http_builds_the_consumer() {
    let reg = Registry::new(Protocol::Sparse);
    assert!(
        !reg.public().join("index.git").exists(),
        "`ktra init --no-git` made a git index"
    );
    reg.add_all_examples();
    check_everything_published(&reg);
    check_index_shapes(&reg);
    yank_base_1_1(&reg);

    let run = reg.run_consumer();
    check_consumer(&reg, &run, &format!("sparse+{}/", reg.server.base_url()));
    let requests = reg.server.requests();
    assert!(
        requests.contains("/index/config.json "),
        "cargo never asked for the sparse config.json:\n{requests}"
    );

    reg.ktra(["verify"]).success();
}

#[test]
fn git_index_by_file_url_and_dumb_http_builds_the_consumer() {
    let mut reg = Registry::new(Protocol::Git);
    let git_dir = reg.public().join("index.git");
    let head = fs::read_to_string(git_dir.join("HEAD"))
        .unwrap_or_else(|e| panic!("{} is not a bare git repository: {e}", git_dir.display()));
    assert_eq!(head.trim(), "ref: refs/heads/main", "HEAD of the git index");

    reg.add_all_examples();
    yank_base_1_1(&reg);

    let run = reg.run_consumer();
    check_consumer(&reg, &run, &format!("registry+{}", reg.git_index()));
    reg.ktra(["verify"]).success();

    // The same index over plain static HTTP: git's dumb protocol needs `info/refs` and
    // `objects/info/packs`, which ktra keeps current.
    reg.protocol = Protocol::GitHttp;
    let run = reg.run_consumer();
    check_consumer(&reg, &run, &format!("registry+{}", reg.index_url()));
    assert!(
        reg.server.requests().contains("/index.git/info/refs"),
        "no dumb-HTTP fetch seen"
    );
}

#[test]
fn re_adding_the_same_crate_succeeds_and_a_different_one_is_refused() {
    let reg = Registry::new(Protocol::Git);
    reg.ktra([OsStr::new("add"), reg.example("demo-base").as_os_str()])
        .success();
    let stored = reg.crate_file("demo-base", "1.0.0");
    let stored_bytes = fs::read(&stored).expect("read stored crate");
    let index_file = reg.index_file("demo-base");
    let index_before = fs::read(&index_file).expect("read index file");
    assert_eq!(reg.index_entries("demo-base").len(), 1);

    // The very same .crate file again, from outside the registry.
    let drop_dir = reg.base().join("drop");
    fs::create_dir_all(&drop_dir).unwrap();
    let copy = drop_dir.join("demo-base-1.0.0.crate");
    fs::copy(&stored, &copy).unwrap();
    reg.ktra([OsStr::new("add"), copy.as_os_str()]).success();
    assert_eq!(
        fs::read(&index_file).unwrap(),
        index_before,
        "index changed"
    );
    assert_eq!(
        fs::read(&stored).unwrap(),
        stored_bytes,
        "crate file changed"
    );

    // A directory of .crate files: the same 1.0.0 once more, and a new 1.1.0 that cargo
    // packages here.
    let package_target = reg.base().join("own-package-target");
    let mut package = reg.cargo_command();
    package
        .current_dir(reg.example("demo-base-1.1"))
        .env("CARGO_TARGET_DIR", &package_target)
        .args(["package", "--no-verify"]);
    run(package, &reg.logs).success();
    let new_crate = drop_dir.join("demo-base-1.1.0.crate");
    fs::copy(
        package_target.join("package/demo-base-1.1.0.crate"),
        &new_crate,
    )
    .unwrap();
    reg.ktra([OsStr::new("add"), drop_dir.as_os_str()])
        .success();
    let entries = reg.index_entries("demo-base");
    let versions: Vec<_> = entries.iter().map(|e| e["vers"].clone()).collect();
    assert_eq!(
        versions,
        ["1.0.0", "1.1.0"],
        "versions after adding the directory"
    );
    let first_line_before: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&index_before)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(entries[0], first_line_before, "the 1.0.0 entry changed");
    let new_bytes = fs::read(&new_crate).unwrap();
    assert_eq!(
        entries[1]["cksum"],
        sha256_hex(&new_bytes),
        "1.1.0 checksum"
    );
    assert_eq!(
        fs::read(reg.crate_file("demo-base", "1.1.0")).unwrap(),
        new_bytes,
        "stored 1.1.0 differs from the added file"
    );

    // Same name and version, other contents: a registry never replaces a published version.
    let altered = reg.base().join("altered");
    crate::support::copy_tree(&reg.example("demo-base"), &altered);
    let lib = altered.join("src/lib.rs");
    let source = fs::read_to_string(&lib).unwrap();
    assert!(source.contains("hello from demo-base 1.0.0"));
    fs::write(
        &lib,
        source.replace("hello from demo-base 1.0.0", "altered"),
    )
    .unwrap();
    let altered_target = reg.base().join("altered-target");
    let mut package = reg.cargo_command();
    package
        .current_dir(&altered)
        .env("CARGO_TARGET_DIR", &altered_target)
        .args(["package", "--no-verify"]);
    run(package, &reg.logs).success();
    let altered_crate = altered_target.join("package/demo-base-1.0.0.crate");
    assert_ne!(fs::read(&altered_crate).unwrap(), stored_bytes);
    let index_now = fs::read(&index_file).unwrap();
    reg.ktra([OsStr::new("add"), altered_crate.as_os_str()])
        .failure();
    assert_eq!(fs::read(&index_file).unwrap(), index_now, "index changed");
    assert_eq!(
        fs::read(&stored).unwrap(),
        stored_bytes,
        "crate file replaced"
    );

    // Yank and unyank flip the flag and nothing else.
    reg.ktra(["yank", "demo-base@1.0.0"]).success();
    assert!(yanked(&reg, "demo-base", "1.0.0"));
    assert!(!yanked(&reg, "demo-base", "1.1.0"));
    reg.ktra(["unyank", "demo-base@1.0.0"]).success();
    assert!(!yanked(&reg, "demo-base", "1.0.0"));
    assert_eq!(reg.index_entry("demo-base", "1.0.0"), first_line_before);

    // remove takes only yanked versions (unless --force), and then for good.
    reg.ktra(["remove", "demo-base@1.1.0"]).failure();
    assert!(
        reg.index_entries("demo-base")
            .iter()
            .any(|e| e["vers"] == "1.1.0"),
        "a failed remove changed the index"
    );
    reg.ktra(["yank", "demo-base@1.1.0"]).success();
    reg.ktra(["remove", "demo-base@1.1.0"]).success();
    let versions: Vec<_> = reg
        .index_entries("demo-base")
        .iter()
        .map(|e| e["vers"].clone())
        .collect();
    assert_eq!(versions, ["1.0.0"], "versions after removing 1.1.0");

    // verify passes, then catches a crate file that no longer matches its checksum.
    reg.ktra(["verify"]).success();
    let mut tampered = fs::read(&stored).unwrap();
    tampered.push(0);
    fs::write(&stored, tampered).unwrap();
    reg.ktra(["verify"]).failure();
}

/// Killed in the middle of adding the last crate, the registry still verifies; killed after the
/// index is written, cargo builds from it before anything repairs it; killed before, the next
/// `ktra add` finishes the job and cargo builds.
#[test]
fn a_registry_killed_mid_add_stays_usable_by_cargo() {
    for (point, complete) in [("before-finish", true), ("crates-partial", false)] {
        let reg = Registry::new(Protocol::Git);
        for dir in crate::support::EXAMPLES_IN_ORDER
            .iter()
            .filter(|d| **d != "demo-features")
        {
            reg.ktra([OsStr::new("add"), reg.example(dir).as_os_str()])
                .success();
        }
        yank_base_1_1(&reg);
        let mut crashing = reg.ktra_command();
        crashing
            .env("KTRA_CRASH_AT", point)
            .arg("add")
            .arg(reg.example("demo-features"));
        let out = run(crashing, &reg.logs);
        assert!(!out.status.success(), "{point}: {}", out.describe());
        let verified = reg.ktra(["verify"]).success();
        assert!(
            verified.stderr.contains("interrupted"),
            "{point}: {}",
            verified.describe()
        );
        if !complete {
            reg.ktra([OsStr::new("add"), reg.example("demo-features").as_os_str()])
                .success();
        }
        let consumer = reg.run_consumer();
        assert_eq!(consumer.outcome.stdout, CONSUMER_STDOUT, "{point}");
        reg.ktra(["verify"]).success();
    }
}

/// `ktra serve` in place of the static server: cargo resolves, downloads and builds through it.
#[test]
fn ktra_serve_serves_the_registry_to_cargo() {
    let reg = Registry::new(Protocol::Sparse);
    reg.add_all_examples();
    yank_base_1_1(&reg);
    let server = crate::serve::Serve::start(&reg.root);
    reg.ktra(["set-url", &server.url()]).success();
    let run = reg.run_consumer_at(&format!("sparse+{}/index/", server.url()), "serve");
    assert_eq!(run.outcome.stdout, CONSUMER_STDOUT);
    assert!(
        run.lock_text
            .contains(&format!("sparse+{}/index/", server.url()))
    );
}

/// Real cargo against `ktra serve`'s web API: login, publish (a crate, then one depending on
/// it), yank and undo, owners, search; and the refusals cargo must show with our message.
#[test]
fn cargo_publishes_yanks_and_manages_owners_through_ktra_serve() {
    let reg = Registry::new(Protocol::Sparse);
    let server = crate::serve::Serve::start(&reg.root);
    let url = server.url();
    reg.ktra(["set-url", &url, "--api", &url]).success();
    crate::serve::settle();
    reg.ktra(["user", "add", "alice"]).success();
    reg.ktra(["user", "add", "bob"]).success();
    let alice = reg.token(&["alice"]);
    let bob = reg.token(&["bob"]);
    let yank_only = reg.token(&["alice", "--scope", "yank"]);
    let owner_token = reg.token(&["alice", "--name", "owners", "--scope", "change-owners"]);
    let index = format!("sparse+{url}/index/");
    let cargo = |dir: &std::path::Path, args: &[&str], token: Option<&str>| {
        let mut cmd = reg.cargo_command();
        cmd.current_dir(dir)
            .env(crate::support::registry_env_var(), &index)
            .args(args);
        cmd.env("CARGO_TARGET_DIR", reg.base().join("publish-target"));
        // Its own CARGO_HOME: `cargo login` must not leave a token for other tests.
        cmd.env("CARGO_HOME", reg.base().join("publish-cargo-home"));
        match token {
            Some(t) => cmd.env("CARGO_REGISTRIES_DEMO_TOKEN", t),
            None => cmd.env_remove("CARGO_REGISTRIES_DEMO_TOKEN"),
        };
        run(cmd, &reg.logs)
    };
    let publish = |dir: &std::path::Path, token: Option<&str>| {
        cargo(
            dir,
            &[
                "publish",
                "--registry",
                "demo",
                "--allow-dirty",
                "--no-verify",
            ],
            token,
        )
    };
    let base = reg.example("demo-base");

    // `cargo login` stores alice's token; publish uses it.
    cargo(&base, &["login", "--registry", "demo", &alice], None).success();
    cargo(
        &base,
        &["publish", "--registry", "demo", "--allow-dirty"],
        None,
    )
    .success();
    assert_eq!(reg.index_entry("demo-base", "1.0.0")["name"], "demo-base");
    let sys = reg.example("demo-sys");
    publish(&sys, Some(&alice)).success();

    // Refusals: cargo shows our sentence and nothing changes.
    let before = fs::read(reg.index_file("demo-base")).unwrap();
    let newer = reg.example("demo-base-1.1");
    let expired = reg.token(&["alice", "--expires-in", "1s"]);
    let other_crates = reg.token(&["alice", "--crate", "acme-*"]);
    std::thread::sleep(Duration::from_millis(1100));
    for (token, want) in [
        (
            "ktra_not-a-real-token",
            "the token is not valid for this registry",
        ),
        (expired.as_str(), "the token has expired"),
        (
            other_crates.as_str(),
            "the token is not allowed to act on crate `demo-base`",
        ),
        (bob.as_str(), "`bob` is not an owner of crate `demo-base`"),
        (
            yank_only.as_str(),
            "does not have the `publish-update` scope",
        ),
    ] {
        let out = publish(&newer, Some(token)).failure();
        assert!(
            out.stderr.contains(want),
            "want `{want}`:\n{}",
            out.describe()
        );
    }
    // An upload over the registry's limit: cargo shows our 413 sentence.
    let settings = reg.root.join("ktra.toml");
    let text = fs::read_to_string(&settings).unwrap();
    fs::write(
        &settings,
        text.replace("max-crate-size = 10485760", "max-crate-size = 300"),
    )
    .unwrap();
    crate::serve::settle();
    let out = publish(&newer, Some(&alice)).failure();
    assert!(
        out.stderr.contains("this registry accepts at most 300"),
        "{}",
        out.describe()
    );
    fs::write(&settings, &text).unwrap();
    crate::serve::settle();
    assert_eq!(
        fs::read(reg.index_file("demo-base")).unwrap(),
        before,
        "a refused publish changed the index"
    );
    publish(&newer, Some(&alice)).success();

    // Yank and undo.
    cargo(
        &base,
        &["yank", "--registry", "demo", "demo-base@1.1.0"],
        Some(&alice),
    )
    .success();
    assert!(yanked(&reg, "demo-base", "1.1.0"));
    let out = cargo(
        &base,
        &["yank", "--registry", "demo", "demo-base@1.1.0"],
        Some(&bob),
    )
    .failure();
    assert!(
        out.stderr.contains("`bob` is not an owner"),
        "{}",
        out.describe()
    );
    cargo(
        &base,
        &["yank", "--registry", "demo", "--undo", "demo-base@1.1.0"],
        Some(&alice),
    )
    .success();
    assert!(!yanked(&reg, "demo-base", "1.1.0"));

    // Owners (changing them needs the `change-owners` scope, which default tokens lack).
    let out = cargo(
        &base,
        &["owner", "--registry", "demo", "--add", "bob", "demo-base"],
        Some(&alice),
    )
    .failure();
    assert!(
        out.stderr
            .contains("does not have the `change-owners` scope"),
        "{}",
        out.describe()
    );
    cargo(
        &base,
        &["owner", "--registry", "demo", "--add", "bob", "demo-base"],
        Some(&owner_token),
    )
    .success();
    let listed = cargo(
        &base,
        &["owner", "--registry", "demo", "--list", "demo-base"],
        Some(&alice),
    )
    .success();
    assert!(
        listed.stdout.contains("alice") && listed.stdout.contains("bob"),
        "{}",
        listed.describe()
    );
    cargo(
        &base,
        &[
            "owner",
            "--registry",
            "demo",
            "--remove",
            "bob",
            "demo-base",
        ],
        Some(&owner_token),
    )
    .success();
    let listed = cargo(
        &base,
        &["owner", "--registry", "demo", "--list", "demo-base"],
        Some(&alice),
    )
    .success();
    assert!(!listed.stdout.contains("bob"), "{}", listed.describe());

    // Search: names with their newest version and description; a word of a description
    // finds the crate too.
    let found = cargo(&base, &["search", "--registry", "demo", "demo"], None).success();
    assert!(
        found.stdout.contains("demo-base = \"1.1.0\"") && found.stdout.contains("demo-sys"),
        "{}",
        found.describe()
    );
    assert!(
        found
            .stdout
            .contains("# Demo crate for a ktra registry: a links crate"),
        "{}",
        found.describe()
    );
    let found = cargo(&base, &["search", "--registry", "demo", "links"], None).success();
    assert!(
        found.stdout.contains("demo-sys") && !found.stdout.contains("demo-base"),
        "{}",
        found.describe()
    );

    // A whole workspace in one `cargo publish --workspace`, then a crate depending on crates of
    // this registry and on crates.io; the consumer then builds from what cargo published.
    let codegen = reg.example("demo-codegen");
    publish(&codegen, Some(&alice)).success();
    let workspace = reg.example("demo-workspace");
    cargo(
        &workspace,
        &[
            "publish",
            "--workspace",
            "--registry",
            "demo",
            "--allow-dirty",
        ],
        Some(&alice),
    )
    .success();
    let out = cargo(
        &workspace,
        &[
            "publish",
            "--workspace",
            "--registry",
            "demo",
            "--allow-dirty",
        ],
        Some(&alice),
    )
    .failure();
    assert!(
        out.stderr.contains("already exists"),
        "republishing is refused: {}",
        out.describe()
    );
    let features = reg.example("demo-features");
    cargo(
        &features,
        &["publish", "--registry", "demo", "--allow-dirty"],
        Some(&alice),
    )
    .success();
    let entry = reg.index_entry("demo-features", "0.1.0");
    let registries: Vec<_> = entry["deps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].clone(), d.get("registry").cloned()))
        .collect();
    assert!(
        registries.contains(&(
            serde_json::json!("itoa"),
            Some(serde_json::json!(CRATES_IO_INDEX))
        )),
        "{entry}"
    );
    assert!(
        registries.contains(&(serde_json::json!("renamed"), None)),
        "{entry}"
    );
    cargo(
        &base,
        &["yank", "--registry", "demo", "demo-base@1.1.0"],
        Some(&alice),
    )
    .success();
    let consumer = reg.run_consumer_at(&index, "published");
    assert_eq!(consumer.outcome.stdout, CONSUMER_STDOUT);

    reg.ktra(["verify"]).success();
    let audit = fs::read_to_string(reg.root.join("state/audit.jsonl")).unwrap();
    for event in [
        "\"publish\"",
        "\"yank\"",
        "\"unyank\"",
        "\"owner-added\"",
        "\"token-refused\"",
    ] {
        assert!(audit.contains(event), "audit log lacks {event}");
    }
}

/// A private registry (`auth-required`): every file needs a token with the `read` scope; cargo
/// builds with one (credential provider `cargo:token`) and fails cleanly without.
#[test]
fn a_private_registry_serves_only_with_a_read_token() {
    let reg = Registry::new(Protocol::Sparse);
    reg.add_all_examples();
    yank_base_1_1(&reg);
    make_private(&reg);
    let server = crate::serve::Serve::start(&reg.root);
    let url = server.url();
    reg.ktra(["set-url", &url, "--api", &url]).success();
    crate::serve::settle();
    let config = fs::read_to_string(reg.public().join("index/config.json")).unwrap();
    assert!(config.contains("\"auth-required\": true"), "{config}");
    reg.ktra(["user", "add", "reader"]).success();
    let read = reg.token(&["reader", "--scope", "read"]);
    let publish_only = reg.token(&["reader", "--scope", "publish-new"]);

    let anonymous = crate::serve::request(server.port, "GET", "/index/config.json", &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(format!("Cargo login_url=\"{url}/me\"").as_str())
    );
    let crate_file =
        crate::serve::request(server.port, "GET", "/crates/demo-base-1.0.0.crate", &[]);
    assert_eq!(crate_file.status, 401);
    let wrong_scope = crate::serve::request(
        server.port,
        "GET",
        "/index/config.json",
        &[("Authorization", &publish_only)],
    );
    assert_eq!(wrong_scope.status, 403);
    let search = crate::serve::request(server.port, "GET", "/api/v1/crates?q=demo", &[]);
    assert_eq!(search.status, 401);
    let allowed = crate::serve::request(
        server.port,
        "GET",
        "/index/config.json",
        &[("Authorization", &read)],
    );
    assert_eq!(allowed.status, 200);
    let bearer = format!("Bearer {read}");
    let found = crate::serve::request(
        server.port,
        "GET",
        "/api/v1/crates?q=demo",
        &[("Authorization", &bearer)],
    );
    assert_eq!(found.status, 200);

    check_token_build(&reg, &format!("sparse+{url}/index/"), "private");
}

/// The consumer builds from a private registry at `index` with a `read` token and fails
/// cleanly without one.
pub fn check_token_build(reg: &Registry, index: &str, tag: &str) {
    check_token_build_with(reg, index, tag, &|login| {
        reg.ktra(["user", "add", login]).success();
        reg.token(&[login, "--scope", "read"])
    });
}

/// [`check_token_build`] with the user added and its `read` token made by `new_reader`.
pub fn check_token_build_with(
    reg: &Registry,
    index: &str,
    tag: &str,
    new_reader: &dyn Fn(&str) -> String,
) {
    let read = new_reader(&format!("{tag}-reader"));
    let (mut with_token, _) = reg.consumer_command(index, tag);
    with_token
        .env("CARGO_REGISTRIES_DEMO_CREDENTIAL_PROVIDER", "cargo:token")
        .env("CARGO_REGISTRIES_DEMO_TOKEN", &read);
    let built = run(with_token, &reg.logs).success();
    assert_eq!(built.stdout, CONSUMER_STDOUT);
    let (mut without, _) = reg.consumer_command(index, &format!("{tag}-anonymous"));
    // An empty CARGO_HOME: no stored token from anywhere.
    without
        .env(
            "CARGO_HOME",
            reg.base().join(format!("{tag}-anonymous-home")),
        )
        .env("CARGO_REGISTRIES_DEMO_CREDENTIAL_PROVIDER", "cargo:token")
        .env_remove("CARGO_REGISTRIES_DEMO_TOKEN");
    let refused = run(without, &reg.logs).failure();
    assert!(
        refused.stderr.contains("no token found for `demo`"),
        "{}",
        refused.describe()
    );
}

/// Turns a registry private by hand (`auth-required = true` in `ktra.toml`) and rewrites
/// `config.json` to match.
pub fn make_private(reg: &Registry) {
    let settings = reg.root.join("ktra.toml");
    let text = fs::read_to_string(&settings).unwrap();
    assert!(text.contains("auth-required = false"), "{text}");
    fs::write(
        &settings,
        text.replace("auth-required = false", "auth-required = true"),
    )
    .unwrap();
    reg.ktra(["rebuild"]).success();
}
