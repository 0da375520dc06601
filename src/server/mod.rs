//! `ktra serve`: the optional receiver. For now it serves `public/` read-only with correct
//! caching; the web API (publish, yank, owners, search, tokens) comes next. The tokio runtime
//! exists only inside [`run`]; every other command stays synchronous.

mod files;
mod paths;

use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

struct AppState {
    /// Canonical path of `public/`.
    public: PathBuf,
}

/// The whole HTTP interface, constructible without a socket.
fn router(public: PathBuf) -> Router {
    Router::new()
        .fallback(file)
        .with_state(Arc::new(AppState { public }))
}

async fn file(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    files::serve(&state.public, &method, &uri, &headers).await
}

/// Serves the registry on `listen` until interrupted.
pub fn run(reg: &Registry, listen: SocketAddr, printer: Printer) -> Result<()> {
    let public_dir = reg.store.public_dir();
    let public = std::fs::canonicalize(&public_dir)
        .with_context(|| format!("failed to open `{}`", public_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the server runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to listen on {listen}"))?;
        let bound = listener.local_addr()?;
        printer.status("Serving", format!("{} at http://{bound}", public.display()));
        axum::serve(listener, router(public))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server failed")
    })
}
