//! `ktra serve` keeps small files' responses in memory (one cache per serving loop), checked
//! against the disk on every request: a file replaced or rewritten between two requests is
//! served new, a symbolic link swapped in for a cached file or for a folder above it is
//! refused as if nothing had been cached, and a private registry checks the token first.

use crate::cli::Reg;
use crate::serve::{Reply, Serve, request};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Files younger than this are not cached (the server waits out the file system clock's tick):
/// the fixtures are made first, then aged past it.
const SETTLED: Duration = Duration::from_millis(3300);

/// Enough requests that each of the server's loops (one per core, each with its own cache, new
/// connections spread by the kernel) most likely served, and so cached, the file.
const EVERY_LOOP: usize = 12;

fn get(server: &Serve, path: &str) -> Reply {
    request(server.port, "GET", path, &[])
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// GETs `path` until every loop holds it, each time expecting `body`.
fn warm(server: &Serve, path: &str, body: &str) {
    for _ in 0..EVERY_LOOP {
        let reply = get(server, path);
        assert_eq!((reply.status, text(&reply).as_str()), (200, body), "{path}");
    }
}

fn write_by_rename(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-new");
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn symlink_by_rename(target: &Path, path: &Path) {
    let tmp = path.with_extension("tmp-link");
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_cached_file_changed_on_disk_is_served_new_and_a_symlink_swapped_in_is_refused() {
    let reg = Reg::new(false);
    let public = reg.root.join("public");
    let outside = reg.root.join("outside");
    fs::create_dir_all(public.join("d/sub")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(public.join("d/renamed.txt"), "one").unwrap();
    fs::write(public.join("d/inplace.txt"), "old").unwrap();
    fs::write(public.join("d/linked.txt"), "file").unwrap();
    fs::write(public.join("d/sub/deep.txt"), "deep").unwrap();
    fs::write(public.join("d/stay.txt"), "stay").unwrap();
    fs::write(public.join("top.txt"), "top").unwrap();
    fs::write(outside.join("secret.txt"), "secret").unwrap();
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::write(outside.join("sub/deep.txt"), "secret deep").unwrap();
    std::thread::sleep(SETTLED);

    let server = Serve::start(&reg.root);
    for (path, body) in [
        ("/d/renamed.txt", "one"),
        ("/d/inplace.txt", "old"),
        ("/d/linked.txt", "file"),
        ("/d/sub/deep.txt", "deep"),
        ("/d/stay.txt", "stay"),
        ("/top.txt", "top"),
    ] {
        warm(&server, path, body);
    }

    // Replaced by rename (how ktra writes), and rewritten in place with the same size.
    write_by_rename(&public.join("d/renamed.txt"), b"two");
    fs::write(public.join("d/inplace.txt"), "new").unwrap();
    warm(&server, "/d/renamed.txt", "two");
    warm(&server, "/d/inplace.txt", "new");

    // A symbolic link swapped in for a cached file, pointing outside `public/`.
    symlink_by_rename(&outside.join("secret.txt"), &public.join("d/linked.txt"));
    // A folder above a cached file swapped for a link: to the same folder moved aside (the
    // same file, reached through a link), and to a folder outside `public/`.
    fs::rename(public.join("d/sub"), public.join("d/sub-moved")).unwrap();
    std::os::unix::fs::symlink("sub-moved", public.join("d/sub")).unwrap();
    for _ in 0..EVERY_LOOP {
        for path in ["/d/linked.txt", "/d/sub/deep.txt"] {
            let reply = get(&server, path);
            assert_eq!(reply.status, 404, "{path}: {}", text(&reply));
        }
    }
    fs::remove_file(public.join("d/sub")).unwrap();
    std::os::unix::fs::symlink(outside.join("sub"), public.join("d/sub")).unwrap();
    for _ in 0..EVERY_LOOP {
        let reply = get(&server, "/d/sub/deep.txt");
        assert_eq!(reply.status, 404, "{}", text(&reply));
        assert!(!text(&reply).contains("secret"));
    }
    warm(&server, "/d/stay.txt", "stay");
    // The folder `d` itself becomes a link to itself moved aside.
    fs::rename(public.join("d"), reg.root.join("d-aside")).unwrap();
    std::os::unix::fs::symlink(reg.root.join("d-aside"), public.join("d")).unwrap();
    for _ in 0..EVERY_LOOP {
        let reply = get(&server, "/d/stay.txt");
        assert_eq!(reply.status, 404, "{}", text(&reply));
    }
    // What did not change is still served.
    warm(&server, "/top.txt", "top");
}

#[test]
fn a_private_registry_checks_the_token_before_the_cache() {
    let reg = Reg::new(false);
    let settings = reg.root.join("ktra.toml");
    let text_before = fs::read_to_string(&settings).unwrap();
    fs::write(
        &settings,
        text_before.replace("auth-required = false", "auth-required = true"),
    )
    .unwrap();
    reg.ktra(&["user", "add", "alice"]).success();
    let token = reg
        .ktra(&["token", "create", "alice", "--scope", "read"])
        .success()
        .stdout
        .trim()
        .to_owned();
    fs::write(reg.root.join("public/page.txt"), "private").unwrap();
    std::thread::sleep(SETTLED);
    let server = Serve::start(&reg.root);
    for _ in 0..EVERY_LOOP {
        let reply = request(
            server.port,
            "GET",
            "/page.txt",
            &[("Authorization", &token)],
        );
        assert_eq!((reply.status, text(&reply).as_str()), (200, "private"));
    }
    for _ in 0..EVERY_LOOP {
        let reply = get(&server, "/page.txt");
        assert_eq!(reply.status, 401, "{}", text(&reply));
        assert!(!text(&reply).contains("private"));
        let reply = request(
            server.port,
            "GET",
            "/page.txt",
            &[("Authorization", "ktra_wrong")],
        );
        assert_eq!(reply.status, 403, "{}", text(&reply));
    }
}
