//! The in-memory reader ([`super::whole`]) gives the streaming reader's answer for every kind
//! of input, stays within its budget, and is actually used for ordinary crates.

use super::archive::{self, ArchiveError, Inspection};
use super::testing::{Entry, manifest, simple, tarball};
use super::whole::{Pool, inspect};
use std::io::{Read, Write};

/// The answer of a reader as comparable text, and the bytes it copied.
fn answer(r: Result<Inspection, ArchiveError>, copy: Vec<u8>) -> (String, Vec<u8>) {
    let text = match r {
        Ok(i) => format!(
            "ok {} {} {} {:?} {:?}",
            i.cksum, i.size, i.root, i.manifest, i.readmes
        ),
        Err(e) => format!("error {e}"),
    };
    (text, copy)
}

fn both(pool: &Pool, bytes: &[u8], max: Option<u64>) -> (String, String) {
    let mut a = Vec::new();
    let streamed = answer(archive::inspect(bytes, &mut a, max), a);
    let mut b = Vec::new();
    let whole = answer(
        inspect(
            pool,
            bytes,
            &mut b,
            max,
            archive::MAX_MANIFEST,
            bytes.len() as u64,
        ),
        b,
    );
    assert_eq!(whole.1, bytes, "every byte is copied");
    (streamed.0, whole.0)
}

/// A gzip member around raw tar bytes (no end-of-archive blocks added).
fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(raw).unwrap();
    gz.finish().unwrap()
}

/// A tar without its end-of-archive blocks (every entry whole).
fn unterminated() -> Vec<u8> {
    let full = simple("foo", "1.0.0", "");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&full[..])
        .read_to_end(&mut raw)
        .unwrap();
    while raw.ends_with(&[0u8; 512]) {
        raw.truncate(raw.len() - 512);
    }
    gzip(&raw)
}

/// A tar whose last entry claims more data than the archive holds.
fn truncated() -> Vec<u8> {
    let m = manifest("foo", "1.0.0", "");
    let full = tarball(&[
        Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
        Entry::File("foo-1.0.0/big.bin", &[7u8; 8192]),
    ]);
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&full[..])
        .read_to_end(&mut raw)
        .unwrap();
    // Cargo.toml's header and data, then big.bin's header and 1,024 of its 8,192 bytes.
    let keep = 512 + m.len().div_ceil(512) * 512 + 512 + 1024;
    gzip(&raw[..keep])
}

#[test]
fn gives_the_streaming_readers_answer_for_every_kind_of_input() {
    let m = manifest("foo", "1.0.0", "readme = \"README.md\"\n");
    let good = tarball(&[
        Entry::Dir("foo-1.0.0/"),
        Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
        Entry::File("foo-1.0.0/README.md", b"# foo\n"),
        Entry::File("foo-1.0.0/src/lib.rs", b"pub fn f() {}\n"),
    ]);
    let symlink = tarball(&[
        Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
        Entry::Symlink("foo-1.0.0/l", "/etc/passwd"),
    ]);
    let outside = tarball(&[
        Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes()),
        Entry::File("foo-1.0.0/../evil", b"x"),
    ]);
    let mut bad_crc = simple("foo", "1.0.0", "");
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let mut header_crc = simple("foo", "1.0.0", "");
    header_crc[3] |= 0x02;
    let mut trailing = simple("foo", "1.0.0", "");
    trailing.extend_from_slice(b"trailing bytes after the gzip member");
    let mut unterminated_bad_crc = unterminated();
    let n = unterminated_bad_crc.len();
    unterminated_bad_crc[n - 8] ^= 0xff;
    let tar = tarball(&[Entry::File("foo-1.0.0/Cargo.toml", m.as_bytes())]);
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&tar[..])
        .read_to_end(&mut raw)
        .unwrap();
    let mut headers = flate2::GzBuilder::new()
        .extra(vec![1, 2, 3])
        .filename("foo-1.0.0.crate")
        .comment("a comment")
        .write(Vec::new(), flate2::Compression::default());
    headers.write_all(&raw).unwrap();
    let headers = headers.finish().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unterminated", unterminated()),
        ("unterminated, bad crc", unterminated_bad_crc),
        ("extra, name and comment", headers),
        ("good", good),
        ("simple", simple("foo", "1.0.0", "")),
        ("symlink", symlink),
        ("outside", outside),
        ("truncated", truncated()),
        ("bad crc", bad_crc),
        ("header crc", header_crc),
        ("trailing", trailing),
        ("empty tar", tarball(&[])),
        ("not gzip", b"not a crate at all, just some text".to_vec()),
        ("nothing", Vec::new()),
    ];
    let pool = Pool::default();
    for (what, bytes) in &cases {
        let (streamed, whole) = both(&pool, bytes, None);
        assert_eq!(whole, streamed, "{what}");
    }
    let (streamed, whole) = both(&pool, &cases[0].1, Some(10));
    assert_eq!(whole, streamed, "over the size limit");
    assert!(
        both(&pool, &truncated(), None).1.starts_with("error "),
        "a truncated archive is refused"
    );
}

#[test]
fn ordinary_crates_are_inflated_in_memory_within_the_budget() {
    let pool = Pool::default();
    let bytes = simple("foo", "1.0.0", "");
    let (streamed, whole) = both(&pool, &bytes, None);
    assert_eq!(whole, streamed);
    assert!(pool.held() > bytes.len(), "the file and its tar were held");
    // A budget too small for the tar: streamed, same answer, nothing more held.
    let small = Pool::with_budget(bytes.len() + 1);
    let (streamed, whole) = both(&small, &bytes, None);
    assert_eq!(whole, streamed);
    assert!(small.held() <= bytes.len() + 1);
    // A crate that unpacks to more than the budget holds.
    let big = Pool::with_budget(64 * 1024);
    let m = manifest("big", "1.0.0", "");
    let crate_bytes = tarball(&[
        Entry::File("big-1.0.0/Cargo.toml", m.as_bytes()),
        Entry::File("big-1.0.0/zeros.bin", &[0u8; 256 * 1024]),
    ]);
    let (streamed, whole) = both(&big, &crate_bytes, None);
    assert_eq!(whole, streamed);
    assert!(streamed.starts_with("ok ") && big.held() <= 64 * 1024);
}

#[test]
fn a_file_that_is_not_the_size_announced_is_read_all_the_same() {
    let pool = Pool::default();
    let bytes = simple("foo", "1.0.0", "");
    let mut want = Vec::new();
    let streamed = answer(archive::inspect(&bytes[..], &mut want, None), want);
    for announced in [0, 10, bytes.len() as u64 - 1, bytes.len() as u64 + 100] {
        let mut copy = Vec::new();
        let got = answer(
            inspect(
                &pool,
                &bytes[..],
                &mut copy,
                None,
                archive::MAX_MANIFEST,
                announced,
            ),
            copy,
        );
        assert_eq!(got, streamed, "announced {announced}");
    }
}
