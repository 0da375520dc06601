//! API errors in the shape cargo reads: `{"errors":[{"detail":"..."}]}`; cargo shows the detail
//! to the user.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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

    /// An error from the shared operations: typed refusals keep their status; anything else
    /// is the request's fault (validation) unless it is an I/O failure.
    pub fn from_op(e: &anyhow::Error) -> Self {
        use crate::ops::add::Refusal;
        let detail = format!("{e:#}");
        let status = match e.downcast_ref::<Refusal>() {
            Some(Refusal::NotOwner(_)) => StatusCode::FORBIDDEN,
            Some(Refusal::Exists(_)) => StatusCode::CONFLICT,
            None if e.chain().any(|c| c.is::<std::io::Error>()) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            None => StatusCode::BAD_REQUEST,
        };
        Self::new(status, detail)
    }
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
