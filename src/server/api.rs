//! cargo's web API under `/api/v1`: publish, yank and unyank, owners, search, and the `/me`
//! page. Publish ends in `ops::add::add_crates`, the function `ktra add` uses; responses have
//! exactly the shapes cargo reads.

use super::AppState;
use super::auth::{check, require_owner};
use super::error::ApiError;
use super::publish_body::{self, BodyError};
use crate::auth::{Scope, store};
use crate::ops::add::{AddOptions, add_crates};
use crate::ops::inspect::{CrateInput, CrateSource};
use crate::printer::Printer;
use crate::registry::keys;
use crate::storage::Area;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs blocking registry work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::from_op(&e)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request failed: {e}"),
        )),
    }
}

pub async fn publish(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let reg = state.registry();
    let max_crate = reg.config.max_crate_size as usize;
    let limit = max_crate + publish_body::MAX_JSON + 8;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is larger than this registry accepts ({max_crate} bytes per crate)"
            ),
        )
    })?;
    let (meta, krate) = publish_body::parse(&bytes, max_crate).map_err(|e| match e {
        BodyError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
        BodyError::Malformed(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
    })?;
    let exists = reg.store.exists(
        Area::Public,
        &keys::index(&meta.name)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?,
    );
    let scope = if exists {
        Scope::PublishUpdate
    } else {
        Scope::PublishNew
    };
    let token = check(&reg, &headers, scope, Some(&meta.name))?;
    let input = CrateInput {
        label: format!("{}@{}", meta.name, meta.vers),
        source: CrateSource::Bytes(krate.to_vec()),
        expect: Some((meta.name.clone(), meta.vers.clone())),
    };
    let opts = AddOptions {
        max_size: Some(max_crate as u64),
        publisher: Some(token.login.clone()),
        reject_existing: true,
        ..AddOptions::default()
    };
    let r = reg.clone();
    blocking(move || add_crates(&r, vec![input], &opts, Printer::new(true))).await?;
    let _ = store::audit(
        &reg.store,
        json!({ "event": "publish", "login": token.login, "token": token.id, "crate": meta.name, "vers": meta.vers }),
    );
    Ok(Json(
        json!({ "warnings": { "invalid_categories": [], "invalid_badges": [], "other": [] } }),
    ))
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
    let token = check(&reg, &headers, Scope::Yank, Some(&name))?;
    require_owner(&reg, &token.login, &name)?;
    let version = semver::Version::parse(&vers).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`{vers}` is not a version: {e}"),
        )
    })?;
    let r = reg.clone();
    let n = name.clone();
    blocking(move || crate::ops::yank::set_yanked(&r, &n, &version, yanked, Printer::new(true)))
        .await?;
    let event = if yanked { "yank" } else { "unyank" };
    let _ = store::audit(
        &reg.store,
        json!({ "event": event, "login": token.login, "token": token.id, "crate": name, "vers": vers }),
    );
    Ok(Json(json!({ "ok": true })))
}

pub async fn owners(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult {
    let reg = state.registry();
    super::auth::check_read(&reg, &headers)?;
    if !keys::index(&name).is_ok_and(|key| reg.store.exists(Area::Public, &key)) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("crate `{name}` does not exist"),
        ));
    }
    let logins = store::owners(&reg.store, &name)
        .map_err(|e| ApiError::from_op(&e))?
        .unwrap_or_default();
    let mut users = Vec::new();
    for login in logins {
        if let Some(u) = store::user(&reg.store, &login).map_err(|e| ApiError::from_op(&e))? {
            users.push(json!({ "id": u.id, "login": u.login, "name": u.name }));
        }
    }
    Ok(Json(json!({ "users": users })))
}

#[derive(Deserialize)]
pub struct OwnersBody {
    users: Vec<String>,
}

pub async fn add_owners(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    path: Path<String>,
    body: Json<OwnersBody>,
) -> ApiResult {
    change_owners(state, headers, path, body, true).await
}

pub async fn remove_owners(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    path: Path<String>,
    body: Json<OwnersBody>,
) -> ApiResult {
    change_owners(state, headers, path, body, false).await
}

async fn change_owners(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<OwnersBody>,
    add: bool,
) -> ApiResult {
    let reg = state.registry();
    let token = check(&reg, &headers, Scope::ChangeOwners, Some(&name))?;
    require_owner(&reg, &token.login, &name)?;
    let r = reg.clone();
    let (n, logins) = (name.clone(), body.users.clone());
    let msg =
        blocking(move || crate::ops::owners::change(&r, &n, &logins, add, Printer::new(true)))
            .await?;
    let _ = store::audit(
        &reg.store,
        json!({ "event": if add { "owner-added" } else { "owner-removed" }, "login": token.login, "token": token.id, "crate": name, "users": body.users }),
    );
    Ok(Json(json!({ "ok": true, "msg": msg })))
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
    super::auth::check_read(&reg, &headers)?;
    let all = blocking(move || search_rows(&reg)).await?;
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
    super::auth::check_read(&state.registry(), &headers).map(|()| StatusCode::NO_CONTENT)
}
