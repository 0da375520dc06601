//! One plain pack (no deltas) for a large git commit, streamed through libgit2's own indexer.
//! libgit2's pack builder always searches for deltas, which costs more than the whole rest of
//! a bulk add; index files are small and the pack is written once, so a plain pack is the
//! better trade.

use anyhow::{Context, Result, bail};
use flate2::{Compression, write::ZlibEncoder};
use git2::{ObjectType, Odb, Oid};
use sha1::{Digest, Sha1};
use std::collections::HashSet;
use std::io::Write;

/// Writes `oids` (read back from `odb`) as a new pack in the repository.
pub fn write(odb: &Odb<'_>, oids: &[Oid]) -> Result<()> {
    let mut seen = HashSet::with_capacity(oids.len());
    let oids: Vec<Oid> = oids.iter().copied().filter(|o| seen.insert(*o)).collect();
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
