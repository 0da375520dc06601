//! The web API over raw HTTP, for what cargo would stop before sending: every refusal has
//! cargo's JSON error shape and the right status, and changes nothing.

use crate::cli::Reg;
use crate::serve::{Reply, Serve, request, request_with_body};
use ktra::package::testing::simple;
use sha2::{Digest, Sha256};

/// cargo's publish request body for a crate with no dependencies and no features.
pub fn publish_body(name: &str, vers: &str, krate: &[u8]) -> Vec<u8> {
    let json = format!(r#"{{"name":"{name}","vers":"{vers}","deps":[],"features":{{}}}}"#);
    let mut b = (json.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    b.extend_from_slice(krate);
    b
}

fn detail(reply: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&reply.body)));
    v["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no errors[0].detail in {v}"))
        .to_owned()
}

fn token(reg: &Reg, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    reg.ktra(&all).success().stdout.trim().to_owned()
}

#[test]
fn refused_publishes_answer_in_cargos_shape_and_change_nothing() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "alice"]).success();
    let alice = token(&reg, &["alice"]);
    let acme_only = token(&reg, &["alice", "--crate", "acme-*"]);
    let short = token(&reg, &["alice", "--expires-in", "1s"]);
    let settings = reg.root.join("ktra.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("max-crate-size = 10485760", "max-crate-size = 2000"),
    )
    .unwrap();
    let server = Serve::start(&reg.root);
    let put = |body: &[u8], tok: Option<&str>| {
        let headers: Vec<(&str, &str)> =
            tok.map(|t| vec![("Authorization", t)]).unwrap_or_default();
        request_with_body(server.port, "PUT", "/api/v1/crates/new", &headers, body)
    };
    let good = simple("widget", "1.0.0", "");
    assert_eq!(
        put(&publish_body("widget", "1.0.0", &good), Some(&alice)).status,
        200
    );
    let bearer = format!("Bearer {alice}");
    assert_eq!(
        put(
            &publish_body("widget", "1.0.1", &simple("widget", "1.0.1", "")),
            Some(&bearer)
        )
        .status,
        200
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = reg.snapshot();
    // Hex of a hash chain: does not compress, so the packed crate really is over the limit.
    let noise: String = (0u32..250)
        .map(|i| format!("{:x}", Sha256::digest(i.to_le_bytes())))
        .collect();
    let padded = simple("widget", "2.0.0", &format!("# {noise}\n"));
    assert!(padded.len() > 2000);
    let cases: Vec<(Vec<u8>, Option<&str>, u16, &str)> = vec![
        (
            publish_body("widget", "1.0.0", &good),
            Some(&alice),
            409,
            "already uploaded",
        ),
        (
            publish_body("widget", "9.9.9", &good),
            Some(&alice),
            400,
            "the packaged `Cargo.toml` says `widget` version `1.0.0`",
        ),
        (b"\x05\x00".to_vec(), Some(&alice), 400, "malformed"),
        (
            publish_body("widget", "2.0.0", &[0u8; 3000]),
            Some(&alice),
            413,
            "at most 2000",
        ),
        (
            publish_body("widget", "2.0.0", &padded),
            Some(&alice),
            413,
            "at most 2000",
        ),
        (
            publish_body("widget", "3.0.0", &simple("widget", "3.0.0", "")),
            Some(&acme_only),
            403,
            "not allowed to act on crate `widget`",
        ),
        (
            publish_body("widget", "3.0.0", &simple("widget", "3.0.0", "")),
            Some(&short),
            403,
            "expired",
        ),
        (
            publish_body("widget", "3.0.0", &simple("widget", "3.0.0", "")),
            Some("ktra_bogus"),
            403,
            "not valid",
        ),
        (
            publish_body("widget", "3.0.0", &simple("widget", "3.0.0", "")),
            None,
            401,
            "needs a token",
        ),
    ];
    for (body, tok, status, want) in cases {
        let reply = put(&body, tok);
        assert_eq!(
            reply.status,
            status,
            "{want}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let d = detail(&reply);
        assert!(d.contains(want), "want `{want}` in `{d}`");
    }
    let after = reg.snapshot();
    let changed: Vec<&String> = before
        .keys()
        .filter(|k| k.starts_with("public/") && before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "refused publishes changed {changed:?}");
    let audit = std::fs::read_to_string(reg.root.join("state/audit.jsonl")).unwrap();
    // Refusals are counted and summarised (the first one at once), not one line each.
    assert!(
        audit.contains(r#""event":"token-refused","count":"#),
        "{audit}"
    );
}

#[test]
fn owners_from_the_command_line_and_the_api_agree() {
    let reg = Reg::new(false);
    let k = reg.krate("shared", "1.0.0", "");
    reg.ktra(&["add", &k]).success();
    reg.ktra(&["user", "add", "carol"]).success();
    let out = reg.ktra(&["owner", "add", "shared", "nobody"]).failure();
    assert!(
        out.stderr.contains("`nobody` is not a user"),
        "{}",
        out.describe()
    );
    reg.ktra(&["owner", "add", "shared", "carol"]).success();
    assert_eq!(
        reg.ktra(&["owner", "list", "shared"])
            .success()
            .stdout
            .trim(),
        "carol"
    );
    let server = Serve::start(&reg.root);
    let listed = request(server.port, "GET", "/api/v1/crates/shared/owners", &[]);
    let v: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(v["users"][0]["login"], "carol");
    assert_eq!(v["users"][0]["id"], 1);
    let out = reg.ktra(&["owner", "remove", "shared", "carol"]).failure();
    assert!(
        out.stderr.contains("at least one owner"),
        "{}",
        out.describe()
    );
    let missing = request(server.port, "GET", "/api/v1/crates/ghost/owners", &[]);
    assert_eq!(missing.status, 404);
    assert!(detail(&missing).contains("does not exist"));
}

#[test]
fn the_command_line_and_the_server_write_at_the_same_time_without_losing_anything() {
    let reg = Reg::new(true);
    reg.ktra(&["user", "add", "dana"]).success();
    let dana = token(&reg, &["dana"]);
    let dir = reg.files.join("bulk");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..40 {
        let name = format!("cli{i:02}");
        std::fs::write(
            dir.join(format!("{name}-1.0.0.crate")),
            simple(&name, "1.0.0", ""),
        )
        .unwrap();
    }
    let server = Serve::start(&reg.root);
    let port = server.port;
    let publisher = std::thread::spawn(move || {
        (0..15)
            .map(|i| {
                let name = format!("api{i:02}");
                let body = publish_body(&name, "1.0.0", &simple(&name, "1.0.0", ""));
                request_with_body(
                    port,
                    "PUT",
                    "/api/v1/crates/new",
                    &[("Authorization", &dana)],
                    &body,
                )
                .status
            })
            .collect::<Vec<u16>>()
    });
    for chunk in 0..4 {
        let files: Vec<String> = (chunk * 10..chunk * 10 + 10)
            .map(|i| {
                dir.join(format!("cli{i:02}-1.0.0.crate"))
                    .display()
                    .to_string()
            })
            .collect();
        let mut args = vec!["add"];
        args.extend(files.iter().map(String::as_str));
        reg.ktra(&args).success();
    }
    let statuses = publisher.join().unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let listed = reg.ktra(&["list", "--json"]).success().stdout;
    let crates: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(crates.len(), 55, "every crate from both writers is there");
    reg.ktra(&["verify"]).success();
}
