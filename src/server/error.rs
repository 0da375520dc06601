//! API errors in the shape cargo reads: `{"errors":[{"detail":"..."}]}`; cargo shows the detail
//! to the user. What a client sees never holds a secret or a path on the server: a server-side
//! failure is answered with a short request id, its cause logged to the server's stderr.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::path::Path;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// A `WWW-Authenticate` challenge to send with a 401.
    pub challenge: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            challenge: None,
        }
    }

    /// An error from the shared operations on the registry at `root`: a failure of the state
    /// server (anywhere in the chain) is 503, whatever else the chain holds; typed refusals
    /// keep their status; a lock that could not be had in time is 503; anything else is the
    /// request's fault (validation, 400) unless it is an I/O failure (500).
    pub fn from_op(e: &anyhow::Error, root: &Path) -> Self {
        use crate::ops::add::Refusal;
        if state_unavailable(e) {
            return Self::state_unavailable(e);
        }
        let status = match e.downcast_ref::<Refusal>() {
            Some(Refusal::NotOwner(_)) => StatusCode::FORBIDDEN,
            Some(Refusal::Exists(_)) => StatusCode::CONFLICT,
            None if lock_timed_out(e) => StatusCode::SERVICE_UNAVAILABLE,
            None if e.chain().any(|c| c.is::<std::io::Error>()) || store_failed(e) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            None => StatusCode::BAD_REQUEST,
        };
        match status {
            StatusCode::INTERNAL_SERVER_ERROR => Self::internal(e),
            StatusCode::SERVICE_UNAVAILABLE => Self::new(
                status,
                "the registry is busy: another change has held its lock for too long; \
                 nothing was changed, try again in a minute",
            ),
            _ => Self::new(status, clean(&format!("{e:#}"), root)),
        }
    }

    /// A failure to read or write the records (users, tokens, owners): never the request's
    /// fault, so never a refusal: 503 when the state server is unavailable, else 500.
    pub fn from_state(e: &anyhow::Error) -> Self {
        if state_unavailable(e) {
            Self::state_unavailable(e)
        } else {
            Self::internal(e)
        }
    }

    /// The state server (a database keeping users, tokens and owners) did not answer or
    /// refused: 503, which cargo shows. The client learns neither the server's URL nor the
    /// driver's words; the server's log gets the whole cause under a request id.
    pub fn state_unavailable(e: &dyn std::fmt::Display) -> Self {
        let id = log_failure(e);
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{STATE_UNAVAILABLE}: try again in a moment (request id {id}; the cause is in \
                 the log of `ktra serve`)"
            ),
        )
    }

    /// A failure on the server's side: the client gets a request id, the server's log the
    /// whole cause.
    pub fn internal(e: &dyn std::fmt::Display) -> Self {
        let id = log_failure(e);
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the server could not complete the request (request id {id}); its administrator \
                 finds the cause in the log of `ktra serve`"
            ),
        )
    }
}

/// What a client is told when the state server fails (the start of the 503's detail).
pub const STATE_UNAVAILABLE: &str =
    "the registry's state server is unavailable (users, tokens, owners)";

/// Whether a failure of the state server is anywhere in the chain (as an error's source, or
/// as a context layer).
pub fn state_unavailable(e: &anyhow::Error) -> bool {
    use crate::state::Unavailable;
    e.downcast_ref::<Unavailable>().is_some() || e.chain().any(|c| c.is::<Unavailable>())
}

/// Writes the cause of a failed request to the server's log (credentials of URLs taken out)
/// and gives the request id that names it there.
fn log_failure(e: &dyn std::fmt::Display) -> String {
    let id = request_id();
    eprintln!(
        "error: request {id} failed: {}",
        crate::redact::url_credentials(&format!("{e:#}"))
    );
    id
}

