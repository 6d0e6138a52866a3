//! The FHIR `$expand?filter=` against `/v1/search` for the same queries,
//! through the whole HTTP stack in process (router, layers, JSON), on the
//! real default snapshot. Prints p50/p99 per route and their ratio; then
//! the mean cost of a request whose answer is kept (the autocomplete mix of
//! `scripts/perf.sh`, FHIR `$lookup` and the native lookup of the same
//! codes), which is what the server adds to hyper and the kernel; then
//! runs the criterion benchmarks. Run with `cargo bench --bench fhir`
//! (`HARMONIE_BENCH_PERCENTILES_ONLY=1` for the percentiles alone).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use criterion::Criterion;
use harmonie::api::{self, AppState, ServerConfig};
use harmonie::paths::Paths;
use harmonie::prepare::{Prepare, open_current};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// (system id, query) pairs: prefixes, labels, typos, codes.
const QUERIES: &[(&str, &str)] = &[
    ("cim-10", "lomb"),
    ("cim-10", "canal carpien"),
    ("cim-10", "asth"),
    ("cim-10", "M545"),
    ("naf-2008", "boul"),
    ("naf-2008", "imprimeire"),
    ("pcs-2003", "aide so"),
    ("pcs-2003", "infir"),
];

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn main() {
    let paths = Paths::new(&PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let snap = Arc::new(open_current(&paths, Prepare::FetchAndBuild).expect("build the default data"));
    let state = AppState::shared(snap.clone(), ServerConfig::new(paths));
    let router = api::router(state);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let call = |uri: &str| {
        let req = Request::get(uri).body(Body::empty()).unwrap();
        rt.block_on(async {
            let resp = router.clone().oneshot(req).await.unwrap();
            assert!(resp.status().is_success(), "{uri}: {}", resp.status());
            resp.into_body().collect().await.unwrap().to_bytes().len()
        })
    };
    let urls = |fhir: bool| -> Vec<String> {
        QUERIES
            .iter()
            .map(|(system, q)| {
                let url = &snap.systems[snap.system_index(system).unwrap()].url;
                if fhir {
                    format!(
                        "/fhir/ValueSet/$expand?url={}&filter={}&count=10",
                        encode(&format!("{url}?fhir_vs")),
                        encode(q)
                    )
                } else {
                    format!("/v1/search?system={system}&q={}&limit=10", encode(q))
                }
            })
            .collect()
    };
    let (search_urls, fhir_urls) = (urls(false), urls(true));
    // Warm up (the FHIR form of the built-in systems is built on first use).
    for u in search_urls.iter().chain(&fhir_urls) {
        call(u);
    }
    let percentiles = |list: &[String]| {
        let mut t: Vec<f64> = Vec::new();
        for _ in 0..200 {
            for u in list {
                let s = Instant::now();
                black_box(call(u));
                t.push(s.elapsed().as_secs_f64() * 1e6);
            }
        }
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (t[t.len() / 2], t[t.len() * 99 / 100])
    };
    let (s50, s99) = percentiles(&search_urls);
    let (f50, f99) = percentiles(&fhir_urls);
    println!("route                         p50 µs   p99 µs");
    println!("/v1/search                   {s50:>7.0}  {s99:>7.0}");
    println!("/fhir/ValueSet/$expand       {f50:>7.0}  {f99:>7.0}");
    println!("ratio fhir / search          {:>7.2}  {:>7.2}", f50 / s50, f99 / s99);
    let cim10 = &snap.systems[snap.system_index("cim-10").unwrap()].url;
    let codes = ["M54.5", "J45.0", "C67.9", "E10.9", "I10"];
    let kept: [(&str, Vec<String>); 3] = [
        ("autocomplete mix", autocomplete_mix()),
        ("FHIR $lookup", codes.iter().map(|c| format!("/fhir/CodeSystem/$lookup?system={cim10}&code={c}")).collect()),
        ("native lookup", codes.iter().map(|c| format!("/v1/systems/cim-10/concepts/{c}")).collect()),
    ];
    println!("answers kept, in process        µs per request (best of 7 runs of 30,000)");
    for (name, list) in &kept {
        let best = (0..7)
            .map(|_| {
                let s = Instant::now();
                for u in list.iter().cycle().take(30_000) {
                    black_box(call(u));
                }
                s.elapsed().as_secs_f64() * 1e6 / 30_000.0
            })
            .fold(f64::MAX, f64::min);
        println!("{name:<32} {best:>7.2}");
    }
    if std::env::var_os("HARMONIE_BENCH_PERCENTILES_ONLY").is_some() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("v1_search_10_queries", |b| b.iter(|| search_urls.iter().map(|u| call(u)).sum::<usize>()));
    c.bench_function("fhir_expand_filter_10_queries", |b| b.iter(|| fhir_urls.iter().map(|u| call(u)).sum::<usize>()));
    c.final_summary();
}

/// The requests of `scripts/perf.sh` (`benches/autocomplete_mix.txt`):
/// words typed letter by letter in CIM-10, NAF and PCS, and a code.
fn autocomplete_mix() -> Vec<String> {
    include_str!("autocomplete_mix.txt").lines().filter(|l| l.starts_with('/')).map(str::to_string).collect()
}
