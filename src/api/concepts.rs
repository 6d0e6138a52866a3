//! Concepts: lookup in any spelling, descendants, and browsing or exporting
//! a system or a subtree (streamed JSON or CSV).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, Problem};
use super::v1::{ConceptBrief, brief, resolve_system};
use crate::index::{ConceptRef, Snapshot};
use crate::model::map::Equivalence;
use crate::model::{Designation, Property, PropertyKind, Status};

/// A concept with its relatives.
#[derive(Serialize, ToSchema)]
pub struct ConceptOut {
    /// Id of the system.
    pub system: String,
    /// Canonical code.
    pub code: String,
    /// Preferred label.
    pub display: String,
    /// Name of the concept's level (`section`, `sous-classe`, `chapitre`…).
    pub level: String,
    /// `active`, or `retired` (on the date asked).
    pub status: Status,
    /// A short definition and its source, when the terminology gives one.
    pub definition: Option<String>,
    /// Facts that are not labels: délai de prise en charge, durée
    /// d'exposition, works, dates of validity…
    pub properties: Vec<Property>,
    /// Short labels, lexicon synonyms…
    pub designations: Vec<Designation>,
    /// The concept one level up, if any.
    pub parent: Option<ConceptBrief>,
    /// From the root (section, chapter…) down to the parent.
    pub ancestors: Vec<ConceptBrief>,
    /// The concepts one level down, in code order.
    pub children: Vec<ConceptBrief>,
    /// For a retired concept, what replaces it.
    pub replaced_by: Vec<ConceptBrief>,
    /// Correspondences with other versions or terminologies, from the
    /// correspondence tables declared in `sources.toml`.
    pub mappings: Vec<MappingOut>,
    /// Other versions of the same terminology that have this code too.
    pub other_versions: Vec<String>,
    /// The date asked with `as_of`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// Which way a correspondence reads from the concept shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// This code corresponds to the other code (old to new).
    To,
    /// The other code corresponds to this one.
    From,
}

/// One correspondence of a concept, read from a correspondence table.
#[derive(Serialize, ToSchema)]
pub struct MappingOut {
    /// Id of the correspondence table.
    pub map: String,
    /// Title of the correspondence table.
    pub title: String,
    /// `to`: this code corresponds to `code` of `system`; `from`: `code` of
    /// `system` corresponds to this code.
    pub direction: Direction,
    /// The other system (may not be served, e.g. `naf-rev1`).
    pub system: String,
    /// The code on the other side.
    pub code: String,
    /// Its label, when the table or the system gives one.
    pub display: Option<String>,
    /// Of the target relative to the source.
    pub equivalence: Equivalence,
    /// Share of the source going to the target, 0–1, when the table gives it.
    pub share: Option<f32>,
    /// What part of the source goes to the target, in the table's words
    /// (NAF 2008 → 2025: INSEE's `contenu_commun`), or why the link holds
    /// (curated tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What a reader must know before using the table (occupational-disease
    /// tables: information for the physician, not a legal decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The délai de prise en charge and durée d'exposition of the other
    /// concept, when it is a row of a table of occupational diseases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Property>,
}

/// The properties of `code` in system `system` (when served) that a
/// correspondence shows: délai and durée d'exposition.
fn conditions(snap: &Snapshot, system: Option<usize>, code: &str) -> Vec<Property> {
    let Some(r) = system.and_then(|s| snap.get(s, code)) else { return Vec::new() };
    let c = snap.concept(r);
    c.properties
        .iter()
        .filter(|p| matches!(p.kind, PropertyKind::Delai | PropertyKind::DureeExposition))
        .cloned()
        .collect()
}

