//! The HTTP API (axum): router, shared state and the v1 JSON handlers.
//!
//! One [`AppState`] holds the served snapshot behind an [`ArcSwap`]: a
//! request takes the current snapshot once and finishes on it, so swapping
//! in a new snapshot never disturbs requests in flight. Errors become
//! `application/problem+json` responses in [`error`].

pub mod error;
pub mod v1;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use axum::Router;
use axum::routing::get;

use crate::index::Snapshot;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
}

impl AppState {
    pub fn new(snapshot: Snapshot) -> AppState {
        AppState { snapshot: Arc::new(ArcSwap::from_pointee(snapshot)) }
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(v1::healthz))
        .route("/v1/systems", get(v1::systems))
        .route("/v1/search", get(v1::search))
        .route("/v1/systems/{system}/concepts/{code}", get(v1::concept))
        .fallback(v1::not_found)
        .with_state(state)
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
