//! What an admin health check of a pool session finds, and the port that finds it. The pool owns
//! the idea (a session is active, banned, frozen or dead); connecting to Telegram to ask is done
//! by an implementation above this crate (the worker's, under the session's lease). This module
//! never connects to anything.

use std::path::Path;

/// What an admin health check found about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionHealth {
    Active,
    /// A running bot holds the session: not connected a second time (Telegram kills a key
    /// used from two connections). Shown as `active` with `in_use: true`.
    InUse,
    Banned,
    Frozen,
    Dead,
}

impl SessionHealth {
    /// The contract's status word.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionHealth::Active | SessionHealth::InUse => "active",
            SessionHealth::Banned => "banned",
            SessionHealth::Frozen => "frozen",
            SessionHealth::Dead => "dead",
        }
    }
}

/// A health check's finding, and why when it is not `active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub health: SessionHealth,
    pub reason: Option<String>,
}

impl HealthReport {
    /// A finding with its reason.
    pub fn because(health: SessionHealth, reason: impl Into<String>) -> HealthReport {
        HealthReport {
            health,
            reason: Some(reason.into()),
        }
    }
}

/// Asks Telegram whether a session is still authorized. An implementation connects only under
/// the session's lease, never beside a running bot, with the API pair the session is bound to.
#[async_trait::async_trait]
pub trait SessionChecker: Send + Sync + 'static {
    async fn check(&self, session_name: &str, session_file: &Path) -> HealthReport;
}
