//! The worker's announcement: every `every`, "I am here and run N cycles", lasting one lease
//! ttl, so a killed worker drops off the console and the metrics as its leases lapse. It only
//! reports the renewer's count; it never takes or gives up a hold. A failed announcement is
//! logged and tried again next round: it guards no promise.

use std::sync::Weak;
use std::time::Duration;

use herald_jobs::{Coordination, Presence, Role};
use tokio_util::sync::CancellationToken;

use crate::holds::Renewer;

/// Announces until the worker shuts down or its renewer is gone.
pub(crate) fn start(
    coord: Coordination,
    holder: &str,
    renewer: Weak<Renewer>,
    (every, ttl): (Duration, Duration),
    shutdown: CancellationToken,
) {
    let mut presence = Presence::new(holder, Role::Worker, ttl);
    tokio::spawn(async move {
        loop {
            let Some(renewer) = renewer.upgrade() else {
                return;
            };
            presence.cycles = renewer.running() as u64;
            drop(renewer);
            presence.seen(ttl);
            if let Err(err) = coord.announce(&presence).await {
                tracing::warn!(error = %err, "cannot announce this worker; trying again");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}
