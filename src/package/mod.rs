//! `.crate` files: reading one (archive checks, the packaged manifest), turning its manifest
//! into an index entry, and making them from source directories with `cargo package`.

pub mod archive;
pub mod cargo_package;
pub mod cfg;
mod loopback;
pub mod manifest;
pub mod meta;
#[doc(hidden)]
pub mod testing;
pub mod whole;
#[cfg(test)]
mod whole_tests;
