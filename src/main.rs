//! The `herald` binary: parses the command line and reports the outcome. Everything else lives in
//! the `herald` library and the crates it wires.

use std::process::ExitCode;

use clap::Parser;

// jemalloc, measured against the others on both doors (BENCHMARKS.md, cost): with 10,000 bots on
// the simulator it keeps less resident than glibc's malloc (whose per-thread arenas and rising
// mmap threshold keep the start burst's pages), and on the grammers path it leaves each
// connection's two 1 MiB buffers untouched until used, as glibc does (mimalloc made them resident:
// 2,589 MiB for 1,000 bots on the test DC). Its defaults stay: one arena
// (`_RJEM_MALLOC_CONF=narenas:1`, against four a core) kept 10,000 simulated bots at 123-126 MiB
// against 135, but 1,000 bots on grammers and the test DC at 157-160 MiB against 110, the same
// session; the grammers path is production's.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
