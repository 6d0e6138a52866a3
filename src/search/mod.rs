//! Search: query analysis, candidate generation, deterministic ranking and
//! explanation.
//!
//! * A query shaped like a code of a system in scope
//!   ([`crate::codes::CodeSyntax::code_prefix`]) is answered from the code
//!   fst: the exact code first, then the codes beneath it in code order. A
//!   code-shaped word mixed with words (`10.71 boulangerie`) restricts the
//!   word search to the codes beneath it.
//! * Words are analysed ([`crate::text::analyze`]) into slots, one per query
//!   term or per lexicon phrase ([`crate::lexicon`]). A slot matches a label
//!   term exactly, through a lexicon expansion (synonym), as a prefix (the
//!   last word, while typing) or within an edit distance (1 from 4 letters,
//!   2 from 8). Matching runs on the snapshot's vocabulary and postings
//!   ([`plan`]); every slot must match.
//! * When no concept matches every slot, BM25 ([`crate::index::bm25`], as
//!   tantivy scores the snapshot's text index, on the postings of the
//!   systems searched) ranks the concepts matching some of them, flagged [`MatchKind::Partial`]: this is what long
//!   free-text descriptions get.
//! * When nothing matches even so, a looser plan runs (two edits from five
//!   letters, every word as a prefix, any word enough) and the hits say
//!   `fallback`: an empty list is only for input that matches nothing even
//!   loosely.
//! * Context priors ([`crate::priors`]) order hits of the same tier (code,
//!   every word, typos, some words): salaried trades before self-employed
//!   ones, work before labour… unless the request says `context=none`.
//! * Ranking is deterministic: the tier, the prior, [`MatchKind`], then the level asked
//!   (`level`, or leaves with `leaf`; default: the codable levels, see
//!   [`crate::model::CodeSystem::codable_from`]),
//!   then labels ATIH flags with `***` last, then BM25 for partial matches,
//!   then shorter labels, then code order.

mod cache;
mod matching;
mod plan;

use anyhow::Result;
use serde::Serialize;

use crate::index::{ConceptRef, Snapshot};
use crate::priors::Effect;
pub use cache::SearchCache;
use matching::grade;
pub use matching::{How, Matched, highlights};
use plan::{Bits, Plan, Slot};

/// Most characters a query may have: a company's activity description as
/// registers hold it.
pub const MAX_QUERY_CHARS: usize = 5_000;
/// Characters of a query that are analysed: a longer description is read up
/// to there, so its cost stays bounded.
pub const ANALYSED_CHARS: usize = 1_000;
/// Most results a search may ask for.
pub const MAX_LIMIT: usize = 100;
/// Concepts the free-text fallback ranks.
const FALLBACK_CANDIDATES: usize = 100;
/// From this many slots a query is a description rather than typed words.
const LONG_QUERY_SLOTS: usize = 4;
/// Word candidates graded at most: a frequent word (`autres`, `maladie`)
/// matches thousands of labels; the best of them by [`Ranker::quick_key`]
/// are graded, so that no query grades more than this many.
pub const MAX_GRADED: usize = 300;

/// Why a hit matched, best first. The order is the ranking order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
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

/// The score of a partial match whose every term matched: a partial
/// match scores this times the fraction of the query's terms it matched.
const PARTIAL_WEIGHT: f32 = 0.4;

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
            MatchKind::Partial => PARTIAL_WEIGHT * fraction,
        }
    }
}

/// What to search.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest<'a> {
    /// The query as typed.
    pub q: &'a str,
    /// Index of the system to search; all systems when `None`.
    pub system: Option<usize>,
    /// Most results.
    pub limit: usize,
    /// Preferred level (name, e.g. `sous-classe`, or depth number).
    pub level: Option<&'a str>,
    /// Prefer concepts without children.
    pub leaf: bool,
    /// With `level`: keep only the concepts at that level (a filter, not a
    /// preference).
    pub level_only: bool,
    /// Apply no context prior (`context=none`).
    pub no_context: bool,
    /// Leave [`Hit::matched`] empty (but for codes): a caller that shows
    /// no explanation, such as the recoder, spares its allocations.
    pub unexplained: bool,
}