/// The correspondences of `r`, both ways, in the order of the tables.
pub fn mappings_of(snap: &Snapshot, r: ConceptRef) -> Vec<MappingOut> {
    let s = snap.system_index_of(r);
    let code = &snap.concept(r).code;
    let mut out = Vec::new();
    for map in &snap.maps {
        if snap.system_index(&map.source) == Some(s)
            && let Some(e) = map.get(code)
        {
            let target = snap.system_index(&map.target);
            out.extend(e.targets.iter().map(|t| MappingOut {
                map: map.id.clone(),
                title: map.title.clone(),
                direction: Direction::To,
                system: map.target.clone(),
                code: t.code.clone(),
                display: target.and_then(|ts| snap.get(ts, &t.code)).map(|x| snap.concept(x).display.clone()),
                equivalence: t.equivalence,
                share: t.share,
                note: t.note.clone(),
                notice: map.notice.clone(),
                conditions: conditions(snap, target, &t.code),
            }));
        }
        if map.target == snap.systems[s].id {
            let source = snap.system_index(&map.source);
            out.extend(map.sources_of(code).map(|(e, t)| {
                MappingOut {
                    map: map.id.clone(),
                    title: map.title.clone(),
                    direction: Direction::From,
                    system: map.source.clone(),
                    code: e.code.clone(),
                    display: source
                        .and_then(|ss| snap.lookup(ss, &e.code))
                        .map(|x| snap.concept(x).display.clone())
                        .or_else(|| e.display.clone()),
                    equivalence: t.equivalence,
                    share: t.share,
                    note: t.note.clone(),
                    notice: map.notice.clone(),
                    conditions: conditions(snap, source, &e.code),
                }
            }));
        }
    }
    out
}

/// A concept with its relatives, shared by the API and `harmonie lookup --json`.
pub fn concept_out(snap: &Snapshot, r: ConceptRef) -> ConceptOut {
    let c = snap.concept(r);
    let s = snap.system_index_of(r);
    ConceptOut {
        system: snap.system_of(r).id.clone(),
        code: c.code.clone(),
        display: c.display.clone(),
        level: snap.level_name(r).to_string(),
        status: c.status,
        definition: c.definition.clone(),
        properties: c.properties.clone(),
        designations: c.designations.clone(),
        parent: snap.parent(r).map(|p| brief(snap, p)),
        ancestors: snap.ancestors(r).into_iter().map(|a| brief(snap, a)).collect(),
        children: snap.children(r).map(|ch| brief(snap, ch)).collect(),
        replaced_by: c.replaced_by.iter().filter_map(|code| snap.get(s, code)).map(|x| brief(snap, x)).collect(),
        mappings: mappings_of(snap, r),
        other_versions: snap.other_versions_with(s, &c.code).into_iter().map(String::from).collect(),
        as_of: None,
    }
}

/// Resolves a code of a system, telling a malformed code from an unknown one.
fn find(snap: &Snapshot, system: usize, code: &str) -> Result<ConceptRef, ApiError> {
    let id = &snap.systems[system].id;
    match snap.lookup(system, code) {
        Some(r) => Ok(r),
        None if snap.systems[system].syntax.canonical(code).is_none() => Err(ApiError::bad_request(
            "malformed code",
            format!("{code:?} n'a pas la forme d'un code {id} / is not shaped like a {id} code"),
        )),
        None => {
            let elsewhere = snap.other_versions_with(system, code);
            let hint = if elsewhere.is_empty() {
                String::new()
            } else {
                format!("; présent dans / present in {}", elsewhere.join(", "))
            };
            Err(ApiError::not_found("unknown code", format!("Code inconnu / unknown code {code:?} in {id}{hint}")))
        }
    }
}

