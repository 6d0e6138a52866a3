//! The fast offline tier: a project of committed data only (the official
//! files of `data/official/`, the curated thesauri, the samples of
//! `tests/fixtures/` declared by `tests/fixtures/offline/sources.toml`),
//! built into a snapshot in a temporary folder, and the engine, the FHIR
//! operations and the API tested on it through `tower::ServiceExt::oneshot`
//! (no socket, no network). Every FHIR operation of the table and every
//! route of the OpenAPI document is called at least once (checked).
//!
//! Run alone: `cargo test --release --lib --test offline`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use harmonie::api::{self, AppState, ServerConfig};
use harmonie::index::{self, Snapshot};
use harmonie::paths::Paths;
use harmonie::search::{SearchRequest, search};
use harmonie::sources::SourcesFile;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The offline project: its folder (kept while the tests run) and snapshot.
struct Project {
    dir: tempfile::TempDir,
    snap: Arc<Snapshot>,
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Lays out the offline project in `root`: its sources file, the samples
/// in `data/local/` (PCS 2003's SQLite made from its SQL), the official and
/// curated files it names.
fn lay_out(root: &Path) {
    let root_src = Path::new(ROOT);
    let fixtures = root_src.join("tests/fixtures");
    copy(&fixtures.join("offline/sources.toml"), &root.join("data/sources.toml"));
    for f in ["lexicon.tsv", "cim10-blocks.toml", "naf2008-naf2025.csv"] {
        copy(&fixtures.join("offline").join(f), &root.join("data/local").join(f));
    }
    for f in [
        "naf_db.json",
        "cim10_sample.csv",
        "disease_categories.xml",
        "fr.po",
        "codesystem_sample.json",
        "table_NAF1-NAF2.xls",
    ] {
        copy(&fixtures.join(f), &root.join("data/local").join(f));
    }
    let db = rusqlite::Connection::open(root.join("data/local/PCS.db")).unwrap();
    db.execute_batch(&std::fs::read_to_string(fixtures.join("pcs_sample.sql")).unwrap()).unwrap();
    copy(&root_src.join("data/official"), &root.join("data/official"));
    for f in ["sst-examens.csv", "sst-examens-ccam.csv"] {
        copy(&root_src.join("data/curated").join(f), &root.join("data/curated").join(f));
    }
}

fn project() -> &'static Project {
    static P: OnceLock<Project> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        lay_out(dir.path());
        let paths = Paths::new(dir.path());
        let sources = SourcesFile::read(&paths.sources).unwrap();
        let built = index::build(&paths, &sources, false).expect("build the offline snapshot");
        let snap = Arc::new(Snapshot::open(&built.dir).unwrap());
        index::mark_current(&paths, &snap.manifest.id).unwrap();
        Project { dir, snap }
    })
}

fn snap() -> Arc<Snapshot> {
    project().snap.clone()
}

fn system(name: &str) -> usize {
    snap().resolve_system(name).unwrap()
}

/// The codes of the first `n` hits of `q` in `system`.
fn top(system_name: &str, q: &str, n: usize) -> Vec<String> {
    let snap = snap();
    let req = SearchRequest { q, system: Some(system(system_name)), limit: n, ..Default::default() };
    search(&snap, &req).unwrap().into_iter().map(|h| snap.concept(h.concept).code.clone()).collect()
}

// ------------------------------------------------------------------ engine

#[test]
fn the_engine_finds_codes_labels_typos_and_lexicon_words() {
    assert_eq!(top("naf-2025", "10.71", 1), ["10.71"]);
    assert_eq!(top("naf-2025", "1071h", 1), ["10.71H"]);
    assert_eq!(top("pcs-2020", "aides-soignants", 1), ["52C1"]);
    assert!(top("ccam", "audiometrie tonale", 5).iter().any(|c| c.starts_with("CDQP")));
    // A typo, a family rule of the lexicon, a synonym, an earlier title.
    assert!(top("naf-2025", "boulangrie", 3).iter().any(|c| c.starts_with("10.71")));
    assert_eq!(top("cim-10", "cancer de l'estomac", 1), ["C16"]);
    assert_eq!(top("cim-10", "lombalgie", 1), ["M54.5"]);
    assert_eq!(top("cim-10", "sida", 1), ["B24"]);
    assert_eq!(top("naf-2008", "boulanger", 1), ["10.71C"]);
}

