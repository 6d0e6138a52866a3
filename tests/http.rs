//! The v1 API over real HTTP, on the real default data.

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;

use harmonie::api::{self, AppState};
use serde_json::Value;

/// Starts one server for this test binary, on an ephemeral loopback port.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let snap = common::snapshot();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let state = AppState { snapshot: std::sync::Arc::new(arc_swap::ArcSwap::new(snap)) };
                api::serve(listener, state).await.unwrap();
            });
        });
        rx.recv().unwrap()
    })
}

/// GET a path; returns status, content type and parsed JSON body.
fn get(path: &str) -> (u16, String, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent.get(&format!("http://{}{path}", server())).call().unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = resp.body_mut().read_to_string().unwrap();
    (status, ctype, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn codes(v: &Value) -> Vec<String> {
    v["results"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn healthz_names_the_snapshot() {
    let (status, _, body) = get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["snapshot"].as_str().unwrap().len(), 16);
}

#[test]
fn systems_list_counts_per_level() {
    let (status, ctype, body) = get("/v1/systems");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/json"));
    let by_id = |id: &str| body.as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    let naf = by_id("naf-2008");
    assert_eq!(naf["concept_count"], 1728);
    assert_eq!(naf["levels"][4]["name"], "sous-classe");
    assert_eq!(naf["levels"][4]["count"], 732);
    assert_eq!(by_id("pcs-2003")["concept_count"], 571);
    let cim = by_id("cim-10");
    let codes: u64 = cim["levels"].as_array().unwrap()[2..].iter().map(|l| l["count"].as_u64().unwrap()).sum();
    assert_eq!(codes, 42_886);
    for s in body.as_array().unwrap() {
        for field in ["title", "version", "licence", "attribution", "url"] {
            assert!(!s[field].as_str().unwrap().is_empty(), "{} has no {field}", s["id"]);
        }
    }
}

#[test]
fn search_returns_the_documented_shape() {
    let (status, _, body) = get("/v1/search?q=boulang&system=naf&limit=3&explain=true");
    assert_eq!(status, 200);
    assert_eq!(body["query"], "boulang");
    let results = body["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 3);
    let first = &results[0];
    assert_eq!(first["system"], "naf-2008");
    assert_eq!(first["code"], "10.71C");
    assert_eq!(first["level"], "sous-classe");
    let ancestors: Vec<&str> =
        first["ancestors"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(ancestors, ["C", "10", "10.7", "10.71"]);
    assert_eq!(first["matched"][0]["how"], "prefix");
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert!(body["took_us"].as_u64().is_some());
}

#[test]
fn aliases_and_ids_are_both_accepted() {
    for system in ["naf", "naf-2008", "NAF"] {
        let (status, _, body) = get(&format!("/v1/search?q=1071c&system={system}"));
        assert_eq!(status, 200, "{system}");
        assert_eq!(codes(&body)[0], "10.71C");
    }
    let (_, _, body) = get("/v1/search?q=M545&system=cim10");
    assert_eq!(codes(&body)[0], "M54.5");
    let (_, _, body) = get("/v1/search?q=526A&system=pcs");
    assert_eq!(codes(&body)[0], "526a");
}

#[test]
fn search_without_system_spans_all_systems() {
    let (_, _, body) = get("/v1/search?q=boulangers&limit=10");
    let systems: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["system"].as_str().unwrap()).collect();
    assert!(systems.contains(&"pcs-2003") && systems.contains(&"naf-2008"), "{systems:?}");
}

#[test]
fn concept_lookup_accepts_any_spelling() {
    let (status, _, body) = get("/v1/systems/naf/concepts/1071c");
    assert_eq!(status, 200);
    assert_eq!(body["code"], "10.71C");
    assert_eq!(body["parent"]["code"], "10.71");
    let (_, _, body) = get("/v1/systems/cim10/concepts/m54.5");
    assert_eq!(body["code"], "M54.5");
    assert!(body["children"].as_array().unwrap().len() >= 4);
}

#[test]
fn errors_are_problem_json_with_a_detail() {
    let cases = [
        ("/v1/search?q=x&system=nope", 404),
        ("/v1/search?q=x&limit=0", 400),
        ("/v1/search?q=x&limit=abc", 400),
        ("/v1/search?q=x&limit=100000", 400),
        ("/v1/systems/naf/concepts/99.99Z", 404),
        ("/v1/systems/naf/concepts/not-a-code", 400),
        ("/v1/nothing-here", 404),
        ("/v1/search?q=x&explain=maybe", 400),
    ];
    for (path, expected) in cases {
        let (status, ctype, body) = get(path);
        assert_eq!(status, expected, "{path}");
        assert_eq!(ctype, "application/problem+json", "{path}");
        assert_eq!(body["status"], expected, "{path}");
        assert!(!body["detail"].as_str().unwrap().is_empty(), "{path}");
        assert!(body["type"].as_str().unwrap().starts_with("urn:harmonie:problem:"), "{path}");
    }
    let long = "a".repeat(301);
    let (status, ctype, _) = get(&format!("/v1/search?q={long}"));
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"));
}

#[test]
fn empty_query_gives_no_results() {
    let (status, _, body) = get("/v1/search?q=&system=naf");
    assert_eq!(status, 200);
    assert!(codes(&body).is_empty());
}
