//! Who is asking: the JWT is the only identity. One extractor per role: [`Tenant`] (any valid
//! token naming a user; `Bearer <token>` or, as the old backend allowed, the bare token) and
//! [`Admin`] (a `Bearer` token whose `role` is `admin` in any case, with or without a user id, as
//! the old frontend's access-code token is). HS256 only, `exp` required with 30 s leeway, `nbf`
//! honoured. The user a token names ([`identity`]): `user_id`, `sub` and `userId` (strings or
//! numbers) must agree where present, else the token is refused; `botId` names the user only when
//! none of them is there, as the frontend's own `requireAuth` reads it. Headers such as
//! `X-User-Id` are never read. A refusal is logged once, without the token. Who a verified token
//! names goes into the request's span: `user.id` for a tenant, `admin` for an admin.

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

/// A verified admin, and the user its token names if it names one.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: Option<UserId>,
}

impl Admin {
    /// Who acted, for logs and records.
    pub fn who(&self) -> String {
        self.user
            .as_ref()
            .map_or_else(|| "(unnamed admin)".to_owned(), UserId::to_string)
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (user, claims) = authenticate(parts, state, true)?;
        let user = user.ok_or_else(|| {
            tracing::warn!("request refused: the token names no user");
            ApiError::unauthorized("Invalid token: no user_id")
        })?;
        tracing::Span::current().record("user.id", tracing::field::display(&user));
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
            // A tenant at an admin route: named as tenants are. An admin is named as `admin`
            // only, so that `user.id` on an admin's lines is the tenant acted on.
            if let Some(user) = &user {
                tracing::Span::current().record("user.id", tracing::field::display(user));
            }
            tracing::warn!("admin route refused: not an admin");
            return Err(ApiError::forbidden("Admin access required"));
        }
        let admin = Admin { user };
        tracing::Span::current().record("admin", tracing::field::display(admin.who()));
        Ok(admin)
    }
}

fn authenticate(
    parts: &Parts,
    state: &AppState,
    bare_allowed: bool,
) -> Result<(Option<UserId>, Claims), ApiError> {
    let refused = |reason: &str, message: &str| {
        tracing::warn!(reason, "request refused: not authenticated");
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
    let user = identity(&claims).map_err(|why| refused(&why, &format!("Invalid token: {why}")))?;
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

/// The user a token names. `user_id`, `sub` and `userId` are three spellings of one claim in the
/// old frontend's tokens: where several are present they must agree, since reading one and
/// ignoring another would let a token mean two users. `botId` (the access-code login's bot)
/// names the user only when none of them is present. `None`: the token names nobody.
pub(crate) fn identity(claims: &Claims) -> Result<Option<UserId>, String> {
    let mut named: Option<(&str, String)> = None;
    for (claim, value) in [
        ("user_id", &claims.user_id),
        ("sub", &claims.sub),
        ("userId", &claims.user_id_camel),
    ] {
        let Some(text) = claim_text(claim, value.as_ref())? else {
            continue;
        };
        match &named {
            Some((first, seen)) if *seen != text => {
                return Err(format!("{first} and {claim} name different users"));
            }
            Some(_) => {}
            None => named = Some((claim, text)),
        }
    }
    let text = match named {
        Some((_, text)) => Some(text),
        None => claim_text("botId", claims.bot_id.as_ref())?,
    };
    text.map(|t| UserId::parse(&t)).transpose()
}

/// A user-naming claim as text: a string or a number; absent and `null` are "not given".
fn claim_text(claim: &str, value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{claim} must be a string or a number")),
    }
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
