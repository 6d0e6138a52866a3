//! Search: query analysis, candidate generation, deterministic ranking and
//! explanation.
//!
//! * A query shaped like a code of a system in scope
//!   ([`crate::codes::CodeSyntax::code_prefix`]) is answered from the code
//!   fst: the exact code first, then the codes beneath it in code order.
//! * Any query is also analysed as text ([`crate::text::analyze`]); tantivy
//!   returns the concepts whose terms match every query term exactly, as a
//!   prefix (the last term, while typing) or within an edit distance (1 from
//!   4 letters, 2 from 8). When no concept matches every term, concepts
//!   matching some are returned, flagged [`MatchKind::Partial`].
//! * Ranking is deterministic: [`MatchKind`] first, then the level asked
//!   (default: leaves, the most detailed codable level), then shorter labels,
//!   then code order.

mod matching;

use anyhow::Result;
use serde::Serialize;

use crate::index::text::QueryTerm;
use crate::index::{ConceptRef, Snapshot};
use matching::{Grade, grade};
pub use matching::{How, Matched};

/// Most characters a query may have.
pub const MAX_QUERY_CHARS: usize = 300;
/// Most results a search may ask for.
pub const MAX_LIMIT: usize = 100;
/// Most candidates ranked per query.
const CANDIDATE_CAP: usize = 5_000;

/// Why a hit matched, best first. The order is the ranking order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The query is the concept's code, in any spelling.
    ExactCode,
    /// The query terms are exactly the label's terms.
    ExactLabel,
    /// The concept's code starts with the code typed.
    CodePrefix,
    /// The label starts with the query terms, the last one possibly unfinished.
    LabelPrefix,
    /// Every query term matched, in the label's order.
    InOrder,
    /// Every query term matched.
    AllTerms,
    /// Every query term matched, some within an edit distance.
    Fuzzy,
    /// Some query terms did not match.
    Partial,
}

impl MatchKind {
    /// A score in 0–1 for the kind of match; `fraction` of terms matched for
    /// partial matches.
    fn score(self, fraction: f32) -> f32 {
        match self {
            MatchKind::ExactCode => 1.0,
            MatchKind::ExactLabel => 0.97,
            MatchKind::CodePrefix => 0.9,
            MatchKind::LabelPrefix => 0.85,
            MatchKind::InOrder => 0.75,
            MatchKind::AllTerms => 0.65,
            MatchKind::Fuzzy => 0.5,
            MatchKind::Partial => 0.4 * fraction,
        }
    }
}

/// What to search.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest<'a> {
    pub q: &'a str,
    /// Index of the system to search; all systems when `None`.
    pub system: Option<usize>,
    pub limit: usize,
    /// Preferred level (name, e.g. `sous-classe`, or depth number).
    pub level: Option<&'a str>,
}

/// One result.
#[derive(Clone, Debug)]
pub struct Hit {
    pub concept: ConceptRef,
    pub kind: MatchKind,
    pub score: f32,
    pub matched: Vec<Matched>,
}

/// Searches `snap`. Deterministic: the same snapshot and request give the
/// same hits in the same order.
pub fn search(snap: &Snapshot, req: &SearchRequest) -> Result<Vec<Hit>> {
    let q = req.q.trim();
    if q.is_empty() || req.limit == 0 {
        return Ok(Vec::new());
    }
    let scope: Vec<usize> = match req.system {
        Some(s) => vec![s],
        None => (0..snap.systems.len()).collect(),
    };
    let mut ranked: Vec<(SortKey, Hit)> = Vec::new();
    let mut seen = std::collections::HashSet::new();

    // Codes.
    for &s in &scope {
        let Some(prefix) = snap.systems[s].syntax.code_prefix(q) else { continue };
        let exact = snap.lookup(s, q);
        if let Some(r) = exact {
            seen.insert(r);
            let hit = Hit { concept: r, kind: MatchKind::ExactCode, score: 1.0, matched: vec![Matched::code(q)] };
            ranked.push((SortKey::new(snap, &hit, req, 1), hit));
        }
        for r in snap.codes_with_prefix(s, &prefix, req.limit + 1) {
            if seen.insert(r) {
                let hit = Hit {
                    concept: r,
                    kind: MatchKind::CodePrefix,
                    score: MatchKind::CodePrefix.score(1.0),
                    matched: vec![Matched::code(q)],
                };
                ranked.push((SortKey::new(snap, &hit, req, 1), hit));
            }
        }
    }

    // Text.
    let terms = crate::text::analyze(q);
    if !terms.is_empty() {
        let typing = !q.ends_with(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
        let query_terms: Vec<QueryTerm> = terms
            .iter()
            .enumerate()
            .map(|(i, t)| QueryTerm {
                stem: t.stem.clone(),
                prefix: typing && i + 1 == terms.len(),
                fuzzy: fuzziness(&t.stem),
            })
            .collect();
        let ids: Vec<&str> = scope.iter().map(|&s| snap.systems[s].id.as_str()).collect();
        let filter = req.system.map(|_| ids.as_slice());
        let mut candidates = snap.text.candidates(&query_terms, filter, true, CANDIDATE_CAP)?;
        if candidates.is_empty() && query_terms.len() > 1 {
            candidates = snap.text.candidates(&query_terms, filter, false, CANDIDATE_CAP)?;
        }
        for ord in candidates {
            let r = ConceptRef(ord);
            if seen.contains(&r) {
                continue;
            }
            let Grade { kind, matched_terms, matched } =
                grade(&terms, &query_terms, snap.label_stems(r), snap.designation_stems(r));
            if matched_terms == 0 {
                continue;
            }
            let fraction = matched_terms as f32 / terms.len() as f32;
            let hit = Hit { concept: r, kind, score: kind.score(fraction), matched };
            ranked.push((SortKey::new(snap, &hit, req, matched_terms), hit));
        }
    }

    ranked.sort_by(|a, b| a.0.cmp(&b.0));
    ranked.truncate(req.limit);
    Ok(ranked.into_iter().map(|(_, h)| h).collect())
}

/// Edit distance allowed for a query term: 1 from 4 letters, 2 from 8.
fn fuzziness(stem: &str) -> u8 {
    match stem.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// The ranking key, compared in field order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    kind: MatchKind,
    /// More terms matched first (partial matches).
    unmatched: usize,
    /// 0 when at the level asked (or a leaf when none is asked).
    level_miss: u8,
    label_len: usize,
    ord: ConceptRef,
}

impl SortKey {
    fn new(snap: &Snapshot, hit: &Hit, req: &SearchRequest, matched_terms: usize) -> SortKey {
        let r = hit.concept;
        let code_order = matches!(hit.kind, MatchKind::CodePrefix | MatchKind::ExactCode);
        let level_miss = match req.level {
            Some(level) => u8::from(!level_matches(snap, r, level)),
            None if code_order => 0,
            None => u8::from(!snap.is_leaf(r)),
        };
        SortKey {
            kind: hit.kind,
            unmatched: usize::MAX - matched_terms,
            level_miss,
            label_len: if code_order { 0 } else { snap.concept(r).display.chars().count() },
            ord: r,
        }
    }
}

/// Whether concept `r` is at `level` (a level name of its system, any case,
/// or a depth number).
pub fn level_matches(snap: &Snapshot, r: ConceptRef, level: &str) -> bool {
    let depth = snap.concept(r).level;
    match level.trim().parse::<u8>() {
        Ok(n) => n == depth,
        Err(_) => snap.level_name(r).eq_ignore_ascii_case(level.trim()),
    }
}
