//! Writing a commit's new git objects to the repository: a large commit as one plain pack (no
//! deltas) streamed through libgit2's own indexer, a small one as loose objects. libgit2's pack
//! builder always searches for deltas, which costs more than the whole rest of a bulk add, and
//! its loose objects use slow compression; index files and trees are small, so fast compression
//! is the better trade in both cases.

use super::git_objects::Object;
use anyhow::{Context, Result, bail};
use flate2::{Compression, write::ZlibEncoder};
use git2::{ObjectType, Odb};
use sha1::{Digest, Sha1};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `objects` as loose objects under `objects_dir`, each to a temporary file renamed into
/// place (made durable by the caller's sync).
pub fn write_loose(objects_dir: &Path, objects: &[Object]) -> Result<()> {
    for object in unique(objects) {
        let hex = object.oid.to_string();
        let dir = objects_dir.join(&hex[..2]);
        let path = dir.join(&hex[2..]);
        if path.exists() {
            continue;
        }
        let kind = object.kind.str();
        fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create `{}`", dir.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix("tmp_obj_")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(&dir)
            .with_context(|| format!("failed to create a temporary file in `{}`", dir.display()))?;
        let mut z = ZlibEncoder::new(tmp.as_file_mut(), Compression::fast());
        write!(z, "{kind} {}\0", object.data.len())?;
        z.write_all(&object.data)?;
        z.finish()?;
        // Another writer may have stored the same object meanwhile: that is success too.
        if let Err(e) = tmp.persist_noclobber(&path)
            && !path.exists()
        {
            return Err(e.error)
                .with_context(|| format!("failed to write git object `{}`", path.display()));
        }
    }
    Ok(())
}

/// Each object once (a blob shared by two files is one object).
fn unique(objects: &[Object]) -> Vec<&Object> {
    let mut seen = HashSet::with_capacity(objects.len());
    objects.iter().filter(|o| seen.insert(o.oid)).collect()
}

/// Writes `objects` as a new pack in the repository (through `odb`'s indexer).
pub fn write(odb: &Odb<'_>, objects: &[Object]) -> Result<()> {
    let objects = unique(objects);
    let writer = odb.packwriter().context("failed to start a git pack")?;
    let mut out = Hashing {
        inner: writer,
        hash: Sha1::new(),
    };
    let count = u32::try_from(objects.len()).context("too many objects for one git pack")?;
    out.write_all(b"PACK")?;
    out.write_all(&2u32.to_be_bytes())?;
    out.write_all(&count.to_be_bytes())?;
    for object in objects {
        let oid = object.oid;
        let kind = match object.kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            other => bail!("git object {oid} has unexpected type {other}"),
        };
        out.write_all(&entry_header(kind, object.data.len()))?;
        let mut z = ZlibEncoder::new(&mut out, Compression::fast());
        z.write_all(&object.data)?;
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