/// One result.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The concept found.
    pub concept: ConceptRef,
    /// How it matched.
    pub kind: MatchKind,
    /// Score in 0–1 (see [`MatchKind`]).
    pub score: f32,
    /// The query words that matched, and how.
    pub matched: Vec<Matched>,
    /// The context prior that moved this hit (index in `Snapshot::priors`).
    pub prior: Option<usize>,
    /// Found by the loose plan, once the strict one found nothing.
    pub fallback: bool,
}

impl Hit {
    /// The fraction of the query's terms a partial match matched (from its
    /// score, see [`MatchKind`]); 1 for every other kind of match.
    pub fn fraction(&self) -> f32 {
        if self.kind == MatchKind::Partial { self.score / PARTIAL_WEIGHT } else { 1.0 }
    }
}

/// The ranking key, compared in field order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    /// 0: the code; 1: every word (or the code's start); 2: with typos; 3: some words.
    tier: u8,
    /// 0 promoted, 1 neutral, 2 demoted by a context prior.
    prior: u8,
    kind: MatchKind,
    /// Matched through a `related` lexicon designation (a later code of a
    /// lexicon line): after the line's first code.
    related: bool,
    /// 0 when at the level asked (or codable when none is asked).
    level_miss: bool,
    /// Labels ATIH marks with `***` (special or withdrawn use) come last.
    flagged: bool,
    /// Higher BM25 first (free-text fallback only).
    bm25: std::cmp::Reverse<u32>,
    label_len: usize,
    ord: ConceptRef,
}

impl SortKey {
    /// A BM25 score as the key compares it (thousandths).
    fn bm25_of(score: f32) -> u32 {
        (score * 1000.0) as u32
    }
}

/// Searches `snap`. Deterministic: the same snapshot and request give the
/// same hits in the same order.
///
/// A query is analysed up to [`ANALYSED_CHARS`] (the HTTP API refuses more
/// than [`MAX_QUERY_CHARS`]), and at most [`MAX_GRADED`] word candidates are
/// graded, so the work a search does stays bounded.
pub fn search(snap: &Snapshot, req: &SearchRequest) -> Result<Vec<Hit>> {
    Ok(search_grading(snap, req, MAX_GRADED)?.0)
}

/// [`search`], and how many word candidates it gathered (what made it
/// costly).
fn search_counting(snap: &Snapshot, req: &SearchRequest) -> Result<(Vec<Hit>, usize)> {
    search_grading(snap, req, MAX_GRADED)
}

/// [`search`] grading every word candidate: the reference ranking that the
/// bound of [`search`] must not change (checked by the tests).
pub fn search_exhaustive(snap: &Snapshot, req: &SearchRequest) -> Result<Vec<Hit>> {
    Ok(search_grading(snap, req, usize::MAX)?.0)
}

/// [`search`] whose BM25 fallback is tantivy's query on the snapshot's
/// text index: the reference the in-memory fallback must agree with
/// (checked by the tests).
pub fn search_tantivy_fallback(snap: &Snapshot, req: &SearchRequest) -> Result<Vec<Hit>> {
    Ok(search_with(snap, req, MAX_GRADED, true)?.0)
}

fn search_grading(snap: &Snapshot, req: &SearchRequest, max_graded: usize) -> Result<(Vec<Hit>, usize)> {
    search_with(snap, req, max_graded, false)
}

