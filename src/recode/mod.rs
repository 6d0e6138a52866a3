//! Bulk recoding of legacy data: old codes, local spellings and free-text
//! labels to current codes, with a method, a confidence and candidates for
//! every row.
//!
//! [`Recoder`] decides one row; [`pipeline`] streams a whole table through
//! it, keeping every row once and in order.

mod outcome;
pub mod pipeline;
mod settle;

pub use outcome::{Method, Outcome, Transition};
pub use settle::settle_by_text;

use std::collections::HashMap;
use std::sync::Arc;

use crate::index::{ConceptRef, Snapshot};
use crate::search::{Hit, MatchKind, SearchRequest, search};

/// Confidence from which a code is written in `harmonie_code`.
pub const DEFAULT_THRESHOLD: f32 = 0.6;

/// Words legacy files put where no activity or occupation was known.
const JUNK: &[&str] = &[
    "divers",
    "diver",
    "autre",
    "autres",
    "inconnu",
    "inconnue",
    "neant",
    "ras",
    "na",
    "nc",
    "nr",
    "nd",
    "xxx",
    "xx",
    "x",
    "test",
    "aucun",
    "aucune",
    "sans",
    "idem",
    "voir",
    "null",
    "none",
    "vide",
    "non renseigne",
    "a completer",
];

/// Words of the longest entry of [`JUNK`].
const MAX_JUNK_WORDS: usize = 2;

/// Decides rows for one target system, caching repeated (code, label,
/// text) rows.
pub struct Recoder<'a> {
    snap: &'a Snapshot,
    system: usize,
    threshold: f32,
    maps: Vec<&'a crate::model::map::ConceptMap>,
    /// Outcomes by `code length:label length:code label text`, trimmed.
    cache: HashMap<String, Arc<Outcome>>,
    /// The key of the row being decided (kept to spare an allocation per row).
    key: String,
}

const CACHE_LIMIT: usize = 100_000;
/// Longest (code, label) kept in the cache, in bytes: with `CACHE_LIMIT`,
/// the cache holds at most about 25 MB of text.
const CACHE_KEY_BYTES: usize = 256;

