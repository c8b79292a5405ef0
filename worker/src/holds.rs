//! What running cycles hold in coordination (each cycle's claim, its per-session permits and
//! session leases) and the one loop per worker that renews all of it together, in batches of
//! [`BATCH`] (one lock, or one Redis round trip, each). When a renewal is refused the cycle has
//! been taken over: the loop cancels it at once, so no post goes out under a lease this worker no
//! longer has (a cycle that ended during the round was refused for its own end, and is let be).
//! A killed worker simply stops renewing, and everything lapses. This module never takes a hold
//! itself; it renews and releases what a cycle took.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use herald_jobs::{Coordination, Hold, clock};
use tokio_util::sync::CancellationToken;

/// The key of a session's exclusive lease: a session a running bot holds is never connected a
/// second time (Telegram answers AUTH_KEY_DUPLICATED and kills the key), by a bot or a check.
pub(crate) fn session_lease_key(session: &str) -> String {
    format!("session:{session}")
}

/// Holds renewed per coordination call: bounds how long one call keeps Redis (or the lock) busy.
const BATCH: usize = 1024;

/// One cycle's holds: its claim, and what its session runs add while they post.
#[derive(Debug)]
pub(crate) struct Holds {
    coord: Coordination,
    user: Arc<str>,
    cycle_no: u64,
    claim: Hold,
    extra: Mutex<Vec<Hold>>,
    /// Cancelled when the claim is refused: this worker stops working on the cycle.
    lost: CancellationToken,
    /// Cancelled with `lost`: another worker owns the cycle now (a send in flight is abandoned).
    taken_over: CancellationToken,
}

impl Holds {
    pub(crate) fn new(
        coord: Coordination,
        user: &str,
        cycle_no: u64,
        holder: Arc<str>,
        lost: CancellationToken,
        taken_over: CancellationToken,
    ) -> Arc<Holds> {
        let user: Arc<str> = Arc::from(user);
        Arc::new(Holds {
            coord,
            user: user.clone(),
            cycle_no,
            claim: Hold::Cycle {
                user,
                cycle_no,
                holder,
            },
            // A session's permit and lease: most cycles run one session, and an empty vector's
            // first push would make room for four (BENCHMARKS.md, cost).
            extra: Mutex::new(Vec::with_capacity(2)),
            lost,
            taken_over,
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
            // The claim ends with the cycle (finish or release), not here.
            Hold::Cycle { .. } => Ok(()),
        };
        if let Err(err) = released {
            tracing::warn!(error = %err, "cannot release a hold; it lapses by itself");
        }
    }

    fn list(&self) -> MutexGuard<'_, Vec<Hold>> {
        self.extra.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the cycle's claim and its other holds at the end of `batch`.
    fn push_into(&self, batch: &mut Vec<Hold>) {
        batch.push(self.claim.clone());
        batch.extend(self.list().iter().cloned());
    }

    /// Which hold, of those [`Holds::push_into`] put in, was refused such that the cycle is no
    /// longer this worker's, if any. A hold released while the renewal ran is refused too, and
    /// that is no takeover.
    fn refused(&self, sent: &[Hold], answers: &[bool]) -> Option<&'static str> {
        if !answers.first().copied().unwrap_or(false) {
            return Some("the cycle's claim");
        }
        let now = self.list();
        sent.iter()
            .zip(answers)
            .skip(1)
            .find(|(hold, kept)| !**kept && now.contains(hold))
            .map(|(hold, _)| match hold {
                Hold::Permit { .. } => "a session permit",
                Hold::Lease { .. } => "a session lease",
                Hold::Cycle { .. } => "the cycle's claim",
            })
    }

    fn cancel(&self, refused: &str) {
        tracing::warn!(user.id = %self.user, cycle = self.cycle_no, refused, "cycle lease lost; stopping this cycle here");
        self.taken_over.cancel();
        self.lost.cancel();
    }
}