/// Searches, grading at most `max_graded` word candidates; returns the hits
/// and the most word candidates a plan gathered.
fn search_with(
    snap: &Snapshot,
    req: &SearchRequest,
    max_graded: usize,
    tantivy_fallback: bool,
) -> Result<(Vec<Hit>, usize)> {
    let whole = match req.q.char_indices().nth(ANALYSED_CHARS) {
        Some((cut, _)) => &req.q[..cut],
        None => req.q,
    };
    let q = whole.trim();
    let typing = !whole.ends_with(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
    if q.is_empty() || req.limit == 0 {
        return Ok((Vec::new(), 0));
    }
    let scope: Vec<usize> = match req.system {
        Some(s) => vec![s],
        None => (0..snap.systems.len()).collect(),
    };
    let mut ranker = Ranker::new(snap, req, q);
    ranker.max_graded = max_graded;
    ranker.tantivy_fallback = tantivy_fallback;
    let mut ranked: Vec<(SortKey, Hit)> = Vec::new();
    let mut seen = std::collections::HashSet::new();

    // The whole query as a code.
    for &s in &scope {
        let Some(prefix) = snap.systems[s].syntax.code_prefix(q) else { continue };
        if let Some(r) = snap.lookup(s, q) {
            seen.insert(r);
            ranked.extend(ranker.entry(r, MatchKind::ExactCode, 0.0, 1.0));
        }
        // A level filter applies while walking the codes, so that a page is full.
        let keep = |r| !req.level_only || req.level.is_none_or(|l| level_matches(snap, r, l));
        for r in snap.codes_with_prefix(s, &prefix, req.limit + 1, keep) {
            if seen.insert(r) {
                ranked.extend(ranker.entry(r, MatchKind::CodePrefix, 0.0, 1.0));
            }
        }
    }

    // Words, possibly under a code typed with them.
    let (words, restrict) = split_code_word(snap, &scope, q);
    let mut text_hits = text_search(&ranker, &scope, words, typing, restrict.as_ref(), &seen, false)?;
    if text_hits.is_empty() && restrict.is_some() {
        text_hits = text_search(&ranker, &scope, q, typing, None, &seen, false)?;
    }
    // No dead end: nothing at all, strictly, so try loosely.
    if text_hits.is_empty() && ranked.is_empty() {
        text_hits = text_search(&ranker, &scope, q, typing, None, &seen, true)?;
    }
    ranked.extend(text_hits);

    keep_best(&mut ranked, req.limit);
    let hits = ranked
        .into_iter()
        .map(|(_, mut h)| {
            if matches!(h.kind, MatchKind::ExactCode | MatchKind::CodePrefix) {
                h.matched = vec![Matched::code(q)];
            }
            h
        })
        .collect();
    Ok((hits, ranker.candidates.get()))
}

/// See [`Ranker::quick_key`]: its fields packed into one integer, most
/// significant first, so that choosing the best of thousands compares
/// integers; its low 32 bits are the candidate's ordinal.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct QuickKey(u64);

impl QuickKey {
    /// Label lengths beyond this many bytes (none is near it) count as it.
    const MAX_LEN: u64 = (1 << 25) - 1;

    fn new(typos: bool, prior: u8, kind: u8, level_miss: bool, flagged: bool, len: usize, r: ConceptRef) -> QuickKey {
        let len = (len as u64).min(Self::MAX_LEN);
        QuickKey(
            u64::from(typos) << 63
                | u64::from(prior & 3) << 61
                | u64::from(kind & 3) << 59
                | u64::from(level_miss) << 58
                | u64::from(flagged) << 57
                | len << 32
                | u64::from(r.0),
        )
    }

    fn concept(self) -> ConceptRef {
        ConceptRef(self.0 as u32)
    }
}

/// What ranks one request's hits: the request, and the context priors its
/// query calls for.
struct Ranker<'a> {
    snap: &'a Snapshot,
    req: &'a SearchRequest<'a>,
    /// The query, and its terms: analysed once for the priors and the plans.
    q: &'a str,
    terms: Vec<crate::text::Term>,
    /// Indices in `snap.priors` of the priors that apply to this query.
    priors: Vec<usize>,
    /// Word candidates graded at most.
    max_graded: usize,
    /// Whether the BM25 fallback asks tantivy (the reference) rather than
    /// [`Snapshot::bm25_best`].
    tantivy_fallback: bool,
    /// The most word candidates a plan of this search gathered.
    candidates: std::cell::Cell<usize>,
}

