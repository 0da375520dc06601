//! The mirror: a pruned copy of an upstream sparse registry inside the same tree, filled by
//! `ktra sync-mirror` and by the pull-through in `ktra serve`, and used by cargo through source
//! replacement.
//!
//! ```text
//!  sync ──► resolve (async round: index files, picks, closure, downloads)
//!   │          ├── select / lockfile / prune   (pure)
//!   │          └── upstream (HTTP) · cache (upstream copies with validators)
//!   └─────► commit (crate files durable, then pruned index files under the mirror lock)
//! ```

mod all_names;
mod cache;
pub(crate) mod commit;
mod dl;
mod fetch;
pub mod layout;
pub mod lines;
mod lockfile;
mod prune;
pub mod pull;
mod resolve;
pub mod select;
pub mod settings;
pub mod sync;
pub mod upstream;
pub mod verify;

pub use sync::{Summary, SyncOptions, sync_mirror};
