//! What the worker does after one post attempt, decided from the Telegram class alone. Pure: the
//! cycle carries the decisions out. What an attempt adds to the counters is `delivery`'s rule.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_jobs::Backoff;
use herald_telegram::{Delivery, SendError};

/// Policy knobs (from configuration).
#[derive(Debug, Clone)]
pub struct OutcomePolicy {
    /// Retries of a `Transient` failure before it counts as a failure.
    pub transient_retries: u32,
    /// The wait before each retry of a transient failure, of a connection that could not be
    /// made, and of a reconnect: doubled each time, jittered when slept.
    pub transient_backoff: Backoff,
    /// Reconnects of one session run after its connection broke, before the run gives up
    /// for this cycle (its remaining groups wait for the next one).
    pub max_reconnects: u32,
    /// A flood wait up to this long is waited out inside the cycle; a longer one ends the
    /// session's part of the cycle.
    pub max_wait_in_cycle: Duration,
    /// How long a session is parked after PEER_FLOOD.
    pub peer_flood_park: Duration,
}

impl Default for OutcomePolicy {
    fn default() -> Self {
        OutcomePolicy {
            transient_retries: 2,
            transient_backoff: Backoff::new(Duration::from_secs(2), Duration::from_secs(30)),
            max_reconnects: 3,
            max_wait_in_cycle: Duration::from_secs(120),
            peer_flood_park: Duration::from_secs(24 * 3600),
        }
    }
}

/// The worker's next step after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Delivered; go on with the next group.
    Posted,
    /// Not delivered; go on with the next group.
    Failed,
    /// Try the same group again after `after` (a transient failure with retries left).
    Retry { after: Duration },
    /// The connection broke before the call went out: connect again, then try the same group
    /// (nothing was sent, nothing is counted).
    Reconnect,
    /// The account must wait; it posts nothing before `until`. `resume`: the wait is short
    /// enough to sit out inside this cycle (then the same group is tried again); otherwise the
    /// session's remaining groups are skipped this cycle.
    Pause { until: DateTime<Utc>, resume: bool },
    /// Slow mode: this group is skipped this cycle.
    SkipGroup,
    /// This tenant never posts to the group again (until it is dropped from the config or an
    /// admin clears it).
    BlockGroup { reason: String },
    /// The session is dead: quarantine and replace it; its remaining groups wait for next cycle.
    Quarantine { reason: String },
    /// PEER_FLOOD: the session posts nothing until `until`.
    Park { until: DateTime<Utc> },
}

impl OutcomePolicy {
    /// `retries_done`: how many times this group was already retried after a transient failure.
    pub fn decide(
        &self,
        result: &Result<Delivery, SendError>,
        retries_done: u32,
        now: DateTime<Utc>,
    ) -> Decision {
        let Err(err) = result else {
            return Decision::Posted;
        };
        match err {
            SendError::FloodWait { secs } => {
                let wait = Duration::from_secs(u64::from(*secs));
                Decision::Pause {
                    until: now + wait,
                    resume: wait <= self.max_wait_in_cycle,
                }
            }
            SendError::SlowMode { .. } => Decision::SkipGroup,
            SendError::PeerFlood => Decision::Park {
                until: now + self.peer_flood_park,
            },
            SendError::WriteForbidden { code } => Decision::BlockGroup {
                reason: code.clone(),
            },
            SendError::TargetNotFound => Decision::BlockGroup {
                reason: "TARGET_NOT_FOUND".into(),
            },
            SendError::SessionDead { code } => Decision::Quarantine {
                reason: code.clone(),
            },
            SendError::Transient if retries_done < self.transient_retries => Decision::Retry {
                after: self.transient_backoff.delay(retries_done),
            },
            SendError::NotSent => Decision::Reconnect,
            SendError::Transient | SendError::Other { .. } => Decision::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_decision() {
        let policy = OutcomePolicy::default();
        let now = Utc::now();
        let decide = |e: SendError, retries| policy.decide(&Err(e), retries, now);
        assert_eq!(policy.decide(&Ok(Delivery::New), 0, now), Decision::Posted);
        assert_eq!(
            policy.decide(&Ok(Delivery::Duplicate), 0, now),
            Decision::Posted,
            "an earlier call delivered it"
        );
        assert_eq!(decide(SendError::NotSent, 5), Decision::Reconnect);
        assert_eq!(
            decide(SendError::FloodWait { secs: 30 }, 0),
            Decision::Pause {
                until: now + Duration::from_secs(30),
                resume: true
            }
        );
        assert_eq!(
            decide(SendError::FloodWait { secs: 3600 }, 0),
            Decision::Pause {
                until: now + Duration::from_secs(3600),
                resume: false
            }
        );
        assert_eq!(
            decide(SendError::SlowMode { secs: 10 }, 0),
            Decision::SkipGroup
        );
        assert_eq!(
            decide(SendError::PeerFlood, 0),
            Decision::Park {
                until: now + Duration::from_secs(86400)
            }
        );
        assert_eq!(
            decide(
                SendError::WriteForbidden {
                    code: "CHAT_WRITE_FORBIDDEN".into()
                },
                0
            ),
            Decision::BlockGroup {
                reason: "CHAT_WRITE_FORBIDDEN".into()
            }
        );
        assert!(matches!(
            decide(SendError::TargetNotFound, 0),
            Decision::BlockGroup { .. }
        ));
        assert_eq!(
            decide(
                SendError::SessionDead {
                    code: "AUTH_KEY_UNREGISTERED".into()
                },
                0
            ),
            Decision::Quarantine {
                reason: "AUTH_KEY_UNREGISTERED".into()
            }
        );
        assert_eq!(
            decide(SendError::Transient, 0),
            Decision::Retry {
                after: Duration::from_secs(2)
            }
        );
        assert_eq!(
            decide(SendError::Transient, 1),
            Decision::Retry {
                after: Duration::from_secs(4)
            }
        );
        assert_eq!(
            decide(SendError::Transient, 2),
            Decision::Failed,
            "two retries, then a failure"
        );
        assert_eq!(
            decide(SendError::Other { code: "X".into() }, 0),
            Decision::Failed
        );
    }
}
