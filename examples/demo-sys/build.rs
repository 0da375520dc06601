// Stands in for a -sys crate's build script: it links nothing, but it proves it ran by
// setting an environment variable that the library reads at compile time.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=DEMO_SYS_BUILT=yes");
    // Metadata for dependents' build scripts (visible to them as DEP_DEMO_FLAVOUR).
    println!("cargo:flavour=demo");
}
