//! Search quality measured on evaluation sets: tab-separated
//! `system  query  expected  kind`, `expected` listing acceptable codes
//! separated by `|`. A result is a hit when its code, or the code of one of
//! its ancestors, is expected (codes compared without dots, any case).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::index::Snapshot;
use crate::search::{SearchRequest, search};

/// Results looked at per query (for the reciprocal rank).
pub const DEPTH: usize = 10;

/// One line of an evaluation set.
#[derive(Clone, Debug)]
pub struct Case {
    /// System id or alias searched.
    pub system: String,
    /// The query as a user would type it.
    pub query: String,
    /// Codes that count as a right answer.
    pub expected: Vec<String>,
    /// Kind of query (`label`, `typo`, `prefix`…), for per-kind figures.
    pub kind: String,
}

/// Reads an evaluation file; the header line is skipped.
pub fn read_cases(path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            bail!(
                "{}: line {}: expected 4 tab-separated fields (system, query, expected, kind)",
                path.display(),
                i + 1
            );
        }
        out.push(Case {
            system: f[0].to_string(),
            query: f[1].to_string(),
            expected: f[2].split('|').map(compact).collect(),
            kind: f[3].to_string(),
        });
    }
    Ok(out)
}

fn compact(code: &str) -> String {
    code.trim().replace('.', "").to_uppercase()
}

/// Scores of a group of cases.
#[derive(Clone, Debug, Default)]
pub struct Score {
    /// Queries scored.
    pub n: usize,
    /// Queries whose first result is expected.
    pub top1: usize,
    /// Queries with an expected code in the first five.
    pub top5: usize,
    /// Sum of reciprocal ranks (MRR = `rr / n`).
    pub rr: f64,
}

impl Score {
    fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        if let Some(r) = rank {
            self.top1 += usize::from(r == 1);
            self.top5 += usize::from(r <= 5);
            self.rr += 1.0 / r as f64;
        }
    }

    /// One line of the report for this score, named `name`.
    pub fn line(&self, name: &str) -> String {
        let n = self.n.max(1) as f64;
        format!(
            "{name:<22} n={:<4} top1={:.3} top5={:.3} mrr={:.3}",
            self.n,
            self.top1 as f64 / n,
            self.top5 as f64 / n,
            self.rr / n
        )
    }
}

/// Per-system and per-kind scores, and the cases missed in the top 5.
#[derive(Debug, Default)]
pub struct Report {
    /// Every query.
    pub all: Score,
    /// Per system.
    pub by_system: BTreeMap<String, Score>,
    /// Per kind of query.
    pub by_kind: BTreeMap<String, Score>,
    /// (case, rank if found deeper, first results)
    pub misses: Vec<(Case, Option<usize>, Vec<String>)>,
    /// Cases for which search returned nothing at all.
    pub empty: usize,
}

/// Runs every case against `snap`.
pub fn evaluate(snap: &Snapshot, cases: &[Case]) -> Result<Report> {
    let mut report = Report::default();
    for case in cases {
        let system = snap.resolve_system(&case.system).context("in the evaluation set")?;
        let hits = search(
            snap,
            &SearchRequest {
                q: &case.query,
                system: Some(system),
                limit: DEPTH,
                level: None,
                leaf: false,
                level_only: false,
                no_context: false,
                unexplained: false,
            },
        )?;
        let rank = hits.iter().position(|h| {
            std::iter::once(h.concept)
                .chain(snap.ancestors(h.concept))
                .any(|r| case.expected.contains(&compact(&snap.concept(r).code)))
        });
        let rank = rank.map(|r| r + 1);
        report.empty += usize::from(hits.is_empty());
        report.all.add(rank);
        report.by_system.entry(case.system.clone()).or_default().add(rank);
        report.by_kind.entry(case.kind.clone()).or_default().add(rank);
        if rank.is_none_or(|r| r > 5) {
            let first = hits.iter().take(3).map(|h| snap.concept(h.concept).code.clone()).collect();
            report.misses.push((case.clone(), rank, first));
        }
    }
    Ok(report)
}
