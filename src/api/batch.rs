//! Batch routes: validation of stored codes and roll-ups of counts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::v1::resolve_system;
use crate::rollup::{self, Rollup};
use crate::validate::{self, Validation, Verdict};

/// Most items of one validation or roll-up request.
pub const MAX_BATCH: usize = 10_000;

#[derive(Deserialize, ToSchema)]
/// A `POST /v1/validate` body.
pub struct ValidateRequest {
    /// At most 10,000 items.
    pub items: Vec<validate::Item>,
}

#[derive(Serialize, ToSchema, Default)]
/// How many items got each verdict.
pub struct ValidateSummary {
    /// Codes in force.
    pub active: usize,
    /// Codes of the system, no longer in force (with their replacements).
    pub retired: usize,
    /// Well-formed codes that the system does not have.
    pub unknown: usize,
    /// Inputs not shaped like a code of the system.
    pub malformed: usize,
    /// Items naming a system that is not served.
    pub unknown_system: usize,
}

#[derive(Serialize, ToSchema)]
/// The answer to `POST /v1/validate`.
pub struct ValidateResponse {
    /// One result per item, in the order given.
    pub results: Vec<Validation>,
    /// Counts per verdict.
    pub summary: ValidateSummary,
}

fn too_many(n: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch too large",
        format!("{n} éléments, maximum {MAX_BATCH} / {n} items, at most {MAX_BATCH} per request: split the batch"),
    )
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid JSON",
            format!("JSON invalide / invalid JSON at line {}, column {}: {e}", e.line(), e.column()),
        )
    })
}

/// Validate stored codes: each answered in order (active, retired, unknown, malformed), with near misses.
#[utoipa::path(
    post,
    path = "/v1/validate",
    tag = "batch",
    request_body = ValidateRequest,
    responses(
        (status = 200, body = ValidateResponse),
        (status = 400, description = "invalid JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "more than 10,000 items or body too large", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn validate(State(state): State<AppState>, body: Bytes) -> Result<Json<ValidateResponse>, ApiError> {
    let req: ValidateRequest = parse_json(&body)?;
    if req.items.len() > MAX_BATCH {
        return Err(too_many(req.items.len()));
    }
    let snap = state.snapshot.load_full();
    let results = state
        .jobs
        .run(move |_| {
            // One item failing by a bug does not fail the batch: it is answered as malformed.
            req.items
                .iter()
                .map(|item| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| validate::validate(&snap, item)))
                        .unwrap_or_else(|_| validate::Validation::failed(item))
                })
                .collect::<Vec<_>>()
        })
        .await?;
    let mut summary = ValidateSummary::default();
    for r in &results {
        match r.status {
            Verdict::Active => summary.active += 1,
            Verdict::Retired => summary.retired += 1,
            Verdict::Unknown => summary.unknown += 1,
            Verdict::Malformed => summary.malformed += 1,
            Verdict::UnknownSystem => summary.unknown_system += 1,
        }
    }
    Ok(Json(ValidateResponse { results, summary }))
}

#[derive(Deserialize, ToSchema)]
/// A `POST /v1/rollup` JSON body.
pub struct RollupRequest {
    /// System id or alias.
    pub system: String,
    /// Level to aggregate at (name or depth), e.g. `section`, `chapitre`, `groupe socioprofessionnel`.
    pub level: String,
    /// At most 10,000 items.
    pub items: Vec<rollup::Item>,
}

#[derive(Deserialize, IntoParams)]
/// Query parameters of `POST /v1/rollup` when the body is CSV.
pub struct RollupParams {
    /// With a CSV body: the system.
    pub system: Option<String>,
    /// With a CSV body: the level.
    pub level: Option<String>,
}

/// Aggregate counts by code at a level of the hierarchy; codes that cannot be placed are listed apart.
///
/// JSON body `{system, level, items:[{code, count}]}`, or a CSV body
/// (`Content-Type: text/csv`, rows `code,count`) with `?system=&level=`.
#[utoipa::path(
    post,
    path = "/v1/rollup",
    tag = "batch",
    params(RollupParams),
    request_body(content(
        (RollupRequest = "application/json"),
        (String = "text/csv", example = "code,count\nM54.5,12\nJ45,3\n")
    )),
    responses(
        (status = 200, body = Rollup),
        (status = 400, description = "invalid body, unknown level", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "more than 10,000 items", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rollup(
    State(state): State<AppState>,
    params: Result<Query<RollupParams>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Rollup>, ApiError> {
    let Query(p) = params?;
    let is_csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    let req = if is_csv {
        let missing = || {
            ApiError::bad_request("missing parameter", "avec un CSV, donner / with a CSV body, give ?system=…&level=…")
        };
        RollupRequest {
            system: p.system.ok_or_else(missing)?,
            level: p.level.ok_or_else(missing)?,
            items: rollup::read_csv(std::io::Cursor::new(body))
                .map_err(|e| ApiError::bad_request("invalid CSV", format!("{e:#}")))?,
        }
    } else {
        parse_json::<RollupRequest>(&body)?
    };
    if req.items.len() > MAX_BATCH {
        return Err(too_many(req.items.len()));
    }
    let snap = state.snapshot.load_full();
    let s = resolve_system(&snap, &req.system)?;
    let level = snap.resolve_level(s, &req.level)?;
    let result = rollup::rollup(&snap, s, level, req.items)
        .map_err(|e| ApiError::bad_request("invalid counts", format!("{e:#}")))?;
    Ok(Json(result))
}