/// Whether the registry lock could not be had in time (the wait is bounded in `storage::lock`),
/// or another wait ran out.
fn lock_timed_out(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<crate::storage::lock::LockTimeout>()
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

/// Whether object storage failed (not the request).
fn store_failed(e: &anyhow::Error) -> bool {
    #[cfg(feature = "aws")]
    return e
        .chain()
        .any(|c| c.is::<crate::storage::bucket::StoreFailure>());
    #[cfg(not(feature = "aws"))]
    {
        let _ = e;
        false
    }
}

/// A message fit for a client: no credentials, no absolute path of the registry.
pub(super) fn clean(message: &str, root: &Path) -> String {
    crate::redact::registry_root(&crate::redact::url_credentials(message), root)
}

/// Eight hex digits naming one failed request in the server's log.
fn request_id() -> String {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errors": [{ "detail": self.detail }] });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(c) = self
            .challenge
            .and_then(|c| axum::http::HeaderValue::from_str(&c).ok())
        {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, c);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> anyhow::Error {
        anyhow::Error::new(std::io::Error::new(kind, "x"))
    }

    #[test]
    fn server_failures_hide_their_cause_behind_a_request_id() {
        let root = Path::new("/srv/reg");
        let e = io(std::io::ErrorKind::PermissionDenied)
            .context("failed to write `/srv/reg/public/index/3/a/abc`");
        let api = ApiError::from_op(&e, root);
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(api.detail.contains("request id"), "{}", api.detail);
        assert!(!api.detail.contains("/srv"), "{}", api.detail);
    }

    #[test]
    fn validation_errors_lose_the_root_and_credentials() {
        let root = Path::new("/srv/reg");
        let e = anyhow::anyhow!("bad thing in `/srv/reg/state/tmp/.tmp1` from https://u:pw@h/x");
        let api = ApiError::from_op(&e, root);
        assert_eq!(api.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            api.detail,
            "bad thing in `state/tmp/.tmp1` from https://***@h/x"
        );
    }

    #[cfg(feature = "aws")]
    #[test]
    fn a_failure_of_object_storage_is_the_servers() {
        let e = anyhow::Error::new(crate::storage::bucket::StoreFailure(
            "Generic S3 error: 503 SlowDown".into(),
        ))
        .context("failed to write `index/3/a/abc` to s3://bucket");
        let api = ApiError::from_op(&e, Path::new("/srv/reg"));
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(api.detail.contains("request id"), "{}", api.detail);
    }

    #[test]
    fn a_lock_wait_that_ran_out_is_503() {
        let e = io(std::io::ErrorKind::TimedOut).context("failed to lock the registry");
        let api = ApiError::from_op(&e, Path::new("/srv/reg"));
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.detail.contains("try again"));
    }

    #[test]
    fn a_failure_of_the_state_server_is_503_without_its_words() {
        let root = Path::new("/srv/reg");
        let cause = crate::state::Unavailable(
            "error communicating with database: Connection refused (os error 111)".into(),
        );
        let e = anyhow::Error::new(cause)
            .context("failed to read `tokens/ab.json` in the PostgreSQL state at postgres://ktra:***@db.internal:5432/ktra")
            .context("failed to add `demo@1.0.0` to `/srv/reg`");
        let api = ApiError::from_op(&e, root);
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.detail.starts_with(STATE_UNAVAILABLE), "{}", api.detail);
        assert!(api.detail.contains("try again"), "{}", api.detail);
        assert!(api.detail.contains("request id"), "{}", api.detail);
        for hidden in ["db.internal", "postgres", "refused", "tokens/", "/srv"] {
            assert!(!api.detail.contains(hidden), "{hidden}: {}", api.detail);
        }
    }

    #[test]
    fn the_state_server_wins_over_what_else_the_chain_holds() {
        // A driver's timeout carried as an I/O error, under the state failure: still the
        // state server's 503, not the lock's message nor a 500.
        let e = io(std::io::ErrorKind::TimedOut)
            .context(crate::state::Unavailable("no answer within 10s".into()))
            .context("failed to write `owners/abc.json` in the Redis state at redis://h/");
        let api = ApiError::from_op(&e, Path::new("/srv/reg"));
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.detail.starts_with(STATE_UNAVAILABLE), "{}", api.detail);
    }
}
