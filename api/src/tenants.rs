//! The one rule for tenants Herald has not seen. Reads of an unknown tenant answer 404 `User not
//! found` ([`AppState::tenant_record`]); `register-user` and every configuration write (post,
//! groups, delays, execution mode) register it first, in the same locked change as the write,
//! exactly as `register-user` would. The old frontend configures a tenant before its first start
//! and calls `register-user` only inside its start flow, so a write that answered 404 would be a
//! configuration silently lost.
//!
//! This module never decides what a configuration write changes, only what a new record starts as.

use herald_data::{ExecutionMode, User, UserId};
use serde_json::Value;

use crate::claims::Claims;
use crate::error::ApiError;
use crate::state::AppState;

/// What a new tenant record starts with: the plan claims of its token (or of register-user's
/// body, which wins where given) and its email.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registration {
    pub(crate) plan_status: Option<String>,
    pub(crate) plan_limits: Option<Value>,
    pub(crate) email: Option<String>,
}

impl Registration {
    /// From the token alone, as a configuration write registers.
    pub(crate) fn from_claims(claims: &Claims) -> Registration {
        Registration {
            plan_status: claims.plan_status.clone(),
            plan_limits: claims
                .plan_limits
                .as_ref()
                .and_then(|l| serde_json::to_value(l).ok()),
            email: None,
        }
    }

    /// Fills a record that was just created.
    fn apply(self, user: &mut User) {
        if let Some(plan_type) = self
            .plan_limits
            .as_ref()
            .and_then(|l| l.get("plan_type"))
            .and_then(Value::as_str)
        {
            user.execution_mode = mode_for_plan(plan_type);
        }
        user.plan_status = self.plan_status;
        user.plan_limits = self.plan_limits;
        if let Some(email) = self.email {
            user.extra.insert("email".into(), Value::String(email));
        }
    }
}

/// `STARTER` means starter; anything else enterprise.
pub(crate) fn mode_for_plan(plan_type: &str) -> ExecutionMode {
    if plan_type == "STARTER" {
        ExecutionMode::Starter
    } else {
        ExecutionMode::Enterprise
    }
}

impl AppState {
    /// Applies `change` to the tenant's record, registering the tenant first (with
    /// `registration`) when Herald has no record of it. One locked update: if `change` refuses,
    /// nothing is written, not even the registration. The flag says whether it was created.
    pub(crate) async fn configure<R, F>(
        &self,
        user: &UserId,
        registration: Registration,
        change: F,
    ) -> Result<(R, bool), ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut User) -> Result<R, ApiError> + Send + 'static,
    {
        let outcome = self
            .inner
            .store
            .upsert_user(user, move |record, created| {
                if created {
                    registration.apply(record);
                }
                change(record).map(|r| (r, created))
            })
            .await?;
        if outcome.1 {
            tracing::info!("tenant registered");
        }
        Ok(outcome)
    }
}
