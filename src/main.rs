//! The `ktra` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    let code = ktra::cli::main();
    // This process's temporary folder goes with it (a killed process's goes at the next change).
    ktra::storage::release_temp_dirs();
    code
}
