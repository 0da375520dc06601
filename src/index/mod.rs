//! The registry's data model, free of I/O: crate names, path rules, index lines, the
//! `features2` split and `config.json`. Nothing here touches the file system, network or clock.

pub mod config_json;
pub mod entry;
pub mod features;
pub mod file;
pub mod name;
pub mod path;

pub use config_json::RegistryConfig;
pub use entry::{DependencyKind, IndexPackage, RegistryDependency};
pub use file::IndexFile;
pub use name::CrateName;