/// Running cycles by (user, cycle number): the registration's id and the cycle's holds.
type Running = HashMap<(Arc<str>, u64), (u64, Arc<Holds>)>;

/// The worker's registry of running cycles, renewed every `every` by one task. It also keeps a
/// cycle from running twice in this process: a cycle re-emitted while it waited in the queue
/// reaches the worker twice, and this worker's claim on it succeeds both times.
#[derive(Debug, Default)]
pub(crate) struct Renewer {
    cycles: Mutex<Running>,
    next_id: AtomicU64,
}

/// A cycle's place in the renewal; dropping it stops the renewal (the cycle is over).
#[derive(Debug)]
pub(crate) struct Renewing {
    renewer: Arc<Renewer>,
    cycle: (Arc<str>, u64),
    id: u64,
}

impl Drop for Renewing {
    fn drop(&mut self) {
        let mut cycles = self.renewer.cycles();
        // A run cancelled after a takeover may end after this process claimed the cycle again.
        if cycles
            .get(&self.cycle)
            .is_some_and(|(id, _)| *id == self.id)
        {
            cycles.remove(&self.cycle);
        }
    }
}

impl Renewer {
    /// Starts the renewal task; it ends once the renewer is dropped.
    pub(crate) fn start(coord: Coordination, ttl: Duration, every: Duration) -> Arc<Renewer> {
        let renewer = Arc::new(Renewer::default());
        tokio::spawn(renew_loop(Arc::downgrade(&renewer), coord, ttl, every));
        renewer
    }

    /// Renews the cycle's holds from the next round on, until the returned guard is dropped;
    /// `None` if this process runs that cycle already.
    pub(crate) fn register(self: &Arc<Self>, holds: Arc<Holds>) -> Option<Renewing> {
        let cycle = (holds.user.clone(), holds.cycle_no);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        match self.cycles().entry(cycle.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => return None,
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert((id, holds)),
        };
        Some(Renewing {
            renewer: self.clone(),
            cycle,
            id,
        })
    }

    /// Cycles this process runs now.
    pub(crate) fn running(&self) -> usize {
        self.cycles().len()
    }

