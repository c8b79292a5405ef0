//! The `herald` binary: parses the command line and reports the outcome. Everything else lives in
//! the `herald` library and the crates it wires.

use std::process::ExitCode;

use clap::Parser;

// The system allocator, on purpose: with mimalloc, each grammers connection's two 1 MiB buffers
// were resident (1,000 bots on the test DC: 2,589 MiB, 2,516 MiB with MIMALLOC_PURGE_DELAY=0,
// against 200 MiB with glibc's). What mimalloc gave in exchange: about 20% more posts/s on the
// simulator (BENCHMARKS.md, cost).

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
