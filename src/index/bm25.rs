//! BM25 over the snapshot's own labels, for the free-text fallback: the
//! scores tantivy gave on the snapshot's text index (a document per
//! concept, its `terms` the stems of its display and designations, its
//! `context` those of its ancestors' displays boosted by
//! [`CONTEXT_BOOST`], a system filter scored as a term), computed as
//! tantivy's `Bm25Weight` does (same constants, same quantised field
//! lengths, same order of operations) from the label table and the
//! postings, so that a search within one system reads the postings of that
//! system only.
//!
//! Guarantees: the statistics (document frequencies, field lengths and
//! their averages) are those of every concept of the snapshot, whatever
//! the scope; scores are those tantivy's `BooleanQuery` of `TermQuery`s
//! gives, but for the order in which floats are added.

use std::ops::Range;

use tantivy::fieldnorm::FieldNormReader;

use super::labels::{LabelTable, Postings};

/// Weight of a match found only in the labels of a concept's ancestors.
pub const CONTEXT_BOOST: f32 = 0.3;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// The inverse document frequency of a stem `freq` of `docs` documents have.
fn idf(freq: u64, docs: u64) -> f32 {
    let x = ((docs - freq.min(docs)) as f32 + 0.5) / (freq as f32 + 0.5);
    (1.0 + x).ln()
}

/// Per quantised field length, the length part of BM25's denominator, and
/// the term-frequency part of a term found once (`1 / (1 + length part)`,
/// as the division computes it: the common case, without dividing).
struct Lengths {
    factor: [f32; 256],
    once: [f32; 256],
}

fn length_factors(average: f32) -> Lengths {
    let factor: [f32; 256] =
        std::array::from_fn(|id| K1 * (1.0 - B + B * FieldNormReader::id_to_fieldnorm(id as u8) as f32 / average));
    Lengths { once: std::array::from_fn(|id| 1.0 / (1.0 + factor[id])), factor }
}

/// BM25 of one stem: its weight, and the length factors of its field.
struct Weight<'a> {
    weight: f32,
    lengths: &'a Lengths,
}

impl Weight<'_> {
    fn score(&self, norm: u8, tf: u32) -> f32 {
        if tf == 1 {
            return self.weight * self.lengths.once[norm as usize];
        }
        let tf = tf as f32;
        self.weight * (tf / (tf + self.lengths.factor[norm as usize]))
    }
}

/// The scores of one search, per concept of its scope, in an array as
/// long as the scope (no map, no sort). The array is the thread's (see
/// [`FREE_SCORES`]): it is all NaN when taken and given back so.
struct Tally<'a> {
    scope: &'a [Range<u32>],
    /// Where each range of the scope starts in `scores`.
    offsets: Vec<usize>,
    scores: Vec<f32>,
    /// The concepts scored, in the order first scored.
    touched: Vec<u32>,
}