    fn cycles(&self) -> MutexGuard<'_, Running> {
        self.cycles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn renew_loop(renewer: Weak<Renewer>, coord: Coordination, ttl: Duration, every: Duration) {
    loop {
        tokio::time::sleep_until(clock::tick_after(every)).await;
        let Some(renewer) = renewer.upgrade() else {
            return;
        };
        // Made afresh each round: kept from round to round, the round's lists saved page
        // faults but went with a higher steady peak that could not be explained
        // (BENCHMARKS.md, cost).
        let running: Vec<(u64, Arc<Holds>)> = renewer.cycles().values().cloned().collect();
        renew_round(&running, &renewer, &coord, ttl).await;
    }
}

/// Renews the holds of `running` (registration id and holds of each cycle registered when the
/// round began), a batch at a time, and stops each cycle that lost one.
async fn renew_round(
    running: &[(u64, Arc<Holds>)],
    renewer: &Renewer,
    coord: &Coordination,
    ttl: Duration,
) {
    let mut cycles = running;
    while !cycles.is_empty() {
        let (mut batch, mut spans) = (Vec::new(), Vec::new());
        while let Some(((id, holds), rest)) = cycles.split_first()
            && batch.len() < BATCH
        {
            let start = batch.len();
            holds.push_into(&mut batch);
            spans.push((*id, holds, start..batch.len()));
            cycles = rest;
        }
        match coord.renew_holds(&batch, ttl).await {
            Ok(answers) => {
                for (id, holds, span) in spans {
                    let answered = answers.get(span.clone()).unwrap_or_default();
                    if let Some(refused) = holds.refused(&batch[span], answered) {
                        renewer.lost(id, holds, refused);
                    }
                }
            }
            // Coordination unreachable: keep trying; if it stays away the leases lapse and
            // the next renewal is refused.
            Err(err) => tracing::warn!(error = %err, "cannot renew the running cycles' leases"),
        }
    }
}

impl Renewer {
    /// A renewal of the cycle registered as `id` was refused. Stopped only while it is still
    /// registered: a cycle ends by leaving the registry and then finishing its claim, so one
    /// refused after it left had ended during the round (its claim finished, or released),
    /// which is no takeover.
    fn lost(&self, id: u64, holds: &Holds, refused: &str) {
        let cycle = (holds.user.clone(), holds.cycle_no);
        let mut registered = self.cycles();
        if registered.get(&cycle).is_none_or(|(at, _)| *at != id) {
            return;
        }
        registered.remove(&cycle);
        drop(registered);
        holds.cancel(refused);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use herald_jobs::{Claim, CoordConfig};

    use super::*;

    fn holds(coord: &Coordination, user: &str) -> Arc<Holds> {
        let (lost, taken_over) = (CancellationToken::new(), CancellationToken::new());
        Holds::new(coord.clone(), user, 1, "w1".into(), lost, taken_over)
    }

    fn lease(key: &str) -> Hold {
        Hold::Lease {
            key: key.into(),
            holder: "w1".into(),
        }
    }

    async fn claimed(coord: &Coordination, users: &[&str], ttl: Duration) {
        let now = clock::now();
        let limit = users.len().max(10);
        for user in users {
            coord
                .schedule(user, now - chrono::TimeDelta::seconds(1))
                .await
                .unwrap();
        }
        assert_eq!(coord.take_due(now, limit).await.unwrap().len(), users.len());
        for user in users {
            assert_eq!(
                coord.claim_cycle(user, 1, "w1", ttl).await.unwrap(),
                Claim::Claimed
            );
        }
    }

    #[tokio::test]
    async fn one_round_renews_every_cycle_and_cancels_only_those_refused() {
        let coord = Coordination::in_memory(CoordConfig::default());
        // Twelve rounds to a ttl: a round delayed by a loaded machine does not lose a hold.
        let ttl = Duration::from_millis(1200);
        claimed(&coord, &["kept", "stripped"], ttl).await;
        assert!(coord.lease_acquire("session:a", "w1", ttl).await.unwrap());
        assert!(coord.lease_acquire("session:b", "w1", ttl).await.unwrap());
        let renewer = Renewer::start(coord.clone(), ttl, Duration::from_millis(100));
        let kept = holds(&coord, "kept");
        kept.add(lease("session:a"));
        // Never claimed by this worker: as if another had taken the cycle over.
        let stolen = holds(&coord, "stolen");
        // Its claim holds, but a session lease it still lists is gone: the cycle is lost too.
        let stripped = holds(&coord, "stripped");
        stripped.add(lease("session:gone"));
        let renewing = [&kept, &stolen, &stripped].map(|h| renewer.register(h.clone()).unwrap());
        assert!(
            renewer.register(holds(&coord, "kept")).is_none(),
            "a cycle runs once in a process, however often it is delivered"
        );

        tokio::time::timeout(Duration::from_secs(5), stolen.lost.cancelled())
            .await
            .expect("a refused claim is noticed in the next round");
        tokio::time::timeout(Duration::from_secs(5), stripped.lost.cancelled())
            .await
            .expect("a refused session lease is noticed in the next round");
        assert!(stolen.taken_over.is_cancelled() && stripped.taken_over.is_cancelled());

        // Well past the ttl: the registered holds were renewed; the unregistered lease lapsed.
        tokio::time::sleep(ttl * 2).await;
        assert!(!kept.lost.is_cancelled());
        assert!(!coord.lease_acquire("session:a", "w2", ttl).await.unwrap());
        assert!(coord.lease_acquire("session:b", "w2", ttl).await.unwrap());
        assert_eq!(
            coord.claim_cycle("kept", 1, "w2", ttl).await.unwrap(),
            Claim::HeldByOther
        );

        // Dropped from the renewal when its guard goes: its lease lapses, and the cycle may
        // run here again.
        drop(renewing);
        tokio::time::sleep(ttl * 2).await;
        assert!(coord.lease_acquire("session:a", "w2", ttl).await.unwrap());
        assert!(renewer.register(holds(&coord, "kept")).is_some());
    }

    /// More holds than one renewal call carries: every batch is renewed, and a refusal in any
    /// of them stops its own cycle and no other.
    #[tokio::test]
    async fn holds_beyond_one_batch_are_renewed_and_refused_cycle_by_cycle() {
        let coord = Coordination::in_memory(CoordConfig::default());
        let ttl = Duration::from_millis(1200);
        // Two holds a cycle: 600 cycles make two batches. Every seventh cycle was never
        // claimed by this worker (as if taken over): some in each batch, wherever the
        // registry's order puts them.
        let names: Vec<String> = (0..600).map(|i| format!("user-{i}")).collect();
        let refused: Vec<usize> = (0..names.len()).step_by(7).collect();
        let kept: Vec<&str> = (0..names.len())
            .filter(|i| !refused.contains(i))
            .map(|i| names[i].as_str())
            .collect();
        claimed(&coord, &kept, ttl).await;
        let renewer = Renewer::start(coord.clone(), ttl, Duration::from_millis(100));
        let (mut cycles, mut renewing) = (Vec::new(), Vec::new());
        for (i, user) in names.iter().enumerate() {
            let key = format!("session:{i}");
            assert!(coord.lease_acquire(&key, "w1", ttl).await.unwrap());
            let cycle = holds(&coord, user);
            cycle.add(lease(&key));
            renewing.push(renewer.register(cycle.clone()).unwrap());
            cycles.push(cycle);
        }

        for &i in &refused {
            tokio::time::timeout(Duration::from_secs(5), cycles[i].lost.cancelled())
                .await
                .expect("a refused claim is noticed in whichever batch it is");
        }
        tokio::time::sleep(ttl * 2).await;
        let lost: Vec<usize> = (0..cycles.len())
            .filter(|i| cycles[*i].lost.is_cancelled())
            .collect();
        assert_eq!(lost, refused, "only the refused cycles stop");
        assert_eq!(renewer.running(), names.len() - refused.len());
        assert!(!coord.lease_acquire("session:599", "w2", ttl).await.unwrap());
        drop(renewing);
    }

    /// A cycle that ends while a round renews it (it leaves the registry, then finishes its
    /// claim) is refused in that round; that is its end, not a takeover, so it is not stopped
    /// or reported lost. One still registered whose claim is refused is.
    #[tokio::test]
    async fn a_cycle_ending_during_a_round_is_not_reported_lost() {
        let coord = Coordination::in_memory(CoordConfig::default());
        let ttl = Duration::from_secs(60);
        claimed(&coord, &["ending", "taken"], ttl).await;
        let renewer = Arc::new(Renewer::default());
        let (ending, taken) = (holds(&coord, "ending"), holds(&coord, "taken"));
        let guard = renewer.register(ending.clone()).unwrap();
        let _kept = renewer.register(taken.clone()).unwrap();
        let running: Vec<(u64, Arc<Holds>)> = renewer.cycles().values().cloned().collect();

        // After the round's list was taken: one cycle ends as `cycle::Claimed::end` ends it
        // (out of the registry, then its claim finished); the other's claim goes while it is
        // still registered, as when another worker takes the cycle over.
        drop(guard);
        assert!(coord.finish_cycle("ending", 1, "w1", None).await.unwrap());
        assert!(coord.release_cycle("taken", 1, "w1").await.is_ok());
        renew_round(&running, &renewer, &coord, ttl).await;

        assert!(!ending.lost.is_cancelled(), "an ended cycle is not lost");
        assert!(taken.lost.is_cancelled() && taken.taken_over.is_cancelled());
        assert_eq!(renewer.running(), 0);
    }
}
