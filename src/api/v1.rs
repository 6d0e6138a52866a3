//! v1 JSON handlers for systems and search; the JSON shapes shared with the
//! CLI.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use crate::index::{ConceptRef, Snapshot};
use crate::search::{self, Hit, MAX_LIMIT, MAX_QUERY_CHARS, MatchKind, Matched, SearchRequest};

#[derive(Serialize, ToSchema)]
/// How many concepts one level holds.
pub struct LevelCount {
    /// Name of the level.
    pub name: String,
    /// Concepts at that level.
    pub count: usize,
}

/// A terminology served.
#[derive(Serialize, ToSchema)]
pub struct SystemOut {
    /// Stable id (`naf-2025`).
    pub id: String,
    /// Short names that resolve to the system.
    pub aliases: Vec<String>,
    /// Full title.
    pub title: String,
    /// Version label (`2025`, `2003`).
    pub version: String,
    /// Who publishes the nomenclature.
    pub publisher: String,
    /// Licence of the data.
    pub licence: String,
    /// How to cite the data.
    pub attribution: String,
    /// Canonical URL (FHIR `system`).
    pub url: String,
    /// Versions of one terminology share a family.
    pub family: Option<String>,
    /// The version the family name resolves to.
    pub default: bool,
    /// Concepts in the system.
    pub concept_count: usize,
    /// Concepts per level, from the root level down.
    pub levels: Vec<LevelCount>,
    /// What the loader repaired or could not split, counted by kind
    /// (`harmonie build` prints the same report).
    pub load_report: std::collections::BTreeMap<String, usize>,
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
            family: s.family.clone(),
            default: s.default,
            concept_count: s.concepts.len(),
            levels: s.level_counts().into_iter().map(|(name, count)| LevelCount { name, count }).collect(),
            load_report: snap
                .manifest
                .systems
                .iter()
                .find(|x| x.id == s.id)
                .map(|x| x.report.notes.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// The systems served, with their counts per level.
#[utoipa::path(get, path = "/v1/systems", tag = "systems", responses((status = 200, body = Vec<SystemOut>)))]
pub async fn systems(State(state): State<AppState>) -> Json<Vec<SystemOut>> {
    Json(systems_out(&state.snapshot.load()))
}

#[derive(Deserialize, IntoParams)]
/// Query parameters of `/v1/search`.
pub struct SearchParams {
    /// What the user typed: words, a code, or both.
    pub q: Option<String>,
    /// System id or alias; all systems if absent.
    pub system: Option<String>,
    /// Results wanted, 1 to 100 (default 10).
    pub limit: Option<String>,
    /// Preferred level (name or depth).
    pub level: Option<String>,
    /// Prefer concepts without children.
    pub leaf: Option<bool>,
    /// With `level`: only concepts at that level (a filter, not a preference).
    pub level_only: Option<bool>,
    /// Say how each query word matched, and where in the label.
    pub explain: Option<bool>,
    /// `sst` (default): apply the context priors of occupational health;
    /// `none`: rank without them.
    pub context: Option<String>,
}

#[derive(Serialize, ToSchema)]
/// A concept in a few words: code, label, level.
pub struct ConceptBrief {
    /// The concept's code.
    pub code: String,
    /// Its preferred label.
    pub display: String,
    /// Name of its level.
    pub level: String,
}

#[derive(Serialize, ToSchema)]
/// One result of a search.
pub struct SearchResult {
    /// Id of the result's system.
    pub system: String,
    /// The concept's code.
    pub code: String,
    /// Its preferred label.
    pub display: String,
    /// Name of its level.
    pub level: String,
    /// 0–1, from the kind of match.
    pub score: f32,
    #[serde(rename = "match")]
    /// How the query matched (code, exact label, prefix, typo…).
    pub kind: MatchKind,
    /// From the root (section, chapter…) down to the parent.
    pub ancestors: Vec<ConceptBrief>,
    /// With `explain=true`: how each query word matched.
    pub matched: Vec<Matched>,
    /// With `explain=true`: the parts of `display` that matched, as
    /// `[start, end)` ranges counted in characters (Unicode scalar values).
    pub highlight: Vec<[usize; 2]>,
    /// With `explain=true`: the context prior that moved this result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextOut>,
}

/// A context prior applied to a result.
#[derive(Serialize, ToSchema)]
pub struct ContextOut {
    /// The prior's id in `data/curated/priors.toml`.
    pub prior: String,
    /// Whether the prior promoted or demoted the result.
    pub effect: crate::priors::Effect,
    /// Why the prior holds, from `priors.toml`.
    pub why: String,
}

/// The results of one system, when searching all systems.
#[derive(Serialize, ToSchema)]
pub struct SearchGroup {
    /// Id of the system.
    pub system: String,
    /// Codes of the results of this system, best first.
    pub codes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
/// The answer of `/v1/search`.
pub struct SearchResponse {
    /// The query as received.
    pub query: String,
    /// The results, best first.
    pub results: Vec<SearchResult>,
    /// Without `system`: the results grouped by system, systems in the order of their best result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<SearchGroup>,
    /// Nothing matched every word: the results come from a looser search
    /// (typos, word starts, some words only).
    pub fallback: bool,
    /// Time spent searching, in microseconds.
    pub took_us: u128,
}

/// The [`ConceptBrief`] of `r`.
pub fn brief(snap: &Snapshot, r: ConceptRef) -> ConceptBrief {
    let c = snap.concept(r);
    ConceptBrief { code: c.code.clone(), display: c.display.clone(), level: snap.level_name(r).to_string() }
}

/// The JSON shape of search hits, shared by the API and `harmonie search --json`.
pub fn search_response(snap: &Snapshot, query: &str, hits: Vec<Hit>, explain: bool, took_us: u128) -> SearchResponse {
    let fallback = hits.iter().any(|h| h.fallback);
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
                highlight: if explain { search::highlights(&c.display, &h.matched) } else { Vec::new() },
                matched: if explain { h.matched } else { Vec::new() },
                context: h.prior.filter(|_| explain).map(|i| {
                    let p = &snap.priors[i].prior;
                    ContextOut { prior: p.id.clone(), effect: p.effect, why: p.why.clone() }
                }),
            }
        })
        .collect();
    SearchResponse { query: query.to_string(), results, groups: Vec::new(), fallback, took_us }
}