thread_local! {
    /// A score array of a finished tally, all NaN, for the next one of
    /// this thread: an array as long as the scope costs more to allocate
    /// and fill than many a tally.
    static FREE_SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<'a> Tally<'a> {
    fn new(scope: &'a [Range<u32>]) -> Tally<'a> {
        let mut offsets = Vec::with_capacity(scope.len());
        let mut len = 0;
        for r in scope {
            offsets.push(len);
            len += r.len();
        }
        let mut scores = FREE_SCORES.with(|free| std::mem::take(&mut *free.borrow_mut()));
        if scores.len() < len {
            scores.resize(len, f32::NAN);
        }
        Tally { scope, offsets, scores, touched: Vec::new() }
    }

    /// The range of the scope `ord` is in, and where it is in `scores`.
    fn at(&self, ord: u32) -> (usize, usize) {
        let k = self.scope.iter().position(|r| r.contains(&ord)).expect("scored within the scope");
        (k, self.offsets[k] + (ord - self.scope[k].start) as usize)
    }

    /// Adds to each concept of the scope using stem `id` in `postings` its
    /// score, `score(ordinal, frequency)`.
    fn add_all(&mut self, postings: &Postings, id: u32, score: impl Fn(u32, u16) -> f32) {
        for (k, r) in self.scope.iter().enumerate() {
            let (ords, freqs) = postings.within_counted(id, r);
            for (&ord, &tf) in ords.iter().zip(freqs) {
                let at = self.offsets[k] + (ord - r.start) as usize;
                let s = score(ord, tf);
                if self.scores[at].is_nan() {
                    self.scores[at] = s;
                    self.touched.push(ord);
                } else {
                    self.scores[at] += s;
                }
            }
        }
    }

    /// Every concept scored, with its score plus `extra(range)` of the
    /// range of the scope it is in, by score.
    fn ranked(&self, extra: impl Fn(usize) -> f32, n: usize) -> Ranked {
        let heap = self
            .touched
            .iter()
            .map(|&ord| {
                let (k, at) = self.at(ord);
                Scored { score: self.scores[at] + extra(k), ord }
            })
            .collect();
        Ranked { heap, left: n }
    }
}

impl Drop for Tally<'_> {
    /// Gives the score array back to the thread, NaN where it was set.
    fn drop(&mut self) {
        let mut scores = std::mem::take(&mut self.scores);
        for &ord in &self.touched {
            scores[self.at(ord).1] = f32::NAN;
        }
        FREE_SCORES.with(|free| *free.borrow_mut() = scores);
    }
}

/// The statistics BM25 needs, per concept and per stem.
pub struct Bm25 {
    /// Per ordinal, the quantised length of its `terms` and of its `context`.
    norms: Vec<(u8, u8)>,
    /// Length factors of `terms` and of `context`, from their average
    /// length over all concepts.
    lengths: (Lengths, Lengths),
    /// Per stem id, the concepts having it in their ancestors' displays.
    context: Postings,
}

impl Bm25 {
    /// The statistics of the concepts of `table` over `terms` stems.
    pub fn of(table: &LabelTable, terms: u32) -> Bm25 {
        let n = table.len();
        let mut norms = Vec::with_capacity(n);
        let (mut total_terms, mut total_context) = (0u64, 0u64);
        for ord in 0..n as u32 {
            let own: usize = table.all(ord).map(<[u32]>::len).sum();
            let context: usize = table.ancestors(ord).map(|a| table.display(a).len()).sum();
            total_terms += own as u64;
            total_context += context as u64;
            norms
                .push((FieldNormReader::fieldnorm_to_id(own as u32), FieldNormReader::fieldnorm_to_id(context as u32)));
        }
        let docs = n.max(1) as f32;
        let lengths = (length_factors(total_terms as f32 / docs), length_factors(total_context as f32 / docs));
        Bm25 { norms, lengths, context: Postings::of_context(table, terms) }
    }

    /// The `n` concepts within `scope` best matching any of the query
    /// slots (each a list of alternative stem ids; a concept scores for
    /// each it has), best first, ties in ordinal order, as they are taken. `filtered`: the
    /// scope is a choice of systems, whose filter tantivy scored as a term
    /// of the `system` field (in as many documents as the system has
    /// concepts).
    pub fn best(
        &self,
        postings: &Postings,
        slots: &[Vec<u32>],
        scope: &[Range<u32>],
        filtered: bool,
        n: usize,
    ) -> Ranked {
        let docs = self.norms.len() as u64;
        let mut tally = Tally::new(scope);
        for &id in slots.iter().flatten() {
            // Document frequencies over every concept, whatever the scope.
            let own = postings.get(id).len() as u64;
            let w = Weight { weight: idf(own, docs) * (1.0 + K1), lengths: &self.lengths.0 };
            tally.add_all(postings, id, |ord, tf| w.score(self.norms[ord as usize].0, u32::from(tf)));
            // Concepts beneath one whose display has the stem.
            let below = self.context.get(id).len() as u64;
            if below == 0 {
                continue;
            }
            let w = Weight { weight: idf(below, docs) * (1.0 + K1) * CONTEXT_BOOST, lengths: &self.lengths.1 };
            tally.add_all(&self.context, id, |ord, tf| w.score(self.norms[ord as usize].1, u32::from(tf)));
        }
        // With a filter, the system's term: in every document of its
        // system, once, in a field one token long on average.
        let of_system: Vec<f32> = if filtered {
            static ONE: std::sync::LazyLock<Lengths> = std::sync::LazyLock::new(|| length_factors(1.0));
            scope
                .iter()
                .map(|r| {
                    Weight { weight: idf(r.len() as u64, docs) * (1.0 + K1), lengths: &ONE }
                        .score(FieldNormReader::fieldnorm_to_id(1), 1)
                })
                .collect()
        } else {
            vec![0.0; scope.len()]
        };
        tally.ranked(|k| of_system[k], n)
    }
}

/// Concepts by score, best first, ties in ordinal order, ordered as they
/// are taken (a heap): a caller that stops after a few does not sort the
/// others.
pub struct Ranked {
    heap: std::collections::BinaryHeap<Scored>,
    /// How many may still be taken.
    left: usize,
}

impl Iterator for Ranked {
    type Item = (u32, f32);

    fn next(&mut self) -> Option<(u32, f32)> {
        self.left = self.left.checked_sub(1)?;
        self.heap.pop().map(|s| (s.ord, s.score))
    }
}

/// A scored concept, greater when better: a higher score, then a lower
/// ordinal.
#[derive(PartialEq)]
struct Scored {
    score: f32,
    ord: u32,
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Scored) -> std::cmp::Ordering {
        self.score.total_cmp(&other.score).then(other.ord.cmp(&self.ord))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Scored) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
