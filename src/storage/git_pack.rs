//! Writing a commit's new git objects, collected in memory by libgit2, to the repository: a
//! large commit as one plain pack (no deltas) streamed through libgit2's own indexer, a small
//! one as loose objects. libgit2's pack builder always searches for deltas, which costs more
//! than the whole rest of a bulk add, and its loose objects use slow compression; index files
//! and trees are small, so fast compression is the better trade in both cases.

use anyhow::{Context, Result, bail};
use flate2::{Compression, write::ZlibEncoder};
use git2::{ObjectType, Odb, Oid};
use sha1::{Digest, Sha1};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `oids` (read back from `odb`) as loose objects under `objects_dir`, each to a
/// temporary file renamed into place (made durable by the caller's sync).
pub fn write_loose(odb: &Odb<'_>, objects_dir: &Path, oids: &[Oid]) -> Result<()> {
    for oid in unique(oids) {
        let hex = oid.to_string();
        let dir = objects_dir.join(&hex[..2]);
        let path = dir.join(&hex[2..]);
        if path.exists() {
            continue;
        }
        let object = odb.read(oid).with_context(|| format!("failed to read git object {oid}"))?;
        let kind = object.kind().str();
        fs::create_dir_all(&dir).with_context(|| format!("failed to create `{}`", dir.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix("tmp_obj_")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(&dir)
            .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))?;
        let mut z = ZlibEncoder::new(tmp.as_file_mut(), Compression::fast());
        write!(z, "{kind} {}\0", object.data().len())?;
        z.write_all(object.data())?;
        z.finish()?;
        if let Err(e) = tmp.persist_noclobber(&path) {
            if !path.exists() {
                return Err(e.error).with_context(|| format!("failed to write git object `{}`", path.display()));
            }
        }
    }
    Ok(())
}

fn unique(oids: &[Oid]) -> Vec<Oid> {
    let mut seen = HashSet::with_capacity(oids.len());
    oids.iter().copied().filter(|o| seen.insert(*o)).collect()
}

/// Writes `oids` (read back from `odb`) as a new pack in the repository.
pub fn write(odb: &Odb<'_>, oids: &[Oid]) -> Result<()> {
    let oids = unique(oids);
    let writer = odb.packwriter().context("failed to start a git pack")?;
    let mut out = Hashing {
        inner: writer,
        hash: Sha1::new(),
    };
    let count = u32::try_from(oids.len()).context("too many objects for one git pack")?;
    out.write_all(b"PACK")?;
    out.write_all(&2u32.to_be_bytes())?;
    out.write_all(&count.to_be_bytes())?;
    for oid in oids {
        let object = odb
            .read(oid)
            .with_context(|| format!("failed to read git object {oid}"))?;
        let kind = match object.kind() {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            other => bail!("git object {oid} has unexpected type {other}"),
        };
        out.write_all(&entry_header(kind, object.data().len()))?;
        let mut z = ZlibEncoder::new(&mut out, Compression::fast());
        z.write_all(object.data())?;
        z.finish()?;
    }
    let digest = out.hash.finalize();
    let mut writer = out.inner;
    writer.write_all(&digest)?;
    writer.commit().context("failed to store the git pack")?;
    Ok(())
}

/// Type and size of a pack entry: 3 type bits and 4 size bits, then 7 size bits per byte.
fn entry_header(kind: u8, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    let mut rest = size >> 4;
    let mut byte = (kind << 4) | (size & 0x0f) as u8;
    while rest > 0 {
        out.push(byte | 0x80);
        byte = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(byte);
    out
}

/// Hashes what passes through it (the pack trailer is the SHA-1 of everything before it).
struct Hashing<W> {
    inner: W,
    hash: Sha1,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::entry_header;

    #[test]
    fn entry_headers_follow_the_pack_format() {
        assert_eq!(entry_header(3, 5), [0x35]);
        assert_eq!(entry_header(2, 16), [0xa0, 0x01]);
        assert_eq!(entry_header(1, 300), [0x9c, 0x12]);
    }
}
