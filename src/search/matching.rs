//! Grading one candidate against the query terms: which terms matched which
//! label term, and how. This is what ranking sorts on and what `explain`
//! shows.

use serde::Serialize;

use super::MatchKind;
use crate::index::text::QueryTerm;
use crate::text::Term;

/// How one query term matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// The query was a code.
    Code,
    Exact,
    /// The term is the start of a label term (the word being typed).
    Prefix,
    /// Within the allowed edit distance.
    Fuzzy,
}

/// One query term and what it matched, for `explain` and highlighting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matched {
    /// The query word as folded (accents and case removed).
    pub term: String,
    pub how: How,
    /// `display` or `designation`.
    pub field: &'static str,
    /// The stem of the label term it matched.
    pub target: String,
}

impl Matched {
    pub(super) fn code(q: &str) -> Matched {
        Matched { term: q.trim().to_string(), how: How::Code, field: "code", target: String::new() }
    }
}

pub(super) struct Grade {
    pub kind: MatchKind,
    pub matched_terms: usize,
    pub matched: Vec<Matched>,
}

/// The best match of query term `q` among `doc` terms: how, and where.
fn match_term(q: &QueryTerm, doc: &[Box<str>]) -> Option<(How, usize)> {
    let mut best: Option<(How, usize)> = None;
    for (pos, d) in doc.iter().enumerate() {
        let how = if **d == *q.stem {
            How::Exact
        } else if q.prefix && d.starts_with(q.stem.as_str()) {
            How::Prefix
        } else if q.fuzzy > 0 && within(&q.stem, d, q.fuzzy, q.prefix) {
            How::Fuzzy
        } else {
            continue;
        };
        if best.is_none_or(|(b, _)| how < b) {
            best = Some((how, pos));
            if how == How::Exact {
                break;
            }
        }
    }
    best
}

/// Whether `target` (or, for a prefix, its start) is within `max` edits of
/// `q`.
fn within(q: &str, target: &str, max: u8, prefix: bool) -> bool {
    let max = usize::from(max);
    let (q, t) = (q.as_bytes(), target.as_bytes());
    if !prefix {
        return t.len().abs_diff(q.len()) <= max && levenshtein(q, t) <= max;
    }
    let lo = q.len().saturating_sub(max);
    let hi = (q.len() + max).min(t.len());
    (lo..=hi).any(|k| k <= t.len() && levenshtein(q, &t[..k]) <= max)
}

/// Edit distance with adjacent transpositions counted as one edit.
fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Grades one label (display or designation) against every query term.
fn grade_label(terms: &[QueryTerm], label: &[Box<str>]) -> Vec<Option<(How, usize)>> {
    terms.iter().map(|t| match_term(t, label)).collect()
}

fn kind_of(matches: &[Option<(How, usize)>], label_len: usize) -> Option<MatchKind> {
    let all: Option<Vec<(How, usize)>> = matches.iter().copied().collect();
    let all = all?;
    if all.iter().any(|(h, _)| *h == How::Fuzzy) {
        return Some(MatchKind::Fuzzy);
    }
    let positions: Vec<usize> = all.iter().map(|(_, p)| *p).collect();
    let from_start = positions.iter().enumerate().all(|(i, p)| i == *p);
    if from_start && label_len == all.len() && all.iter().all(|(h, _)| *h == How::Exact) {
        return Some(MatchKind::ExactLabel);
    }
    if from_start {
        return Some(MatchKind::LabelPrefix);
    }
    if positions.windows(2).all(|w| w[0] < w[1]) {
        return Some(MatchKind::InOrder);
    }
    Some(MatchKind::AllTerms)
}