#[test]
fn the_memo_of_costly_searches_answers_as_the_engine_does() {
    let snap = snap();
    let cache = harmonie::search::SearchCache::new();
    let codes = |hits: &[harmonie::search::Hit]| -> Vec<String> {
        hits.iter().map(|h| format!("{}/{:?}", snap.concept(h.concept).code, h.kind)).collect()
    };
    let ccam = system("ccam");
    let mut requests = Vec::new();
    for q in ["a", "ab", "ex", "ra", "c", "abla", "radiographie", "zzzz", "16"] {
        for system in [Some(ccam), None] {
            for limit in [1, 8, 100] {
                requests.push(SearchRequest { q, system, limit, ..Default::default() });
                requests.push(SearchRequest {
                    q,
                    system,
                    limit,
                    level: Some("1"),
                    level_only: true,
                    ..Default::default()
                });
            }
        }
    }
    // Twice: searched, then (for the costly ones) from the memo.
    for round in 0..2 {
        for req in &requests {
            let direct = search(&snap, req).unwrap();
            let memo = cache.search(&snap, req).unwrap();
            assert_eq!(codes(&memo), codes(&direct), "{:?} {:?} {} (round {round})", req.q, req.system, req.limit);
        }
    }
    let kept = cache.len();
    assert!(kept > 0 && kept < requests.len(), "only the costly searches are kept: {kept}");

    // Rendered answers: every short search is kept, each rendering apart.
    let render = |explain: bool| {
        let codes = &codes;
        move |hits: &[harmonie::search::Hit]| Ok(bytes::Bytes::from(format!("{explain}:{}", codes(hits).join(","))))
    };
    for round in 0..2 {
        for req in &requests {
            let direct = codes(&search(&snap, req).unwrap()).join(",");
            for explain in [false, true] {
                let body = cache.rendered(&snap, req, explain, render(explain)).unwrap();
                assert_eq!(body, format!("{explain}:{direct}").as_bytes(), "{:?} (round {round})", req.q);
            }
        }
    }
    assert_eq!(cache.rendered_len(), 2 * requests.len(), "every short search is kept, once per rendering");

    // Another snapshot (the same files in another folder) empties the memo.
    let other = tempfile::tempdir().unwrap();
    copy(&snap.dir, other.path());
    let other = Snapshot::open(other.path()).unwrap();
    let req = SearchRequest { q: "ra", system: Some(ccam), limit: 8, ..Default::default() };
    let hits = cache.search(&other, &req).unwrap();
    assert_eq!(hits.len(), search(&other, &req).unwrap().len());
    assert_eq!(cache.len(), 1, "the memo holds only the new snapshot's searches");
    cache.rendered(&other, &req, false, render(false)).unwrap();
    assert_eq!(cache.rendered_len(), 1, "the rendered answers of the old snapshot are gone");
}

#[test]
fn the_fhir_form_of_a_system_holds_each_repeated_value_once() {
    // The FHIR form of the built-in systems (built on the first FHIR
    // request) shares a designation's use and a property's value between
    // the concepts that carry the same one: one allocation each.
    let snap = snap();
    let (mut values, mut designations) = (0, 0);
    for s in 0..snap.systems.len() {
        let cs = harmonie::fhir::cs::CodeSystem::from_snapshot(&snap, s);
        let mut by_text: std::collections::HashMap<String, *const Value> = Default::default();
        let uses = cs.concepts.iter().flat_map(|c| c.designations.iter().filter_map(|d| d.usage.as_ref()));
        for v in cs.concepts.iter().flat_map(|c| c.properties.iter().map(|(_, v)| v)).chain(uses) {
            let first = *by_text.entry(v.to_string()).or_insert(Arc::as_ptr(v));
            assert_eq!(first, Arc::as_ptr(v), "{} holds {v} twice", cs.url);
            values += 1;
        }
        designations += cs.concepts.iter().map(|c| c.designations.len()).sum::<usize>();
        let levels = cs.concepts.iter().filter(|c| c.property("level").next().is_some()).count();
        assert_eq!(levels, cs.concepts.len(), "every concept of {} has its level", cs.url);
    }
    assert!(values > 1_000 && designations > 100, "{values} values, {designations} designations");
}

