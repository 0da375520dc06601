// Writes a constant with demo-codegen, a crate this package only uses here.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(
        out.join("generated.rs"),
        demo_codegen::const_item("GENERATED", 42),
    )
    .expect("write generated.rs");
}
