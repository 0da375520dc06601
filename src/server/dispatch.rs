//! The service each connection runs: a GET or HEAD of a file (anything outside `/api/` and
//! `/me`) goes straight to the file handler; the web API goes through the axum `Router`. Files
//! are nearly every request a registry gets, and skipping the router's matching, extractors and
//! body conversion for them is a measurable part of their cost.

use super::AppState;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response};
use futures_util::future::{Either, Ready, ready};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::sync::Arc;

/// What hyper calls for every request of every connection.
#[derive(Clone)]
pub struct Dispatch {
    state: Arc<AppState>,
    api: TowerToHyperService<Router>,
}

impl Dispatch {
    pub fn new(state: Arc<AppState>, api: Router) -> Self {
        Self {
            state,
            api: TowerToHyperService::new(api),
        }
    }

    async fn answer(self, req: Request<Incoming>) -> Response<Body> {
        if is_file_request(req.method(), req.uri().path()) {
            let (parts, _) = req.into_parts();
            return super::serve_file(&self.state, &parts.method, &parts.uri, &parts.headers).await;
        }
        match self.api.call(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

impl Service<Request<Incoming>> for Dispatch {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<
        Ready<Result<Response<Body>, Infallible>>,
        std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Response<Body>, Infallible>> + Send>,
        >,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        // A file of the registry's own tree is answered here and now: no task state, no clone.
        if let Some(local) = &self.state.local
            && self.state.pull.is_none()
            && self.state.inline_reads
            && is_file_request(req.method(), req.uri().path())
        {
            let (parts, _) = req.into_parts();
            let response = super::serve_local_file(
                local,
                &self.state,
                &parts.method,
                &parts.uri,
                &parts.headers,
            );
            return Either::Left(ready(Ok(response)));
        }
        let this = self.clone();
        Either::Right(Box::pin(async move { Ok(this.answer(req).await) }))
    }
}

/// Whether the router would send this request to its fallback, the file handler: a GET or HEAD
/// of a path that no API route can match. Everything else (other methods included, which the
/// fallback answers with 405) goes through the router.
fn is_file_request(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && !path.starts_with("/api/") && path != "/me"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_reads_skip_the_router() {
        for (method, path) in [
            (Method::GET, "/index/config.json"),
            (Method::HEAD, "/index/se/rd/serde"),
            (Method::GET, "/"),
            (Method::GET, "/me/"),
            (Method::GET, "/api"),
            (Method::GET, "/crates/a-1.0.0.crate"),
        ] {
            assert!(is_file_request(&method, path), "{method} {path}");
        }
        for (method, path) in [
            (Method::GET, "/api/v1/crates"),
            (Method::GET, "/api/v1/crates/a/owners"),
            (Method::GET, super::super::nginx::CHECK_PATH),
            (Method::GET, "/me"),
            (Method::PUT, "/index/config.json"),
            (Method::POST, "/"),
            (Method::DELETE, "/api/v1/crates/a/1.0.0/yank"),
        ] {
            assert!(!is_file_request(&method, path), "{method} {path}");
        }
    }
}
