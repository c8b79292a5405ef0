//! What a running cycle holds in coordination (its cycle lease, per-session permits and session
//! leases) and the loop that renews it all while the worker lives. When a renewal is refused the
//! cycle has been taken over: the loop cancels it at once, so no post goes out under a lease this
//! worker no longer has. A killed worker simply stops renewing, and everything lapses.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_jobs::{Coordination, clock};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hold {
    Permit { key: String, holder: String },
    Lease { key: String, holder: String },
}

#[derive(Debug)]
pub(crate) struct Holds {
    coord: Coordination,
    ttl: Duration,
    user: String,
    cycle_no: u64,
    holder: String,
    extra: Mutex<Vec<Hold>>,
}

impl Holds {
    pub(crate) fn new(
        coord: Coordination,
        ttl: Duration,
        user: &str,
        cycle_no: u64,
        holder: &str,
    ) -> Arc<Holds> {
        Arc::new(Holds {
            coord,
            ttl,
            user: user.to_owned(),
            cycle_no,
            holder: holder.to_owned(),
            extra: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn add(&self, hold: Hold) {
        self.list().push(hold);
    }

    /// Releases a hold and stops renewing it.
    pub(crate) async fn release(&self, hold: &Hold) {
        self.list().retain(|h| h != hold);
        let released = match hold {
            Hold::Permit { key, holder } => self.coord.permit_release(key, holder).await,
            Hold::Lease { key, holder } => self.coord.lease_release(key, holder).await,
        };
        if let Err(err) = released {
            tracing::warn!(error = %err, "cannot release a hold; it lapses by itself");
        }
    }

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Hold>> {
        self.extra.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Renews every hold `every`; when the cycle's lease is lost, cancels `taken_over` (another
    /// worker owns the cycle now) and `lost` (this one stops working on it), and returns. Runs
    /// until dropped otherwise.
    pub(crate) async fn renew_until(
        self: Arc<Self>,
        every: Duration,
        lost: CancellationToken,
        taken_over: CancellationToken,
    ) {
        loop {
            tokio::time::sleep_until(clock::tick_after(every)).await;
            // Boxed: the renewal waits beside every running cycle; its Redis calls need not.
            match Box::pin(self.renew_all()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(user.id = %self.user, cycle = self.cycle_no, "cycle lease lost; stopping this cycle here");
                    taken_over.cancel();
                    lost.cancel();
                    return;
                }
                // Coordination unreachable: keep trying; if it stays away the leases lapse and
                // the next renewal is refused.
                Err(err) => {
                    tracing::warn!(user.id = %self.user, error = %err, "cannot renew the cycle's leases")
                }
            }
        }
    }

    async fn renew_all(&self) -> Result<bool, herald_jobs::JobsError> {
        if !self
            .coord
            .renew_cycle(&self.user, self.cycle_no, &self.holder, self.ttl)
            .await?
        {
            return Ok(false);
        }
        let holds = self.list().clone();
        for hold in holds {
            let kept = match &hold {
                Hold::Permit { key, holder } => {
                    self.coord.permit_renew(key, holder, self.ttl).await?
                }
                Hold::Lease { key, holder } => {
                    self.coord.lease_renew(key, holder, self.ttl).await?
                }
            };
            // A hold released while this loop ran is refused too, and that is no takeover.
            if !kept && self.list().contains(&hold) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
