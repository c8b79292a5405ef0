//! What the allocator says about the process's memory, as Prometheus gauges: the bytes the
//! program holds (`allocated`), the pages the allocator keeps for them (`resident`), and what it
//! keeps mapped but unused (`retained`). Resident memory minus allocated bytes is the allocator's
//! overhead, which `herald bench cost` reports beside the process's own figures. Read from
//! jemalloc, the binary's allocator (`src/main.rs`); where another allocator runs (a test
//! binary), the figures describe an unused jemalloc and are near zero, and a build without the
//! `jemalloc` feature reports none. Never on a hot path: one
//! thread reads them every few seconds.

use std::time::Duration;

/// How often the gauges are refreshed.
const EVERY: Duration = Duration::from_secs(2);

/// The allocator's figures now, in bytes: (allocated, resident, retained). `None` when it
/// cannot say.
#[cfg(feature = "jemalloc")]
pub fn figures() -> Option<(u64, u64, u64)> {
    // The statistics are a snapshot taken at each epoch.
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    let resident = tikv_jemalloc_ctl::stats::resident::read().ok()?;
    let retained = tikv_jemalloc_ctl::stats::retained::read().ok()?;
    Some((allocated as u64, resident as u64, retained as u64))
}

/// Built without jemalloc (`--no-default-features`), the system's malloc says nothing.
#[cfg(not(feature = "jemalloc"))]
pub fn figures() -> Option<(u64, u64, u64)> {
    None
}

/// Starts the thread that keeps the gauges current (once per process).
pub(crate) fn start_gauges() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("herald-allocator".into())
            .spawn(|| {
                loop {
                    if let Some((allocated, resident, retained)) = figures() {
                        metrics::gauge!("herald_allocator_allocated_bytes").set(allocated as f64);
                        metrics::gauge!("herald_allocator_resident_bytes").set(resident as f64);
                        metrics::gauge!("herald_allocator_retained_bytes").set(retained as f64);
                    }
                    std::thread::sleep(EVERY);
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "allocator figures are not reported");
        }
    });
}
