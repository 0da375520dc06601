//! Who is calling: the `Authorization` header (raw token or `Bearer <token>`) hashed and looked
//! up with one read; expiry, scope and crate globs checked; refusals counted for the audit log
//! (`refusals`).

use super::error::ApiError;
use crate::auth::{self, Denied, Scope, TokenRecord, store};
use crate::registry::Registry;
use axum::http::{HeaderMap, StatusCode, header};

/// The token record if the request may do `scope` (on `krate`).
pub fn check(
    reg: &Registry,
    headers: &HeaderMap,
    scope: Scope,
    krate: Option<&str>,
) -> Result<TokenRecord, ApiError> {
    let record = token(reg, headers)?;
    allow(reg, &record, scope, krate)?;
    Ok(record)
}

/// The token record if the request may publish anything at all (a new crate or a new
/// version), checked before the body is read; the exact scope and crate glob are checked once
/// the body names the crate.
pub fn check_publisher(reg: &Registry, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
    let record = token(reg, headers)?;
    let now = auth::now();
    let new = record.allows(Scope::PublishNew, None, now);
    let update = record.allows(Scope::PublishUpdate, None, now);
    match (new, update) {
        (Ok(()), _) | (_, Ok(())) => Ok(record),
        (Err(Denied::Expired), _) | (_, Err(Denied::Expired)) => {
            Err(refuse(reg, &record, Denied::Expired))
        }
        (Err(Denied::Scope(_)), _) => {
            let message =
                "the token does not have the `publish-update` scope or the `publish-new` scope";
            refused(reg, &record.id, message);
            Err(ApiError::new(StatusCode::FORBIDDEN, message))
        }
        (Err(denied), _) => Err(refuse(reg, &record, denied)),
    }
}

/// Whether `record` may do `scope` (on `krate`).
pub fn allow(
    reg: &Registry,
    record: &TokenRecord,
    scope: Scope,
    krate: Option<&str>,
) -> Result<(), ApiError> {
    record
        .allows(scope, krate, auth::now())
        .map_err(|denied| refuse(reg, record, denied))
}

fn refuse(reg: &Registry, record: &TokenRecord, denied: Denied) -> ApiError {
    refused(reg, &record.id, &denied.to_string());
    ApiError::new(StatusCode::FORBIDDEN, denied.to_string())
}

/// The record of the request's token, which must exist and belong to an existing user.
fn token(reg: &Registry, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        refused(reg, "none", "no token");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this registry needs a token: ask an administrator for one (`ktra token create`), then run `cargo login`",
        ));
    };
    let hash = auth::token_hash(value);
    // A record that cannot be read is the server's failure (503 when its state server is
    // down), never "unknown token".
    let records = reg.state().map_err(|e| ApiError::from_state(&e))?;
    let record = store::token(records, &hash).map_err(|e| ApiError::from_state(&e))?;
    let Some(record) = record else {
        refused(reg, &hash[..12], "unknown token");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token is not valid for this registry (it may have been revoked)",
        ));
    };
    if store::user(records, &record.login)
        .map_err(|e| ApiError::from_state(&e))?
        .is_none()
    {
        refused(reg, &record.id, "user removed");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token's user no longer exists",
        ));
    }
    Ok(record)
}

fn refused(reg: &Registry, token: &str, reason: &str) {
    super::refusals::note(reg, reg.config.serve.refusal_log_interval, token, reason);
}

/// In a private registry (`auth-required`), every read needs a token with the `read` scope.
/// A request without one gets 401 and the `WWW-Authenticate: Cargo` challenge cargo expects.
pub fn check_read(reg: &Registry, headers: &HeaderMap) -> Result<(), ApiError> {
    if !reg.config.auth_required {
        return Ok(());
    }
    check(reg, headers, Scope::Read, None)
        .map(|_| ())
        .map_err(|mut e| {
            if e.status == StatusCode::UNAUTHORIZED {
                let base = reg.config.api.as_deref().unwrap_or(&reg.config.url);
                e.challenge = Some(format!("Cargo login_url=\"{base}/me\""));
            }
            e
        })
}

/// The caller must own `krate`.
pub fn require_owner(reg: &Registry, login: &str, krate: &str) -> Result<(), ApiError> {
    let owners = reg
        .state()
        .and_then(|s| store::owners(s, krate))
        .map_err(|e| ApiError::from_state(&e))?
        .unwrap_or_default();
    if owners.iter().any(|o| o == login) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("`{login}` is not an owner of crate `{krate}`"),
        ))
    }
}

/// A crate name from a request, checked before it becomes a key (`../users/x` must not).
pub fn crate_name(name: &str) -> Result<(), ApiError> {
    crate::index::CrateName::new(name).map(|_| ()).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{name}` is not a crate name: {e}"),
        )
    })
}
