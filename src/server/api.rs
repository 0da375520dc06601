//! cargo's web API under `/api/v1`: yank and unyank, owners, search, and the `/me` page
//! (publish, streamed, is in `publish`). The token is checked before a body is read; a change
//! and its audit line run to the end on a blocking thread; responses have exactly the shapes
//! cargo reads.

use super::AppState;
use super::auth::{check, require_owner};
use super::error::ApiError;
use crate::auth::{Scope, store};
use crate::printer::Printer;
use crate::registry::{Registry, keys};
use crate::storage::Area;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs blocking registry work off the async threads, to the end even if the client goes
/// away meanwhile (a change and its audit line are made together or not at all).
pub(super) async fn blocking<T: Send + 'static>(
    root: &std::path::Path,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::from_op(&e, root)),
        Err(e) => Err(ApiError::internal(&e)),
    }
}

/// The registry reads of a request (its token, a crate's owners) where they belong: at once on
/// the local tree with its state folder (microseconds from the page cache), on a blocking
/// thread when the registry is in object storage or its records in a database (network round
/// trips, which must not stall an event loop).
pub(super) async fn off<T: Send + 'static>(
    reg: &Arc<Registry>,
    f: impl FnOnce(&Registry) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if reg.records_are_local() {
        return f(reg);
    }
    let reg = reg.clone();
    match tokio::task::spawn_blocking(move || f(&reg)).await {
        Ok(v) => v,
        Err(e) => Err(ApiError::internal(&e)),
    }
}

/// Appends an event of a change already made to the audit log. A failure (the state server
/// went away between the change and its line) does not undo the change, nor turn its answer
/// into an error: the event goes to the server's log instead, for the administrator to
/// restore.
pub(super) fn audit(reg: &Registry, event: Value) {
    if let Err(e) = reg.state().and_then(|s| store::audit(s, event.clone())) {
        eprintln!(
            "warning: an audit event was not recorded (the change it describes was made): \
             {event}\n  cause: {}",
            crate::redact::url_credentials(&format!("{e:#}"))
        );
    }
}

pub async fn yank(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    path: Path<(String, String)>,
) -> ApiResult {
    set_yanked(state, headers, path, true).await
}

pub async fn unyank(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    path: Path<(String, String)>,
) -> ApiResult {
    set_yanked(state, headers, path, false).await
}

