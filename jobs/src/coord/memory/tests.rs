//! The in-memory backend's own promises, beyond the shared suite (`tests/coordination.rs`),
//! which holds both backends to the same behaviour.

use tokio::sync::oneshot;

use super::Memory;
use crate::command::{CommandOutcome, CommandReply};
use crate::coord::CoordConfig;
use crate::coord::backend::{Leases, Notices};

fn reply(id: &str) -> CommandReply {
    CommandReply {
        request_id: id.into(),
        outcome: CommandOutcome::Stopping,
    }
}

#[tokio::test]
async fn a_reply_is_kept_only_when_no_waiter_took_it() {
    let memory = Memory::new(CoordConfig::default());
    let (tx, rx) = oneshot::channel();
    memory.register_waiter("taken", tx);
    memory.reply(&reply("taken")).await.unwrap();
    assert_eq!(rx.await.unwrap(), reply("taken"));
    assert_eq!(memory.stored_reply("taken").await.unwrap(), None);

    // The waiter gave up (its receiver is gone) before the reply came: kept for the TTL.
    let (tx, rx) = oneshot::channel();
    memory.register_waiter("late", tx);
    drop(rx);
    memory.reply(&reply("late")).await.unwrap();
    assert_eq!(
        memory.stored_reply("late").await.unwrap(),
        Some(reply("late"))
    );

    // Nobody asked: kept.
    memory.reply(&reply("early")).await.unwrap();
    assert_eq!(
        memory.stored_reply("early").await.unwrap(),
        Some(reply("early"))
    );
}

#[tokio::test]
async fn a_key_whose_last_permit_is_released_is_forgotten() {
    let memory = Memory::new(CoordConfig::default());
    let ttl = std::time::Duration::from_secs(30);
    let acquire = |holder: &'static str| memory.permit_acquire("user:1", holder, 2, ttl);
    assert!(acquire("w/a").await.unwrap());
    assert!(acquire("w/b").await.unwrap());
    // Taken again by its holder: renewed, not counted twice.
    assert!(acquire("w/a").await.unwrap());
    assert!(!acquire("w/c").await.unwrap());
    memory.permit_release("user:1", "w/a").await.unwrap();
    assert_eq!(memory.permit_count("user:1").await.unwrap(), 1);
    assert!(memory.state().permits.contains_key("user:1"));
    memory.permit_release("user:1", "w/b").await.unwrap();
    // Every tenant that ever ran kept an empty map here (BENCHMARKS.md, cost).
    assert!(!memory.state().permits.contains_key("user:1"));
}
