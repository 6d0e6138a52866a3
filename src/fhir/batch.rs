//! Many validations in one request: `ValueSet/$batch-validate-code` (each
//! `validation` parameter one `$validate-code`) and a `batch` Bundle posted
//! to `/fhir` (each entry one operation of the table, answered in order).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use super::call::{Call, Request};
use super::outcome::{self, FhirError, Issue};
use super::params::{Out, Params};
use super::{FhirResult, FhirState, ok, operations, validate_code};

/// Most entries of a `batch` Bundle, and most `validation`s of one
/// `$batch-validate-code`.
pub const MAX_BATCH_ENTRIES: usize = 1000;

fn too_many(n: usize, what: &str) -> FhirError {
    FhirError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Issue::error("too-costly", format!("{n} {what} in one request; at most {MAX_BATCH_ENTRIES}: split the batch")),
    )
}

/// `ValueSet/$batch-validate-code`: each `validation` parameter is one
/// `$validate-code` request; the other parameters apply to all of them.
pub fn validate_codes(call: &Call) -> Result<Value, FhirError> {
    let shared: Vec<&Value> =
        call.params.items().iter().filter(|p| p["name"] != "validation" && p["name"] != "tx-resource").collect();
    let validations: Vec<&Value> = call.params.resources("validation").collect();
    if validations.len() > MAX_BATCH_ENTRIES {
        return Err(too_many(validations.len(), "validations"));
    }
    let mut out = Out::new();
    for v in validations {
        let mut one = Params::from_resource(v).unwrap_or_default();
        let own: Vec<String> = one.items().iter().filter_map(|p| p["name"].as_str().map(str::to_string)).collect();
        for p in &shared {
            if !own.iter().any(|n| Some(n.as_str()) == p["name"].as_str()) {
                one.push((*p).clone());
            }
        }
        let result = validate_code::validate_code(&call.reg, &one, &call.langs, true)
            .unwrap_or_else(|e| outcome::outcome(&e.issues));
        out.resource("validation", result);
    }
    Ok(out.build())
}

/// `POST /fhir` with a `batch` Bundle of operation requests.
pub async fn bundle(State(s): State<FhirState>, h: HeaderMap, body: Bytes) -> FhirResult {
    super::off_thread(&s.clone(), move |deadline| entries(&s, &h, &body, deadline)).await
}

fn entries(s: &FhirState, h: &HeaderMap, body: &Bytes, deadline: std::time::Instant) -> FhirResult {
    let bundle: Value = serde_json::from_slice(body)
        .map_err(|e| FhirError::invalid(format!("the request body is not valid JSON: {e}")))?;
    if bundle["resourceType"] != "Bundle" || bundle["type"] != "batch" {
        return Err(FhirError::invalid("POST /fhir takes a Bundle of type batch"));
    }
    let list = bundle["entry"].as_array().map(Vec::as_slice).unwrap_or_default();
    if list.len() > MAX_BATCH_ENTRIES {
        return Err(too_many(list.len(), "entries"));
    }
    let mut entries = Vec::new();
    for e in list {
        let url = e["request"]["url"].as_str().unwrap_or_default();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let method = if e["request"]["method"] == "GET" { Method::GET } else { Method::POST };
        let body = match e.get("resource") {
            Some(r) => Bytes::from(r.to_string()),
            None => Bytes::new(),
        };
        let result = match operations::find(path) {
            Some(op) => {
                Call::new(s, &Request::entry(method, query, h, body), deadline).and_then(|call| (op.run)(&call))
            }
            None => Err(FhirError::invalid(format!(
                "a batch entry cannot call '{path}': use an operation URL such as ValueSet/$validate-code"
            ))),
        };
        entries.push(match result {
            Ok(v) => json!({"resource": v, "response": {"status": "200 OK"}}),
            Err(e) => json!({"resource": outcome::outcome(&e.issues), "response": {"status": e.status.to_string()}}),
        });
    }
    ok(json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries}))
}