impl<'a> Ranker<'a> {
    fn new(snap: &'a Snapshot, req: &'a SearchRequest<'a>, q: &'a str) -> Ranker<'a> {
        let terms = crate::text::analyze(q);
        // The priors of the systems searched that the query calls for.
        let mut priors: Vec<usize> = (0..snap.priors.len())
            .filter(|&i| !req.no_context && req.system.is_none_or(|s| snap.priors[i].systems[s]))
            .collect();
        priors.retain(|&i| snap.priors[i].prior.applies(|stem| terms.iter().any(|t| t.stem == stem)));
        Ranker {
            snap,
            req,
            q,
            terms,
            priors,
            max_graded: MAX_GRADED,
            tantivy_fallback: false,
            candidates: Default::default(),
        }
    }

    /// The first prior of this query that selects concept `r`.
    fn prior_of(&self, r: ConceptRef) -> Option<usize> {
        self.priors.iter().copied().find(|&i| self.snap.prior_selects(i, r))
    }

    /// Whether `r` misses the level the request asks for (or, without one,
    /// is not codable); a code match never misses without a level asked.
    fn level_miss(&self, r: ConceptRef, code_order: bool) -> bool {
        let (snap, req) = (self.snap, self.req);
        match req.level {
            Some(level) => !level_matches(snap, r, level),
            None if req.leaf => !snap.is_leaf(r),
            None if code_order => false,
            None => !snap.is_codable(r),
        }
    }

    /// A key that orders word candidates nearly as [`SortKey`] does, without
    /// grading them: typos or not (`strict`: the candidates every slot
    /// matches without a typo), the prior, whether a label may be the query or starts
    /// with its first word (an exact or label-prefix match), the level, the
    /// ATIH flag, the label's length. Used to pick which candidates of a frequent word to
    /// grade.
    /// `first` is the query's first required slot, `required` how many
    /// required slots it has (both per query, not per candidate).
    fn quick_key(&self, first: Option<&Slot>, required: u32, strict: &Bits, r: ConceptRef) -> QuickKey {
        let snap = self.snap;
        let prior = match self.prior_of(r).map(|i| snap.priors[i].prior.effect) {
            Some(Effect::Promote) => 0,
            None => 1,
            Some(Effect::Demote) => 2,
        };
        // 0: a label might be the query (as many terms, the first matching);
        // 1: a label starts with the query's first word; 2: neither.
        let kind = snap
            .first_terms(r)
            .iter()
            .filter(|&&(id, _)| first.is_some_and(|s| s.how[id as usize] != 0))
            .map(|&(_, n)| if n == required { 0 } else { 1 })
            .min()
            .unwrap_or(2);
        let (len, flagged) = snap.display_shape(r);
        QuickKey::new(!strict.contains(r.0), prior, kind, self.level_miss(r, false), flagged, len, r)
    }

    /// A hit with its ranking key, unless the level filter drops it;
    /// `fraction` of the query slots matched (for the score of partial
    /// matches).
    fn entry(&self, r: ConceptRef, kind: MatchKind, bm25: f32, fraction: f32) -> Option<(SortKey, Hit)> {
        let (snap, req) = (self.snap, self.req);
        let code_order = matches!(kind, MatchKind::CodePrefix | MatchKind::ExactCode);
        let concept = snap.concept(r);
        let level_miss = self.level_miss(r, code_order);
        if level_miss && req.level_only && req.level.is_some() {
            return None;
        }
        // Priors order equal matches; a partial match is ranked by BM25, which
        // a prior would override wholesale, so it gets none.
        let prior = if code_order || kind == MatchKind::Partial { None } else { self.prior_of(r) };
        let key = SortKey {
            tier: match kind {
                MatchKind::ExactCode => 0,
                MatchKind::Fuzzy => 2,
                MatchKind::Partial => 3,
                _ => 1,
            },
            prior: match prior.map(|i| snap.priors[i].prior.effect) {
                Some(Effect::Promote) => 0,
                None => 1,
                Some(Effect::Demote) => 2,
            },
            kind,
            related: false,
            level_miss,
            flagged: concept.display.starts_with("***"),
            bm25: std::cmp::Reverse(SortKey::bm25_of(bm25)),
            label_len: if code_order { 0 } else { concept.display.len() },
            ord: r,
        };
        let hit = Hit { concept: r, kind, score: kind.score(fraction), matched: Vec::new(), prior, fallback: false };
        Some((key, hit))
    }
}

