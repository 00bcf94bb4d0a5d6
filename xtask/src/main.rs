//! The `cargo xtask` binary: everything it does lives in the `xtask` library.

fn main() -> std::process::ExitCode {
    xtask::main()
}