/// `context`: `sst` (or absent) applies the context priors, `none` does not.
pub fn parse_context(value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::trim) {
        None | Some("") | Some("sst") => Ok(false),
        Some("none") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "invalid parameters",
            format!("context={other:?} : valeurs admises / accepted values: sst, none"),
        )),
    }
}

/// Resolves a system name or alias, or says which exist.
pub fn resolve_system(snap: &Snapshot, name: &str) -> Result<usize, ApiError> {
    Ok(snap.resolve_system(name)?)
}

/// Search concepts by code or words, as you type.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, description = "query too long, invalid limit or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Query(p) = params?;
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
    let limit = parse_limit(p.limit.as_deref(), 10, MAX_LIMIT)?;
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
        level_only: p.level_only.unwrap_or(false),
        no_context: parse_context(p.context.as_deref())?,
        unexplained: false,
    };
    let explain = p.explain.unwrap_or(false);
    let body = state.searches.rendered(&snap, &req, explain, |hits| {
        let mut response = search_response(&snap, &q, hits.to_vec(), explain, 0);
        if system.is_none() {
            response.groups = groups(&response.results);
        }
        rendered_without_time(response)
    })?;
    // The memo keeps the answer up to its time, which is this request's:
    // both are sent as they are, the kept part not copied.
    let took_us = Bytes::from(format!("{}}}", started.elapsed().as_micros()));
    let body = axum::body::Body::new(TwoParts { first: Some(body), second: Some(took_us) });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// A body sent as two parts, its length known beforehand (so answered with
/// a `Content-Length` and written in one system call with its head).
struct TwoParts {
    first: Option<Bytes>,
    second: Option<Bytes>,
}

impl http_body::Body for TwoParts {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        std::task::Poll::Ready(this.first.take().or_else(|| this.second.take()).map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.second.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
        http_body::SizeHint::with_exact(len(&self.first) + len(&self.second))
    }
}

/// The results' systems, in the order of their best result, with their codes.
fn groups(results: &[SearchResult]) -> Vec<SearchGroup> {
    let mut groups: Vec<SearchGroup> = Vec::new();
    for r in results {
        match groups.iter_mut().find(|g| g.system == r.system) {
            Some(g) => g.codes.push(r.code.clone()),
            None => groups.push(SearchGroup { system: r.system.clone(), codes: vec![r.code.clone()] }),
        }
    }
    groups
}

/// The JSON of `response` up to the value of `took_us`, its last field.
fn rendered_without_time(response: SearchResponse) -> anyhow::Result<Bytes> {
    const END: &[u8] = b"\"took_us\":0}";
    let mut json = serde_json::to_vec(&SearchResponse { took_us: 0, ..response })?;
    anyhow::ensure!(json.ends_with(END), "took_us is no longer the last field of a search answer");
    json.truncate(json.len() - 2);
    Ok(Bytes::from(json))
}

/// Parses a `limit` parameter: absent gives `default`, else 1 to `max`.
pub fn parse_limit(limit: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit {
        None | Some("") => Ok(default),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid limit",
                format!("limit doit être un entier de 1 à {max} / limit must be an integer from 1 to {max}, got {l:?}"),
            )),
        },
    }
}
