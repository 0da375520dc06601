//! The `ktra` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    ktra::cli::main()
}
