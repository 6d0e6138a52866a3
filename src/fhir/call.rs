//! One operation request: its inputs read the same way from GET and POST
//! ([`Request`], the axum extractor; [`Call`], made ready on the thread that
//! runs it), and what every operation reads from it (options, the value set
//! or system it names).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::FhirState;
use super::cs::CodeSystem;
use super::language::Languages;
use super::messages::MessageId;
use super::outcome::{FhirError, Issue};
use super::params::Params;
use super::registry::{Missing, Registry, split_canonical};
use super::valueset::Options;

/// An operation request as it arrived: method, query string, headers and
/// body. Reading its parameters and its `tx-resource`s is work, done by
/// [`Call::new`] on the thread that runs the operation.
#[derive(Clone, Debug)]
pub struct Request {
    /// GET or POST.
    pub method: Method,
    /// The query string, if any.
    pub query: Option<String>,
    /// The request's headers (content type, languages).
    pub headers: HeaderMap,
    /// The request's body (a `Parameters` resource for a POST).
    pub body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Request {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Request, Response> {
        let (mut parts, body) = req.into_parts();
        // The body is read without its headers: they move here.
        let (method, query, headers) =
            (parts.method.clone(), parts.uri.query().map(str::to_string), std::mem::take(&mut parts.headers));
        let req = axum::extract::Request::from_parts(parts, body);
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        Ok(Request { method, query, headers, body })
    }
}

impl Request {
    /// A request made of a batch entry's method, query and body, with the
    /// batch's headers.
    pub fn entry(method: Method, query: &str, headers: &HeaderMap, body: Bytes) -> Request {
        Request { method, query: Some(query.to_string()), headers: headers.clone(), body }
    }
}

/// A request made ready for an operation: its parameters, its registry
/// (with its `tx-resource`s) and its languages.
pub struct Call {
    /// Query and body parameters, in order.
    pub params: Params,
    /// What the request sees: built-in systems and its `tx-resource`s.
    pub reg: Registry,
    /// The display languages asked for.
    pub langs: Languages,
}

/// The pairs of a query string, percent- and `+`-decoded.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// Parameters of a GET (query) or POST (`Parameters` body).
fn read_params(req: &Request) -> Result<Params, FhirError> {
    let mut params = Params::from_query(&query_pairs(req.query.as_deref()));
    if req.method == Method::POST && !req.body.is_empty() {
        let ctype =
            req.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/fhir+json");
        if !(ctype.contains("json")) {
            return Err(FhirError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Issue::error(
                    "not-supported",
                    format!("Content-Type {ctype} is not supported: send application/fhir+json or application/json"),
                ),
            ));
        }
        let v: Value = serde_json::from_slice(&req.body)
            .map_err(|e| FhirError::invalid(format!("the request body is not valid JSON: {e}")))?;
        let posted = Params::from_resource(&v).map_err(FhirError::invalid)?;
        for p in posted.items() {
            params.push(p.clone());
        }
    }
    Ok(params)
}

impl Call {
    /// Reads `req`'s parameters and makes its registry, bounded by `deadline`.
    pub fn new(state: &FhirState, req: &Request, deadline: std::time::Instant) -> Result<Call, FhirError> {
        Call::with_params(state, read_params(req)?, &req.headers, deadline)
    }

    /// A call with `params` already read (an entry of a batch validation).
    pub fn with_params(
        state: &FhirState,
        params: Params,
        headers: &HeaderMap,
        deadline: std::time::Instant,
    ) -> Result<Call, FhirError> {
        let snap = state.snapshot.load_full();
        let builtins = state.cache.builtins(&snap);
        let mut reg = Registry::new(snap, builtins);
        reg.deadline = Some(deadline);
        load_resources(&mut reg, &params)?;
        let header_lang = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let langs = Languages::new(params.str("displayLanguage"), header_lang);
        Ok(Call { params, reg, langs })
    }
}

/// The expansion options a request gives.
pub(super) fn options(params: &Params) -> Options {
    Options {
        active_only: params.bool("activeOnly").unwrap_or(false),
        force: params.strs("force-system-version"),
        default: params.strs("system-version").into_iter().chain(params.strs("default-to-version")).collect(),
        check: params.strs("check-system-version"),
        supplements: params.strs("useSupplement"),
        valueset_versions: params.strs("default-valueset-version"),
    }
}

/// The request's registry with its `tx-resource`s added; every
/// `useSupplement` must name a supplement the request brought.
fn load_resources(reg: &mut Registry, params: &Params) -> Result<(), FhirError> {
    for r in params.resources("tx-resource") {
        reg.add(r).map_err(FhirError::invalid)?;
    }
    for s in params.strs("useSupplement") {
        if reg.supplement(&s).is_none() {
            return Err(FhirError::not_found(format!("Required supplement not found: {s}"))
                .with_tx("not-found")
                .with_id(MessageId::ValuesetSupplementMissing));
        }
    }
    Ok(())
}

/// The value set the request names (`url` + `valueSetVersion`, or
/// `valueSet`); every supplement it requires (`valueset-supplement`) must
/// be one the request brought.
pub(super) fn requested_value_set(reg: &Registry, params: &Params) -> Result<Value, FhirError> {
    let vs = named_value_set(reg, params)?;
    for s in required_supplements(&vs) {
        if reg.supplement(&s).is_none() {
            return Err(FhirError::not_found(format!("Required supplement not found: {s}"))
                .with_tx("not-found")
                .with_id(MessageId::ValuesetSupplementMissing));
        }
    }
    Ok(vs)
}

/// The supplements a value set requires (`valueset-supplement`).
pub(super) fn required_supplements(vs: &Value) -> Vec<String> {
    vs["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/valueset-supplement")
        .filter_map(|e| e["valueCanonical"].as_str().or(e["valueUri"].as_str()))
        .map(str::to_string)
        .collect()
}

fn named_value_set(reg: &Registry, params: &Params) -> Result<Value, FhirError> {
    if let Some(vs) = params.object("valueSet") {
        return Ok(vs.clone());
    }
    let url = params.str("url").ok_or_else(|| FhirError::invalid("give the value set as url or valueSet"))?;
    let version = params.str("valueSetVersion");
    reg.value_set(&url, version.as_deref()).ok_or_else(|| {
        let shown = match &version {
            Some(v) => format!("{}|{v}", split_canonical(&url).0),
            None => url.clone(),
        };
        FhirError::not_found(format!("A definition for the value Set '{shown}' could not be found"))
            .with_tx("not-found")
            .with_id(MessageId::UnableToResolveValueSet)
    })
}

/// The code system `system` (at `version`), or the error a client expects.
pub(super) fn resolve_system(
    reg: &Registry,
    system: &str,
    version: Option<&str>,
) -> Result<Arc<CodeSystem>, FhirError> {
    reg.code_system(system, version).map_err(|m| match m {
        Missing::System => FhirError::not_found(format!("A definition for CodeSystem '{system}' could not be found"))
            .with_tx("not-found")
            .with_id(MessageId::UnknownCodesystem),
        Missing::Version(known) => FhirError::not_found(format!(
            "A definition for CodeSystem '{system}' version '{}' could not be found. Valid versions: {}",
            version.unwrap_or_default(),
            known.join(" or ")
        ))
        .with_tx("not-found")
        .with_id(MessageId::UnknownCodesystemVersion),
    })
}
