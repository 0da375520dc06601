//! The mirror: a pruned copy of an upstream sparse registry inside the same tree, filled by
//! `ktra sync-mirror` and by the pull-through in `ktra serve`, and used by cargo through source
//! replacement.

pub mod layout;
