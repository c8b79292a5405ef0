//! What the allocator says about the process's memory, as Prometheus gauges: the bytes the
//! program holds (`allocated`), the pages of the allocator's extents in use (`active`: allocated
//! plus what partly used pages waste), its own bookkeeping (`metadata`), the pages it keeps in
//! all (`resident`: besides those, freed pages not yet given back), and what it keeps mapped but
//! unused (`retained`). Resident memory minus allocated bytes is the allocator's overhead, which
//! `herald bench cost` reports beside the process's own figures. Read from
//! jemalloc, the binary's allocator (`src/main.rs`); where another allocator runs (a test
//! binary), the figures describe an unused jemalloc and are near zero, and a build without the
//! `jemalloc` feature reports none. Never on a hot path: one
//! thread reads them every few seconds.

use std::time::Duration;

/// How often the gauges are refreshed.
const EVERY: Duration = Duration::from_secs(2);

/// The allocator's figures at one moment, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub allocated: u64,
    pub active: u64,
    pub metadata: u64,
    pub resident: u64,
    pub retained: u64,
}

/// The allocator's figures now; `None` when it cannot say.
#[cfg(feature = "jemalloc")]
pub fn figures() -> Option<Figures> {
    use tikv_jemalloc_ctl::stats;
    // The statistics are a snapshot taken at each epoch.
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    Some(Figures {
        allocated: stats::allocated::read().ok()? as u64,
        active: stats::active::read().ok()? as u64,
        metadata: stats::metadata::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
        retained: stats::retained::read().ok()? as u64,
    })
}

/// Built without jemalloc (`--no-default-features`), the system's malloc says nothing.
#[cfg(not(feature = "jemalloc"))]
pub fn figures() -> Option<Figures> {
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
                    if let Some(f) = figures() {
                        metrics::gauge!("herald_allocator_allocated_bytes").set(f.allocated as f64);
                        metrics::gauge!("herald_allocator_active_bytes").set(f.active as f64);
                        metrics::gauge!("herald_allocator_metadata_bytes").set(f.metadata as f64);
                        metrics::gauge!("herald_allocator_resident_bytes").set(f.resident as f64);
                        metrics::gauge!("herald_allocator_retained_bytes").set(f.retained as f64);
                    }
                    std::thread::sleep(EVERY);
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "allocator figures are not reported");
        }
    });
}
