//! Resources read and searched as such: `metadata` (the
//! `CapabilityStatement`, or `TerminologyCapabilities` with
//! `mode=terminology`), the `CodeSystem` of each built-in system, the
//! implicit `ValueSet` of each, the `ConceptMap` of each correspondence
//! table.

use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::call::query_pairs;
use super::outcome::FhirError;
use super::registry::Registry;
use super::{FhirResult, FhirState, off_thread, ok, resources};

/// `GET /fhir/metadata`.
pub async fn metadata(State(state): State<FhirState>, RawQuery(q): RawQuery) -> FhirResult {
    off_thread(&state.clone(), move |_| {
        let snap = state.snapshot.load_full();
        let pairs = query_pairs(q.as_deref());
        if pairs.iter().any(|(k, v)| k == "mode" && v == "terminology") {
            let b = state.cache.builtins(&snap);
            return ok(resources::terminology_capabilities(&snap, &b));
        }
        ok(resources::capability_statement(&snap))
    })
    .await
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

/// The resource of `list` whose id is `id`, or a 404 naming where they are listed.
fn read(list: Vec<Value>, kind: &str, id: &str) -> FhirResult {
    list.into_iter().find(|r| r["id"].as_str() == Some(id)).map(ok).unwrap_or_else(|| {
        Err(FhirError::not_found(format!("{kind}/{id} does not exist; GET /fhir/{kind} lists them")))
    })
}

fn code_systems(s: &FhirState) -> Vec<Value> {
    let snap = s.snapshot.load_full();
    s.cache.builtins(&snap).systems.iter().map(|c| c.resource.clone()).collect()
}

/// `GET /fhir/CodeSystem`.
pub async fn code_system_search(State(s): State<FhirState>, RawQuery(q): RawQuery) -> FhirResult {
    off_thread(&s.clone(), move |_| {
        // A system's former URN finds it too.
        let snap = s.snapshot.load_full();
        let builtins = s.cache.builtins(&snap);
        let pairs: Vec<(String, String)> = query_pairs(q.as_deref())
            .into_iter()
            .map(|(k, v)| if k == "url" { (k, builtins.resolve(&v).to_string()) } else { (k, v) })
            .collect();
        ok(bundle(code_systems(&s).into_iter().filter(|r| matches_search(r, &pairs)).collect()))
    })
    .await
}

/// `GET /fhir/CodeSystem/{id}`.
pub async fn code_system_read(State(s): State<FhirState>, Path(id): Path<String>) -> FhirResult {
    off_thread(&s.clone(), move |_| read(code_systems(&s), "CodeSystem", &id)).await
}

/// The implicit value set of each built-in system (`{url}?fhir_vs`).
fn implicit_value_sets(s: &FhirState) -> Vec<Value> {
    let snap = s.snapshot.load_full();
    let b = s.cache.builtins(&snap);
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

/// `GET /fhir/ValueSet`.
pub async fn value_set_search(State(s): State<FhirState>, RawQuery(q): RawQuery) -> FhirResult {
    off_thread(&s.clone(), move |_| {
        let pairs = query_pairs(q.as_deref());
        ok(bundle(implicit_value_sets(&s).into_iter().filter(|r| matches_search(r, &pairs)).collect()))
    })
    .await
}

/// `GET /fhir/ValueSet/{id}`.
pub async fn value_set_read(State(s): State<FhirState>, Path(id): Path<String>) -> FhirResult {
    off_thread(&s.clone(), move |_| read(implicit_value_sets(&s), "ValueSet", &id)).await
}

/// `GET /fhir/ConceptMap`.
pub async fn concept_map_search(State(s): State<FhirState>, RawQuery(q): RawQuery) -> FhirResult {
    let pairs = query_pairs(q.as_deref());
    let snap = s.snapshot.load_full();
    ok(bundle(resources::concept_maps(&snap).into_iter().filter(|r| matches_search(r, &pairs)).collect()))
}

/// `GET /fhir/ConceptMap/{id}`.
pub async fn concept_map_read(State(s): State<FhirState>, Path(id): Path<String>) -> FhirResult {
    let snap = s.snapshot.load_full();
    read(resources::concept_maps(&snap), "ConceptMap", &id)
}
