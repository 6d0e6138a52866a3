//! Operations: health, readiness, metrics, the OpenAPI document and hot
//! reload.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Problem};
use crate::index;
use crate::prepare::{self, Prepare};

#[derive(Serialize, ToSchema)]
/// The answer of `/healthz` and `/readyz`.
pub struct Health {
    /// `ok` when serving.
    pub status: String,
    /// Id of the snapshot served.
    pub snapshot: String,
    /// Concepts in the snapshot served.
    pub concepts: usize,
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let snap = state.snapshot.load();
    Json(Health { status: "ok".into(), snapshot: snap.manifest.id.clone(), concepts: snap.len() })
}

/// Readiness: a snapshot is loaded and every system has concepts.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json"))
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let snap = state.snapshot.load();
    if snap.systems.is_empty() || snap.systems.iter().any(|s| s.concepts.is_empty()) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            "Aucune terminologie chargée / no terminology loaded",
        ));
    }
    Ok(Json(Health { status: "ready".into(), snapshot: snap.manifest.id.clone(), concepts: snap.len() }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let snap = state.snapshot.load();
    let text = state.metrics.render(&snap.manifest.id, snap.len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "the OpenAPI document")))]
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi_document().to_json().unwrap_or_default())
}

#[derive(Clone, Debug, Serialize, ToSchema)]
/// The answer of a finished reload.
pub struct Reloaded {
    /// Id of the snapshot served before.
    pub previous: String,
    /// Id of the snapshot served now.
    pub snapshot: String,
    /// Concepts in the snapshot served now.
    pub concepts: usize,
    /// How long fetching, building and swapping took.
    pub took_ms: u128,
}

/// Where reloads stand: the one running, or how the last one ended.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct ReloadState {
    /// `idle` (none yet), `running`, `done` or `failed`.
    pub state: &'static str,
    /// Number of the reload (1, 2 …).
    pub generation: u64,
    /// When the reload ended: what is served now.
    pub result: Option<Reloaded>,
    /// Why the last reload was refused (the previous snapshot kept serving).
    pub error: Option<String>,
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = state.config.admin_token.as_deref().unwrap_or_default();
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Jeton absent ou faux / missing or wrong token: send Authorization: Bearer <HARMONIE_ADMIN_TOKEN>",
        ));
    }
    Ok(())
}

/// Checks the admin token; wrong tokens are answered more and more slowly
/// (up to 5 s), so that guessing is slow.
async fn authorize_slowly(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    use std::sync::atomic::Ordering;
    match authorize(state, headers) {
        Ok(()) => {
            state.auth_failures.store(0, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            let failures = state.auth_failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            let delay = std::time::Duration::from_millis(250 * u64::from(failures.min(20)));
            tokio::time::sleep(delay).await;
            Err(e)
        }
    }
}

/// Rebuild (when inputs changed) or reload the snapshot and swap it in
/// atomically; a snapshot that fails to build or load is refused and the
/// current one keeps serving. Needs `Authorization: Bearer <admin token>`.
///
/// The reload runs to its end whatever happens to the request: the
/// snapshot is swapped in, then `index/CURRENT` is moved, so the disk and
/// what is served agree. A reload that takes longer than the request may
/// is answered 202 with `Location: /admin/reload`, where `GET` tells how
/// it ended. A reload asked while one runs joins it.
#[utoipa::path(
    post,
    path = "/admin/reload",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Reloaded),
        (status = 202, description = "still running: GET /admin/reload tells how it ends", body = ReloadState),
        (status = 401, description = "missing or wrong token", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "the new snapshot was refused", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize_slowly(&state, &headers).await?;
    let mut rx = state.reload.subscribe();
    let mut started = false;
    state.reload.send_if_modified(|s| {
        if s.state == "running" {
            return false;
        }
        s.state = "running";
        s.generation += 1;
        s.result = None;
        s.error = None;
        started = true;
        true
    });
    let generation = rx.borrow_and_update().generation;
    if started {
        tokio::spawn(run_reload(state.clone(), generation));
    }
    // Answer before the request timeout cuts the request.
    let wait = state.config.request_timeout.mul_f32(0.8);
    let ended = tokio::time::timeout(wait, rx.wait_for(|s| s.generation != generation || s.state != "running")).await;
    let now = state.reload.borrow().clone();
    match ended {
        Ok(Ok(_)) if now.generation == generation => match (now.result, now.error) {
            (Some(r), _) => Ok(Json(r).into_response()),
            (None, e) => Err(ApiError::internal(format!(
                "Rechargement refusé, l'index actuel reste en service / reload refused, the current snapshot keeps serving: {}",
                e.unwrap_or_default()
            ))),
        },
        _ => Ok((StatusCode::ACCEPTED, [(header::LOCATION, "/admin/reload")], Json(now)).into_response()),
    }
}

/// How the running or last reload stands. Needs the admin token.
#[utoipa::path(
    get,
    path = "/admin/reload",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ReloadState),
        (status = 401, description = "missing or wrong token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reload_status(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<ReloadState>, ApiError> {
    authorize_slowly(&state, &headers).await?;
    Ok(Json(state.reload.borrow().clone()))
}

/// One reload, to its end: build or load, check, swap, then mark current.
async fn run_reload(state: AppState, generation: u64) {
    let started = Instant::now();
    let paths = state.config.paths.clone();
    let loaded = tokio::task::spawn_blocking(move || prepare::prepare_snapshot(&paths, Prepare::FetchAndBuild))
        .await
        .map_err(|e| anyhow::anyhow!("reload task failed: {e}"))
        .and_then(|r| r)
        .and_then(|snap| match snap.systems.iter().find(|s| s.concepts.is_empty()) {
            Some(s) => Err(anyhow::anyhow!("system {} has no concept", s.id)),
            None if snap.is_empty() => Err(anyhow::anyhow!("the snapshot is empty")),
            None => Ok(snap),
        });
    let outcome = match loaded {
        Ok(snap) => {
            let previous = state.snapshot.load().manifest.id.clone();
            let (id, concepts) = (snap.manifest.id.clone(), snap.len());
            state.snapshot.store(std::sync::Arc::new(snap));
            state.fhir.clear();
            // Once requests on the old snapshot are over, give its memory back.
            let later = state.config.request_timeout;
            tokio::spawn(async move {
                tokio::time::sleep(later).await;
                let _ = tokio::task::spawn_blocking(crate::memory::trim).await;
            });
            let paths = state.config.paths.clone();
            let marked = {
                let id = id.clone();
                tokio::task::spawn_blocking(move || index::mark_current(&paths, &id)).await
            };
            if let Err(e) = marked.map_err(anyhow::Error::from).and_then(|r| r) {
                tracing::error!(error = %format!("{e:#}"), "the snapshot is served but index/CURRENT could not be moved");
            }
            state.metrics.reload("ok");
            tracing::info!(previous = %previous, snapshot = %id, "snapshot reloaded");
            Ok(Reloaded { previous, snapshot: id, concepts, took_ms: started.elapsed().as_millis() })
        }
        Err(e) => {
            state.metrics.reload("failed");
            tracing::error!(error = %format!("{e:#}"), "reload refused; the current snapshot keeps serving");
            Err(format!("{e:#}"))
        }
    };
    state.reload.send_modify(|s| {
        if s.generation == generation {
            match outcome {
                Ok(r) => {
                    s.state = "done";
                    s.result = Some(r);
                }
                Err(e) => {
                    s.state = "failed";
                    s.error = Some(e);
                }
            }
        }
    });
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
