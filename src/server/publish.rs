//! `PUT /api/v1/crates/new`: cargo's publish, streamed. The token is checked before a byte of
//! the body is read; the body is decoded as it arrives, the crate's name checked against the
//! token as soon as the metadata is in, and the crate bytes written to a temporary file in the
//! private area, never held in memory. Then `ops::add::add_crates` adds the file, as
//! `ktra add` would.
//!
//! A publish whose client gives up is never half-done: until the whole body has arrived nothing
//! has started (the temporary file goes away); once it has, the add and its audit line run to
//! the end on a blocking thread, whether or not the client is still there to hear the answer.

use super::AppState;
use super::auth::{allow, check_publisher};
use super::error::ApiError;
use super::publish_body::{self, BodyError, Decoder, Meta};
use crate::auth::{Scope, TokenRecord};
use crate::ops::add::{AddOptions, add_crates};
use crate::ops::inspect::{CrateInput, CrateSource};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;

pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let reg = state.registry();
    let asked = headers.clone();
    let token = super::api::off(&reg, move |reg| check_publisher(reg, &asked)).await?;
    let max_crate = usize::try_from(reg.config.max_crate_size).unwrap_or(usize::MAX);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > publish_body::max_body(max_crate) as u64) {
        return Err(too_large(max_crate));
    }
    let timeout = reg.config.serve.body_timeout;
    let received = tokio::time::timeout(timeout, receive(&reg, &token, body, max_crate))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the upload did not arrive within {}",
                    humantime::format_duration(timeout)
                ),
            )
        })??;
    let Received { meta, temp } = received;
    let input = CrateInput {
        label: format!("{}@{}", meta.name, meta.vers),
        source: CrateSource::File(temp.to_path_buf()),
        expect: Some((meta.name.clone(), meta.vers.clone())),
    };
    let opts = AddOptions {
        max_size: Some(max_crate as u64),
        publisher: Some(token.login.clone()),
        reject_existing: true,
        ..AddOptions::default()
    };
    let r = reg.clone();
    let work = move || {
        let (added, warnings) = crate::printer::capture_warnings(|| {
            add_crates(&r, vec![input], &opts, Printer::new(true))
        });
        drop(temp);
        added?;
        super::api::audit(
            &r,
            json!({ "event": "publish", "login": token.login, "token": token.id, "crate": meta.name, "vers": meta.vers }),
        );
        Ok(warnings)
    };
    // A version that landed with a warning (the git index or its remote behind) is published:
    // cargo shows the response's `other` warnings to its user.
    let warnings: Vec<String> = super::api::blocking(reg.root(), work)
        .await?
        .iter()
        .map(|w| super::error::clean(w, reg.root()))
        .collect();
    Ok(Json(
        json!({ "warnings": { "invalid_categories": [], "invalid_badges": [], "other": warnings } }),
    ))
}

struct Received {
    meta: Meta,
    /// The crate bytes, in the private area; removed when dropped.
    temp: tempfile::TempPath,
}

/// Reads the body: the metadata, checked against the token as soon as it is in, then the crate
/// bytes into a temporary file.
async fn receive(
    reg: &Arc<Registry>,
    token: &TokenRecord,
    body: Body,
    max_crate: usize,
) -> Result<Received, ApiError> {
    let mut decoder = Decoder::new(max_crate);
    let mut file: Option<std::io::BufWriter<tempfile::NamedTempFile>> = None;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("failed to read the upload: {e}"),
            )
        })?;
        let krate = decoder.feed(&chunk).map_err(body_error)?;
        if file.is_none()
            && let Some(meta) = decoder.meta()
        {
            let (t, name) = (token.clone(), meta.name.clone());
            super::api::off(reg, move |reg| may_publish(reg, &t, &name)).await?;
            let temp = reg
                .store
                .temp_file()
                .map_err(|e| ApiError::from_op(&e, reg.root()))?;
            file = Some(std::io::BufWriter::with_capacity(256 * 1024, temp));
        }
        if let Some(f) = file.as_mut().filter(|_| !krate.is_empty()) {
            // Page-cache writes take microseconds: done here rather than on a blocking thread.
            f.write_all(krate).map_err(|e| ApiError::internal(&e))?;
        }
    }
    let meta = decoder.finish().map_err(body_error)?;
    let Some(file) = file else {
        return Err(body_error(BodyError::Malformed(
            "the publish request is malformed: the crate is missing".into(),
        )));
    };
    let temp = file
        .into_inner()
        .map_err(|e| ApiError::internal(&e.into_error()))?
        .into_temp_path();
    Ok(Received { meta, temp })
}

/// The exact scope (a new crate or a new version of one) and the token's crate globs.
fn may_publish(reg: &Registry, token: &TokenRecord, name: &str) -> Result<(), ApiError> {
    super::auth::crate_name(name)?;
    let exists = keys::index(name).is_ok_and(|key| reg.store.exists(Area::Public, &key));
    let scope = if exists {
        Scope::PublishUpdate
    } else {
        Scope::PublishNew
    };
    allow(reg, token, scope, Some(name))
}

fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
        BodyError::Malformed(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
    }
}

fn too_large(max_crate: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the upload is larger than this registry accepts ({max_crate} bytes per crate)"),
    )
}
