//! The `herald` binary: parses the command line and reports the outcome. Everything else lives in
//! the `herald` library and the crates it wires.

use std::process::ExitCode;

use clap::Parser;

// jemalloc, measured against the others on both doors (BENCHMARKS.md, cost): with 10,000 bots on
// the simulator it keeps less resident than glibc's malloc (whose per-thread arenas and rising
// mmap threshold keep the start burst's pages), and on the grammers path it leaves each
// connection's two 1 MiB buffers untouched until used, as glibc does (mimalloc made them resident:
// 2,589 MiB for 1,000 bots on the test DC). Its settings are compiled in (`.cargo/config.toml`):
// one arena, freed pages handed back at once. One arena alone kept fewer pages on the simulator
// but more on grammers, where freed buffers' pages stayed resident for the 10 s decay; with
// both, 10,000 simulated bots take 103-107 MiB against 117-119 and 1,000 grammers bots 78 MiB
// against 111, for about a sixth of `bench posts`' throughput at no delay (95-99k posts/s
// against 115-120k). It also serves C code's malloc (SQLite, libc): glibc's per-thread arenas
// had kept about 5 MiB of SQLite's allocations from starting 10,000 bots.
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
