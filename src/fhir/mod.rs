//! The FHIR R4 terminology API under `/fhir`: `metadata`, `CodeSystem`
//! read/search, `$lookup`, `$validate-code`, `$subsumes`, `ValueSet/$expand`,
//! `ConceptMap` read and `$translate`, batch validation (`$batch-validate`
//! and a `batch` Bundle).
//!
//! Every operation accepts GET (query parameters) and POST (a `Parameters`
//! body, `application/fhir+json` or `application/json`), and may bring
//! `CodeSystem`/`ValueSet`/`ConceptMap` resources as `tx-resource`
//! parameters, used for that request only. Every error is an
//! `OperationOutcome` ([`outcome::FhirError`]).

pub mod cs;
pub mod ops;
pub mod outcome;
pub mod params;
pub mod registry;
pub mod resources;
pub mod valueset;

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::api::AppState;
use ops::Languages;
use outcome::{FhirError, fhir_json};
use params::Params;
use registry::{Builtins, Registry};

/// The built-in systems in FHIR form, rebuilt when the snapshot changes.
///
/// The lock is held only to find or create the slot of a snapshot, never
/// while a system is converted: the first requests after a reload wait on
/// that slot's [`OnceLock`] (on blocking threads), the others go on.
#[derive(Default)]
pub struct Cache {
    /// The snapshot id and its slot.
    current: Mutex<Option<(String, Slot)>>,
}

/// The builtins of one snapshot, built once by the first request needing them.
type Slot = Arc<OnceLock<Arc<Builtins>>>;