async fn set_yanked(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((name, vers)): Path<(String, String)>,
    yanked: bool,
) -> ApiResult {
    let reg = state.registry();
    super::auth::crate_name(&name)?;
    let n = name.clone();
    let token = off(&reg, move |reg| {
        let token = check(reg, &headers, Scope::Yank, Some(&n))?;
        require_owner(reg, &token.login, &n)?;
        Ok(token)
    })
    .await?;
    let version = semver::Version::parse(&vers).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{vers}` is not a version: {e}"),
        )
    })?;
    let r = reg.clone();
    blocking(reg.root(), move || {
        crate::ops::yank::set_yanked(&r, &name, &version, yanked, Printer::new(true))?;
        let event = if yanked { "yank" } else { "unyank" };
        audit(&r, json!({ "event": event, "login": token.login, "token": token.id, "crate": name, "vers": vers }));
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "ok": true })))
}

pub async fn owners(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    let reg = state.registry();
    off(&reg, move |reg| {
        super::auth::check_read(reg, &headers)?;
        super::auth::crate_name(&name)?;
        if !keys::index(&name).is_ok_and(|key| reg.store.exists(Area::Public, &key)) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("crate `{name}` does not exist"),
            ));
        }
        let records = reg.state().map_err(|e| ApiError::from_state(&e))?;
        let logins = store::owners(records, &name)
            .map_err(|e| ApiError::from_state(&e))?
            .unwrap_or_default();
        let mut users = Vec::new();
        for login in logins {
            if let Some(u) = store::user(records, &login).map_err(|e| ApiError::from_state(&e))? {
                users.push(json!({ "id": u.id, "login": u.login, "name": u.name }));
            }
        }
        Ok(Json(json!({ "users": users })))
    })
    .await
}

#[derive(Deserialize)]
pub struct OwnersBody {
    users: Vec<String>,
}

pub async fn add_owners(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    path: Path<String>,
    body: Body,
) -> ApiResult {
    change_owners(state, headers, path, body, true).await
}

pub async fn remove_owners(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    path: Path<String>,
    body: Body,
) -> ApiResult {
    change_owners(state, headers, path, body, false).await
}

/// The body is read only after the token is checked, and only up to a small limit.
async fn change_owners(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Body,
    add: bool,
) -> ApiResult {
    let reg = state.registry();
    super::auth::crate_name(&name)?;
    let n = name.clone();
    let token = off(&reg, move |reg| {
        let token = check(reg, &headers, Scope::ChangeOwners, Some(&n))?;
        require_owner(reg, &token.login, &n)?;
        Ok(token)
    })
    .await?;
    let body: OwnersBody = read_json(&reg, body).await?;
    for login in &body.users {
        crate::auth::check_login(login).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    }
    let r = reg.clone();
    let msg = blocking(reg.root(), move || {
        let msg = crate::ops::owners::change(&r, &name, &body.users, add, Printer::new(true))?;
        audit(&r, json!({ "event": if add { "owner-added" } else { "owner-removed" }, "login": token.login, "token": token.id, "crate": name, "users": body.users }));
        Ok(msg)
    })
    .await?;
    Ok(Json(json!({ "ok": true, "msg": msg })))
}

/// A small JSON body, read within the body time limit.
async fn read_json<T: serde::de::DeserializeOwned>(
    reg: &crate::registry::Registry,
    body: Body,
) -> Result<T, ApiError> {
    let limit = super::limits::MAX_JSON_BODY;
    let timeout = reg.config.serve.body_timeout;
    let bytes = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {}",
                    humantime::format_duration(timeout)
                ),
            )
        })?
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {limit} bytes"),
            )
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the request body is not the expected JSON: {e}"),
        )
    })
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    per_page: Option<usize>,
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> ApiResult {
    let reg = state.registry();
    off(&reg, move |reg| super::auth::check_read(reg, &headers)).await?;
    let r = reg.clone();
    let all = blocking(reg.root(), move || search_rows(&r)).await?;
    let hits = super::search::rank(all, &query.q);
    let total = hits.len();
    let per_page = query.per_page.unwrap_or(10).clamp(1, 100);
    let crates: Vec<Value> = hits
        .into_iter()
        .take(per_page)
        .map(|c| json!({ "name": c.name, "max_version": c.version, "description": c.description }))
        .collect();
    Ok(Json(
        json!({ "crates": crates, "meta": { "total": total } }),
    ))
}

/// Every crate with its description and keywords, from the site's crate list; from the index
/// files (names and versions only) when the site keeps none or is being rewritten.
fn search_rows(reg: &crate::registry::Registry) -> anyhow::Result<Vec<super::search::Row>> {
    use crate::ops::site::crate_list::CrateList;
    if let Ok(Some(list)) = CrateList::stored(reg) {
        return Ok(list.into_iter().map(super::search::Row::from).collect());
    }
    Ok(crate::ops::list::crates(reg)?
        .into_iter()
        .map(|c| super::search::Row {
            name: c.name,
            version: c.latest,
            description: None,
            keywords: Vec::new(),
        })
        .collect())
}

pub async fn me(State(state): State<Arc<AppState>>) -> String {
    let reg = state.registry();
    let name = &reg.config.name;
    format!(
        "Tokens for registry `{name}` are issued by its administrator, who runs:\n\n    ktra token create YOUR-LOGIN\n\nThen store yours with:\n\n    cargo login --registry {name}\n"
    )
}

/// nginx's `auth_request` asks here before serving a file of a private registry.
pub async fn check_read(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    off(&state.registry(), move |reg| {
        super::auth::check_read(reg, &headers)
    })
    .await
    .map(|()| StatusCode::NO_CONTENT)
}
