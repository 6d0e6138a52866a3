//! The FHIR R4 terminology API under `/fhir`: `metadata`, read and search of
//! `CodeSystem`, `ValueSet` and `ConceptMap`, and the operations of the one
//! table in [`operations`] (`$lookup`, `$validate-code`, `$subsumes`,
//! `$expand`, `$translate`, `$batch-validate-code`, `$versions`), one file
//! each; a `batch` Bundle posted to `/fhir` runs operations of that table.
//!
//! Every operation accepts GET (query parameters) and POST (a `Parameters`
//! body, `application/fhir+json` or `application/json`), and may bring
//! `CodeSystem`/`ValueSet`/`ConceptMap` resources as `tx-resource`
//! parameters, used for that request only. Every error is an
//! `OperationOutcome` ([`outcome::FhirError`]).
//!
//! The routes see only [`FhirState`] (the snapshot, the FHIR form of its
//! systems, the job queue); any state that gives one (`FromRef`) serves them.

pub mod batch;
pub mod cache;
pub mod call;
pub mod cs;
pub mod expand;
pub mod filter;
pub mod language;
pub mod lookup;
pub mod messages;
pub mod operations;
pub mod outcome;
pub mod params;
pub mod read;
pub mod registry;
pub mod resources;
pub mod subsumes;
pub mod translate;
pub mod validate_code;
pub mod valueset;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

pub use cache::Cache;
use call::{Call, Request};
use operations::{OPERATIONS, Operation};
use outcome::{FhirError, fhir_json};

use crate::index::Snapshot;
use crate::jobs::{JobError, Jobs};

/// What the FHIR routes need of a server's state.
#[derive(Clone)]
pub struct FhirState {
    /// The snapshot served (swapped on reload).
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    /// The built-in systems in FHIR form, per snapshot.
    pub cache: Arc<Cache>,
    /// The queue of CPU-heavy work.
    pub jobs: Jobs,
}

type FhirResult = Result<Response, FhirError>;

fn ok(v: Value) -> FhirResult {
    Ok(fhir_json(StatusCode::OK, v))
}

/// The `/fhir` routes, for any state that gives a [`FhirState`].
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    FhirState: FromRef<S>,
{
    let mut r = Router::new()
        .route("/fhir", post(batch::bundle))
        .route("/fhir/metadata", get(read::metadata))
        .route("/fhir/CodeSystem", get(read::code_system_search))
        .route("/fhir/CodeSystem/{id}", get(read::code_system_read))
        .route("/fhir/ValueSet", get(read::value_set_search))
        .route("/fhir/ValueSet/{id}", get(read::value_set_read))
        .route("/fhir/ConceptMap", get(read::concept_map_search))
        .route("/fhir/ConceptMap/{id}", get(read::concept_map_read));
    for op in OPERATIONS {
        let handler = move |State(s): State<FhirState>, req: Request| operate(s, op, req);
        for path in op.paths() {
            r = r.route(&format!("/fhir/{path}"), get(handler).post(handler));
        }
    }
    r.route("/fhir/{*rest}", get(unknown).post(unknown))
}

/// Runs `op` on `req`: inline when the request is light (see
/// [`operations::Cost`]), else on a blocking thread. The answers of GET
/// requests to operations light on GET (`$lookup`, `$validate-code`…),
/// which depend only on the snapshot, the query, the languages asked and
/// the date, are kept ([`Cache::answer`]).
async fn operate(s: FhirState, op: &'static Operation, req: Request) -> FhirResult {
    let light = op.is_light(&req);
    let key = (light && op.cost == operations::Cost::LightOnGet).then(|| answer_key(op, &req));
    if let Some(key) = &key
        && let Some(body) = s.cache.answer(&s.snapshot.load(), key)
    {
        return Ok(outcome::fhir_bytes(StatusCode::OK, body));
    }
    run(&s.clone(), light, move |deadline| {
        let call = Call::new(&s, &req, deadline)?;
        let answer = (op.run)(&call)?;
        let Some(key) = key else { return ok(answer) };
        let body = axum::body::Bytes::from(answer.to_string());
        s.cache.keep(&call.reg.snapshot, key, body.clone());
        Ok(outcome::fhir_bytes(StatusCode::OK, body))
    })
    .await
}

/// What a light GET operation's answer depends on besides the snapshot:
/// the operation, the query, the languages asked and today's date.
fn answer_key(op: &Operation, req: &Request) -> String {
    let langs = req.headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    format!(
        "{}/{}\n{}\n{}\n{}",
        op.resource.unwrap_or_default(),
        op.name,
        req.query.as_deref().unwrap_or_default(),
        langs.unwrap_or_default(),
        crate::clock::today()
    )
}

/// Runs a FHIR operation: on the async worker when it is `light` and the
/// built-in systems are converted already; else on a blocking thread
/// through [`off_thread`].
async fn run(
    s: &FhirState,
    light: bool,
    work: impl FnOnce(std::time::Instant) -> FhirResult + Send + 'static,
) -> FhirResult {
    if light && s.cache.is_ready(&s.snapshot.load()) {
        return work(s.jobs.deadline());
    }
    off_thread(s, work).await
}

/// Runs a FHIR operation on a blocking thread ([`Jobs::run`]), its
/// registry bounded by the request's deadline.
async fn off_thread(s: &FhirState, work: impl FnOnce(std::time::Instant) -> FhirResult + Send + 'static) -> FhirResult {
    match s.jobs.run(work).await {
        Ok(result) => result,
        Err(JobError::Busy) => Err(FhirError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            outcome::Issue::error("transient", "The server is busy: retry in a few seconds"),
        )),
        Err(JobError::Failed) => Err(FhirError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            outcome::Issue::error("exception", "The operation failed and was logged; retry or report it"),
        )),
    }
}

async fn unknown(Path(rest): Path<String>) -> FhirResult {
    Err(FhirError::not_found(format!(
        "/fhir/{rest} is not served; GET /fhir/metadata lists the resources and operations"
    )))
}
