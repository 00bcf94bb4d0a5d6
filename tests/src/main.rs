//! `cargo xtask` as a binary of the test package, for the end-to-end tests to run by path.

fn main() -> std::process::ExitCode {
    xtask::main()
}