impl<'a> Recoder<'a> {
    /// A recoder to `system`, filling codes from `threshold` confidence.
    pub fn new(snap: &'a Snapshot, system: usize, threshold: f32) -> Recoder<'a> {
        let id = &snap.systems[system].id;
        let maps = snap.maps.iter().filter(|m| &m.target == id).collect();
        Recoder { snap, system, threshold, maps, cache: HashMap::new(), key: String::new() }
    }

    /// Recodes one row from its code and/or label (either may be empty).
    pub fn recode(&mut self, code: &str, label: &str) -> Outcome {
        self.recode_with_text(code, label, "")
    }

    /// [`Recoder::recode`], with more of the row's text (other declared
    /// columns: an activity description…) to settle a split code with.
    pub fn recode_with_text(&mut self, code: &str, label: &str, text: &str) -> Outcome {
        Outcome::clone(&self.recode_shared(code, label, text))
    }

    /// [`Recoder::recode_with_text`], the outcome shared with the cache: a
    /// repeated row costs a lookup, no allocation.
    pub fn recode_shared(&mut self, code: &str, label: &str, text: &str) -> Arc<Outcome> {
        use std::fmt::Write as _;
        let (code, label, text) = (code.trim(), label.trim(), text.trim());
        // The lengths first: no row's parts can spell another row's key.
        self.key.clear();
        let _ = write!(self.key, "{}:{}:{code}{label}{text}", code.len(), label.len());
        if let Some(o) = self.cache.get(self.key.as_str()) {
            return o.clone();
        }
        let mut o = self.decide(code, label, text);
        o.confidence = (o.confidence * 100.0).round() / 100.0;
        if o.confidence < self.threshold || matches!(o.method, Method::Ambiguous | Method::None) {
            o.code = None;
            o.display = None;
        }
        o.review |= o.code.is_none() && !(code.is_empty() && label.is_empty()) || o.confidence < 0.8;
        let o = Arc::new(o);
        // Long texts are rarely repeated: they are not kept, so that the
        // cache's memory stays bounded whatever the file holds.
        if self.key.len() <= CACHE_KEY_BYTES {
            if self.cache.len() >= CACHE_LIMIT {
                self.cache.clear();
            }
            self.cache.insert(self.key.clone(), o.clone());
        }
        o
    }

    fn outcome(&self, r: ConceptRef, method: Method, confidence: f32) -> Outcome {
        let c = self.snap.concept(r);
        Outcome {
            code: Some(c.code.clone()),
            display: Some(c.display.clone()),
            method,
            confidence,
            candidates: vec![(c.code.clone(), confidence)],
            review: false,
            note: String::new(),
            transition: None,
            source_code: None,
        }
    }

    /// Several codes fit: candidates, no code.
    fn ambiguous(candidates: Vec<(String, f32)>, note: String) -> Outcome {
        Outcome {
            code: None,
            display: None,
            method: Method::Ambiguous,
            confidence: 0.5,
            candidates,
            review: true,
            note,
            transition: None,
            source_code: None,
        }
    }

    /// No code: the row is kept with `note` saying why.
    pub fn none(note: String) -> Outcome {
        Outcome {
            code: None,
            display: None,
            method: Method::None,
            confidence: 0.0,
            candidates: Vec::new(),
            review: true,
            note,
            transition: None,
            source_code: None,
        }
    }

    fn decide(&self, code: &str, label: &str, text: &str) -> Outcome {
        if code.is_empty() {
            return self.by_label(label);
        }
        let syntax = self.snap.systems[self.system].syntax;
        if let Some(r) = self.snap.lookup(self.system, code) {
            let method =
                if syntax.canonical(code).as_deref() == Some(code) { Method::Exact } else { Method::Respelled };
            if !self.snap.is_codable(r) {
                return self.complete(r, label);
            }
            let mut o = self.outcome(r, method, if method == Method::Exact { 1.0 } else { 0.98 });
            o.source_code = Some(self.snap.concept(r).code.clone());
            self.check_label(r, label, &mut o);
            return o;
        }
        if let Some(mut o) = self.transcode(code, label, text) {
            o.source_code = self.maps.iter().find_map(|m| m.get(code)).map(|e| e.code.clone());
            return o;
        }
        let near: Vec<(String, f32)> = syntax
            .canonical(code)
            .map(|c| self.snap.near_codes(self.system, &c, 3))
            .unwrap_or_default()
            .into_iter()
            .map(|r| (self.snap.concept(r).code.clone(), 0.3))
            .collect();
        let what = if syntax.canonical(code).is_some() { "unknown code" } else { "malformed code" };
        let mut o = if label.is_empty() { Recoder::none(String::new()) } else { self.by_label(label) };
        o.review = true;
        if o.candidates.is_empty() {
            o.candidates = near;
        }
        o.note = format!("{what} {code:?}{}{}", if o.note.is_empty() { "" } else { "; " }, o.note);
        o
    }

    /// Through the correspondence tables targeting this system; one-to-many
    /// links are settled with the label when it points to one of them.
    fn transcode(&self, code: &str, label: &str, text: &str) -> Option<Outcome> {
        for map in &self.maps {
            let Some(element) = map.get(code) else { continue };
            let targets: Vec<(ConceptRef, &crate::model::map::Target)> =
                element.targets.iter().filter_map(|t| self.snap.get(self.system, &t.code).map(|r| (r, t))).collect();
            let note = format!("{} {} via {}", map.source, element.code, map.id);
            match targets.as_slice() {
                [] => {
                    let mut o = Recoder::none(format!("{note}: no correspondence"));
                    o.transition = Some(Transition::NoCorrespondence);
                    return Some(o);
                }
                [(r, t)] => {
                    let confidence = if t.equivalence == crate::model::map::Equivalence::Inexact { 0.8 } else { 0.95 };
                    let mut o = self.outcome(*r, Method::Transcoded, confidence);
                    o.note = note;
                    o.transition = Some(if t.equivalence == crate::model::map::Equivalence::Wider {
                        Transition::Merged
                    } else {
                        Transition::OneToOne
                    });
                    return Some(o);
                }
                many => {
                    let candidates: Vec<(String, f32)> = many
                        .iter()
                        .map(|(r, t)| (self.snap.concept(*r).code.clone(), t.share.unwrap_or(1.0 / many.len() as f32)))
                        .collect();
                    // The row's text settles the split when it holds the words of one
                    // target (its label, what the table says goes to it) clearly more
                    // than those of the others.
                    let row_text = format!("{label} {text}");
                    if let Some((r, why)) = settle_by_text(self.snap, &row_text, many) {
                        let mut o = self.outcome(r, Method::Transcoded, 0.85);
                        o.candidates = candidates;
                        o.note = format!("{note}: split settled by the text ({why})");
                        o.transition = Some(Transition::SplitSettled);
                        return Some(o);
                    }
                    // Without the table's texts, the label settles the split when it
                    // ranks one of the targets first among them.
                    if !label.is_empty() && many.iter().all(|(_, t)| t.note.is_none()) {
                        let hits = self.search(label, 50);
                        let pick = hits
                            .iter()
                            .find_map(|h| many.iter().find(|(r, _)| self.related(*r, h.concept)).map(|(r, _)| *r));
                        if let Some(r) = pick {
                            let mut o = self.outcome(r, Method::Transcoded, 0.85);
                            o.candidates = candidates;
                            o.note = format!("{note}: split settled by the label");
                            o.transition = Some(Transition::SplitSettled);
                            return Some(o);
                        }
                    }
                    if let Some((r, t)) =
                        many.iter().max_by(|a, b| a.1.share.unwrap_or(0.0).total_cmp(&b.1.share.unwrap_or(0.0)))
                        && t.share.is_some_and(|s| s >= 0.8)
                    {
                        let mut o = self.outcome(*r, Method::Transcoded, 0.9 * t.share.unwrap_or(0.0));
                        o.candidates = candidates;
                        o.note = format!("{note}: main share of the split");
                        o.transition = Some(Transition::SplitSettled);
                        return Some(o);
                    }
                    let why =
                        if row_text.trim().is_empty() { "no text on the row" } else { "the text does not settle it" };
                    let mut o =
                        Recoder::ambiguous(candidates, format!("{note}: split into {} codes, {why}", many.len()));
                    o.transition = Some(Transition::SplitReview);
                    return Some(o);
                }
            }
        }
        None
    }

    /// A code above the codable level (a NAF classe, a PCS catégorie):
    /// its only codable descendant, or the one the label points to.
    fn complete(&self, r: ConceptRef, label: &str) -> Outcome {
        let group = self.snap.concept(r).code.clone();
        let codable: Vec<ConceptRef> =
            self.snap.descendants(r).into_iter().filter(|&d| self.snap.is_codable(d)).collect();
        let candidates: Vec<(String, f32)> =
            codable.iter().take(3).map(|&d| (self.snap.concept(d).code.clone(), 0.5)).collect();
        if let [only] = codable.as_slice() {
            let mut o = self.outcome(*only, Method::Respelled, 0.95);
            o.note = format!("{group} has one sous-niveau codable: {}", self.snap.concept(*only).code);
            return o;
        }
        if !label.is_empty() && !is_junk(label) {
            let hits = self.search(label, 50);
            if let Some(h) = hits.iter().find(|h| codable.contains(&h.concept)) {
                let mut o = self.outcome(h.concept, Method::LabelMatch, 0.85);
                o.note = format!("{group} completed by the label");
                return o;
            }
        }
        Recoder::ambiguous(
            candidates,
            format!("{group} is a {}; {} codes beneath it", self.snap.level_name(r), codable.len()),
        )
    }

    /// Whether `a` and `b` are the same concept or one is beneath the other.
    fn related(&self, a: ConceptRef, b: ConceptRef) -> bool {
        a == b || self.snap.ancestors(a).contains(&b) || self.snap.ancestors(b).contains(&a)
    }

    fn search(&self, label: &str, limit: usize) -> Vec<Hit> {
        search(
            self.snap,
            &SearchRequest {
                q: label,
                system: Some(self.system),
                limit,
                level: None,
                leaf: false,
                level_only: false,
                no_context: false,
                unexplained: true,
            },
        )
        .unwrap_or_default()
    }

    /// A valid code whose label points elsewhere is kept but flagged.
    fn check_label(&self, r: ConceptRef, label: &str, o: &mut Outcome) {
        if label.is_empty() || is_junk(label) {
            return;
        }
        let hits = self.search(label, 5);
        if hits.is_empty() || hits.iter().any(|h| self.related(r, h.concept)) {
            return;
        }
        if hits[0].kind <= MatchKind::InOrder {
            let top = &self.snap.concept(hits[0].concept).code;
            o.review = true;
            o.confidence = o.confidence.min(0.75);
            o.note = format!("the label suggests {top}, not {}", self.snap.concept(r).code);
            o.candidates.extend(hits.iter().take(2).map(|h| (self.snap.concept(h.concept).code.clone(), h.score)));
        }
    }

    fn by_label(&self, label: &str) -> Outcome {
        if label.is_empty() {
            return Recoder::none("no code and no label".into());
        }
        if is_junk(label) {
            return Recoder::none(format!("no usable label: {label:?}"));
        }
        let hits = self.search(label, 8);
        let Some(first) = hits.first() else {
            return Recoder::none("no concept matches the label".into());
        };
        // A group (NAF classe…) matching best stands for its codable descendant among the hits.
        let top = if self.snap.is_codable(first.concept) {
            first
        } else {
            hits.iter()
                .find(|h| self.snap.is_codable(h.concept) && self.related(h.concept, first.concept))
                .unwrap_or(first)
        };
        let kind = first.kind.min(top.kind);
        let candidates: Vec<(String, f32)> = std::iter::once(top)
            .chain(hits.iter().filter(|h| h.concept != top.concept && !self.related(h.concept, top.concept)))
            .take(3)
            .map(|h| (self.snap.concept(h.concept).code.clone(), h.score))
            .collect();
        let (method, mut confidence) = match kind {
            MatchKind::ExactCode | MatchKind::CodePrefix => (Method::Respelled, 0.9),
            MatchKind::ExactLabel => (Method::LabelExact, 0.95),
            MatchKind::LabelPrefix => (Method::LabelMatch, 0.85),
            MatchKind::InOrder => (Method::LabelMatch, 0.8),
            MatchKind::AllTerms => (Method::LabelMatch, 0.72),
            MatchKind::Fuzzy => (Method::Fuzzy, 0.65),
            // Share of the label's words matched, and the lead over the next candidate.
            MatchKind::Partial => {
                let next = hits
                    .iter()
                    .find(|h| h.kind == MatchKind::Partial && !self.related(h.concept, top.concept))
                    .map_or(0.0, Hit::fraction);
                (Method::LabelMatch, 0.3 + 0.4 * top.fraction() + 0.2 * (top.fraction() - next).max(0.0))
            }
        };
        // Other codable concepts, outside this one's family, matching as well.
        let ties = hits
            .iter()
            .filter(|h| {
                h.kind == kind
                    && h.concept != top.concept
                    && self.snap.is_codable(h.concept)
                    && !self.related(h.concept, top.concept)
            })
            .count();
        if ties > 0 && kind == MatchKind::ExactLabel {
            return Recoder::ambiguous(candidates, format!("{} codes fit the label equally", ties + 1));
        }
        if kind != MatchKind::Partial {
            confidence /= 1.0 + 0.15 * ties as f32;
        }
        if !self.snap.is_codable(top.concept) {
            confidence = confidence.min(0.5);
        }
        let mut o = self.outcome(top.concept, method, confidence);
        o.candidates = candidates;
        o
    }
}

/// Whether a label says nothing (`DIVERS`, `???`, `néant`, `xxx`).
pub fn is_junk(label: &str) -> bool {
    // Every word of one letter (not a digit), or every word junk; or a
    // junk phrase. Past its longest, a word that is neither settles it.
    let (mut letters, mut junk, mut words) = (true, true, Vec::new());
    for (n, (word, _)) in crate::text::FoldedWords::new(label).enumerate() {
        letters &= word.len() <= 1 && !word.chars().all(|c| c.is_ascii_digit());
        junk &= JUNK.contains(&word.as_str()) || word.chars().all(|c| c == 'x');
        if n >= MAX_JUNK_WORDS && !letters && !junk {
            return false;
        }
        words.push(word);
    }
    words.is_empty() || letters || junk || (words.len() <= MAX_JUNK_WORDS && JUNK.contains(&words.join(" ").as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_labels_are_told_from_labels() {
        assert!(JUNK.iter().all(|j| j.split(' ').count() <= MAX_JUNK_WORDS), "raise MAX_JUNK_WORDS");
        for junk in [
            "",
            " - ",
            "DIVERS",
            "Non renseigné",
            "à compléter",
            "xxxx",
            "autres divers",
            "x x",
            "divers xxx néant ?",
            "a b c d",
        ] {
            assert!(is_junk(junk), "{junk:?}");
        }
        for label in [
            "Boulangerie",
            "non renseigné boulanger",
            "autres industries",
            "12",
            "ras le bol",
            "divers divers boulangerie",
            "a b c 12",
        ] {
            assert!(!is_junk(label), "{label:?}");
        }
    }
}