#[test]
fn family_names_follow_the_date_and_retired_codes_have_replacements() {
    let snap = snap();
    assert_eq!(snap.systems[snap.resolve_system_as_of("naf", "2026-06-01").unwrap()].id, "naf-2008");
    assert_eq!(snap.systems[snap.resolve_system_as_of("naf", "2027-01-01").unwrap()].id, "naf-2025");
    let s = system("naf-2008");
    assert!(snap.is_retired_on(s, "2027-01-01"));
    let old = snap.lookup(s, "47.52B").unwrap();
    let new: Vec<&str> = snap.replacements(old).iter().map(|(r, _)| snap.concept(*r).code.as_str()).collect();
    assert_eq!(new, ["47.52H", "47.92J"]);
    let err = snap.resolve_system("nafx").unwrap_err().to_string();
    assert!(err.contains("unknown system") && err.contains("naf-2025"), "{err}");
}

#[test]
fn validation_rollup_and_recoding_keep_every_row() {
    let snap = snap();
    let item = harmonie::validate::Item { system: "naf-2025".into(), code: "1071h".into(), as_of: None };
    let v = harmonie::validate::validate(&snap, &item);
    assert!(v.valid, "{v:?}");
    assert_eq!(v.code.as_deref(), Some("10.71H"));
    let s = system("naf-2025");
    let level = snap.resolve_level(s, "section").unwrap();
    assert!(snap.resolve_level(s, "étage").unwrap_err().to_string().contains("sous-classe"));
    let items = vec![
        harmonie::rollup::Item { code: "10.71H".into(), count: 2 },
        harmonie::rollup::Item { code: "10.72Y".into(), count: 3 },
    ];
    let result = harmonie::rollup::rollup(&snap, s, level, items).unwrap();
    assert_eq!(serde_json::to_value(&result).unwrap()["groups"][0]["count"], 5);

    // Recoding: one output row per input row, in order, bad rows included.
    let input = "code;libelle\n10.71C;Boulangerie\n99.99Z;inconnu\n;Boulangerie et boulangerie-pâtisserie\n1071c;\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.csv");
    std::fs::write(&path, input).unwrap();
    let table = harmonie::table::TableReader::open(&path, harmonie::table::CsvOptions::user(None)).unwrap();
    let opts = harmonie::recode::pipeline::Options {
        system: "naf-2025".into(),
        code_col: Some("code".into()),
        label_col: Some("libelle".into()),
        text_cols: Vec::new(),
        threshold: harmonie::recode::DEFAULT_THRESHOLD,
    };
    let job = harmonie::recode::pipeline::Job::new(&snap, table, &opts).unwrap();
    let mut out = Vec::new();
    let summary = harmonie::recode::pipeline::to_csv(job, &mut out, |_| {});
    assert_eq!(summary.rows, 4);
    assert!(summary.error.is_none(), "{:?}", summary.error);
    let written =
        harmonie::table::TableReader::from_reader(std::io::Cursor::new(out), harmonie::table::CsvOptions::user(None))
            .unwrap();
    let firsts: Vec<String> = written.map(|row| row.unwrap().fields[0].clone()).collect();
    assert_eq!(firsts, ["10.71C", "99.99Z", "", "1071c"]);
}

// ------------------------------------------------------------------ API

fn config() -> ServerConfig {
    let mut c = ServerConfig::new(Paths::new(project().dir.path()));
    c.admin_token = Some("offline-token".into());
    c
}

fn app() -> api::App {
    let state = AppState::shared(snap(), config());
    let routes = api::routes(&state.config);
    api::app(state, routes)
}

/// One request through the whole stack (layers included), without a socket.
async fn call(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, "Bearer offline-token");
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    let resp = app().oneshot(req.body(body.into()).unwrap()).await.unwrap();
    let status = resp.status();
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ctype, bytes)
}

