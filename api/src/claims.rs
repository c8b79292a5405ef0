//! The token format Herald accepts and mints: HS256 JWTs shaped as the old Next.js frontend
//! signs them. Its backend calls carry `{user_id, sub?, role?, plan_status, plan_limits, exp}`
//! (`lib/backend-jwt.ts`, `lib/auth.ts` `generateToken`); its access-code login (`jose`, 30 days)
//! signs `{botId, userId?, role: "ADMIN" | "USER", email?}`, which its admin pages forward as is.
//!
//! Minting lives here, beside the claims, so that `herald token` and the tests produce exactly
//! what the API checks. This module never logs a token or the key.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The claims Herald reads. Who the token names is [`crate::auth`]'s rule: `user_id`, `sub` and
/// `userId` name the user and must agree where present; `botId` stands in only when none is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<Value>,
    /// The access-code login's owner user id (optional there).
    #[serde(default, rename = "userId", skip_serializing_if = "Option::is_none")]
    pub user_id_camel: Option<Value>,
    /// The access-code login's bot id: the frontend's identity when `userId` is absent.
    #[serde(default, rename = "botId", skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_limits: Option<PlanLimits>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_type: Option<String>,
}

/// What `herald token` asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub user_id: String,
    pub admin: bool,
    pub ttl: chrono::Duration,
    pub plan_status: Option<String>,
    pub max_sessions: Option<u32>,
    pub plan_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the token: {0}")]
pub struct MintError(#[from] jsonwebtoken::errors::Error);

/// Signs a token the way the old frontend does: `user_id` and `sub` both carry the id.
pub fn mint(secret: &SecretString, request: &TokenRequest) -> Result<String, MintError> {
    let now = chrono::Utc::now().timestamp();
    let plan_limits =
        (request.max_sessions.is_some() || request.plan_type.is_some()).then(|| PlanLimits {
            max_sessions: request.max_sessions,
            plan_type: request.plan_type.clone(),
        });
    let claims = Claims {
        user_id: Some(Value::String(request.user_id.clone())),
        sub: Some(Value::String(request.user_id.clone())),
        user_id_camel: None,
        bot_id: None,
        role: Some(if request.admin { "admin" } else { "user" }.to_owned()),
        plan_status: request.plan_status.clone(),
        plan_limits,
        exp: now + request.ttl.num_seconds(),
        iat: Some(now),
        nbf: None,
    };
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes())?;
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &key,
    )?)
}
