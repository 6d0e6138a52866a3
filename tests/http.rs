//! The HTTP API over real HTTP on loopback, on the real default data: every
//! route, every class of error, limits, CORS, gzip, metrics, OpenAPI, panics
//! and hot reload under load.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use harmonie::api::{AppState, ServerConfig};
use serde_json::{Value, json};

/// Starts a server with `config` and extra routes, on an ephemeral port.
fn start(
    config: ServerConfig,
    snapshot: Option<Arc<harmonie::index::Snapshot>>,
    extra: Router<AppState>,
) -> SocketAddr {
    common::serve_routes(snapshot.unwrap_or_else(common::snapshot), config, extra)
}

fn config() -> ServerConfig {
    ServerConfig::new(common::paths())
}

/// The shared default server of this test binary.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| start(config(), None, Router::new()))
}

struct Reply {
    status: u16,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn ctype(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let url = format!("http://{addr}{path}");
    let agent = agent();
    let mut resp = match method {
        "GET" | "DELETE" => {
            let mut req = if method == "GET" { agent.get(&url) } else { agent.delete(&url) };
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call().unwrap()
        }
        _ => {
            let mut req = agent.post(&url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send(body.unwrap_or_default()).unwrap()
        }
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.body_mut().with_config().limit(100_000_000).read_to_string().unwrap_or_default();
    Reply { status, headers, text }
}

fn get(path: &str) -> Reply {
    call(server(), "GET", path, &[], None)
}

fn post_json(path: &str, body: &Value) -> Reply {
    call(server(), "POST", path, &[("content-type", "application/json")], Some(&body.to_string()))
}

fn assert_problem(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.ctype(), "application/problem+json", "{what}");
    let p = r.json();
    assert_eq!(p["status"], status, "{what}");
    assert!(p["type"].as_str().unwrap().starts_with("urn:harmonie:problem:"), "{what}");
    assert!(!p["title"].as_str().unwrap().is_empty() && !p["detail"].as_str().unwrap().is_empty(), "{what}");
}

fn codes(v: &Value) -> Vec<String> {
    v["results"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn health_and_readiness_name_the_snapshot() {
    for path in ["/healthz", "/readyz"] {
        let r = get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["snapshot"].as_str().unwrap().len(), 16);
        assert!(r.json()["concepts"].as_u64().unwrap() > 45_000);
    }
}

#[test]
fn systems_list_counts_per_level() {
    let r = get("/v1/systems");
    assert_eq!(r.status, 200);
    assert!(r.ctype().starts_with("application/json"));
    let body = r.json();
    let by_id = |id: &str| body.as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    let naf = by_id("naf-2008");
    assert_eq!(naf["concept_count"], 1728);
    assert_eq!(naf["levels"][4], json!({"name": "sous-classe", "count": 732}));
    assert_eq!(by_id("pcs-2003")["concept_count"], 571);
    let cim = by_id("cim-10");
    let n: u64 = cim["levels"].as_array().unwrap()[2..].iter().map(|l| l["count"].as_u64().unwrap()).sum();
    assert_eq!(n, 42_886);
    for s in body.as_array().unwrap() {
        for field in ["title", "version", "licence", "attribution", "url"] {
            assert!(!s[field].as_str().unwrap().is_empty(), "{} has no {field}", s["id"]);
        }
    }
}

#[test]
fn search_returns_the_documented_shape() {
    let body = get("/v1/search?q=boulang&system=naf&limit=3&explain=true").json();
    assert_eq!(body["query"], "boulang");
    let first = &body["results"][0];
    assert_eq!((first["system"].as_str(), first["code"].as_str()), (Some("naf-2008"), Some("10.71C")));
    assert_eq!(first["level"], "sous-classe");
    assert_eq!(first["match"], "label_prefix");
    let ancestors: Vec<&str> =
        first["ancestors"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(ancestors, ["C", "10", "10.7", "10.71"]);
    assert_eq!(first["matched"][0]["how"], "prefix");
    // Both words "Boulangerie" of "Boulangerie et boulangerie-pâtisserie", in characters.
    assert_eq!(first["highlight"], json!([[0, 11], [15, 26]]));
    assert!(first["score"].as_f64().unwrap() > 0.0 && body["took_us"].as_u64().is_some());
    // Without explain, no per-word detail.
    assert!(get("/v1/search?q=boulang&system=naf").json()["results"][0]["matched"].as_array().unwrap().is_empty());
    // Asked again, the answer comes from the memo: the same but for its time,
    // and still with the explanation only when asked.
    let mut again = get("/v1/search?q=boulang&system=naf&limit=3&explain=true").json();
    assert!(again["took_us"].as_u64().is_some());
    let mut first = body.clone();
    first["took_us"] = json!(0);
    again["took_us"] = json!(0);
    assert_eq!(again, first);
    assert!(
        get("/v1/search?q=boulang&system=naf&limit=3").json()["results"][0]["matched"].as_array().unwrap().is_empty()
    );
}

#[test]
fn level_only_filters_instead_of_preferring() {
    let preferred = get("/v1/search?q=boulangerie&system=naf&level=classe").json();
    let levels = |v: &Value| -> Vec<String> {
        v["results"].as_array().unwrap().iter().map(|r| r["level"].as_str().unwrap().to_string()).collect()
    };
    assert!(levels(&preferred).iter().any(|l| l != "classe"), "a preference keeps other levels");
    let only = get("/v1/search?q=boulangerie&system=naf&level=classe&level_only=true").json();
    assert!(!levels(&only).is_empty() && levels(&only).iter().all(|l| l == "classe"), "{only}");
    // Also for a code prefix: the page is filled with codes of that level.
    let codes = get("/v1/search?q=10&system=naf&level=classe&level_only=true&limit=5").json();
    assert_eq!(levels(&codes), ["classe"; 5], "{codes}");
}

#[test]
fn web_pages_are_html_with_html_errors_and_escaped_input() {
    let home = get("/");
    assert_eq!((home.status, home.ctype()), (200, "text/html; charset=utf-8"));
    assert!(home.text.contains(r#"<html lang="fr">"#) && home.text.contains("<harmonie-autocomplete"));
    // Any spelling of a system and a code ends on the canonical page.
    let page = get("/systemes/naf/1071c");
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(r#"<a href="/systemes/naf-2008/C"><span class="level">section</span>"#),
        "{}",
        page.text
    );
    // Errors of pages are pages, in French, with a way out.
    let unknown = get("/systemes/naf-2008/10.71Y");
    assert_eq!((unknown.status, unknown.ctype()), (404, "text/html; charset=utf-8"));
    assert!(
        unknown.text.contains("Code inconnu") && unknown.text.contains("/systemes/naf-2008/10.71"),
        "{}",
        unknown.text
    );
    assert_eq!(get("/systemes/nope").status, 404);
    // What users type is escaped.
    let xss = get("/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert!(!xss.text.contains("<script>alert") && xss.text.contains("&lt;script&gt;alert(1)"), "{}", xss.text);
    // Assets are embedded, cached by ETag, and loadable from any origin.
    let js = call(server(), "GET", "/assets/harmonie-autocomplete.js", &[("origin", "https://sst.example")], None);
    assert_eq!((js.status, js.ctype()), (200, "text/javascript; charset=utf-8"));
    assert!(js.text.contains("customElements.define('harmonie-autocomplete'"));
    assert_eq!(js.headers.get("access-control-allow-origin").unwrap(), "*");
    let etag = js.headers.get("etag").unwrap().to_str().unwrap().to_string();
    let again = call(server(), "GET", "/assets/harmonie-autocomplete.js", &[("if-none-match", &etag)], None);
    assert_eq!((again.status, again.text.as_str()), (304, ""));
    assert_eq!(get("/assets/nope.js").status, 404);
    // The API keeps answering problems; a browser gets a page.
    assert_problem(&get("/v1/nope"), 404, "unknown API route");
    let lost = call(server(), "GET", "/nope", &[("accept", "text/html,application/xhtml+xml")], None);
    assert_eq!((lost.status, lost.ctype()), (404, "text/html; charset=utf-8"));
    assert!(lost.text.contains("Page introuvable"), "{}", lost.text);
}

#[test]
fn aliases_and_ids_are_both_accepted() {
    for system in ["naf", "naf-2008", "NAF"] {
        assert_eq!(codes(&get(&format!("/v1/search?q=1071c&system={system}")).json())[0], "10.71C", "{system}");
    }
    assert_eq!(codes(&get("/v1/search?q=M545&system=cim10").json())[0], "M54.5");
    assert_eq!(codes(&get("/v1/search?q=526A&system=pcs").json())[0], "526a");
    let all = get("/v1/search?q=boulangers&limit=10").json();
    let systems: Vec<&str> = all["results"].as_array().unwrap().iter().map(|r| r["system"].as_str().unwrap()).collect();
    assert!(systems.contains(&"pcs-2003") && systems.contains(&"naf-2008"), "{systems:?}");
    assert!(codes(&get("/v1/search?q=&system=naf").json()).is_empty());
}

#[test]
fn concept_lookup_accepts_any_spelling_and_gives_relatives() {
    for spelling in ["1071c", "10.71%20C", "10.71C"] {
        let r = get(&format!("/v1/systems/naf/concepts/{spelling}"));
        assert_eq!(r.status, 200, "{spelling}");
        let c = r.json();
        assert_eq!(c["code"], "10.71C");
        assert_eq!(c["status"], "active");
        assert_eq!(c["parent"]["code"], "10.71");
        let ancestors: Vec<&str> =
            c["ancestors"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
        assert_eq!(ancestors, ["C", "10", "10.7", "10.71"]);
        assert!(c["replaced_by"].as_array().unwrap().is_empty());
    }
    let c = get("/v1/systems/cim10/concepts/m54.5").json();
    assert_eq!(c["code"], "M54.5");
    assert_eq!(c["ancestors"][0]["code"], "XIII");
    assert!(c["children"].as_array().unwrap().len() >= 4);
    assert!(
        c["designations"].as_array().unwrap().iter().any(|d| d["use"] == "short" && d["value"] == "LOMBALGIE BASSE")
    );
    assert_eq!(get("/v1/systems/pcs/concepts/526A").json()["code"], "526a");
    // Answers are kept: the same bytes again; errors are not kept.
    let first = get("/v1/systems/cim10/concepts/M545");
    for _ in 0..3 {
        let again = get("/v1/systems/cim10/concepts/M545");
        assert_eq!((again.status, again.ctype(), &again.text), (200, "application/json", &first.text));
        assert_problem(&get("/v1/systems/naf/concepts/99.99Z"), 404, "unknown code");
        assert_problem(&get("/v1/systems/naf/concepts/not-a-code"), 400, "malformed code");
    }
    // A long key (a date padded with spaces) is answered, not kept.
    let long = format!("/v1/systems/naf/concepts/1071c?as_of=2026-12-31{}", "%20".repeat(300));
    for _ in 0..2 {
        assert_eq!(get(&long).json()["code"], "10.71C");
    }
}

#[test]
fn descendants_of_codes_and_ranges() {
    let d = get("/v1/systems/naf/concepts/10.7/descendants").json();
    let codes: Vec<&str> = d["descendants"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"10.71") && codes.contains(&"10.71C") && !codes.contains(&"10.7"));
    assert_eq!(d["count"].as_u64().unwrap() as usize, codes.len());
    // A CIM-10 block is a range and a concept; a range of categories works too.
    let block = get("/v1/systems/cim10/concepts/M50-M54/descendants").json();
    assert!(block["descendants"].as_array().unwrap().iter().any(|x| x["code"] == "M54.5"));
    let range = get("/v1/systems/cim10/concepts/M51-M53/descendants").json();
    let of: Vec<&str> = range["of"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert_eq!(of, ["M51", "M53"]);
    assert!(range["descendants"].as_array().unwrap().iter().all(|x| x["code"].as_str().unwrap().starts_with("M5")));
    assert_problem(&get("/v1/systems/naf/concepts/99.99Z/descendants"), 404, "unknown code");
}

#[test]
fn browse_and_export_stream_a_system_or_a_subtree() {
    let all = get("/v1/systems/naf/concepts").json();
    assert_eq!(all.as_array().unwrap().len(), 1728);
    let sections = get("/v1/systems/naf/concepts?level=section").json();
    assert_eq!(sections.as_array().unwrap().len(), 21);
    assert_eq!(
        sections[0],
        json!({"code": "A", "display": "Agriculture, sylviculture et pêche", "level": "section", "parent": null})
    );
    let cim = get("/v1/systems/cim10/concepts?format=csv");
    assert!(cim.ctype().starts_with("text/csv"));
    let mut rdr = csv::Reader::from_reader(cim.text.as_bytes());
    assert_eq!(rdr.headers().unwrap(), vec!["code", "display", "level", "parent"]);
    assert_eq!(rdr.records().count(), 43_171);
    let sub = get("/v1/systems/naf/concepts?parent=10.7&level=sous-classe&format=csv");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(sub.text.as_bytes()).records().map(Result::unwrap).collect();
    assert!(rows.iter().all(|r| r[0].starts_with("10.7") && &r[2] == "sous-classe") && rows.len() >= 5);
    assert_problem(&get("/v1/systems/naf/concepts?format=xml"), 400, "bad format");
    assert_problem(&get("/v1/systems/naf/concepts?level=planet"), 400, "bad level");
    assert_problem(&get("/v1/systems/naf/concepts?parent=99.99Z"), 404, "unknown parent");
}

#[test]
fn validate_answers_every_item_in_order() {
    let items = json!({"items": [
        {"system": "naf", "code": "1071c"},
        {"system": "naf", "code": "10.71X"},
        {"system": "naf", "code": "1017C"},
        {"system": "cim10", "code": "M54.5"},
        {"system": "pcs", "code": "abc"},
        {"system": "nope", "code": "1"},
    ]});
    let r = post_json("/v1/validate", &items);
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    let results = body["results"].as_array().unwrap();
    let status: Vec<&str> = results.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["active", "unknown", "unknown", "active", "malformed", "unknown_system"]);
    let inputs: Vec<&str> = results.iter().map(|x| x["input"].as_str().unwrap()).collect();
    assert_eq!(inputs, ["1071c", "10.71X", "1017C", "M54.5", "abc", "1"]);
    assert_eq!((results[0]["code"].as_str(), results[0]["valid"].as_bool()), (Some("10.71C"), Some(true)));
    let near = |i: usize| {
        results[i]["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(near(1).contains(&"10.71C".to_string()), "{:?}", near(1));
    assert!(near(2).contains(&"10.71C".to_string()), "transposition: {:?}", near(2));
    assert!(results.iter().all(|x| !x["message"].as_str().unwrap().is_empty()));
    assert_eq!(body["summary"], json!({"active": 2, "retired": 0, "unknown": 2, "malformed": 1, "unknown_system": 1}));

    let many: Vec<Value> =
        (0..10_000).map(|i| json!({"system": "naf", "code": if i % 2 == 0 { "1071C" } else { "xx" }})).collect();
    let r = post_json("/v1/validate", &json!({"items": many}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 10_000);
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({"system": "naf", "code": "1071C"})).collect();
    assert_problem(&post_json("/v1/validate", &json!({"items": too_many})), 413, "batch too large");
    assert_problem(&call(server(), "POST", "/v1/validate", &[], Some("{not json")), 400, "invalid JSON");
    assert_problem(&post_json("/v1/validate", &json!({"things": []})), 400, "missing items");
}

#[test]
fn rollup_aggregates_json_and_csv_and_keeps_the_unplaced() {
    let body = json!({"system": "cim10", "level": "chapitre", "items": [
        {"code": "M545", "count": 3}, {"code": "J45", "count": 2}, {"code": "M54.16", "count": 1},
        {"code": "ZZZ", "count": 4}, {"code": "Z99.9", "count": 0}, {"code": "U90", "count": 1},
    ]});
    let r = post_json("/v1/rollup", &body).json();
    let groups: Vec<(String, u64)> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["code"].as_str().unwrap().to_string(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        groups,
        [("X".to_string(), 2), ("XIII".to_string(), 4), ("XXI".to_string(), 0), ("XXII".to_string(), 1)]
    );
    assert_eq!(r["unplaced"], json!([{"code": "ZZZ", "count": 4, "reason": "not shaped like a cim-10 code"}]));
    assert_eq!((r["total"].as_u64(), r["placed"].as_u64()), (Some(11), Some(7)));

    let csv = call(
        server(),
        "POST",
        "/v1/rollup?system=naf&level=section",
        &[("content-type", "text/csv")],
        Some("code;count\n1071C;5\n4722Z;2\n99.99Z;1\n"),
    );
    assert_eq!(csv.status, 200, "{}", csv.text);
    let r = csv.json();
    assert_eq!(r["groups"][0], json!({"code": "C", "display": "Industrie manufacturière", "count": 5}));
    assert_eq!(r["unplaced"][0]["code"], "99.99Z");
    // PCS by groupe socioprofessionnel, level given as a depth.
    let r = post_json("/v1/rollup", &json!({"system": "pcs", "level": "0", "items": [{"code": "526A", "count": 7}]}))
        .json();
    assert_eq!(r["groups"][0]["code"], "5");
    assert_problem(
        &post_json("/v1/rollup", &json!({"system": "naf", "level": "planet", "items": []})),
        400,
        "unknown level",
    );
    assert_problem(
        &post_json("/v1/rollup", &json!({"system": "nope", "level": "0", "items": []})),
        404,
        "unknown system",
    );
    assert_problem(
        &call(server(), "POST", "/v1/rollup", &[("content-type", "text/csv")], Some("a,1\n")),
        400,
        "csv without system",
    );
    assert_problem(
        &call(
            server(),
            "POST",
            "/v1/rollup?system=naf&level=0",
            &[("content-type", "text/csv")],
            Some("code,count\nA,x\n"),
        ),
        400,
        "bad count",
    );
}

#[test]
fn every_error_is_problem_json() {
    let long = "a".repeat(5_001);
    let cases = [
        (format!("/v1/search?q={long}"), 400),
        ("/v1/search?q=x&system=nope".to_string(), 404),
        ("/v1/search?q=x&limit=0".into(), 400),
        ("/v1/search?q=x&limit=abc".into(), 400),
        ("/v1/search?q=x&limit=100000".into(), 400),
        ("/v1/search?q=x&explain=maybe".into(), 400),
        ("/v1/systems/naf/concepts/99.99Z".into(), 404),
        ("/v1/systems/naf/concepts/not-a-code".into(), 400),
        ("/v1/systems/nope/concepts/1".into(), 404),
        ("/v1/nothing-here".into(), 404),
        ("/admin/reload".into(), 404),
    ];
    for (path, status) in cases {
        assert_problem(&get(&path), status, &path);
    }
    assert_problem(&call(server(), "DELETE", "/v1/search", &[], None), 405, "method");
    assert_problem(&call(server(), "POST", "/v1/systems", &[], Some("x")), 405, "method");
}

#[test]
fn limits_answer_4xx_and_panics_500_while_serving_goes_on() {
    let mut cfg = config();
    cfg.max_body_bytes = 1024;
    cfg.request_timeout = Duration::from_millis(100);
    let extra = Router::new()
        .route(
            "/test/panic",
            axum::routing::get(|| async {
                let v: Vec<u8> = Vec::new();
                if v.is_empty() {
                    panic!("deliberate test panic");
                }
                "unreachable"
            }),
        )
        .route(
            "/test/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        );
    let addr = start(cfg, None, extra);
    let big = format!("{{\"items\": [{}]}}", vec!["{\"system\":\"naf\",\"code\":\"1071C\"}"; 100].join(","));
    assert_problem(
        &call(addr, "POST", "/v1/validate", &[("content-type", "application/json")], Some(&big)),
        413,
        "body limit",
    );
    assert_problem(&call(addr, "GET", "/test/slow", &[], None), 408, "timeout");
    assert_problem(&call(addr, "GET", "/test/panic", &[], None), 500, "panic");
    // The server keeps serving after a panic.
    let r = call(addr, "GET", "/v1/search?q=lomb&system=cim10", &[], None);
    assert_eq!(r.status, 200);
}

#[test]
fn cors_allows_only_the_configured_origins() {
    let mut cfg = config();
    cfg.cors_origins = vec!["https://sst.example".into()];
    let addr = start(cfg, None, Router::new());
    let allowed = call(addr, "GET", "/v1/search?q=lomb", &[("origin", "https://sst.example")], None);
    assert_eq!(allowed.headers.get("access-control-allow-origin").unwrap(), "https://sst.example");
    // The component script loads from anywhere; an allowed origin still gets one header.
    let asset = call(addr, "GET", "/assets/harmonie-autocomplete.js", &[("origin", "https://sst.example")], None);
    assert_eq!(asset.headers.get_all("access-control-allow-origin").iter().count(), 1);
    let other = call(addr, "GET", "/v1/search?q=lomb", &[("origin", "https://evil.example")], None);
    assert!(other.headers.get("access-control-allow-origin").is_none());
    // The default server sends no CORS header at all.
    let none = call(server(), "GET", "/v1/search?q=lomb", &[("origin", "https://sst.example")], None);
    assert!(none.headers.get("access-control-allow-origin").is_none());
}

#[test]
fn responses_are_gzipped_when_asked() {
    let agent = agent();
    let resp = agent
        .get(&format!("http://{}/v1/systems/naf/concepts", server()))
        .header("accept-encoding", "gzip")
        .call()
        .unwrap();
    assert_eq!(resp.headers().get("content-encoding").unwrap(), "gzip");
}

#[test]
fn search_answers_come_whole_with_their_length_plain_or_gzipped() {
    // A search answer is written in two parts (the answer kept in the memo,
    // then this request's time): plain, it is declared whole by its
    // Content-Length; gzipped, it decodes to the same answer.
    let path = "/v1/search?q=lomb&system=cim10&limit=8";
    for _ in 0..2 {
        let plain = get(path);
        assert_eq!(plain.status, 200);
        let declared = plain.headers.get("content-length").expect("a Content-Length").to_str().unwrap();
        assert_eq!(declared.parse::<usize>().unwrap(), plain.text.len());
        let mut plain = plain.json();
        assert_eq!(plain["results"].as_array().unwrap().len(), 8);
        let mut resp =
            agent().get(&format!("http://{}{path}", server())).header("accept-encoding", "gzip").call().unwrap();
        assert_eq!(resp.headers().get("content-encoding").unwrap(), "gzip");
        let zipped = resp.body_mut().read_to_vec().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut text).unwrap();
        let mut unzipped: Value = serde_json::from_str(&text).unwrap();
        assert!(plain["took_us"].is_u64() && unzipped["took_us"].is_u64(), "{text}");
        plain["took_us"] = json!(0);
        unzipped["took_us"] = json!(0);
        assert_eq!(unzipped, plain);
    }
}

#[test]
fn openapi_documents_every_route() {
    let doc = get("/openapi.json").json();
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/systems",
        "/v1/search",
        "/v1/systems/{system}/concepts",
        "/v1/systems/{system}/concepts/{code}",
        "/v1/systems/{system}/concepts/{code}/descendants",
        "/v1/validate",
        "/v1/rollup",
        "/admin/reload",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
    assert!(doc["components"]["schemas"].as_object().unwrap().contains_key("Problem"));
}

#[test]
fn metrics_count_requests_by_route() {
    get("/v1/search?q=lomb&system=cim10");
    get("/v1/systems/naf/concepts/1071c");
    let m = get("/metrics");
    assert!(m.ctype().starts_with("text/plain"));
    assert!(
        m.text.contains("harmonie_requests_total{route=\"/v1/search\",method=\"GET\",status=\"200\"}"),
        "{}",
        m.text
    );
    assert!(m.text.contains(
        "harmonie_request_duration_seconds_bucket{route=\"/v1/systems/{system}/concepts/{code}\",le=\"+Inf\"}"
    ));
    assert!(m.text.contains("harmonie_snapshot_info{snapshot=\""));
}

#[test]
fn reload_swaps_snapshots_without_failing_a_request() {
    let mut cfg = config();
    cfg.admin_token = Some("s3cret".into());
    let addr = start(cfg, None, Router::new());
    assert_problem(&call(addr, "POST", "/admin/reload", &[], None), 401, "no token");
    assert_problem(
        &call(addr, "POST", "/admin/reload", &[("authorization", "Bearer wrong")], None),
        401,
        "wrong token",
    );

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let queries = ["lomb", "aide soign", "1071c", "boulang"];
                while !stop.load(Ordering::Relaxed) {
                    let url = format!("http://{addr}/v1/search?q={}", queries[i % 4].replace(' ', "%20"));
                    let good = match agent.get(&url).call() {
                        Ok(mut r) => {
                            r.status() == 200
                                && r.body_mut().read_to_string().is_ok_and(|b| b.contains("\"results\":[{"))
                        }
                        Err(_) => false,
                    };
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for _ in 0..3 {
        let auth = [("authorization", "Bearer s3cret")];
        let r = call(addr, "POST", "/admin/reload", &auth, None);
        // A reload slower than the request's deadline answers 202 and runs
        // to its end; its outcome is then read from GET /admin/reload.
        let concepts = match r.status {
            200 => r.json()["concepts"].as_u64(),
            202 => loop {
                let s = call(addr, "GET", "/admin/reload", &auth, None).json();
                if s["state"] != "running" {
                    assert_eq!(s["state"], "done", "{s}");
                    break s["result"]["concepts"].as_u64();
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            },
            _ => panic!("reload answered {}: {}", r.status, r.text),
        };
        assert_eq!(concepts.unwrap() as usize, common::snapshot().len());
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(ok.load(Ordering::Relaxed) > 50, "only {} requests", ok.load(Ordering::Relaxed));
    let m = call(addr, "GET", "/metrics", &[], None).text;
    assert!(m.contains("harmonie_reloads_total{result=\"ok\"} 3"), "{m}");
}

#[test]
fn a_broken_new_snapshot_is_refused_and_the_old_one_keeps_serving() {
    let project = common::scratch_project();
    let paths = harmonie::paths::Paths::new(project.path());
    let snap = harmonie::prepare::open_current(&paths, harmonie::prepare::Prepare::FetchAndBuild).unwrap();
    let id = snap.manifest.id.clone();
    let mut cfg = ServerConfig::new(paths);
    cfg.admin_token = Some("t".into());
    let addr = start(cfg, Some(Arc::new(snap)), Router::new());
    // A lexicon line naming a code that does not exist breaks the next build.
    let lexicon = project.path().join("data/curated/lexicon.tsv");
    let mut text = std::fs::read_to_string(&lexicon).unwrap();
    text.push_str("nonsense\tcode\tnaf:99.99Z\ttest of a broken input\n");
    std::fs::write(&lexicon, text).unwrap();
    let r = call(addr, "POST", "/admin/reload", &[("authorization", "Bearer t")], None);
    assert_problem(&r, 500, "refused reload");
    assert!(r.json()["detail"].as_str().unwrap().contains("99.99Z"));
    assert_eq!(call(addr, "GET", "/healthz", &[], None).json()["snapshot"], id.as_str());
    let s = call(addr, "GET", "/v1/search?q=boulang&system=naf", &[], None);
    assert_eq!(codes(&s.json())[0], "10.71C");
    assert!(call(addr, "GET", "/metrics", &[], None).text.contains("harmonie_reloads_total{result=\"failed\"} 1"));
}

#[test]
fn search_explains_context_priors_and_fallbacks_and_takes_long_descriptions() {
    let body = get("/v1/search?q=couvreur&system=pcs&limit=5&explain=true").json();
    assert_eq!(codes(&body)[0], "632e");
    assert_eq!(body["fallback"], false);
    let artisan = body["results"].as_array().unwrap().iter().find(|r| r["code"] == "211c").expect("211c listed");
    assert_eq!(artisan["context"]["prior"], "salaries-d-abord");
    assert_eq!(artisan["context"]["effect"], "demote");
    assert!(artisan["context"]["why"].as_str().unwrap().contains("salariés"));
    // context=none: ranked without priors, nothing to explain.
    let none = get("/v1/search?q=couvreur&system=pcs&limit=5&explain=true&context=none").json();
    assert!(none["results"].as_array().unwrap().iter().all(|r| r.get("context").is_none()));
    assert_problem(&get("/v1/search?q=couvreur&context=maybe"), 400, "invalid parameters");
    // A typo too far for typing: the loose search answers and says so.
    let loose = get("/v1/search?q=secraitaire&system=pcs").json();
    assert_eq!((codes(&loose)[0].as_str(), &loose["fallback"]), ("542a", &json!(true)));
    // An activity description as registers hold it (here 3,000 characters) is accepted…
    let mut long =
        String::from("Pizzeria, snack, restauration rapide sur place et à emporter : pizzas, sandwichs, boissons. ");
    while long.len() < 3_000 {
        long.push_str("La société pourra réaliser toutes opérations se rattachant à l'objet social. ");
    }
    let q: String = long
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let r = get(&format!("/v1/search?system=naf&q={q}"));
    assert_eq!(r.status, 200);
    assert!(codes(&r.json()).iter().any(|c| c.starts_with("56.10")));
    // …up to 5,000 characters.
    assert_problem(&get(&format!("/v1/search?q={}", "a".repeat(5_001))), 400, "query too long");
}

#[test]
fn concept_pages_show_earlier_titles_as_ancien_libelle() {
    let c = get("/v1/systems/cim10/concepts/E10").json();
    let legacy: Vec<&Value> = c["designations"].as_array().unwrap().iter().filter(|d| d["use"] == "legacy").collect();
    assert!(legacy.iter().any(|d| d["value"] == "diabète sucré insulino-dépendant"), "{c}");
    let page = get("/systemes/cim10/E10");
    assert!(
        page.text.contains("diabète sucré insulino-dépendant <span class=\"meta\">(ancien libellé)</span>"),
        "{}",
        page.text
    );
}

#[test]
fn naf_2025_is_served_and_a_2008_code_as_of_2027_is_retired_with_what_goes_where() {
    let systems = get("/v1/systems").json();
    let naf2025 = systems.as_array().unwrap().iter().find(|s| s["id"] == "naf-2025").expect("naf-2025 served");
    let levels = naf2025["levels"].as_array().unwrap();
    assert_eq!(levels.last().unwrap()["count"], 747, "{naf2025}");
    let c = get("/v1/systems/naf/concepts/01.19Z?as_of=2027-03-01").json();
    assert_eq!(
        (c["system"].as_str(), c["status"].as_str(), c["as_of"].as_str()),
        (Some("naf-2008"), Some("retired"), Some("2027-03-01"))
    );
    let replaced: Vec<&str> =
        c["replaced_by"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(replaced, ["01.13Y", "01.19Y"]);
    let to_beets = c["mappings"].as_array().unwrap().iter().find(|m| m["code"] == "01.13Y").unwrap();
    assert!(to_beets["note"].as_str().unwrap().contains("betteraves fourragères"));
    // Before the switch the same code is active; an explicit version always answers for itself.
    assert_eq!(get("/v1/systems/naf/concepts/01.19Z?as_of=2026-12-31").json()["status"], "active");
    assert_eq!(get("/v1/systems/naf-2025/concepts/01.19Y").json()["status"], "active");
    assert_problem(&get("/v1/systems/naf/concepts/01.19Z?as_of=2027-02-30x"), 400, "invalid parameters");
    // Answers are kept per date asked: each comes back as it was.
    assert_eq!(get("/v1/systems/naf/concepts/01.19Z?as_of=2027-03-01").json()["status"], "retired");
    assert_eq!(get("/v1/systems/naf/concepts/01.19Z?as_of=2026-12-31").json()["status"], "active");
    // Validation takes the same date, per item.
    let v = post_json(
        "/v1/validate",
        &json!({"items": [{"system": "naf", "code": "0119Z", "as_of": "2027-03-01"}, {"system": "naf", "code": "0119Z", "as_of": "2026-03-01"}]}),
    )
    .json();
    assert_eq!(v["results"][0]["status"], "retired");
    assert_eq!(v["results"][0]["replaced_by"][1]["code"], "01.19Y");
    assert_eq!(v["results"][1]["status"], "active");
    // The concept page says what part goes where.
    let page = get("/systemes/naf-2008/01.19Z");
    assert!(page.text.contains("ce qui y va : - la culture de racines et de tubercules"), "{}", page.text);
}
