//! `ktra serve`: the optional receiver. It serves `public/` read-only with correct caching, and
//! cargo's web API (publish, yank, owners, search) with hashed, scoped tokens. The tokio runtime
//! exists only inside [`run`]; every other command stays synchronous.

mod api;
mod auth;
#[cfg(feature = "aws")]
mod bucket_files;
mod dispatch;
mod error;
mod file_cache;
mod files;
pub mod limits;
mod listen;
mod mirror;
pub mod nginx;
mod paths;
mod publish;
pub mod publish_body;
mod refusals;
mod search;
mod settings;
#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests write their own crate files.
mod state_down_tests;

use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct AppState {
    /// `public/` on the local tree; `None` when the registry lives in object storage (its
    /// files are then read from the bucket).
    local: Option<LocalTree>,
    settings: settings::Live,
    /// The pull-through, with `--mirror-upstream`.
    pull: Option<crate::mirror::pull::PullThrough>,
    /// A token check reads a local file (the tree and its state folder are on this machine),
    /// fast enough for an event-loop thread; otherwise it is a network round trip (a bucket, a
    /// database) and runs on a blocking thread.
    inline_reads: bool,
}

struct LocalTree {
    /// Canonical path of `public/`.
    public: PathBuf,
    /// `public/` opened, to open files below it.
    public_dir: std::fs::File,
}

impl LocalTree {
    // reason: the server's file serving opens `public/` once and every file below it with
    // `openat2` (files.rs, file_cache.rs), measured and tuned there.
    #[allow(clippy::disallowed_methods)]
    fn open(public_dir: &Path) -> Result<Self> {
        let public = std::fs::canonicalize(public_dir)
            .with_context(|| format!("failed to open `{}`", public_dir.display()))?;
        Ok(Self {
            public_dir: std::fs::File::open(&public)
                .with_context(|| format!("failed to open `{}`", public_dir.display()))?,
            public,
        })
    }
}

impl AppState {
    /// The registry with its current settings (`ktra set-url` may run while serving).
    fn registry(&self) -> Arc<Registry> {
        self.settings.get()
    }
}

/// The whole HTTP interface, constructible without a socket.
fn router(state: Arc<AppState>) -> Router {
    use axum::routing::{delete, get, put};
    Router::new()
        .route("/api/v1/crates/new", put(publish::publish))
        .route("/api/v1/crates/{name}/{version}/yank", delete(api::yank))
        .route("/api/v1/crates/{name}/{version}/unyank", put(api::unyank))
        .route(
            "/api/v1/crates/{name}/owners",
            get(api::owners)
                .put(api::add_owners)
                .delete(api::remove_owners),
        )
        .route("/api/v1/crates", get(api::search))
        .route("/me", get(api::me))
        .route(nginx::CHECK_PATH, get(api::check_read))
        .fallback(file)
        .layer(axum::extract::DefaultBodyLimit::max(limits::MAX_JSON_BODY))
        .with_state(state)
}

async fn file(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    serve_file(&state, &method, &uri, &headers).await
}

/// A request for a file under `public/` (not the API), with the read check first.
async fn serve_file(state: &AppState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    if let Some(local) = &state.local
        && state.pull.is_none()
        && state.inline_reads
    {
        return serve_local_file(local, state, method, uri, headers);
    }
    if (state.pull.is_some() || state.local.is_some())
        && let Err(refusal) = check_read(state, headers).await
    {
        return axum::response::IntoResponse::into_response(refusal);
    }
    if let Some(pull) = &state.pull
        && let Some(rel) = paths::relative(uri.path())
    {
        match mirror::route(&rel) {
            mirror::Route::Index(name) => {
                return mirror::index(pull, name, method, headers).await;
            }
            mirror::Route::Crate(file) => {
                if let Some(refusal) = mirror::ensure_crate(pull, file).await {
                    return refusal;
                }
            }
            mirror::Route::Static => {}
        }
    }

    match &state.local {
        Some(local) => files::serve(&local.public_dir, &local.public, method, uri, headers),
        // Checks the token again (the bucket's reads do it on their own thread).
        None => serve_remote_file(state, method, uri, headers).await,
    }
}

/// The read check before the pull-through, off the async threads on object storage (where
/// the token's record is read from the state bucket).
async fn check_read(state: &AppState, headers: &HeaderMap) -> Result<(), error::ApiError> {
    let reg = state.registry();
    if state.inline_reads {
        return auth::check_read(&reg, headers);
    }
    let headers = headers.clone();
    tokio::task::spawn_blocking(move || auth::check_read(&reg, &headers))
        .await
        .map_err(|e| error::ApiError::internal(&e))?
}

/// [`serve_file`] without a pull-through: nothing to wait for, so it is answered at once.
fn serve_local_file(
    local: &LocalTree,
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if let Err(refusal) = auth::check_read(&state.registry(), headers) {
        return axum::response::IntoResponse::into_response(refusal);
    }
    files::serve(&local.public_dir, &local.public, method, uri, headers)
}

/// A file of a registry in object storage, read from the bucket.
#[cfg(feature = "aws")]
async fn serve_remote_file(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    bucket_files::serve(state.registry(), method, uri, headers).await
}

#[cfg(not(feature = "aws"))]
async fn serve_remote_file(_: &AppState, _: &Method, _: &Uri, _: &HeaderMap) -> Response {
    unreachable!("a registry in object storage needs the `aws` feature")
}

/// What `ktra serve` is asked to do besides serving the tree.
#[derive(Default)]
pub struct ServeOptions {
    /// Fill the mirror from this upstream on demand.
    pub mirror_upstream: Option<String>,
    /// How long a fetched upstream index file is served before it is revalidated.
    pub mirror_ttl: std::time::Duration,
    /// The environment variable holding the upstream's token.
    pub upstream_token_env: Option<String>,
}

/// Serves the registry on `listen` until interrupted.
pub fn run(reg: &Registry, listen: SocketAddr, opts: ServeOptions, printer: Printer) -> Result<()> {
    // Opened (and its schema checked) once, before listening: every request shares the pool.
    reg.state()?.check()?;
    let (local, shown) = if reg.store.is_remote() {
        (None, remote_location(reg))
    } else {
        let local = LocalTree::open(&reg.store.public_dir())?;
        let shown = local.public.display().to_string();
        (Some(local), shown)
    };
    let pull = match &opts.mirror_upstream {
        Some(url) => Some(crate::mirror::pull::PullThrough::new(
            reg,
            url,
            opts.mirror_ttl,
            opts.upstream_token_env.as_deref(),
            printer,
        )?),
        None => None,
    };
    let limits = reg.config.serve.clone();
    let state = Arc::new(AppState {
        local,
        settings: settings::Live::new(reg),
        pull,
        inline_reads: reg.records_are_local(),
    });
    let service = dispatch::Dispatch::new(state.clone(), router(state.clone()));
    let served = listen::run(
        listen,
        service,
        &limits,
        |bound| printer.status("Serving", format!("{shown} at http://{bound}")),
        stop_signal,
    )
    .context("the server failed");
    refusals::flush(&state.settings.get());
    served
}

/// What is served, for the start line: the bucket location of the served files.
fn remote_location(reg: &Registry) -> String {
    reg.config
        .storage
        .as_ref()
        .map_or_else(|| "object storage".to_owned(), |s| s.url.clone())
}

/// Ctrl-C or SIGTERM (a service manager's stop): requests in progress finish first, so a
/// publish that has started completes with its audit line.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
