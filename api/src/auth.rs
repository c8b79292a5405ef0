//! Who is asking: the JWT is the only identity. One extractor per role: [`Tenant`] (any valid
//! token; `Bearer <token>` or, as the old backend allowed, the bare token) and [`Admin`] (a
//! `Bearer` token whose `role` is `admin` in any case). HS256 only, `exp` required with 30 s
//! leeway, `nbf` honoured; the user id is `user_id`, else `sub`, a string or a number. Headers
//! such as `X-User-Id` are never read. A refusal is logged once, without the token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use herald_data::UserId;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::claims::Claims;
use crate::error::ApiError;
use crate::state::AppState;

/// A tenant's verified identity and plan claims.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub user: UserId,
    pub claims: Claims,
}

/// A verified admin.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: UserId,
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (user, claims) = authenticate(parts, state, true)?;
        Ok(Tenant { user, claims })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (user, claims) = authenticate(parts, state, false)?;
        if !claims
            .role
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("admin"))
        {
            tracing::warn!(path = %parts.uri.path(), user.id = %user, "admin route refused: not an admin");
            return Err(ApiError::forbidden("Admin access required"));
        }
        Ok(Admin { user })
    }
}

fn authenticate(
    parts: &Parts,
    state: &AppState,
    bare_allowed: bool,
) -> Result<(UserId, Claims), ApiError> {
    let refused = |reason: &str, message: &str| {
        tracing::warn!(path = %parts.uri.path(), reason, "request refused: not authenticated");
        ApiError::unauthorized(message)
    };
    let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(refused(
            "no Authorization header",
            "Authorization header required",
        ));
    };
    let header = header
        .to_str()
        .map_err(|_| refused("unreadable header", "Invalid token"))?
        .trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => return Err(refused("not a Bearer scheme", "Invalid token")),
        None if bare_allowed => header,
        None => return Err(refused("bare token on an admin route", "Invalid token")),
    };
    let claims = verify(state, token).map_err(|why| refused(&why, "Invalid token"))?;
    let user = user_id(&claims).map_err(|why| refused(&why, &format!("Invalid token: {why}")))?;
    Ok((user, claims))
}

fn verify(state: &AppState, token: &str) -> Result<Claims, String> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 30;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.required_spec_claims = ["exp".to_owned()].into();
    jsonwebtoken::decode::<Claims>(token, &state.inner.decoding_key, &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("{:?}", e.kind()))
}

/// `user_id`, else `sub`: a non-empty string or a number, a safe directory name.
fn user_id(claims: &Claims) -> Result<UserId, String> {
    let raw = [&claims.user_id, &claims.sub]
        .into_iter()
        .flatten()
        .find(|v| !matches!(v, Value::Null))
        .ok_or_else(|| "no user_id".to_owned())?;
    let text = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("user_id must be a string or a number".into()),
    };
    UserId::parse(&text)
}

/// The plan status claim allows starting the bot: absent or `active`.
pub(crate) fn plan_allows_start(claims: &Claims) -> Result<(), ApiError> {
    match claims.plan_status.as_deref() {
        None | Some("active") => Ok(()),
        Some("expired") => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "plan_expired",
            "Your plan has expired. Please renew your subscription to start the bot.",
        )),
        Some("inactive") => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "plan_inactive",
            "Your plan is inactive. Please activate your subscription to start the bot.",
        )),
        Some(other) => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "plan_invalid",
            format!("Invalid plan status: {other}. Please contact support."),
        )),
    }
}
