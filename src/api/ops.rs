//! Operations: health, readiness, metrics, the OpenAPI document and hot
//! reload.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use crate::index::{self, Prepare};

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    /// Id of the snapshot served.
    pub snapshot: String,
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
    ([(header::CONTENT_TYPE, "application/json")], super::openapi::ApiDoc::openapi().to_json().unwrap_or_default())
}

#[derive(Serialize, ToSchema)]
pub struct Reloaded {
    pub previous: String,
    pub snapshot: String,
    pub concepts: usize,
    pub took_ms: u128,
}

/// Rebuild (when inputs changed) or reload the snapshot and swap it in
/// atomically; a snapshot that fails to build or load is refused and the
/// current one keeps serving. Needs `Authorization: Bearer <admin token>`.
#[utoipa::path(
    post,
    path = "/admin/reload",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Reloaded),
        (status = 401, description = "missing or wrong token", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "the new snapshot was refused", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Reloaded>, ApiError> {
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
    let _one_at_a_time = state.reloading.lock().await;
    let started = Instant::now();
    let paths = state.config.paths.clone();
    let loaded = tokio::task::spawn_blocking(move || index::open_current(&paths, Prepare::FetchAndBuild))
        .await
        .map_err(|e| anyhow::anyhow!("reload task failed: {e}"))
        .and_then(|r| r)
        .and_then(|snap| match snap.systems.iter().find(|s| s.concepts.is_empty()) {
            Some(s) => Err(anyhow::anyhow!("system {} has no concept", s.id)),
            None if snap.is_empty() => Err(anyhow::anyhow!("the snapshot is empty")),
            None => Ok(snap),
        });
    match loaded {
        Ok(snap) => {
            let previous = state.snapshot.load().manifest.id.clone();
            let (id, concepts) = (snap.manifest.id.clone(), snap.len());
            state.snapshot.store(std::sync::Arc::new(snap));
            state.metrics.reload("ok");
            tracing::info!(previous = %previous, snapshot = %id, "snapshot reloaded");
            Ok(Json(Reloaded { previous, snapshot: id, concepts, took_ms: started.elapsed().as_millis() }))
        }
        Err(e) => {
            state.metrics.reload("failed");
            tracing::error!(error = %format!("{e:#}"), "reload refused; the current snapshot keeps serving");
            Err(ApiError::internal(format!(
                "Rechargement refusé, l'index actuel reste en service / reload refused, the current snapshot keeps serving: {e:#}"
            )))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
