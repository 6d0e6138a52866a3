//! The HTTP API (axum): routes, shared state and the layers every request
//! goes through.
//!
//! One [`AppState`] holds the served snapshot behind an [`ArcSwap`]: a
//! request takes the current snapshot once and finishes on it, so swapping
//! in a new snapshot ([`ops::reload`]) never disturbs requests in flight.
//! Every error becomes `application/problem+json` in one place
//! ([`error::in_callers_format`], in [`frame`]), including the ones the layers produce
//! (timeout, body too large, panic, unknown route or method); the web pages
//! ([`web`]) answer their errors as HTML pages.
//!
//! CPU-heavy work (FHIR operations, validation, recoding) runs on blocking
//! threads, not on the async workers, through [`Jobs`] ([`AppState::jobs`])
//! (lookups and searches, FHIR's included, run inline):
//! [`ServerConfig::cpu_workers`] at a time, at most
//! [`ServerConfig::max_jobs`] running or queued, a 503 beyond. The server closes
//! connections that do not finish their headers in time and drains requests
//! in flight when asked to stop ([`serve`]).

pub mod batch;
pub mod concepts;
pub mod error;
pub mod frame;
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
use axum::http::{HeaderValue, Method};
use tower::Layer;
use tower_http::compression::{Compression, CompressionLayer};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::fhir::FhirState;
use crate::index::Snapshot;
use crate::jobs::Jobs;
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
    /// Largest request body accepted (413 above), but for recoding.
    pub max_body_bytes: usize,
    /// Largest body of one `POST /v1/recode` (a file streamed through).
    pub max_recode_bytes: u64,
    /// Time a client has to send its request line and headers; also how
    /// long an idle keep-alive connection is kept.
    pub header_timeout: Duration,
    /// Longest pause in a streamed upload or download (recode) before the
    /// run is ended.
    pub idle_timeout: Duration,
    /// CPU-heavy requests (FHIR, validate) running or queued at once; more
    /// get a 503.
    pub max_jobs: usize,
    /// CPU-heavy requests running at a time (the others wait in the queue):
    /// one less than the cores, so that a core stays free for the async
    /// workers (health checks, search, lookups).
    pub cpu_workers: usize,
    /// Recodes running at once; more get a 503.
    pub max_recodes: usize,
    /// On shutdown, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// Defaults: no admin, no CORS, 10 s per request, 20 MiB bodies (1 GiB
    /// for recoding), 10 s for headers, 30 s of silence in a stream, 64
    /// CPU jobs and 4 recodes at once, 30 s to drain on shutdown.
    pub fn new(paths: Paths) -> ServerConfig {
        ServerConfig {
            paths,
            admin_token: None,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 20 * 1024 * 1024,
            max_recode_bytes: 1024 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_jobs: 64,
            cpu_workers: std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
            max_recodes: 4,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// State shared by every handler: one `Arc`, since every request clones
/// it (axum hands each handler its own copy), and a clone is then one count
/// rather than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The snapshot served, swapped whole on reload.
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// Prometheus counters.
    pub metrics: Arc<metrics::Metrics>,
    /// The memo of costly searches (first letters typed, frequent words).
    pub searches: Arc<crate::search::SearchCache>,
    /// The rendered answers of concept lookups ([`concepts::lookup`]).
    pub lookups: Arc<std::sync::Mutex<concepts::LookupMemo>>,
    /// The server's settings.
    pub config: Arc<ServerConfig>,
    /// The built-in systems in the form the FHIR operations use.
    pub fhir: Arc<crate::fhir::Cache>,
    /// CPU-heavy jobs ([`ServerConfig::max_jobs`] running or queued,
    /// [`ServerConfig::cpu_workers`] running).
    pub jobs: Jobs,
    /// Permits of recodes ([`ServerConfig::max_recodes`]).
    pub recodes: Arc<tokio::sync::Semaphore>,
    /// The reload running or last finished ([`ops::reload`]); one at a time.
    pub reload: Arc<tokio::sync::watch::Sender<ops::ReloadState>>,
    /// Wrong admin tokens seen, to slow down guessing.
    pub auth_failures: Arc<std::sync::atomic::AtomicU32>,
}

impl AppState {
    /// State serving `snapshot` with `config`.
    pub fn new(snapshot: Snapshot, config: ServerConfig) -> AppState {
        AppState::shared(Arc::new(snapshot), config)
    }

    /// State serving a snapshot already shared.
    pub fn shared(snapshot: Arc<Snapshot>, config: ServerConfig) -> AppState {
        AppState(Arc::new(Shared {
            snapshot: Arc::new(ArcSwap::new(snapshot)),
            metrics: Arc::new(metrics::Metrics::default()),
            searches: Arc::new(crate::search::SearchCache::new()),
            lookups: Arc::new(std::sync::Mutex::new(crate::memo::Memo::new(concepts::LOOKUP_MEMO_BYTES))),
            jobs: Jobs::new(config.max_jobs, config.cpu_workers, config.request_timeout),
            recodes: Arc::new(tokio::sync::Semaphore::new(config.max_recodes.max(1))),
            config: Arc::new(config),
            fhir: Arc::new(crate::fhir::Cache::default()),
            reload: Arc::new(tokio::sync::watch::Sender::new(ops::ReloadState { state: "idle", ..Default::default() })),
            auth_failures: Arc::default(),
        }))
    }
}

/// What the FHIR routes see of the state.
impl axum::extract::FromRef<AppState> for FhirState {
    fn from_ref(s: &AppState) -> FhirState {
        FhirState { snapshot: s.snapshot.clone(), cache: s.fhir.clone(), jobs: s.jobs.clone() }
    }
}

/// The documented routes: each handler is declared once, with its
/// `#[utoipa::path]` giving both its route and its OpenAPI entry. The admin
/// routes are served only with an admin token, but always documented.
fn documented(admin: bool) -> OpenApiRouter<AppState> {
    let r = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        .routes(routes!(v1::systems))
        .routes(routes!(v1::search))
        .routes(routes!(concepts::browse))
        .routes(routes!(concepts::lookup))
        .routes(routes!(concepts::descendants))
        .routes(routes!(batch::validate))
        .routes(routes!(batch::rollup))
        .routes(routes!(recode::recode));
    if admin { r.routes(routes!(ops::reload, ops::reload_status)) } else { r }
}

/// The OpenAPI document of the documented routes (built once).
pub fn openapi_document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| documented(true).split_for_parts().1)
}