/// One concept, given its code in any common spelling (`1071c`, `10.71 C`, `M545`, `526A`).
#[utoipa::path(
    get,
    path = "/v1/systems/{system}/concepts/{code}",
    tag = "concepts",
    params(("system" = String, Path, description = "system id or alias"), ("code" = String, Path, description = "a code in any spelling"), LookupParams),
    responses(
        (status = 200, body = ConceptOut),
        (status = 400, description = "malformed code", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system or code", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    Path((system, code)): Path<(String, String)>,
    params: Result<Query<LookupParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params?;
    let snap = state.snapshot.load();
    let key = (system, code, p.as_of);
    let weight = key.0.len() + key.1.len() + key.2.as_ref().map_or(0, String::len);
    let kept = (weight <= MAX_LOOKUP_KEY_BYTES).then(|| crate::memo::lock(&state.lookups).get(&snap.dir, &key));
    let body = match kept.flatten() {
        Some(body) => body,
        None => {
            let (system, code, as_of) = &key;
            let out = lookup_out(&snap, system, code, as_of.as_deref())?;
            let body = bytes::Bytes::from(serde_json::to_vec(&out).map_err(anyhow::Error::from)?);
            if weight <= MAX_LOOKUP_KEY_BYTES {
                crate::memo::lock(&state.lookups).put(&snap.dir, key, body.clone(), weight + body.len());
            }
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The rendered answers of lookups, by (system, code, `as_of`) as asked,
/// for the snapshot they were rendered from.
pub type LookupMemo = crate::memo::Memo<(String, String, Option<String>), bytes::Bytes>;

/// Bytes of answers and keys [`LookupMemo`] keeps at most.
pub const LOOKUP_MEMO_BYTES: usize = 8 << 20;

/// Lookups asked with more bytes than this (system, code and date) are
/// answered, not kept.
const MAX_LOOKUP_KEY_BYTES: usize = 256;

/// The answer of a lookup of `code` in `system` (on `as_of`, a date, when
/// given).
fn lookup_out(snap: &Snapshot, system: &str, code: &str, as_of: Option<&str>) -> Result<ConceptOut, ApiError> {
    let Some(date) = as_of.map(str::trim).filter(|d| !d.is_empty()) else {
        let s = resolve_system(snap, system)?;
        return Ok(concept_out(snap, find(snap, s, code)?));
    };
    if !crate::clock::is_date(date) {
        return Err(ApiError::bad_request(
            "invalid parameters",
            format!("as_of={date:?} : une date AAAA-MM-JJ / a date YYYY-MM-DD"),
        ));
    }
    let s = snap.resolve_system_as_of(system, date)?;
    match snap.lookup_as_of(system, code, date) {
        Some((r, retired)) => {
            let mut out = concept_out(snap, r);
            if retired {
                out.status = Status::Retired;
                out.replaced_by = snap.replacements(r).into_iter().map(|(x, _)| brief(snap, x)).collect();
            }
            out.as_of = Some(date.to_string());
            Ok(out)
        }
        None => Err(find(snap, s, code).err().unwrap_or_else(|| ApiError::not_found("unknown code", code))),
    }
}

#[derive(Deserialize, IntoParams)]
/// Query parameters of a concept lookup.
pub struct LookupParams {
    /// A date (`YYYY-MM-DD`): a family name (`naf`) resolves to the version
    /// in force that day, and a code of a version replaced by then is
    /// answered `retired`, with `replaced_by` and, in `mappings`, what goes
    /// where.
    pub as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
/// The answer of the descendants route.
pub struct DescendantsOut {
    /// Id of the system.
    pub system: String,
    /// The code or range asked, canonical.
    pub of: Vec<ConceptBrief>,
    /// Number of descendants.
    pub count: usize,
    /// Every concept beneath, in code order.
    pub descendants: Vec<ConceptBrief>,
}

/// Every concept beneath a code, or beneath each code of a range (`M50-M54`, `M40-M43`).
#[utoipa::path(
    get,
    path = "/v1/systems/{system}/concepts/{code}/descendants",
    tag = "concepts",
    params(("system" = String, Path, description = "system id or alias"), ("code" = String, Path, description = "a code in any spelling, or a range FROM-TO")),
    responses(
        (status = 200, body = DescendantsOut),
        (status = 400, description = "malformed code", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system or code", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn descendants(
    State(state): State<AppState>,
    Path((system, code)): Path<(String, String)>,
) -> Result<Json<DescendantsOut>, ApiError> {
    let snap = state.snapshot.load();
    let s = resolve_system(&snap, &system)?;
    let set = match snap.resolve_set(s, &code) {
        Some(set) => set,
        None => vec![find(&snap, s, &code)?],
    };
    let descendants: Vec<ConceptBrief> =
        set.iter().flat_map(|&r| snap.descendants(r)).map(|r| brief(&snap, r)).collect();
    Ok(Json(DescendantsOut {
        system: snap.systems[s].id.clone(),
        of: set.iter().map(|&r| brief(&snap, r)).collect(),
        count: descendants.len(),
        descendants,
    }))
}

#[derive(Deserialize, IntoParams)]
/// Query parameters of the browse and export route.
pub struct BrowseParams {
    /// Only concepts beneath this code or range (`10`, `M50-M54`).
    pub parent: Option<String>,
    /// Only concepts at this level (name or depth).
    pub level: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One row of an export.
#[derive(Serialize, ToSchema)]
pub struct ConceptRow {
    /// The concept's code.
    pub code: String,
    /// Its preferred label.
    pub display: String,
    /// Name of its level.
    pub level: String,
    /// Code of its parent, if any.
    pub parent: Option<String>,
}

/// Rows per chunk of a streamed export.
const CHUNK: usize = 500;

/// Browse or export a system or a subtree, streamed, in code order.
#[utoipa::path(
    get,
    path = "/v1/systems/{system}/concepts",
    tag = "concepts",
    params(("system" = String, Path, description = "system id or alias"), BrowseParams),
    responses(
        (status = 200, description = "JSON array of rows, or CSV (code,display,level,parent)", body = Vec<ConceptRow>),
        (status = 400, description = "bad level, format or parent", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system or parent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn browse(
    State(state): State<AppState>,
    Path(system): Path<String>,
    params: Result<Query<BrowseParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params?;
    let snap: Arc<Snapshot> = state.snapshot.load_full();
    let s = resolve_system(&snap, &system)?;
    let level = match p.level.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => Some(snap.resolve_level(s, l)?),
    };
    let csv = match p.format.as_deref().unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => {
            return Err(ApiError::bad_request("invalid format", format!("format: json ou/or csv, pas/not {other:?}")));
        }
    };
    let concepts: Vec<ConceptRef> = match p.parent.as_deref().filter(|x| !x.is_empty()) {
        None => snap.concepts_of(s).collect(),
        Some(parent) => {
            let set = match snap.resolve_set(s, parent) {
                Some(set) => set,
                None => vec![find(&snap, s, parent)?],
            };
            set.iter().flat_map(|&r| snap.descendants(r)).collect()
        }
    };
    let concepts: Vec<ConceptRef> =
        concepts.into_iter().filter(|&r| level.is_none_or(|l| snap.concept(r).level == l)).collect();

    // Rows are rendered chunk by chunk as the client reads.
    let total = concepts.len();
    let chunks = (0..total.div_ceil(CHUNK).max(1)).map(move |i| {
        let mut out = String::new();
        if i == 0 {
            out.push_str(if csv { "code,display,level,parent\n" } else { "[" });
        }
        for (j, &r) in concepts[(i * CHUNK).min(total)..((i + 1) * CHUNK).min(total)].iter().enumerate() {
            let c = snap.concept(r);
            let row = ConceptRow {
                code: c.code.clone(),
                display: c.display.clone(),
                level: snap.level_name(r).to_string(),
                parent: c.parent.clone(),
            };
            if csv {
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
                let _ = w.serialize((&row.code, &row.display, &row.level, row.parent.as_deref().unwrap_or("")));
                out.push_str(&String::from_utf8_lossy(&w.into_inner().unwrap_or_default()));
            } else {
                if i * CHUNK + j > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&row).unwrap_or_default());
            }
        }
        if !csv && (i + 1) * CHUNK >= total {
            out.push(']');
        }
        Ok::<_, std::convert::Infallible>(out)
    });
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let ctype = if csv { "text/csv; charset=utf-8" } else { "application/json" };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}
