//! What every connection of one DC shares: keys, the world, faults, chats, counters.
//!
//! Owns [`Shared`] and the DC's observable counters ([`DcStats`]). Locks here are
//! `std` locks held for a few instructions, never across an `.await`. Must never hold
//! per-connection state: that lives in the connection's task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::chats::ChatRegistry;
use crate::salts::Salts;
use crate::{Faults, KeyStore, World};

pub(crate) struct Shared {
    pub(crate) keys: KeyStore,
    pub(crate) world: Arc<dyn World>,
    pub(crate) faults: RwLock<Faults>,
    pub(crate) chats: ChatRegistry,
    pub(crate) salts: Salts,
    pub(crate) counters: Counters,
    /// Message ids of delivered posts, DC-wide (also their pts).
    next_message_id: AtomicI32,
}

impl Shared {
    pub(crate) fn new(keys: KeyStore, world: Arc<dyn World>, faults: Faults) -> Self {
        Self {
            keys,
            world,
            faults: RwLock::new(faults),
            chats: ChatRegistry::default(),
            salts: Salts::new(),
            counters: Counters::default(),
            next_message_id: AtomicI32::new(1),
        }
    }

    /// The faults in force now (a test may change them at any time).
    pub(crate) fn faults(&self) -> Faults {
        self.faults.read().map(|f| f.clone()).unwrap_or_default()
    }

    pub(crate) fn next_message_id(&self) -> i32 {
        self.next_message_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// What a DC has seen so far. Counters only grow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DcStats {
    /// TCP connections accepted (refused ones included).
    pub connections: u64,
    /// Connections closed at once by [`Faults::refuse_connections`].
    pub refused_connections: u64,
    /// Connections whose first packet named an auth key the DC does not know (answered
    /// with transport error -404).
    pub unknown_keys: u64,
    /// Unencrypted packets (`req_pq_multi`: a client trying to create a new key), refused
    /// with -404. The DC never answers one: it cannot create keys.
    pub key_exchanges_refused: u64,
    /// Connections closed for a malformed packet.
    pub malformed_packets: u64,
    /// API calls received (service messages not counted).
    pub calls: u64,
    /// The same, by TL name of the innermost call (`help.getConfig` for grammers'
    /// `invokeWithLayer(initConnection(help.getConfig))`).
    pub calls_by_name: BTreeMap<&'static str, u64>,
    /// Calls refused as not supported by the DC.
    pub unsupported_calls: u64,
    /// Posts the world accepted.
    pub deliveries: u64,
    /// Connections closed by [`Faults::drop_after_delivery`].
    pub dropped_after_delivery: u64,
    /// Answers withheld by [`Faults::lose_answer_after_delivery`].
    pub answers_lost: u64,
    /// Connections currently open.
    pub open_connections: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    pub(crate) unknown_keys: AtomicU64,
    pub(crate) key_exchanges_refused: AtomicU64,
    pub(crate) malformed_packets: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) calls_by_name: Mutex<BTreeMap<&'static str, u64>>,
    pub(crate) unsupported_calls: AtomicU64,
    pub(crate) deliveries: AtomicU64,
    pub(crate) dropped_after_delivery: AtomicU64,
    pub(crate) answers_lost: AtomicU64,
    pub(crate) open_connections: AtomicU64,
}

/// Adds one to a counter; returns the new value.
pub(crate) fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

impl Counters {
    pub(crate) fn count_call(&self, name: &'static str) {
        bump(&self.calls);
        if let Ok(mut by_name) = self.calls_by_name.lock() {
            *by_name.entry(name).or_insert(0) += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> DcStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DcStats {
            connections: get(&self.connections),
            refused_connections: get(&self.refused_connections),
            unknown_keys: get(&self.unknown_keys),
            key_exchanges_refused: get(&self.key_exchanges_refused),
            malformed_packets: get(&self.malformed_packets),
            calls: get(&self.calls),
            calls_by_name: self
                .calls_by_name
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
            unsupported_calls: get(&self.unsupported_calls),
            deliveries: get(&self.deliveries),
            dropped_after_delivery: get(&self.dropped_after_delivery),
            answers_lost: get(&self.answers_lost),
            open_connections: get(&self.open_connections),
        }
    }
}
