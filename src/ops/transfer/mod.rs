//! Air-gapped transfer: `ktra export` writes a registry's index and crate files (and its
//! mirror's) as one tar archive, whole or as the changes since an earlier archive; `ktra
//! import` checks such an archive completely and applies it to another tree.
//!
//! ```text
//! archive.tar
//! ├── ktra-export.json           manifest: full listing (path → sha256, size), ids, changes
//! ├── crates/NAME-VERSION.crate  carried files, paths relative to public/
//! ├── index/PREFIX/NAME
//! ├── mirror/crates/...
//! └── mirror/index/...
//! ```
//!
//! Never in an archive: `state/` (users, tokens, journal, the mirror's upstream cache),
//! `ktra.toml`, either `config.json` (each tree writes its own) and the git index (regenerated
//! from the sparse files on import).

mod apply;
mod content;
pub mod export;
pub mod import;
mod listing;
pub mod manifest;
mod paths;
mod plan;
mod stage;
#[cfg(test)]
mod tests;

pub use export::{ExportOptions, ExportReport, export};
pub use import::{ImportOptions, ImportReport, import};

/// A byte count for people: `512 B`, `3.4 KiB`, `12.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}
