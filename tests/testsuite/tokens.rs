//! Users and tokens from the command line: a token is shown once and stored only as a hash,
//! never under `public/`; scopes, crate globs, expiry, revocation and the audit log.

use crate::cli::Reg;
use sha2::{Digest, Sha256};
use std::fs;

fn every_file_contains(reg: &Reg, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in walkdir::WalkDir::new(&reg.root) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = fs::read(entry.path()).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(entry.path().display().to_string());
            }
        }
    }
    hits
}

#[test]
fn a_token_is_shown_once_and_stored_only_as_a_hash() {
    let reg = Reg::new(true);
    let public_before: Vec<_> = reg
        .snapshot()
        .into_iter()
        .filter(|(k, _)| k.starts_with("public/"))
        .collect();
    reg.ktra(&["user", "add", "alice", "--name", "Alice A."])
        .success();
    let out = reg
        .ktra(&[
            "token",
            "create",
            "alice",
            "--name",
            "ci",
            "--scope",
            "publish-update,yank",
            "--crate",
            "acme-*",
            "--expires-in",
            "90d",
        ])
        .success();
    let token = out.stdout.trim().to_owned();
    assert!(
        token.starts_with("ktra_") && token.len() == 69,
        "stdout is the token alone: {:?}",
        out.stdout
    );
    assert!(
        !out.stderr.contains(&token),
        "the token is printed once, on stdout"
    );
    assert!(
        every_file_contains(&reg, &token).is_empty(),
        "the token is written nowhere"
    );
    let hash = format!("{:x}", Sha256::digest(token.as_bytes()));
    let stored = reg.root.join(format!("state/tokens/{hash}.json"));
    let record: serde_json::Value = serde_json::from_slice(&fs::read(&stored).unwrap()).unwrap();
    assert_eq!(record["login"], "alice");
    assert_eq!(
        record["scopes"],
        serde_json::json!(["publish-update", "yank"])
    );
    assert_eq!(record["crates"], serde_json::json!(["acme-*"]));
    let expires = record["expires"].as_u64().unwrap() - record["created"].as_u64().unwrap();
    assert_eq!(expires, 90 * 86400);
    let public_after: Vec<_> = reg
        .snapshot()
        .into_iter()
        .filter(|(k, _)| k.starts_with("public/"))
        .collect();
    assert_eq!(public_before, public_after, "nothing under public/ changes");

    let listed = reg.ktra(&["token", "list", "--json"]).success();
    assert!(
        listed.stdout.contains("\"ci\"")
            && !listed.stdout.contains(&token)
            && !listed.stdout.contains(&hash)
    );
    let id = record["id"].as_str().unwrap();
    reg.ktra(&["token", "revoke", id]).success();
    assert!(!stored.exists());
    reg.ktra(&["token", "revoke", id]).failure();

    let audit = fs::read_to_string(reg.root.join("state/audit.jsonl")).unwrap();
    for event in ["user-added", "token-created", "token-revoked"] {
        assert!(audit.contains(event), "audit log lacks {event}:\n{audit}");
    }
    assert!(!audit.contains(&token));
}

#[test]
fn token_commands_refuse_bad_input() {
    let reg = Reg::new(false);
    let out = reg.ktra(&["token", "create", "ghost"]).failure();
    assert!(
        out.stderr.contains("user `ghost` does not exist"),
        "{}",
        out.describe()
    );
    reg.ktra(&["user", "add", "bob"]).success();
    assert!(
        reg.ktra(&["user", "add", "bob"])
            .failure()
            .stderr
            .contains("already exists")
    );
    assert!(
        reg.ktra(&["user", "add", "../evil"])
            .failure()
            .stderr
            .contains("not a valid login")
    );
    assert_eq!(
        reg.ktra(&["token", "create", "bob", "--scope", "everything"])
            .status
            .code(),
        Some(2)
    );
    assert!(
        reg.ktra(&["token", "create", "bob", "--expires-in", "soon"])
            .failure()
            .stderr
            .contains("not a duration")
    );
    assert!(
        reg.ktra(&["token", "create", "bob", "--crate", "a[b"])
            .failure()
            .stderr
            .contains("not a valid glob")
    );
    assert!(
        !reg.root.join("state/tokens").exists()
            || fs::read_dir(reg.root.join("state/tokens")).unwrap().count() == 0
    );
    // Removing a user revokes their tokens.
    reg.ktra(&["token", "create", "bob"]).success();
    reg.ktra(&["token", "create", "bob", "--name", "second"])
        .success();
    let out = reg.ktra(&["user", "remove", "bob"]).success();
    assert!(
        out.stderr.contains("revoked 2 token(s)"),
        "{}",
        out.describe()
    );
    assert_eq!(
        fs::read_dir(reg.root.join("state/tokens"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    let users = reg.ktra(&["user", "list", "--json"]).success();
    assert_eq!(users.stdout.trim(), "[]");
}
