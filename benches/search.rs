//! Search and lookup latency on the real default snapshot.
//!
//! Prints in-process latency percentiles (p50, p99, max) per query kind, then
//! runs the criterion benchmarks. Run with `cargo bench --bench search`
//! (`HARMONIE_BENCH_PERCENTILES_ONLY=1` for the percentiles alone,
//! `HARMONIE_BENCH_KIND="frequent word"` for one kind's).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use criterion::Criterion;
use harmonie::index::Snapshot;
use harmonie::paths::Paths;
use harmonie::prepare::{Prepare, open_current};
use harmonie::search::{SearchRequest, search};

/// Query kinds and examples, with the system searched.
const KINDS: &[(&str, &[(&str, &str)])] = &[
    ("code", &[("naf", "1071c"), ("cim10", "M545"), ("pcs", "526A"), ("naf", "10.7"), ("cim10", "j45")]),
    ("short prefix", &[("cim10", "lomb"), ("naf", "boul"), ("pcs", "aide so"), ("pcs", "infir"), ("cim10", "asth")]),
    (
        "full label",
        &[
            ("naf", "Boulangerie et boulangerie-pâtisserie"),
            ("cim10", "Syndrome du canal carpien"),
            ("pcs", "Aides-soignants"),
            ("naf", "Commerce de détail de fruits et légumes en magasin spécialisé"),
        ],
    ),
    (
        "frequent word",
        &[("cim10", "autres"), ("cim10", "précisées"), ("naf", "activités"), ("cim10", "maladie"), ("cim10", "tumeur")],
    ),
    ("typo", &[("naf", "imprimeire"), ("cim10", "canal carpein"), ("naf", "chaudronerie"), ("pcs", "secretiare")]),
    (
        "long free text",
        &[
            ("naf", "Pizzeria, snack, restauration rapide sur place et à emporter."),
            (
                "naf",
                "ACQUISITION ADMINISTRATION GESTION EXPLOITATION PAR BAIL LOCATION OU AUTREMENT DE TOUS IMMEUBLES ET BIENS IMMOBILIERS",
            ),
            ("naf", "conception, assemblage, et revente de vélos, composants et accessoires cycles, conseil, guide"),
        ],
    ),
];

fn snapshot() -> Snapshot {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    open_current(&Paths::new(&root), Prepare::FetchAndBuild).expect("fetch and build the default data")
}

fn run(snap: &Snapshot, system: &str, q: &str) -> usize {
    let s = snap.system_index(system);
    search(
        snap,
        &SearchRequest {
            q,
            system: s,
            limit: 10,
            level: None,
            leaf: false,
            level_only: false,
            no_context: false,
            unexplained: false,
        },
    )
    .unwrap()
    .len()
}

fn percentiles(snap: &Snapshot) {
    println!("{:<16} {:>9} {:>9} {:>9}", "kind", "p50 µs", "p99 µs", "max µs");
    let only = std::env::var("HARMONIE_BENCH_KIND").ok();
    for (kind, queries) in KINDS.iter().filter(|(kind, _)| only.as_deref().is_none_or(|o| o == *kind)) {
        let mut samples = Vec::new();
        let mut per_query = vec![Vec::new(); queries.len()];
        for _ in 0..300 {
            for (i, (system, q)) in queries.iter().enumerate() {
                let t = Instant::now();
                black_box(run(snap, system, q));
                let us = t.elapsed().as_nanos() as f64 / 1000.0;
                samples.push(us);
                per_query[i].push(us);
            }
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
        let slowest = per_query
            .iter_mut()
            .enumerate()
            .map(|(i, v)| {
                v.sort_by(|a, b| a.total_cmp(b));
                (v[v.len() / 2], queries[i].1)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap();
        println!(
            "{:<16} {:>9.1} {:>9.1} {:>9.1}   slowest median: {:.1} µs for {:?}",
            kind,
            at(0.5),
            at(0.99),
            samples[samples.len() - 1],
            slowest.0,
            slowest.1
        );
    }
}

fn main() {
    let snap = snapshot();
    percentiles(&snap);
    if std::env::var_os("HARMONIE_BENCH_PERCENTILES_ONLY").is_some() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for (kind, queries) in KINDS {
        c.bench_function(&format!("search/{kind}"), |b| {
            b.iter(|| {
                for (system, q) in *queries {
                    black_box(run(&snap, system, q));
                }
            })
        });
    }
    let naf = snap.system_index("naf").unwrap();
    let cim = snap.system_index("cim10").unwrap();
    c.bench_function("lookup/any spelling", |b| {
        b.iter(|| {
            black_box(snap.lookup(naf, black_box("1071c")));
            black_box(snap.lookup(cim, black_box("m54.5")));
        })
    });
    c.final_summary();
}
