//! Who is calling: the `Authorization` header (raw token or `Bearer <token>`) hashed and looked
//! up with one read; expiry, scope and crate globs checked; refusals logged to the audit log.

use super::error::ApiError;
use crate::auth::{self, Scope, TokenRecord, store};
use crate::registry::Registry;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;

/// The token record if the request may do `scope` (on `krate`).
pub fn check(
    reg: &Registry,
    headers: &HeaderMap,
    scope: Scope,
    krate: Option<&str>,
) -> Result<TokenRecord, ApiError> {
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
    let record = store::token(&reg.store, &hash).map_err(|e| ApiError::from_op(&e))?;
    let Some(record) = record else {
        refused(reg, &hash[..12], "unknown token");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token is not valid for this registry (it may have been revoked)",
        ));
    };
    if store::user(&reg.store, &record.login)
        .ok()
        .flatten()
        .is_none()
    {
        refused(reg, &record.id, "user removed");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the token's user no longer exists",
        ));
    }
    if let Err(denied) = record.allows(scope, krate, auth::now()) {
        refused(reg, &record.id, &denied.to_string());
        return Err(ApiError::new(StatusCode::FORBIDDEN, denied.to_string()));
    }
    Ok(record)
}

fn refused(reg: &Registry, token: &str, reason: &str) {
    let _ = store::audit(
        &reg.store,
        json!({ "event": "token-refused", "token": token, "reason": reason }),
    );
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
    let owners = store::owners(&reg.store, krate)
        .map_err(|e| ApiError::from_op(&e))?
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