/// Every route of the API, without the layers.
pub fn routes(config: &ServerConfig) -> Router<AppState> {
    let (r, _) = documented(config.admin_token.is_some()).split_for_parts();
    r.merge(crate::fhir::routes()).merge(web::routes()).fallback(error::not_found)
}

/// The whole server as one service: the router, its answers compressed
/// for the clients that accept it.
pub type App = Compression<Router>;

/// `routes` with the layers: body limit, request timeout, panics caught,
/// problem+json errors, metrics and security headers ([`frame`]), CORS,
/// and gzip.
///
/// A layer of a `Router` wraps every route in a boxed service cloned on
/// every request: the layers that need no route (compression) wrap the
/// router once, from outside.
pub fn app(state: AppState, routes: Router<AppState>) -> App {
    let config = state.config.clone();
    let mut router =
        routes.layer(frame::FrameLayer::new(state.metrics.clone(), config.request_timeout, config.max_body_bytes));
    // The request spans are debug events: the layer is there only when the
    // log asks for them (`RUST_LOG=tower_http=debug`), since building them
    // costs every request.
    if tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG) {
        router = router.layer(TraceLayer::new_for_http());
    }
    if !config.cors_origins.is_empty() {
        let cors = CorsLayer::new()
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([axum::http::header::CONTENT_TYPE, axum::http::header::AUTHORIZATION]);
        router = router.layer(if config.cors_origins.iter().any(|o| o == "*") {
            cors.allow_origin(AllowOrigin::any())
        } else {
            let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
            cors.allow_origin(AllowOrigin::list(origins))
        });
    }
    CompressionLayer::new().layer(router.with_state(state))
}

/// Checks the configuration of CORS origins: `*`, or origins such as
/// `https://sst.example.fr`.
pub fn check_cors_origins(origins: &[String]) -> Result<()> {
    for o in origins {
        if o != "*" && (HeaderValue::from_str(o).is_err() || !(o.starts_with("http://") || o.starts_with("https://"))) {
            anyhow::bail!("--cors-origin {o:?} is not an origin: give '*' or origins such as https://sst.example.fr");
        }
    }
    Ok(())
}

/// The whole server for `state`.
pub fn router(state: AppState) -> App {
    let routes = routes(&state.config);
    app(state, routes)
}

/// Serves `state` on `listener` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish (streams included) for up to
/// [`ServerConfig::shutdown_grace`], and returns.
///
/// A connection that does not send its request line and headers within
/// [`ServerConfig::header_timeout`] is closed; so is a keep-alive
/// connection idle for that long.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let config = state.config.clone();
    serve_app(listener, router(state), &config, shutdown).await
}

/// [`serve`] for an application built by the caller ([`app`] with more
/// routes, as tests do).
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: App,
    config: &ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Memory freed by requests goes back to the system once a minute.
    let trimmer = tokio::spawn(async {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let _ = tokio::task::spawn_blocking(crate::memory::trim).await;
        }
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Answers are written whole: no waiting for more to send.
                let _ = stream.set_nodelay(true);
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    trimmer.abort();
    tracing::info!("stopping: no new connections; finishing the requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every request finished; stopped"),
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!(secs = config.shutdown_grace.as_secs(), "requests still running after the grace period; stopped")
        }
    }
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Binds `addr`, with a clear message when it is taken.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr}: is another server running there? Choose another with --addr")
    })
}