async fn get_json(uri: &str) -> Value {
    let (status, _, body) = call(Method::GET, uri, None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

async fn post_json(uri: &str, ctype: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, bytes) = call(Method::POST, uri, Some(ctype), body.to_string()).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Calls every route of the OpenAPI document and of the web pages, checks
/// each answer, and fails when the document lists a route this test does
/// not call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_answers_on_the_offline_snapshot() {
    let mut called: Vec<&str> = Vec::new();

    called.push("/healthz");
    assert_eq!(call(Method::GET, "/healthz", None, Body::empty()).await.0, StatusCode::OK);
    called.push("/readyz");
    assert_eq!(call(Method::GET, "/readyz", None, Body::empty()).await.0, StatusCode::OK);
    called.push("/metrics");
    let (status, _, body) = call(Method::GET, "/metrics", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("# TYPE"));
    called.push("/openapi.json");
    let doc = get_json("/openapi.json").await;
    assert_eq!(doc["externalDocs"]["url"], "/fhir/metadata", "the document leads to the FHIR API");

    called.push("/v1/systems");
    let systems = get_json("/v1/systems").await;
    assert!(systems.to_string().contains("naf-2025") && systems.to_string().contains("ccam"));

    called.push("/v1/search");
    let found = get_json("/v1/search?q=cancer%20estomac&system=cim10").await;
    assert_eq!(found["results"][0]["code"], "C16", "{found}");
    let (status, _, _) = call(Method::GET, "/v1/search?q=x&system=nope", None, Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    called.push("/v1/systems/{system}/concepts/{code}");
    let c = get_json("/v1/systems/naf-2008/concepts/47.52B?as_of=2027-01-01").await;
    assert_eq!(c["status"], "retired", "{c}");
    called.push("/v1/systems/{system}/concepts/{code}/descendants");
    let d = get_json("/v1/systems/naf-2025/concepts/10.7/descendants").await;
    assert!(d.to_string().contains("10.71H"), "{d}");
    called.push("/v1/systems/{system}/concepts");
    let (status, ctype, body) =
        call(Method::GET, "/v1/systems/sst-examens/concepts?format=csv", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.contains("csv") || ctype.contains("json"), "{ctype}");
    assert!(!body.is_empty());

    called.push("/v1/validate");
    let (status, v) = post_json(
        "/v1/validate",
        "application/json",
        json!({"items": [{"system": "naf-2025", "code": "1071h"}, {"system": "nafx", "code": "1"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["summary"]["active"], 1, "{v}");
    assert_eq!(v["summary"]["unknown_system"], 1, "{v}");
    called.push("/v1/rollup");
    let (status, r) = post_json(
        "/v1/rollup",
        "application/json",
        json!({"system": "naf-2025", "level": "section", "items": [{"code": "10.71H", "count": 4}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");

    called.push("/v1/recode");
    let (status, _, body) = call(
        Method::POST,
        "/v1/recode?system=naf-2025&code_col=code",
        Some("text/csv"),
        "code\n10.71C\n\u{e9}\u{e9}\n47.52B\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");

    called.push("/admin/reload");
    let (status, r) = post_json("/admin/reload", "application/json", json!({})).await;
    assert!(status.is_success(), "{status} {r}");

    // Every route of the document was called.
    let listed: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    for path in &listed {
        assert!(called.contains(&path.as_str()), "the OpenAPI document lists {path}, which this test does not call");
    }

    // The web pages.
    for (uri, needle) in [
        ("/", "harmonie-autocomplete"),
        ("/?q=boulangerie&system=naf-2025", "10.71"),
        ("/systemes", "naf-2025"),
        ("/systemes/sst-examens", "examen"),
        ("/systemes/naf-2025/10.71H", "Fabrication de pain"),
        ("/recodage", "recod"),
        ("/composant", "harmonie-autocomplete"),
    ] {
        let (status, ctype, body) = call(Method::GET, uri, None, Body::empty()).await;
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(ctype.starts_with("text/html"), "{uri}: {ctype}");
        assert!(text.contains(needle), "{uri} lacks {needle}");
    }
    let (status, _, body) = call(Method::GET, "/systemes/nafx", None, Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("Nomenclature inconnue"));
}

// ------------------------------------------------------------------ FHIR

/// A request for each operation of the table, with what its answer must hold.
fn fhir_requests() -> Vec<(&'static str, Method, String, Value, &'static str)> {
    let naf = "urn:harmonie:cs:naf-2025";
    vec![
        ("CodeSystem/$lookup", Method::GET, format!("system={naf}&code=10.71H"), Value::Null, "Fabrication de pain"),
        (
            "CodeSystem/$validate-code",
            Method::GET,
            format!("url={naf}&code=10.71H"),
            Value::Null,
            "\"valueBoolean\":true",
        ),
        (
            "CodeSystem/$subsumes",
            Method::GET,
            format!("system={naf}&codeA=10.7&codeB=10.71H"),
            Value::Null,
            "\"subsumes\"",
        ),
        (
            "ValueSet/$expand",
            Method::GET,
            format!("url={naf}?fhir_vs&filter=boulangerie&count=5"),
            Value::Null,
            "10.71",
        ),
        (
            "ValueSet/$validate-code",
            Method::POST,
            String::new(),
            json!({"resourceType": "Parameters", "parameter": [
                {"name": "url", "valueUri": format!("{naf}?fhir_vs")},
                {"name": "coding", "valueCoding": {"system": naf, "code": "99.99Z"}}
            ]}),
            "\"valueBoolean\":false",
        ),
        (
            "ValueSet/$batch-validate-code",
            Method::POST,
            String::new(),
            json!({"resourceType": "Parameters", "parameter": [
                {"name": "url", "valueUri": format!("{naf}?fhir_vs")},
                {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": [
                    {"name": "coding", "valueCoding": {"system": naf, "code": "10.71H"}}]}},
                {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": [
                    {"name": "coding", "valueCoding": {"system": naf, "code": "00.00X"}}]}}
            ]}),
            "\"validation\"",
        ),
        (
            "ConceptMap/$translate",
            Method::GET,
            "system=urn:harmonie:cs:naf-2008&code=47.52B&targetsystem=urn:harmonie:cs:naf-2025".to_string(),
            Value::Null,
            "47.52H",
        ),
        ("$versions", Method::GET, String::new(), Value::Null, "4.0"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fhir_operation_answers_on_the_offline_snapshot() {
    let requests = fhir_requests();
    for op in harmonie::fhir::operations::OPERATIONS {
        let path = op.paths().next().unwrap();
        assert!(requests.iter().any(|r| r.0 == path), "no offline test calls {path}");
    }
    for (path, method, query, body, needle) in requests {
        let uri = format!("/fhir/{path}?{query}");
        let (status, ctype, bytes) = if method == Method::GET {
            call(Method::GET, &uri, None, Body::empty()).await
        } else {
            call(Method::POST, &uri, Some("application/fhir+json"), body.to_string()).await
        };
        let text = String::from_utf8_lossy(&bytes).replace(": ", ":");
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        assert_eq!(ctype, "application/fhir+json", "{path}");
        assert!(text.contains(needle), "{path}: {needle} not in {text}");
    }
    // The batch-validate alias of earlier releases still answers.
    let (status, _) = post_json(
        "/fhir/ValueSet/$batch-validate",
        "application/fhir+json",
        json!({"resourceType": "Parameters", "parameter": []}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_resources_metadata_batches_and_request_resources() {
    let cap = get_json("/fhir/metadata").await;
    let advertised: Vec<String> = cap["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let t = r["type"].as_str().unwrap().to_string();
            r["operation"].as_array().unwrap().iter().map(move |o| format!("{t}/${}", o["name"].as_str().unwrap()))
        })
        .chain(
            cap["rest"][0]["operation"].as_array().unwrap().iter().map(|o| format!("${}", o["name"].as_str().unwrap())),
        )
        .collect();
    let served: Vec<String> =
        harmonie::fhir::operations::OPERATIONS.iter().map(|o| o.paths().next().unwrap()).collect();
    assert_eq!(advertised, served, "the CapabilityStatement advertises what is served");
    assert!(get_json("/fhir/metadata?mode=terminology").await["resourceType"] == "TerminologyCapabilities");

    let list = get_json("/fhir/CodeSystem?url=urn:harmonie:cs:ccam").await;
    assert_eq!(list["total"], 1, "{list}");
    let id = list["entry"][0]["resource"]["id"].as_str().unwrap().to_string();
    assert_eq!(get_json(&format!("/fhir/CodeSystem/{id}")).await["url"], "urn:harmonie:cs:ccam");
    let vs = get_json("/fhir/ValueSet").await;
    let vs_id = vs["entry"][0]["resource"]["id"].as_str().unwrap().to_string();
    assert_eq!(get_json(&format!("/fhir/ValueSet/{vs_id}")).await["resourceType"], "ValueSet");
    let maps = get_json("/fhir/ConceptMap").await;
    assert_eq!(maps["total"], 3, "{maps}");
    let map_id = maps["entry"][0]["resource"]["id"].as_str().unwrap().to_string();
    assert_eq!(get_json(&format!("/fhir/ConceptMap/{map_id}")).await["resourceType"], "ConceptMap");
    let (status, _, body) = call(Method::GET, "/fhir/CodeSystem/nope", None, Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("OperationOutcome"));

    // A batch Bundle: each entry answered in order, a bad one with its outcome.
    let (status, b) = post_json(
        "/fhir",
        "application/fhir+json",
        json!({"resourceType": "Bundle", "type": "batch", "entry": [
            {"request": {"method": "GET", "url": "CodeSystem/$lookup?system=urn:harmonie:cs:sst-examens&code=HAR-E01"}},
            {"request": {"method": "GET", "url": "Patient/1"}}
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["entry"].as_array().unwrap().len(), 2);
    assert_eq!(b["entry"][1]["response"]["status"].as_str().unwrap(), "400 Bad Request");

    // A code system brought by the request (tx-resource), used for it only.
    let (status, v) = post_json(
        "/fhir/CodeSystem/$validate-code",
        "application/fhir+json",
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "url", "valueUri": "http://example.org/cs"},
            {"name": "code", "valueCode": "a"},
            {"name": "tx-resource", "resource": {"resourceType": "CodeSystem", "url": "http://example.org/cs",
                "version": "1", "status": "active", "content": "complete",
                "concept": [{"code": "a", "display": "A"}]}}
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v.to_string().contains("\"valueBoolean\":true"), "{v}");
    let (status, _) = post_json(
        "/fhir/CodeSystem/$lookup",
        "application/fhir+json",
        json!({"resourceType": "Parameters", "parameter": [
            {"name": "system", "valueUri": "http://example.org/cs"}, {"name": "code", "valueCode": "a"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the request's code system is not kept");

    // A hierarchy 20,000 levels deep, brought by the request: the expansion
    // nests it to a bounded depth and keeps every code once.
    let n = 20_000;
    let concepts: Vec<Value> = (0..n)
        .map(|i| match i {
            0 => json!({"code": "c0"}),
            _ => json!({"code": format!("c{i}"), "property": [{"code": "parent", "valueCode": format!("c{}", i - 1)}]}),
        })
        .collect();
    // The chain's first `len` codes expanded, paged by `count` or not.
    let expand_chain = |len: usize, count: Option<usize>| {
        let mut parameter = vec![
            json!({"name": "valueSet", "resource": {"resourceType": "ValueSet", "url": "http://example.org/vs",
                "compose": {"include": [{"system": "http://example.org/deep"}]}}}),
            json!({"name": "tx-resource", "resource": {"resourceType": "CodeSystem", "url": "http://example.org/deep",
                "status": "active", "content": "complete", "concept": concepts[..len].to_vec()}}),
        ];
        parameter.extend(count.map(|c| json!({"name": "count", "valueInteger": c})));
        post_json(
            "/fhir/ValueSet/$expand",
            "application/fhir+json",
            json!({"resourceType": "Parameters", "parameter": parameter}),
        )
    };
    // Paged: flat, every code.
    let (status, v) = expand_chain(n, Some(n)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let page = v["expansion"]["contains"].as_array().unwrap();
    assert!(page.len() == n && page.iter().all(|c| c.get("contains").is_none()));
    let (status, v) = expand_chain(1_000, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    fn walk(list: &Value, depth: usize, codes: &mut Vec<String>, deepest: &mut usize) {
        for c in list.as_array().into_iter().flatten() {
            codes.push(c["code"].as_str().unwrap().to_string());
            *deepest = (*deepest).max(depth);
            walk(&c["contains"], depth + 1, codes, deepest);
        }
    }
    let (mut codes, mut deepest) = (Vec::new(), 0);
    walk(&v["expansion"]["contains"], 1, &mut codes, &mut deepest);
    let count = codes.len();
    codes.sort();
    codes.dedup();
    assert_eq!((count, codes.len()), (1_000, 1_000), "every code once");
    assert!(deepest <= harmonie::fhir::expand::MAX_NESTING, "nested {deepest} deep");
}