impl Cache {
    /// The builtins of `snap`, built on first use.
    pub fn builtins(&self, snap: &crate::index::Snapshot) -> Arc<Builtins> {
        let slot = {
            let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match cur.as_ref().filter(|(id, _)| *id == snap.manifest.id) {
                Some((_, slot)) => slot.clone(),
                None => {
                    let slot = Arc::new(OnceLock::new());
                    *cur = Some((snap.manifest.id.clone(), slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| Arc::new(Builtins::new(snap))).clone()
    }

    /// Whether the builtins of `snap` are built already (so that a request
    /// using them does no conversion).
    pub fn is_ready(&self, snap: &crate::index::Snapshot) -> bool {
        let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        cur.as_ref().is_some_and(|(id, slot)| *id == snap.manifest.id && slot.get().is_some())
    }

    /// Forgets the builtins (after a reload), so that the old snapshot's are
    /// freed now rather than at the next FHIR request.
    pub fn clear(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Most entries of a `batch` Bundle, and most `validation`s of one
/// `$batch-validate`.
pub const MAX_BATCH_ENTRIES: usize = 1000;

/// Runs a FHIR operation: on the async worker when it is `light` (a GET
/// for one code, or a filtered page of a built-in value set: the work of a
/// lookup or a search, bounded by the URI) and the built-in systems are
/// converted already; else on a blocking thread through [`off_thread`].
async fn run(
    s: &AppState,
    light: bool,
    work: impl FnOnce(std::time::Instant) -> FhirResult + Send + 'static,
) -> FhirResult {
    if light && s.fhir.is_ready(&s.snapshot.load()) {
        return work(std::time::Instant::now() + s.config.request_timeout);
    }
    off_thread(s, work).await
}

/// Whether a `$expand` asks for a filtered page (`filter` and `count` ≤ 100)
/// in its query string.
fn filtered_page(query: Option<&str>) -> bool {
    let pairs = query_pairs(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    get("filter").is_some_and(|f| !f.trim().is_empty())
        && get("count").and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| c <= 100)
}

/// Runs a FHIR operation on a blocking thread ([`AppState::blocking`]), its
/// registry bounded by the request's deadline.
async fn off_thread(s: &AppState, work: impl FnOnce(std::time::Instant) -> FhirResult + Send + 'static) -> FhirResult {
    match s.blocking(work).await {
        Ok(result) => result,
        Err(crate::api::JobError::Busy) => Err(FhirError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            outcome::Issue::error("transient", "The server is busy: retry in a few seconds"),
        )),
        Err(crate::api::JobError::Failed) => Err(FhirError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            outcome::Issue::error("exception", "The operation failed and was logged; retry or report it"),
        )),
    }
}

/// The `/fhir` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir", post(batch_bundle))
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/CodeSystem", get(code_system_search))
        .route("/fhir/CodeSystem/$lookup", get(lookup).post(lookup))
        .route("/fhir/CodeSystem/$validate-code", get(cs_validate_code).post(cs_validate_code))
        .route("/fhir/CodeSystem/$subsumes", get(subsumes).post(subsumes))
        .route("/fhir/CodeSystem/{id}", get(code_system_read))
        .route("/fhir/ValueSet", get(value_set_search))
        .route("/fhir/ValueSet/$expand", get(expand).post(expand))
        .route("/fhir/ValueSet/$validate-code", get(vs_validate_code).post(vs_validate_code))
        .route("/fhir/ValueSet/$batch-validate", post(batch_validate))
        .route("/fhir/ValueSet/{id}", get(value_set_read))
        .route("/fhir/ConceptMap", get(concept_map_search))
        .route("/fhir/ConceptMap/$translate", get(translate).post(translate))
        .route("/fhir/ConceptMap/{id}", get(concept_map_read))
        .route("/fhir/{*rest}", get(unknown).post(unknown))
}

/// A request made ready for an operation: its parameters, its registry
/// (with its `tx-resource`s) and its languages.
struct Call {
    params: Params,
    reg: Registry,
    langs: Languages,
}

/// The pairs of a query string, percent- and `+`-decoded.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// Parameters of a GET (query) or POST (`Parameters` body).
fn read_params(method: &Method, query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Result<Params, FhirError> {
    let mut params = Params::from_query(&query_pairs(query));
    if method == Method::POST && !body.is_empty() {
        let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/fhir+json");
        if !(ctype.contains("json")) {
            return Err(FhirError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                outcome::Issue::error(
                    "not-supported",
                    format!("Content-Type {ctype} is not supported: send application/fhir+json or application/json"),
                ),
            ));
        }
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| FhirError::invalid(format!("the request body is not valid JSON: {e}")))?;
        let posted = Params::from_resource(&v).map_err(FhirError::invalid)?;
        for p in posted.items() {
            params.push(p.clone());
        }
    }
    Ok(params)
}

impl Call {
    fn new(
        state: &AppState,
        method: &Method,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &Bytes,
        deadline: std::time::Instant,
    ) -> Result<Call, FhirError> {
        let params = read_params(method, query, headers, body)?;
        Call::with_params(state, params, headers, deadline)
    }

    fn with_params(
        state: &AppState,
        params: Params,
        headers: &HeaderMap,
        deadline: std::time::Instant,
    ) -> Result<Call, FhirError> {
        let snap = state.snapshot.load_full();
        let builtins = state.fhir.builtins(&snap);
        let mut reg = Registry::new(snap, builtins);
        reg.deadline = Some(deadline);
        ops::load_resources(&mut reg, &params)?;
        let header_lang = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let langs = Languages::new(params.str("displayLanguage"), header_lang);
        Ok(Call { params, reg, langs })
    }
}

type FhirResult = Result<Response, FhirError>;

fn ok(v: Value) -> FhirResult {
    Ok(fhir_json(StatusCode::OK, v))
}

async fn metadata(State(state): State<AppState>, RawQuery(q): RawQuery) -> FhirResult {
    off_thread(&state.clone(), move |_| {
        let snap = state.snapshot.load_full();
        let pairs = query_pairs(q.as_deref());
        if pairs.iter().any(|(k, v)| k == "mode" && v == "terminology") {
            let b = state.fhir.builtins(&snap);
            return ok(resources::terminology_capabilities(&snap, &b));
        }
        ok(resources::capability_statement(&snap))
    })
    .await
}

async fn lookup(State(s): State<AppState>, m: Method, RawQuery(q): RawQuery, h: HeaderMap, body: Bytes) -> FhirResult {
    let light = m == Method::GET;
    run(&s.clone(), light, move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        ok(ops::lookup(&call.reg, &call.params, &call.langs)?)
    })
    .await
}

async fn cs_validate_code(
    State(s): State<AppState>,
    m: Method,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> FhirResult {
    let light = m == Method::GET;
    run(&s.clone(), light, move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        ok(ops::validate_code(&call.reg, &call.params, &call.langs, false)?)
    })
    .await
}

async fn vs_validate_code(
    State(s): State<AppState>,
    m: Method,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> FhirResult {
    off_thread(&s.clone(), move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        ok(ops::validate_code(&call.reg, &call.params, &call.langs, true)?)
    })
    .await
}

async fn subsumes(
    State(s): State<AppState>,
    m: Method,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> FhirResult {
    let light = m == Method::GET;
    run(&s.clone(), light, move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        ok(ops::subsumes(&call.reg, &call.params)?)
    })
    .await
}

async fn expand(State(s): State<AppState>, m: Method, RawQuery(q): RawQuery, h: HeaderMap, body: Bytes) -> FhirResult {
    let light = m == Method::GET && filtered_page(q.as_deref());
    run(&s.clone(), light, move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        ok(ops::expand(&call.reg, &call.params, &call.langs)?)
    })
    .await
}