/// Marks an entry as matched through a `related` designation.
trait RelatedExt {
    fn related(self, related: bool) -> Self;
}

impl RelatedExt for (SortKey, Hit) {
    fn related(mut self, related: bool) -> Self {
        self.0.related = related;
        self
    }
}

/// Finds a code-shaped word among other words (`10.71 boulangerie`): returns
/// the query without it and the (system, canonical prefix) it restricts to.
fn split_code_word<'q>(snap: &Snapshot, scope: &[usize], q: &'q str) -> (&'q str, Option<(usize, String)>) {
    let words: Vec<&str> = q.split_whitespace().collect();
    if words.len() < 2 {
        return (q, None);
    }
    for (i, w) in words.iter().enumerate() {
        for &s in scope {
            if let Some(prefix) = snap.systems[s].syntax.code_prefix(w) {
                // The words after removing this one, as a slice of q when it is first or last.
                let rest = if i == 0 {
                    q.trim_start().strip_prefix(w).unwrap_or(q)
                } else if i + 1 == words.len() {
                    q.trim_end().strip_suffix(w).unwrap_or(q)
                } else {
                    continue;
                };
                return (rest, Some((s, prefix)));
            }
        }
    }
    (q, None)
}

/// Word search: every slot required; else the BM25 fallback. `loose`: the
/// plan of the last resort ([`Plan::loose`]), its hits marked `fallback`.
fn text_search(
    ranker: &Ranker,
    scope: &[usize],
    q: &str,
    typing: bool,
    restrict: Option<&(usize, String)>,
    seen: &std::collections::HashSet<ConceptRef>,
    loose: bool,
) -> Result<Vec<(SortKey, Hit)>> {
    let (snap, req) = (ranker.snap, ranker.req);
    let scope: Vec<usize> = match restrict {
        Some((s, _)) => vec![*s],
        None => scope.to_vec(),
    };
    let ranges: Vec<std::ops::Range<u32>> = scope.iter().map(|&s| snap.ordinals_of(s)).collect();
    // The whole query was analysed once; words apart from a code, again.
    let own;
    let terms = if q == ranker.q {
        &ranker.terms
    } else {
        own = crate::text::analyze(q);
        &own
    };
    let plan = if loose { Plan::loose(snap, terms, &ranges) } else { Plan::new(snap, terms, typing, &ranges) };
    if plan.slots.is_empty() {
        return Ok(Vec::new());
    }
    let under = |r: ConceptRef| restrict.is_none_or(|(_, prefix)| snap.concept(r).code.starts_with(prefix.as_str()));
    let mut out = Vec::new();
    let fraction = |matched: usize| matched as f32 / plan.slots.len() as f32;

    let mut bits = Bits::all(&ranges);
    for slot in plan.slots.iter().filter(|s| !s.optional) {
        bits.and(&slot.candidates(snap, &ranges));
    }
    let mut candidates: Vec<ConceptRef> =
        bits.iter().map(ConceptRef).filter(|r| (seen.is_empty() || !seen.contains(r)) && under(*r)).collect();
    ranker.candidates.set(ranker.candidates.get().max(candidates.len()));
    let capped = candidates.len() > ranker.max_graded;
    if capped {
        // A frequent word: grade the likeliest, by a key that costs no grading.
        // Without a typo among the slots' terms, every candidate is strict.
        let typos = plan.slots.iter().any(|s| s.ids.iter().any(|&id| s.how[id as usize] == How::Fuzzy as u8));
        let mut strict = if typos { Bits::all(&ranges) } else { bits.clone() };
        for slot in plan.slots.iter().filter(|s| typos && !s.optional) {
            strict.and(&slot.candidates_within(snap, &ranges, How::Prefix));
        }
        let required = plan.slots.iter().filter(|s| !s.optional).count() as u32;
        let first = plan.slots.iter().find(|s| !s.optional);
        let mut keyed: Vec<_> = candidates.iter().map(|&r| ranker.quick_key(first, required, &strict, r)).collect();
        keyed.select_nth_unstable(ranker.max_graded);
        candidates = keyed[..ranker.max_graded].iter().map(|k| k.concept()).collect();
    }
    // The candidates graded, when not all were.
    let graded: std::collections::HashSet<ConceptRef> =
        if capped { candidates.iter().copied().collect() } else { Default::default() };
    for r in candidates {
        let g = grade(snap, &plan, r, false);
        out.extend(ranker.entry(r, g.kind, 0.0, fraction(g.matched_slots)).map(|e| e.related(g.related)));
    }

    // A short query that some concepts match fully is served; a long
    // description with too few full matches is completed by BM25.
    // (A query that is a label, word for word, is not a description.)
    let exact = out.iter().any(|(_, h)| h.kind == MatchKind::ExactLabel);
    if out.len() < req.limit && (out.is_empty() || (plan.slots.len() >= LONG_QUERY_SLOTS && !exact)) {
        let ids: Vec<&str> = scope.iter().map(|&s| snap.systems[s].id.as_str()).collect();
        let filter = (scope.len() < snap.systems.len()).then_some(ids.as_slice());
        // Framing words (`société`, `activité`) do not rank descriptions.
        let best: Box<dyn Iterator<Item = (u32, f32)>> = if ranker.tantivy_fallback {
            let bm25_slots: Vec<Vec<String>> =
                plan.slots.iter().filter(|s| !s.optional).map(|s| s.bm25_stems(snap, loose)).collect();
            Box::new(snap.text()?.best(&bm25_slots, filter, FALLBACK_CANDIDATES)?.into_iter())
        } else {
            let bm25_slots: Vec<Vec<u32>> =
                plan.slots.iter().filter(|s| !s.optional).map(|s| s.bm25_ids(loose)).collect();
            Box::new(snap.bm25_best(&bm25_slots, &ranges, filter.is_some(), FALLBACK_CANDIDATES))
        };
        // `best` comes by BM25 score. Once `limit` partial matches that
        // neither miss the level nor are flagged are in, a lower score
        // cannot enter the hits: stop there. (Unless the words had more
        // candidates than were graded: a full match may then come late.)
        let (mut clean, mut floor) = (0, None);
        for (ord, score) in best {
            if !capped && floor.is_some_and(|f| SortKey::bm25_of(score) < f) {
                break;
            }
            let r = ConceptRef(ord);
            let done = bits.contains(ord) && (!capped || graded.contains(&r));
            if done || seen.contains(&r) || !under(r) {
                continue;
            }
            // A concept outside the word candidates has no label holding
            // every required slot: its match is partial, and partial matches
            // rank by BM25, not by their grade. Only those kept are graded
            // (below), which gives their share of slots matched.
            if !bits.contains(ord) {
                if let Some((key, hit)) = ranker.entry(r, MatchKind::Partial, score, 0.0) {
                    if !key.level_miss && !key.flagged {
                        clean += 1;
                        if clean == req.limit {
                            floor = Some(key.bm25.0);
                        }
                    }
                    out.push((key, hit));
                }
                continue;
            }
            let g = grade(snap, &plan, r, false);
            out.extend(ranker.entry(r, g.kind, score, fraction(g.matched_slots)).map(|e| e.related(g.related)));
        }
    }

    // Only the hits shown are explained.
    keep_best(&mut out, req.limit);
    for (_, hit) in out.iter_mut() {
        let g = grade(snap, &plan, hit.concept, !req.unexplained);
        if hit.kind == MatchKind::Partial {
            hit.score = MatchKind::Partial.score(fraction(g.matched_slots));
        }
        hit.matched = g.matched;
        hit.fallback = loose;
    }
    Ok(out)
}

/// Keeps the `n` best of `ranked`, sorted.
fn keep_best(ranked: &mut Vec<(SortKey, Hit)>, n: usize) {
    if n < ranked.len() {
        ranked.select_nth_unstable_by(n, |a, b| a.0.cmp(&b.0));
        ranked.truncate(n);
    }
    ranked.sort_by(|a, b| a.0.cmp(&b.0));
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