/// Grades a candidate: the best kind over its display and designations, or
/// the union of their matches when no single label matches every term.
pub(super) fn grade(words: &[Term], terms: &[QueryTerm], label: &[Box<str>], alts: &[Vec<Box<str>>]) -> Grade {
    let explain = |matches: &[Option<(How, usize)>], doc: &[Box<str>], field: &'static str| -> Vec<Matched> {
        matches
            .iter()
            .zip(words)
            .filter_map(|(m, w)| {
                m.map(|(how, pos)| Matched { term: w.word.clone(), how, field, target: doc[pos].to_string() })
            })
            .collect()
    };
    let on_label = grade_label(terms, label);
    let mut best: Option<(MatchKind, Vec<Matched>)> =
        kind_of(&on_label, label.len()).map(|k| (k, explain(&on_label, label, "display")));
    for alt in alts {
        let m = grade_label(terms, alt);
        if let Some(k) = kind_of(&m, alt.len())
            && best.as_ref().is_none_or(|(b, _)| k < *b)
        {
            best = Some((k, explain(&m, alt, "designation")));
        }
    }
    if let Some((kind, matched)) = best {
        return Grade { kind, matched_terms: terms.len(), matched };
    }
    // No single label has every term: take each term where it matches.
    let mut matched = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let found = std::iter::once((label, "display"))
            .chain(alts.iter().map(|a| (a.as_slice(), "designation")))
            .find_map(|(doc, field)| {
                match_term(t, doc).map(|(how, pos)| Matched {
                    term: words[i].word.clone(),
                    how,
                    field,
                    target: doc[pos].to_string(),
                })
            });
        if let Some(m) = found {
            matched.push(m);
        }
    }
    let kind = if matched.len() == terms.len() {
        if matched.iter().any(|m| m.how == How::Fuzzy) { MatchKind::Fuzzy } else { MatchKind::AllTerms }
    } else {
        MatchKind::Partial
    };
    Grade { kind, matched_terms: matched.len(), matched }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Vec<Box<str>> {
        crate::text::analyze(s).into_iter().map(|t| t.stem.into_boxed_str()).collect()
    }

    fn q(s: &str, typing: bool) -> (Vec<Term>, Vec<QueryTerm>) {
        let words = crate::text::analyze(s);
        let n = words.len();
        let terms = words
            .iter()
            .enumerate()
            .map(|(i, t)| QueryTerm {
                stem: t.stem.clone(),
                prefix: typing && i + 1 == n,
                fuzzy: super::super::fuzziness(&t.stem),
            })
            .collect();
        (words, terms)
    }

    fn kind(query: &str, typing: bool, label: &str) -> MatchKind {
        let (w, t) = q(query, typing);
        grade(&w, &t, &doc(label), &[]).kind
    }

    #[test]
    fn kinds_follow_the_ranking_order() {
        assert_eq!(kind("boulangerie", false, "Boulangerie"), MatchKind::ExactLabel);
        assert_eq!(kind("fabrication de pa", true, "Fabrication de pain et de pâtisserie"), MatchKind::LabelPrefix);
        assert_eq!(kind("boulangerie pât", true, "Boulangerie et boulangerie-pâtisserie"), MatchKind::InOrder);
        assert_eq!(kind("culture riz", false, "Culture du riz"), MatchKind::ExactLabel);
        assert_eq!(kind("fabrication pain", false, "Fabrication industrielle de pain"), MatchKind::InOrder);
        assert_eq!(kind("pain fabrication", false, "Fabrication industrielle de pain"), MatchKind::AllTerms);
        assert_eq!(kind("boulagerie", false, "Boulangerie"), MatchKind::Fuzzy);
        assert_eq!(kind("boulangerie lune", false, "Boulangerie"), MatchKind::Partial);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(levenshtein(b"imprimeire", b"imprimerie"), 1);
        assert_eq!(levenshtein(b"chaudronerie", b"chaudronnerie"), 1);
        assert_eq!(levenshtein(b"abc", b"abc"), 0);
        assert!(within("lomba", "lombalgi", 1, true));
        assert!(!within("lomba", "lumbago", 1, false));
    }
}
