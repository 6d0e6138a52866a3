//! The HTTP API (axum): routes, shared state and the layers every request
//! goes through.
//!
//! One [`AppState`] holds the served snapshot behind an [`ArcSwap`]: a
//! request takes the current snapshot once and finishes on it, so swapping
//! in a new snapshot ([`ops::reload`]) never disturbs requests in flight.
//! Every error becomes `application/problem+json` in one place
//! ([`error::problem_responses`]), including the ones the layers produce
//! (timeout, body too large, panic, unknown route or method); the web pages
//! ([`web`]) answer their errors as HTML pages.

pub mod batch;
pub mod concepts;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod recode;
pub mod v1;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::index::Snapshot;
use crate::paths::Paths;

/// Settings of a running server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Project folder, to rebuild snapshots on reload.
    pub paths: Paths,
    /// Bearer token of the admin routes; no token, no admin routes.
    pub admin_token: Option<String>,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// Longest time a request may take before a 408.
    pub request_timeout: Duration,
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// Defaults: no admin, no CORS, 10 s, 20 MiB.
    pub fn new(paths: Paths) -> ServerConfig {
        ServerConfig {
            paths,
            admin_token: None,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 20 * 1024 * 1024,
        }
    }
}

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub metrics: Arc<metrics::Metrics>,
    pub config: Arc<ServerConfig>,
    /// Serialises reloads.
    pub reloading: Arc<tokio::sync::Mutex<()>>,
    /// The built-in systems in the form the FHIR operations use.
    pub fhir: Arc<crate::fhir::Cache>,
}

impl AppState {
    pub fn new(snapshot: Snapshot, config: ServerConfig) -> AppState {
        AppState::shared(Arc::new(snapshot), config)
    }

    /// State serving a snapshot already shared.
    pub fn shared(snapshot: Arc<Snapshot>, config: ServerConfig) -> AppState {
        AppState {
            snapshot: Arc::new(ArcSwap::new(snapshot)),
            metrics: Arc::new(metrics::Metrics::default()),
            config: Arc::new(config),
            reloading: Arc::new(tokio::sync::Mutex::new(())),
            fhir: Arc::new(crate::fhir::Cache::default()),
        }
    }
}

/// Every route of the API, without the layers.
pub fn routes(config: &ServerConfig) -> Router<AppState> {
    let mut r = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/v1/systems", get(v1::systems))
        .route("/v1/search", get(v1::search))
        .route("/v1/systems/{system}/concepts", get(concepts::browse))
        .route("/v1/systems/{system}/concepts/{code}", get(concepts::lookup))
        .route("/v1/systems/{system}/concepts/{code}/descendants", get(concepts::descendants))
        .route("/v1/validate", post(batch::validate))
        .route("/v1/rollup", post(batch::rollup))
        .route("/v1/recode", post(recode::recode))
        .merge(crate::fhir::routes())
        .merge(web::routes());
    if config.admin_token.is_some() {
        r = r.route("/admin/reload", post(ops::reload));
    }
    r.fallback(error::not_found)
}

/// `routes` with the layers: panics caught, problem+json errors, metrics,
/// gzip, CORS, request timeout and body limit.
pub fn app(state: AppState, routes: Router<AppState>) -> Router {
    let config = state.config.clone();
    let mut router = routes
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(error::problem_responses))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::record))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http());
    if !config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::AUTHORIZATION]),
        );
    }
    router.with_state(state)
}

/// The whole server for `state`.
pub fn router(state: AppState) -> Router {
    let routes = routes(&state.config);
    app(state, routes)
}

/// Serves `state` on `listener` until the process is stopped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> Result<()> {
    axum::serve(listener, router(state)).await.context("the HTTP server stopped")
}

/// Binds `addr`, with a clear message when it is taken.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}: is another server running there? Choose another with --addr")
    })
}
