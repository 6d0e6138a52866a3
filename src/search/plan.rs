//! Query plans: the query's terms grouped into slots, each resolved once
//! against the snapshot vocabulary into the label terms it matches and how.

use std::ops::Range;

use super::How;
use crate::index::Snapshot;
use crate::text::Term;

/// Slots beyond which fuzzy matching is skipped: a long description is
/// served by the BM25 fallback, not by typo tolerance on every word.
const MAX_FUZZY_SLOTS: usize = 4;
/// Terms of a query that make slots: a description is read up to there.
const MAX_TERMS: usize = 64;
/// Terms the loose plan tries (it is costlier per term).
const MAX_LOOSE_TERMS: usize = 8;
/// Label terms per slot the BM25 query takes, best matches first.
const MAX_BM25_STEMS: usize = 32;

/// One unit of meaning of the query: a term, or a lexicon phrase.
pub(crate) struct Slot {
    /// The folded query words it covers, for `explain`.
    pub word: String,
    /// Per vocabulary id, how it matches (0 = it does not): [`How`] as u8.
    pub how: Vec<u8>,
    /// Vocabulary ids it matches, to read postings.
    pub ids: Vec<u32>,
    /// Alternatives of several stems (all must be in one label).
    pub multi: Vec<Vec<u32>>,
    /// A word that frames rather than names (`cabinet`, `magasin`): a
    /// label need not hold it (lexicon kind `optional`).
    pub optional: bool,
}

/// A query analysed into slots.
pub(crate) struct Plan {
    pub slots: Vec<Slot>,
}

