//! The `herald` binary: parses the command line and reports the outcome. Everything else lives in
//! the `herald` library and the crates it wires.

use std::process::ExitCode;

use clap::Parser;

/// glibc's allocator spent a fifth of a busy worker's time in malloc and free across tokio's
/// threads (bench posts, perf); mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = herald::cli::Cli::parse();
    match herald::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The contract: a one-line reason on stderr. `{:#}` joins the context chain with ": ".
            eprintln!("herald: {err:#}");
            ExitCode::FAILURE
        }
    }
}
