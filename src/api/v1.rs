//! v1 JSON handlers: small, each validating its input and delegating to the
//! library.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::index::{ConceptRef, Snapshot};
use crate::search::{self, Hit, MAX_LIMIT, MAX_QUERY_CHARS, MatchKind, Matched, SearchRequest};

pub async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let snap = state.snapshot.load();
    Json(serde_json::json!({"status": "ok", "snapshot": snap.manifest.id, "concepts": snap.len()}))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route", "Route inconnue / unknown route: see GET /v1/systems and GET /v1/search?q=…")
}

#[derive(Serialize)]
pub struct LevelCount {
    pub name: String,
    pub count: usize,
}

#[derive(Serialize)]
pub struct SystemOut {
    pub id: String,
    pub aliases: Vec<String>,
    pub title: String,
    pub version: String,
    pub publisher: String,
    pub licence: String,
    pub attribution: String,
    pub url: String,
    pub concept_count: usize,
    pub levels: Vec<LevelCount>,
}

/// Every system of a snapshot with its counts per level.
pub fn systems_out(snap: &Snapshot) -> Vec<SystemOut> {
    snap.systems
        .iter()
        .map(|s| SystemOut {
            id: s.id.clone(),
            aliases: s.aliases.clone(),
            title: s.title.clone(),
            version: s.version.clone(),
            publisher: s.publisher.clone(),
            licence: s.licence.clone(),
            attribution: s.attribution.clone(),
            url: s.url.clone(),
            concept_count: s.concepts.len(),
            levels: s.level_counts().into_iter().map(|(name, count)| LevelCount { name, count }).collect(),
        })
        .collect()
}

pub async fn systems(State(state): State<AppState>) -> Json<Vec<SystemOut>> {
    Json(systems_out(&state.snapshot.load()))
}

#[derive(Deserialize)]
pub struct SearchParams {
    pub q: Option<String>,
    pub system: Option<String>,
    pub limit: Option<String>,
    pub level: Option<String>,
    pub leaf: Option<bool>,
    pub explain: Option<bool>,
}

#[derive(Serialize)]
pub struct ConceptBrief {
    pub code: String,
    pub display: String,
    pub level: String,
}

#[derive(Serialize)]
pub struct SearchResult {
    pub system: String,
    pub code: String,
    pub display: String,
    pub level: String,
    pub score: f32,
    #[serde(rename = "match")]
    pub kind: MatchKind,
    pub ancestors: Vec<ConceptBrief>,
    pub matched: Vec<Matched>,
}

#[derive(Serialize)]
pub struct SearchResponse {
    pub query: String,
    pub results: Vec<SearchResult>,
    pub took_us: u128,
}

pub fn brief(snap: &Snapshot, r: ConceptRef) -> ConceptBrief {
    let c = snap.concept(r);
    ConceptBrief { code: c.code.clone(), display: c.display.clone(), level: snap.level_name(r).to_string() }
}

/// The JSON shape of search hits, shared by the API and `harmonie search --json`.
pub fn search_response(snap: &Snapshot, query: &str, hits: Vec<Hit>, explain: bool, took_us: u128) -> SearchResponse {
    let results = hits
        .into_iter()
        .map(|h| {
            let c = snap.concept(h.concept);
            SearchResult {
                system: snap.system_of(h.concept).id.clone(),
                code: c.code.clone(),
                display: c.display.clone(),
                level: snap.level_name(h.concept).to_string(),
                score: h.score,
                kind: h.kind,
                ancestors: snap.ancestors(h.concept).into_iter().map(|a| brief(snap, a)).collect(),
                matched: if explain { h.matched } else { Vec::new() },
            }
        })
        .collect();
    SearchResponse { query: query.to_string(), results, took_us }
}

/// Resolves a system name or alias, or says which exist.
pub fn resolve_system(snap: &Snapshot, name: &str) -> Result<usize, ApiError> {
    snap.system_index(name).ok_or_else(|| {
        ApiError::not_found(
            "unknown system",
            format!("Système inconnu / unknown system {name:?}. Systèmes / systems: {}", snap.system_names()),
        )
    })
}

pub async fn search(
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let Query(p) = params.map_err(|e| {
        ApiError::bad_request(
            "invalid parameters",
            format!("Paramètres invalides / invalid parameters: {}", e.body_text()),
        )
    })?;
    let snap = state.snapshot.load();
    let q = p.q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "query too long",
            format!(
                "La requête dépasse {MAX_QUERY_CHARS} caractères / the query is longer than {MAX_QUERY_CHARS} characters: shorten it"
            ),
        ));
    }
    let limit = match p.limit.as_deref() {
        None | Some("") => 10,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid limit",
                    format!(
                        "limit doit être un entier de 1 à {MAX_LIMIT} / limit must be an integer from 1 to {MAX_LIMIT}, got {l:?}"
                    ),
                ));
            }
        },
    };
    let system = match p.system.as_deref() {
        None | Some("") => None,
        Some(name) => Some(resolve_system(&snap, name)?),
    };
    let req = SearchRequest {
        q: &q,
        system,
        limit,
        level: p.level.as_deref().filter(|l| !l.is_empty()),
        leaf: p.leaf.unwrap_or(false),
    };
    let hits = search::search(&snap, &req)?;
    Ok(Json(search_response(&snap, &q, hits, p.explain.unwrap_or(false), started.elapsed().as_micros())))
}

#[derive(Serialize)]
pub struct ConceptOut {
    pub system: String,
    pub code: String,
    pub display: String,
    pub level: String,
    pub status: crate::model::Status,
    pub designations: Vec<crate::model::Designation>,
    pub parent: Option<ConceptBrief>,
    pub ancestors: Vec<ConceptBrief>,
    pub children: Vec<ConceptBrief>,
}

/// A concept with its relatives, shared by the API and `harmonie lookup --json`.
pub fn concept_out(snap: &Snapshot, r: ConceptRef) -> ConceptOut {
    let c = snap.concept(r);
    ConceptOut {
        system: snap.system_of(r).id.clone(),
        code: c.code.clone(),
        display: c.display.clone(),
        level: snap.level_name(r).to_string(),
        status: c.status,
        designations: c.designations.clone(),
        parent: snap.parent(r).map(|p| brief(snap, p)),
        ancestors: snap.ancestors(r).into_iter().map(|a| brief(snap, a)).collect(),
        children: snap.children(r).map(|ch| brief(snap, ch)).collect(),
    }
}

pub async fn concept(
    State(state): State<AppState>,
    Path((system, code)): Path<(String, String)>,
) -> Result<Json<ConceptOut>, ApiError> {
    let snap = state.snapshot.load();
    let s = resolve_system(&snap, &system)?;
    match snap.lookup(s, &code) {
        Some(r) => Ok(Json(concept_out(&snap, r))),
        None if snap.systems[s].syntax.canonical(&code).is_none() => Err(ApiError::bad_request(
            "malformed code",
            format!(
                "{code:?} n'a pas la forme d'un code {} / is not shaped like a {} code",
                snap.systems[s].id, snap.systems[s].id
            ),
        )),
        None => Err(ApiError::not_found(
            "unknown code",
            format!("Code inconnu / unknown code {code:?} in {}", snap.systems[s].id),
        )),
    }
}
