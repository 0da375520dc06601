//! Builds `.crate` bytes in memory for tests, including malformed ones (paths outside the top
//! folder, symlinks, hard links) that `cargo package` would never produce.

use std::io::Write;

/// One tar entry of a hand-made crate.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A gzip'd tar of the given entries, in order. Paths are written verbatim (no checks).
pub fn tarball(entries: &[Entry<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        let (path, data, kind, link): (&str, &[u8], _, Option<&str>) = match e {
            Entry::File(p, d) => (p, d, tar::EntryType::Regular, None),
            Entry::Dir(p) => (p, &[], tar::EntryType::Directory, None),
            Entry::Symlink(p, t) => (p, &[], tar::EntryType::Symlink, Some(t)),
            Entry::HardLink(p, t) => (p, &[], tar::EntryType::Link, Some(t)),
        };
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_cksum();
        tar.append(&h, data).expect("in-memory tar");
    }
    let gz = tar.into_inner().expect("in-memory tar");
    let mut out = gz.finish().expect("in-memory gzip");
    out.flush().expect("vec");
    out
}

/// A normalized manifest as `cargo package` writes it, with extra TOML appended.
pub fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!(
        "[package]\nedition = \"2021\"\nname = \"{name}\"\nversion = \"{version}\"\n\
         description = \"test crate\"\nlicense = \"MIT\"\n\n[lib]\npath = \"src/lib.rs\"\n{extra}"
    )
}

/// A well-formed crate: `Cargo.toml` and `src/lib.rs` under `NAME-VERSION/`.
pub fn simple(name: &str, version: &str, extra: &str) -> Vec<u8> {
    let root = format!("{name}-{version}");
    let m = manifest(name, version, extra);
    tarball(&[
        Entry::File(&format!("{root}/Cargo.toml"), m.as_bytes()),
        Entry::File(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
    ])
}