async fn translate(
    State(s): State<AppState>,
    m: Method,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> FhirResult {
    let light = m == Method::GET;
    run(&s.clone(), light, move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        ok(ops::translate(&call.reg, &call.params)?)
    })
    .await
}

/// `ValueSet/$batch-validate`: each `validation` parameter is one
/// `$validate-code` request; the other parameters apply to all of them.
async fn batch_validate(
    State(s): State<AppState>,
    m: Method,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> FhirResult {
    off_thread(&s.clone(), move |deadline| {
        let call = Call::new(&s, &m, q.as_deref(), &h, &body, deadline)?;
        let shared: Vec<&Value> =
            call.params.items().iter().filter(|p| p["name"] != "validation" && p["name"] != "tx-resource").collect();
        let validations: Vec<&Value> = call.params.resources("validation").collect();
        if validations.len() > MAX_BATCH_ENTRIES {
            return Err(FhirError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                outcome::Issue::error(
                    "too-costly",
                    format!(
                        "{} validations in one request; at most {MAX_BATCH_ENTRIES}: split the batch",
                        validations.len()
                    ),
                ),
            ));
        }
        let mut out = params::Out::new();
        for v in validations {
            let mut one = Params::from_resource(v).unwrap_or_default();
            let own: Vec<String> = one.items().iter().filter_map(|p| p["name"].as_str().map(str::to_string)).collect();
            for p in &shared {
                if !own.iter().any(|n| Some(n.as_str()) == p["name"].as_str()) {
                    one.push((*p).clone());
                }
            }
            let result =
                ops::validate_code(&call.reg, &one, &call.langs, true).unwrap_or_else(|e| outcome::outcome(&e.issues));
            out.resource("validation", result);
        }
        ok(out.build())
    })
    .await
}

/// `POST /fhir` with a `batch` Bundle of operation requests.
async fn batch_bundle(State(s): State<AppState>, h: HeaderMap, body: Bytes) -> FhirResult {
    off_thread(&s.clone(), move |deadline| batch_entries(&s, &h, &body, deadline)).await
}

fn batch_entries(s: &AppState, h: &HeaderMap, body: &Bytes, deadline: std::time::Instant) -> FhirResult {
    let bundle: Value = serde_json::from_slice(body)
        .map_err(|e| FhirError::invalid(format!("the request body is not valid JSON: {e}")))?;
    if bundle["resourceType"] != "Bundle" || bundle["type"] != "batch" {
        return Err(FhirError::invalid("POST /fhir takes a Bundle of type batch"));
    }
    let list = bundle["entry"].as_array().map(Vec::as_slice).unwrap_or_default();
    if list.len() > MAX_BATCH_ENTRIES {
        return Err(FhirError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            outcome::Issue::error(
                "too-costly",
                format!("{} entries in one batch; at most {MAX_BATCH_ENTRIES}: split the batch", list.len()),
            ),
        ));
    }
    let mut entries = Vec::new();
    for e in list {
        let url = e["request"]["url"].as_str().unwrap_or_default();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = path.trim_start_matches('/').trim_start_matches("fhir/");
        let method = if e["request"]["method"] == "GET" { Method::GET } else { Method::POST };
        let body = match e.get("resource") {
            Some(r) => Bytes::from(r.to_string()),
            None => Bytes::new(),
        };
        let result = (|| -> Result<Value, FhirError> {
            let call = Call::new(s, &method, Some(query), h, &body, deadline)?;
            match path {
                "ValueSet/$validate-code" => ops::validate_code(&call.reg, &call.params, &call.langs, true),
                "CodeSystem/$validate-code" => ops::validate_code(&call.reg, &call.params, &call.langs, false),
                "CodeSystem/$lookup" => ops::lookup(&call.reg, &call.params, &call.langs),
                "ValueSet/$expand" => ops::expand(&call.reg, &call.params, &call.langs),
                "ConceptMap/$translate" => ops::translate(&call.reg, &call.params),
                "CodeSystem/$subsumes" => ops::subsumes(&call.reg, &call.params),
                other => Err(FhirError::invalid(format!(
                    "a batch entry cannot call '{other}': use an operation URL such as ValueSet/$validate-code"
                ))),
            }
        })();
        entries.push(match result {
            Ok(v) => json!({"resource": v, "response": {"status": "200 OK"}}),
            Err(e) => json!({"resource": outcome::outcome(&e.issues), "response": {"status": e.status.to_string()}}),
        });
    }
    ok(json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries}))
}