/// Edit distance allowed for a query stem: 1 from 4 letters, 2 from 8.
pub(crate) fn fuzziness(stem: &str) -> u8 {
    match stem.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

thread_local! {
    /// `how` arrays of dropped slots, all zero, for the next plans of this
    /// thread: an array as long as the vocabulary costs more to allocate
    /// and zero than the search of a short query.
    static FREE_HOW: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}
/// `how` arrays kept per thread.
const MAX_FREE_HOW: usize = 16;

impl Slot {
    fn new(snap: &Snapshot, word: String) -> Slot {
        let n = snap.vocab.terms.len();
        let how =
            FREE_HOW.with(|free| free.borrow_mut().pop()).filter(|how| how.len() == n).unwrap_or_else(|| vec![0; n]);
        Slot { word, how, ids: Vec::new(), multi: Vec::new(), optional: false }
    }

    fn set(&mut self, id: u32, how: How) {
        let cur = &mut self.how[id as usize];
        if *cur == 0 {
            self.ids.push(id);
        }
        if *cur == 0 || (how as u8) < *cur {
            *cur = how as u8;
        }
    }

    /// Adds an alternative of one or more stems, matched `how`.
    fn add_alternative(&mut self, snap: &Snapshot, stems: &[String], how: How) {
        let ids: Option<Vec<u32>> = stems.iter().map(|s| snap.vocab.id(s)).collect();
        match ids {
            Some(ids) if ids.len() == 1 => self.set(ids[0], how),
            Some(ids) if !ids.is_empty() => self.multi.push(ids),
            _ => {}
        }
    }

    /// Adds the terms starting with `stem`; returns whether there were any.
    fn add_prefix(&mut self, snap: &Snapshot, stem: &str) -> bool {
        let range = snap.vocab.prefix_range(stem);
        let any = !range.is_empty();
        for id in range {
            self.set(id, How::Prefix);
        }
        any
    }

    /// Terms used within `scope` within `d` edits of `stem` (with
    /// `prefix`, starting within `d` edits of it).
    fn add_fuzzy(&mut self, snap: &Snapshot, stem: &str, d: u8, prefix: bool, scope: &[Range<u32>]) {
        if d == 0 {
            return;
        }
        for &id in snap.vocab.fuzzy(stem, d, prefix, scope).iter() {
            self.set(id, How::Fuzzy);
        }
    }

    /// Ordinals of the concepts this slot matches, within `scope` (ranges
    /// of ordinals, one per system searched).
    pub fn candidates(&self, snap: &Snapshot, scope: &[Range<u32>]) -> Bits {
        self.candidates_within(snap, scope, How::Fuzzy)
    }

    /// Ordinals of the concepts within `scope` this slot matches at least
    /// as well as `worst` (`How::Prefix`: without typos). Postings are in
    /// ordinal order, so only the part of each within `scope` is read: a
    /// frequent term of another system costs two binary searches.
    pub fn candidates_within(&self, snap: &Snapshot, scope: &[Range<u32>], worst: How) -> Bits {
        let within = |id: u32, bits: &mut Bits| {
            for range in scope {
                for &ord in snap.vocab.postings.within(id, range) {
                    bits.set(ord);
                }
            }
        };
        let mut bits = Bits::none(scope);
        for &id in self.ids.iter().filter(|&&id| self.how[id as usize] <= worst as u8) {
            within(id, &mut bits);
        }
        for alt in &self.multi {
            let mut all = Bits::all(scope);
            for &id in alt {
                let mut one = Bits::none(scope);
                within(id, &mut one);
                all.and(&one);
            }
            bits.or(&all);
        }
        bits
    }

    /// The stems for the BM25 fallback: exact and synonym ones; with
    /// `loose`, the prefix and fuzzy ones too (the closest first, at most
    /// [`MAX_BM25_STEMS`]).
    pub fn bm25_stems(&self, snap: &Snapshot, loose: bool) -> Vec<String> {
        self.bm25_ids(loose).iter().map(|&id| snap.vocab.terms[id as usize].to_string()).collect()
    }

    /// [`Slot::bm25_stems`], as vocabulary ids.
    pub fn bm25_ids(&self, loose: bool) -> Vec<u32> {
        // A word that labels use as typed weighs as itself: its synonyms
        // would only add frequent words (`vente` ⇒ `commerce`) to a ranking
        // by rarity.
        let exact = self.ids.iter().any(|&id| self.how[id as usize] == How::Exact as u8);
        let limit = match (loose, exact) {
            (true, _) => How::Fuzzy as u8,
            (false, true) => How::Exact as u8,
            (false, false) => How::Synonym as u8,
        };
        let mut ids: Vec<u32> = self.ids.iter().copied().filter(|&id| self.how[id as usize] <= limit).collect();
        ids.sort_by_key(|&id| self.how[id as usize]);
        ids.truncate(MAX_BM25_STEMS);
        for alt in &self.multi {
            ids.extend(alt);
        }
        ids
    }
}

impl Drop for Slot {
    /// Gives `how` back to the thread's arrays, zeroed where it was set
    /// (every id set is in `ids`).
    fn drop(&mut self) {
        let mut how = std::mem::take(&mut self.how);
        for &id in &self.ids {
            how[id as usize] = 0;
        }
        FREE_HOW.with(|free| {
            let mut free = free.borrow_mut();
            if free.len() < MAX_FREE_HOW {
                free.push(how);
            }
        });
    }
}

impl Plan {
    /// The plan of a query's `terms` (as [`crate::text::analyze`] gives
    /// them): lexicon phrases (longest first), and for each slot the
    /// vocabulary it matches within `scope` (ordinal ranges, one per
    /// system searched).
    /// `typing`: the last word may be unfinished (no space or punctuation
    /// after it in what the user typed).
    pub fn new(snap: &Snapshot, terms: &[Term], typing: bool, scope: &[Range<u32>]) -> Plan {
        Plan::build(snap, terms, typing, scope, true)
    }

    /// [`Plan::new`]; `typos`: whether unknown words get their typo
    /// tolerance (the loose plan gives a wider one itself).
    fn build(snap: &Snapshot, terms: &[Term], typing: bool, scope: &[Range<u32>], typos: bool) -> Plan {
        let terms = &terms[..terms.len().min(MAX_TERMS)];
        let fuzzy = typos && terms.len() <= MAX_FUZZY_SLOTS;
        let mut slots = Vec::new();
        let mut i = 0;
        while i < terms.len() {
            // The longest lexicon phrase starting here.
            let phrase = snap.expansions.get(&terms[i].stem).and_then(|list| {
                list.iter()
                    .filter(|e| {
                        e.term.len() <= terms.len() - i && e.term.iter().zip(&terms[i..]).all(|(a, b)| *a == b.stem)
                    })
                    .max_by_key(|e| e.term.len())
            });
            let span = phrase.map_or(1, |e| e.term.len());
            let covered = &terms[i..i + span];
            // A word said twice (boilerplate of a description) counts once.
            if terms[..i].iter().any(|t| t.stem == terms[i].stem) && span == 1 {
                i += 1;
                continue;
            }
            let last = i + span == terms.len();
            let word = covered.iter().map(|t| t.word.as_str()).collect::<Vec<_>>().join(" ");
            let mut slot = Slot::new(snap, word);
            // Whether the vocabulary has the word (a phrase is not a word).
            let known = match covered {
                [one] => {
                    let id = snap.vocab.id(&one.stem);
                    id.inspect(|&id| slot.set(id, How::Exact)).is_some()
                }
                _ => {
                    let stems: Vec<String> = covered.iter().map(|t| t.stem.clone()).collect();
                    slot.add_alternative(snap, &stems, How::Exact);
                    false
                }
            };
            if let Some(e) = phrase {
                for alt in &e.alternatives {
                    slot.add_alternative(snap, alt, How::Synonym);
                }
                slot.optional = e.optional;
            }
            if span == 1 {
                let stem = &covered[0].stem;
                let mut prefixed = false;
                if last && typing {
                    prefixed = slot.add_prefix(snap, stem);
                }
                // A word the vocabulary knows, or a start of one, is taken as
                // typed; typo tolerance is for the others.
                if fuzzy && !known && !prefixed && !stem.chars().any(|c| c.is_ascii_digit()) {
                    let prefix = last && typing;
                    let d = if prefix { fuzziness(stem).min(1) } else { fuzziness(stem) };
                    slot.add_fuzzy(snap, stem, d, prefix, scope);
                }
            }
            slots.push(slot);
            i += span;
        }
        // A query of optional words only needs them.
        if slots.iter().all(|s| s.optional) {
            slots.iter_mut().for_each(|s| s.optional = false);
        }
        Plan { slots }
    }
}

impl Plan {
    /// The plan of the last resort, for a query the strict plan found
    /// nothing for: each term also matches the label terms within two edits
    /// from five letters (one from four), typed or not, the terms it starts
    /// (from three letters), and the terms that start like it (its longest
    /// start of five letters or more that some term has). Lexicon phrases
    /// still apply.
    pub fn loose(snap: &Snapshot, terms: &[Term], scope: &[Range<u32>]) -> Plan {
        // The strict plan's typo tolerance is within this one's.
        let mut plan = Plan::build(snap, terms, false, scope, false);
        plan.slots.truncate(MAX_LOOSE_TERMS);
        for slot in plan.slots.iter_mut() {
            if slot.word.contains(' ') || slot.word.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let stem = crate::text::stem(&slot.word);
            if stem.len() >= 3 {
                slot.add_prefix(snap, &stem);
            }
            // The longest start of the word (from five letters) that starts
            // other label terms than the word itself: `electrocution` reaches
            // `electr…`, `enseignant` reaches `enseignement`.
            if stem.is_ascii() && stem.len() > 5 {
                let own = snap.vocab.prefix_range(&stem).len();
                for n in (5..stem.len()).rev() {
                    if snap.vocab.prefix_range(&stem[..n]).len() > own {
                        slot.add_prefix(snap, &stem[..n]);
                        break;
                    }
                }
            }
            let d = match stem.chars().count() {
                0..=3 => 0,
                4 => 1,
                _ => 2,
            };
            slot.add_fuzzy(snap, &stem, d, false, scope);
        }
        plan
    }
}

/// A set of concept ordinals within a search's scope: its words cover the
/// span from the first to the last ordinal of the scope only (a search
/// within one system handles that system's bits, not the snapshot's).
/// Sets combined with `and` and `or` are of the same scope.
#[derive(Clone)]
pub(crate) struct Bits {
    /// The ordinal of the first bit (a multiple of 64).
    base: u32,
    words: Vec<u64>,
}

impl Bits {
    /// The empty set over `scope` (ordinal ranges).
    pub fn none(scope: &[Range<u32>]) -> Bits {
        let start = scope.iter().map(|r| r.start).min().unwrap_or(0);
        let end = scope.iter().map(|r| r.end).max().unwrap_or(0).max(start);
        let base = start / 64 * 64;
        Bits { base, words: vec![0; (end - base).div_ceil(64) as usize] }
    }

    /// Every ordinal of `scope`.
    pub fn all(scope: &[Range<u32>]) -> Bits {
        let mut b = Bits::none(scope);
        for r in scope {
            let (mut i, end) = ((r.start - b.base) as usize, (r.end - b.base) as usize);
            while i < end {
                let (w, bit) = (i / 64, i % 64);
                let n = (64 - bit).min(end - i);
                b.words[w] |= if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << bit };
                i += n;
            }
        }
        b
    }

    pub fn contains(&self, i: u32) -> bool {
        let Some(at) = i.checked_sub(self.base) else { return false };
        self.words.get((at / 64) as usize).is_some_and(|w| w & (1 << (at % 64)) != 0)
    }

    /// Adds `i`, which must be within the scope's span.
    pub fn set(&mut self, i: u32) {
        let at = i - self.base;
        self.words[(at / 64) as usize] |= 1 << (at % 64);
    }

    pub fn and(&mut self, other: &Bits) {
        debug_assert!(self.base == other.base && self.words.len() == other.words.len());
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn or(&mut self, other: &Bits) {
        debug_assert!(self.base == other.base && self.words.len() == other.words.len());
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let base = self.base;
        self.words.iter().enumerate().flat_map(move |(w, &bits)| {
            let mut bits = bits;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let t = bits.trailing_zeros();
                bits &= bits - 1;
                Some(base + w as u32 * 64 + t)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_set_and_iterate() {
        let one = std::slice::from_ref(&(0..130));
        let mut a = Bits::all(one);
        assert_eq!(a.iter().count(), 130);
        let mut b = Bits::none(one);
        b.set(3);
        b.set(129);
        a.and(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [3, 129]);
        assert!(a.contains(129) && !a.contains(130) && !a.contains(5000));
        // A scope of ranges, not from 0: only its ordinals, and its span only.
        let all = Bits::all(&[70..75, 100..190, 250..251]);
        let kept: Vec<u32> = all.iter().collect();
        assert_eq!(kept.len(), 5 + 90 + 1);
        assert_eq!((kept[0], kept[5], kept[94], kept[95]), (70, 100, 189, 250));
        assert!(!all.contains(3) && !all.contains(75) && all.contains(250) && !all.contains(251));
        assert_eq!(all.words.len(), 3, "from 64 to 256: three words");
        let mut some = Bits::none(&[70..75, 100..190, 250..251]);
        some.set(250);
        some.set(71);
        some.and(&all);
        assert_eq!(some.iter().collect::<Vec<_>>(), [71, 250]);
        assert_eq!(Bits::all(&[]).iter().count(), 0);
    }

    #[test]
    fn fuzziness_grows_with_length() {
        assert_eq!(fuzziness("tms"), 0);
        assert_eq!(fuzziness("lomb"), 1);
        assert_eq!(fuzziness("imprimeri"), 2);
    }
}
