//! Inspecting a `.crate` from memory, for batches: the file is read whole into a buffer lent by
//! a [`Pool`], inflated in one call by libdeflate (about 1.4 times as fast as zlib-rs streaming)
//! and its tar walked in memory with the same checks as [`archive::inspect`]. Whatever does not
//! fit the pool's budget, and every failure, goes through the streaming reader instead, so the
//! answer (the inspection, or the error) is always the streaming reader's.

use super::archive::{self, ArchiveError, Inspection};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read, Write};
use std::sync::Mutex;

/// Files larger than this are streamed.
const MAX_FILE: u64 = 8 * 1024 * 1024;
/// Crates that unpack to more than this are streamed.
const MAX_UNPACKED: u64 = 32 * 1024 * 1024;
/// What all of a pool's buffers may hold together, whatever the number of threads.
const BUDGET: usize = 32 * 1024 * 1024;

/// Buffers for in-memory inspection, shared by the threads of one batch and freed with it.
/// Their total size stays within a fixed budget: a crate that does not fit is streamed.
pub struct Pool {
    budget: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    spare: Vec<Buffers>,
    /// Bytes held by every buffer of the pool, lent or spare.
    held: usize,
}

/// One thread's buffers (grown, never shrunk, so that reuse writes no zeros).
struct Buffers {
    file: Vec<u8>,
    tar: Vec<u8>,
    inflater: libdeflater::Decompressor,
}

impl Default for Pool {
    fn default() -> Self {
        Self::with_budget(BUDGET)
    }
}

impl Pool {
    pub fn with_budget(budget: usize) -> Self {
        Self {
            budget,
            state: Mutex::default(),
        }
    }

    /// Bytes its buffers hold.
    pub fn held(&self) -> usize {
        self.state().held
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `more` bytes from the budget, if it has them.
    fn reserve(&self, more: usize) -> bool {
        let mut state = self.state();
        let fits = state.held + more <= self.budget;
        if fits {
            state.held += more;
        }
        fits
    }

    /// Lends buffers whose file buffer holds `file` bytes, if the budget allows.
    fn lend(&self, file: usize) -> Option<Buffers> {
        let spare = self.state().spare.pop();
        let mut bufs = spare.unwrap_or_else(|| Buffers {
            file: Vec::new(),
            tar: Vec::new(),
            inflater: libdeflater::Decompressor::new(),
        });
        let more = file.saturating_sub(bufs.file.capacity());
        if more > 0 && !self.reserve(more) {
            self.give_back(bufs);
            return None;
        }
        bufs.file.clear();
        bufs.file.reserve_exact(file);
        Some(bufs)
    }

    /// Makes the tar buffer hold `len` bytes, if the budget allows.
    fn grow_tar(&self, tar: &mut Vec<u8>, len: usize) -> bool {
        let more = len.saturating_sub(tar.len());
        if more > 0 && !self.reserve(more) {
            return false;
        }
        if more > 0 {
            tar.resize(len, 0);
        }
        true
    }

    fn give_back(&self, bufs: Buffers) {
        self.state().spare.push(bufs);
    }
}

/// [`archive::inspect`], from memory when `size` (the file's expected size) and the unpacked
/// size fit the pool; the same result either way.
pub fn inspect<R: Read, W: Write>(
    pool: &Pool,
    mut src: R,
    mut sink: W,
    max_size: Option<u64>,
    max_manifest: u64,
    size: u64,
) -> Result<Inspection, ArchiveError> {
    if size > MAX_FILE || max_size.is_some_and(|m| size > m) {
        return archive::inspect_limited(src, sink, max_size, max_manifest);
    }
    // Room for one byte more than expected, to see that the file grew.
    let Some(mut bufs) = pool.lend(size as usize + 1) else {
        return archive::inspect_limited(src, sink, max_size, max_manifest);
    };
    let read = (&mut src).take(size + 1).read_to_end(&mut bufs.file);
    let result = if read.is_err() || bufs.file.len() as u64 > size {
        // Not what was expected: the streaming reader handles it (and its error).
        archive::inspect_limited(
            Cursor::new(&bufs.file[..]).chain(src),
            sink,
            max_size,
            max_manifest,
        )
    } else {
        match in_memory(pool, &mut bufs, &mut sink, max_manifest) {
            Some(found) => found,
            None => archive::inspect_limited(&bufs.file[..], sink, max_size, max_manifest),
        }
    };
    pool.give_back(bufs);
    result
}

/// Hashes and copies the file, then inflates and walks it; `None` when the streaming reader
/// must decide (not a plain gzip member, too large, an error of the inflater or the walk).
fn in_memory<W: Write>(
    pool: &Pool,
    bufs: &mut Buffers,
    sink: &mut W,
    max_manifest: u64,
) -> Option<Result<Inspection, ArchiveError>> {
    let file = &bufs.file[..];
    let (_, unpacked) = gzip_body(file)?;
    if unpacked > MAX_UNPACKED || !pool.grow_tar(&mut bufs.tar, unpacked as usize) {
        return None;
    }
    let tar = &mut bufs.tar[..unpacked as usize];
    // The whole gzip member, its trailer's CRC and length checked, as the streaming reader
    // checks them.
    let n = bufs.inflater.gzip_decompress(file, tar).ok()?;
    if n as u64 != unpacked {
        return None;
    }
    let tar = &tar[..n];
    let mut archive = tar::Archive::new(Cursor::new(tar));
    let walked = archive::walk_entries(archive.entries_with_seek().ok()?, max_manifest).ok()?;
    // Only a walk that ended inside the data is the streaming reader's walk: a skip past the
    // end (a truncated archive) reads as the end here but is an error there, and a tar without
    // an end marker makes it read the gzip trailer too.
    if archive.into_inner().position() >= tar.len() as u64 {
        return None;
    }
    let copied = sink.write_all(file).and_then(|()| sink.flush());
    if let Err(e) = copied {
        return Some(Err(ArchiveError::Io(e)));
    }
    let archive::Walked {
        root,
        manifest: (manifest, doc),
        readmes,
        readme_sizes,
    } = walked;
    Some(Ok(Inspection {
        cksum: format!("{:x}", Sha256::digest(file)),
        size: file.len() as u64,
        root,
        manifest,
        doc,
        readmes,
        readme_sizes,
    }))
}

/// Where the deflate data of a plain gzip member starts, and the unpacked size its trailer
/// gives (ISIZE); `None` for anything else, or a header with a checksum of its own (FHCRC),
/// which the streaming reader checks.
fn gzip_body(file: &[u8]) -> Option<(usize, u64)> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const RESERVED: u8 = 0xe0;
    let [0x1f, 0x8b, 8, flags, ..] = *file else {
        return None;
    };
    if flags & (FHCRC | RESERVED) != 0 {
        return None;
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len: [u8; 2] = file.get(at..at + 2)?.try_into().ok()?;
        at += 2 + usize::from(u16::from_le_bytes(len));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += file.get(at..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    let tail: [u8; 4] = file.get(file.len().checked_sub(4)?..)?.try_into().ok()?;
    (at + 8 <= file.len()).then(|| (at, u32::from_le_bytes(tail).into()))
}