fn bundle(resources: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": resources.len(),
        "entry": resources.into_iter().map(|r| json!({"resource": r})).collect::<Vec<_>>(),
    })
}

fn matches_search(res: &Value, pairs: &[(String, String)]) -> bool {
    pairs.iter().all(|(k, v)| match k.as_str() {
        "url" | "version" => res[k.as_str()].as_str() == Some(v.as_str()),
        "name" | "title" => res[k.as_str()].as_str().is_some_and(|s| s.to_lowercase().starts_with(&v.to_lowercase())),
        "_id" => res["id"].as_str() == Some(v.as_str()),
        _ => true,
    })
}

async fn code_system_search(State(s): State<AppState>, RawQuery(q): RawQuery) -> FhirResult {
    off_thread(&s.clone(), move |_| {
        let snap = s.snapshot.load_full();
        let b = s.fhir.builtins(&snap);
        let pairs = query_pairs(q.as_deref());
        ok(bundle(b.systems.iter().map(|c| c.resource.clone()).filter(|r| matches_search(r, &pairs)).collect()))
    })
    .await
}

async fn code_system_read(State(s): State<AppState>, Path(id): Path<String>) -> FhirResult {
    off_thread(&s.clone(), move |_| {
        let snap = s.snapshot.load_full();
        let b = s.fhir.builtins(&snap);
        b.systems
            .iter()
            .map(|c| &c.resource)
            .find(|r| r["id"].as_str() == Some(id.as_str()))
            .map(|r| ok(r.clone()))
            .unwrap_or_else(|| {
                Err(FhirError::not_found(format!("CodeSystem/{id} does not exist; GET /fhir/CodeSystem lists them")))
            })
    })
    .await
}

/// The implicit value set of each built-in system (`{url}?fhir_vs`).
fn implicit_value_sets(s: &AppState) -> Vec<Value> {
    let snap = s.snapshot.load_full();
    let b = s.fhir.builtins(&snap);
    let reg = Registry::new(snap, b.clone());
    b.systems
        .iter()
        .filter_map(|c| {
            let mut vs = reg.value_set(&format!("{}?fhir_vs", c.url), None)?;
            vs["id"] = json!(c.resource["id"]);
            Some(vs)
        })
        .collect()
}

async fn value_set_search(State(s): State<AppState>, RawQuery(q): RawQuery) -> FhirResult {
    off_thread(&s.clone(), move |_| {
        let pairs = query_pairs(q.as_deref());
        ok(bundle(implicit_value_sets(&s).into_iter().filter(|r| matches_search(r, &pairs)).collect()))
    })
    .await
}

async fn value_set_read(State(s): State<AppState>, Path(id): Path<String>) -> FhirResult {
    off_thread(&s.clone(), move |_| {
        implicit_value_sets(&s).into_iter().find(|r| r["id"].as_str() == Some(id.as_str())).map(ok).unwrap_or_else(
            || Err(FhirError::not_found(format!("ValueSet/{id} does not exist; GET /fhir/ValueSet lists them"))),
        )
    })
    .await
}

async fn concept_map_search(State(s): State<AppState>, RawQuery(q): RawQuery) -> FhirResult {
    let pairs = query_pairs(q.as_deref());
    let snap = s.snapshot.load_full();
    ok(bundle(resources::concept_maps(&snap).into_iter().filter(|r| matches_search(r, &pairs)).collect()))
}

async fn concept_map_read(State(s): State<AppState>, Path(id): Path<String>) -> FhirResult {
    let snap = s.snapshot.load_full();
    resources::concept_maps(&snap).into_iter().find(|r| r["id"].as_str() == Some(id.as_str())).map(ok).unwrap_or_else(
        || Err(FhirError::not_found(format!("ConceptMap/{id} does not exist; GET /fhir/ConceptMap lists them"))),
    )
}

async fn unknown(Path(rest): Path<String>) -> FhirResult {
    Err(FhirError::not_found(format!(
        "/fhir/{rest} is not served; GET /fhir/metadata lists the resources and operations"
    )))
}
