//! The analysed labels of a snapshot and its hierarchy: `vocab.fst` (every
//! stem, ids in sorted order) and `labels.bin` (per concept, its parent's
//! ordinal and the stem ids of its display and designations), written at
//! build so that opening analyses no text and looks up no code; and the
//! flat tables they are read into ([`LabelTable`], [`Postings`]), a few
//! large arrays rather than a vector per concept or per stem.

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, Result};

use crate::model::CodeSystem;

/// The stems of a text, as the one analyser gives them.
fn stems(text: &str) -> Vec<String> {
    crate::text::analyze(text).into_iter().map(|t| t.stem).collect()
}

/// Written for a concept without a parent.
const NO_PARENT: u32 = u32::MAX;

/// Writes the vocabulary of every label (`vocab.fst`: stem → id, ids in
/// sorted order) and, per concept in snapshot order, its parent's ordinal
/// and the stem ids of its display and of each designation (`labels.bin`,
/// little-endian `u32`s: parent ordinal or `u32::MAX`, display length, ids,
/// number of designations, then each one's length and ids): what opening a
/// snapshot would otherwise derive again.
pub(crate) fn write_labels(dir: &Path, systems: &[CodeSystem]) -> Result<()> {
    let mut label_stems: Vec<(u32, Vec<String>, Vec<Vec<String>>)> = Vec::new();
    for s in systems {
        let offset = label_stems.len() as u32;
        let by_code: std::collections::HashMap<&str, u32> =
            s.concepts.iter().enumerate().map(|(i, c)| (c.code.as_str(), offset + i as u32)).collect();
        for c in &s.concepts {
            let parent = c.parent.as_deref().and_then(|p| by_code.get(p)).copied().unwrap_or(NO_PARENT);
            label_stems.push((parent, stems(&c.display), c.designations.iter().map(|d| stems(&d.value)).collect()));
        }
    }
    let mut terms: Vec<&str> =
        label_stems.iter().flat_map(|(_, l, alts)| l.iter().chain(alts.iter().flatten())).map(String::as_str).collect();
    terms.sort_unstable();
    terms.dedup();
    let vocab = fst::Map::from_iter(terms.iter().enumerate().map(|(i, t)| (*t, i as u64)))?;
    let id = |t: &String| vocab.get(t).expect("every stem is in the vocabulary") as u32;
    let mut out: Vec<u32> = Vec::new();
    for (parent, label, alts) in &label_stems {
        out.push(*parent);
        out.push(label.len() as u32);
        out.extend(label.iter().map(id));
        out.push(alts.len() as u32);
        for a in alts {
            out.push(a.len() as u32);
            out.extend(a.iter().map(id));
        }
    }
    std::fs::write(dir.join("vocab.fst"), vocab.as_fst().as_bytes()).context("cannot write vocab.fst")?;
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("labels.bin"), bytes).context("cannot write labels.bin")?;
    Ok(())
}

/// The deepest hierarchy a snapshot may have (those loaded have a handful
/// of levels).
const MAX_DEPTH: usize = 64;

/// Every concept's parent and the stem ids of its labels, in flat arrays.
///
/// Guarantees (checked by [`LabelTable::read`]): one entry per concept;
/// every id is a vocabulary id; a parent is a concept of the same system;
/// every chain of parents ends at a root.
#[derive(Debug, PartialEq)]
pub(crate) struct LabelTable {
    /// Per ordinal, its parent's ordinal.
    pub parents: Vec<Option<u32>>,
    /// The children of concept `c` are `children[child_start[c]..child_start[c + 1]]`,
    /// in ordinal order.
    child_start: Vec<u32>,
    children: Vec<u32>,
    /// The stem ids of every label, one after the other.
    ids: Vec<u32>,
    /// Label `k` is `ids[ends[k - 1]..ends[k]]` (from 0 for the first).
    ends: Vec<u32>,
    /// The labels of concept `c` are `first[c]..first[c + 1]`, its display
    /// first.
    first: Vec<u32>,
    /// The first ordinal of each system, then the number of concepts.
    systems: Vec<u32>,
}

impl LabelTable {
    /// Reads `labels.bin` (see [`write_labels`]) for the concepts of systems
    /// of `sizes` concepts each; `None` when the file does not hold exactly
    /// one entry per concept with ids below `terms` and parents within the
    /// concept's system.
    pub fn read(bytes: &[u8], sizes: &[u32], terms: u32) -> Option<LabelTable> {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        let words: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        // Each concept takes at least three words (parent, display length,
        // number of designations): no count can ask for more room than the
        // file could fill.
        let concepts: u64 = sizes.iter().map(|&n| u64::from(n)).sum();
        if concepts > words.len() as u64 / 3 {
            return None;
        }
        let concepts = concepts as u32;
        let mut t = LabelTable {
            parents: Vec::with_capacity(concepts as usize),
            child_start: Vec::new(),
            children: Vec::new(),
            ids: Vec::with_capacity(words.len()),
            ends: Vec::with_capacity(concepts as usize * 2),
            first: Vec::with_capacity(concepts as usize + 1),
            systems: std::iter::once(0)
                .chain(sizes.iter().scan(0u32, |end, &n| {
                    *end += n;
                    Some(*end)
                }))
                .collect(),
        };
        let mut at = 0usize;
        let mut next = || {
            let w = words.get(at).copied();
            at += 1;
            w
        };
        let mut system = 0..0;
        let mut sizes = sizes.iter();
        for ord in 0..concepts {
            while !system.contains(&ord) {
                system = system.end..system.end + sizes.next()?;
            }
            let parent = next()?;
            t.parents.push(match parent {
                NO_PARENT => None,
                p if system.contains(&p) && p != ord => Some(p),
                _ => return None,
            });
            t.first.push(t.ends.len() as u32);
            let designations = {
                let n = next()?;
                t.take(n, terms, &mut next)?;
                next()?
            };
            for _ in 0..designations {
                let n = next()?;
                t.take(n, terms, &mut next)?;
            }
        }
        t.first.push(t.ends.len() as u32);
        if at != words.len() || !t.parents_end_at_roots() {
            return None;
        }
        // Children, counted then placed.
        let mut start = vec![0u32; t.parents.len() + 1];
        for p in t.parents.iter().flatten() {
            start[*p as usize + 1] += 1;
        }
        for i in 0..t.parents.len() {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        t.children = vec![0; start[t.parents.len()] as usize];
        for (ord, p) in t.parents.iter().enumerate() {
            if let Some(p) = p {
                t.children[fill[*p as usize] as usize] = ord as u32;
                fill[*p as usize] += 1;
            }
        }
        t.child_start = start;
        Some(t)
    }

    /// The children of concept `ord`, in ordinal order.
    pub fn children(&self, ord: u32) -> &[u32] {
        &self.children[self.child_start[ord as usize] as usize..self.child_start[ord as usize + 1] as usize]
    }

    /// The ancestors of concept `ord`, its parent first.
    pub fn ancestors(&self, ord: u32) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(self.parents[ord as usize], |&p| self.parents[p as usize])
    }

    /// Whether every chain of parents reaches a root within
    /// [`MAX_DEPTH`] steps (so none loops).
    fn parents_end_at_roots(&self) -> bool {
        (0..self.parents.len()).all(|ord| {
            let mut cur = self.parents[ord];
            for _ in 0..MAX_DEPTH {
                match cur {
                    None => return true,
                    Some(p) => cur = self.parents[p as usize],
                }
            }
            false
        })
    }

    /// Appends a label of `n` ids read from `next`.
    fn take(&mut self, n: u32, terms: u32, next: &mut impl FnMut() -> Option<u32>) -> Option<()> {
        for _ in 0..n {
            let id = next()?;
            if id >= terms {
                return None;
            }
            self.ids.push(id);
        }
        self.ends.push(self.ids.len() as u32);
        Some(())
    }

    /// The number of concepts.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    fn label(&self, k: u32) -> &[u32] {
        let start = if k == 0 { 0 } else { self.ends[k as usize - 1] };
        &self.ids[start as usize..self.ends[k as usize] as usize]
    }

    fn labels_of(&self, ord: u32) -> Range<u32> {
        self.first[ord as usize]..self.first[ord as usize + 1]
    }

    /// The stem ids of concept `ord`'s display.
    pub fn display(&self, ord: u32) -> &[u32] {
        self.label(self.first[ord as usize])
    }

    /// The stem ids of each designation of concept `ord`, in order.
    pub fn designations(&self, ord: u32) -> impl ExactSizeIterator<Item = &[u32]> + Clone {
        let labels = self.labels_of(ord);
        (labels.start + 1..labels.end).map(|k| self.label(k))
    }

    /// The stem ids of every label of concept `ord`, display first.
    pub fn all(&self, ord: u32) -> impl Iterator<Item = &[u32]> {
        self.labels_of(ord).map(|k| self.label(k))
    }
}

/// Per vocabulary id, the sorted ordinals of the concepts using it (in
/// their labels, or in their ancestors' displays) and how many times, in
/// one array.
///
/// Guarantee: the part of a list within one system is found without a
/// search (the lists are cut at each system's first ordinal when built).
pub struct Postings {
    /// The ordinals of id `t` are `ords[starts[t]..starts[t + 1]]`.
    starts: Vec<u32>,
    ords: Vec<u32>,
    /// Beside each ordinal, how many times that concept uses the stem.
    freqs: Vec<u16>,
    /// The first ordinal of each system, then the number of concepts.
    systems: Vec<u32>,
    /// Per id `t`, where in `ords` the concepts of each system start, then
    /// where its list ends: `cuts[t * systems.len()..][..systems.len()]`.
    cuts: Vec<u32>,
}

impl Postings {
    /// The postings of `terms` stems over every label of `table`, with the
    /// number of times each concept uses each stem.
    pub(super) fn of(table: &LabelTable, terms: u32) -> Postings {
        Postings::build(terms, &table.systems, |ord| table.all(ord).flatten().copied())
    }

    /// The postings of `terms` stems over the displays of every concept's
    /// ancestors (the `context` BM25 weighs), with frequencies.
    pub(super) fn of_context(table: &LabelTable, terms: u32) -> Postings {
        Postings::build(terms, &table.systems, |ord| {
            table.ancestors(ord).flat_map(|a| table.display(a).iter().copied())
        })
    }

    /// The postings of `terms` stems over the documents of `systems` (the
    /// first ordinal of each, then their number), document `d` holding the
    /// stems `stems(d)` yields (a stem yielded k times has frequency k):
    /// two passes (count, then place) over the stems.
    fn build<I: Iterator<Item = u32>>(terms: u32, systems: &[u32], stems: impl Fn(u32) -> I) -> Postings {
        let docs = systems.last().copied().unwrap_or(0);
        let mut last = vec![u32::MAX; terms as usize];
        let mut starts = vec![0u32; terms as usize + 1];
        for ord in 0..docs {
            for t in stems(ord) {
                if std::mem::replace(&mut last[t as usize], ord) != ord {
                    starts[t as usize + 1] += 1;
                }
            }
        }
        for t in 0..terms as usize {
            starts[t + 1] += starts[t];
        }
        let mut fill = starts.clone();
        let mut ords = vec![0u32; starts[terms as usize] as usize];
        let mut freqs = vec![0u16; ords.len()];
        let width = systems.len();
        let mut cuts = vec![0u32; terms as usize * width];
        let mut system = 0;
        last.fill(u32::MAX);
        for ord in 0..docs {
            // At each system's first concept (empty systems included), every
            // list is cut where it is.
            while system < width && systems[system] == ord {
                for (t, &at) in fill.iter().take(terms as usize).enumerate() {
                    cuts[t * width + system] = at;
                }
                system += 1;
            }
            for t in stems(ord) {
                let t = t as usize;
                if std::mem::replace(&mut last[t], ord) != ord {
                    ords[fill[t] as usize] = ord;
                    fill[t] += 1;
                }
                let f = &mut freqs[fill[t] as usize - 1];
                *f = f.saturating_add(1);
            }
        }
        for s in system..width {
            for (t, &at) in fill.iter().take(terms as usize).enumerate() {
                cuts[t * width + s] = at;
            }
        }
        Postings { starts, ords, freqs, systems: systems.to_vec(), cuts }
    }

    /// The sorted ordinals within `range` of the concepts using stem `id`:
    /// without a search when `range` is a system's, else two binary
    /// searches.
    pub fn within(&self, id: u32, range: &Range<u32>) -> &[u32] {
        &self.ords[self.positions(id, range)]
    }

    /// [`Postings::within`], with the frequencies beside.
    pub fn within_counted(&self, id: u32, range: &Range<u32>) -> (&[u32], &[u16]) {
        let at = self.positions(id, range);
        (&self.ords[at.clone()], &self.freqs[at])
    }

    /// Where in `ords` the concepts of `range` using stem `id` are.
    fn positions(&self, id: u32, range: &Range<u32>) -> Range<usize> {
        let width = self.systems.len();
        let mut s = self.systems.partition_point(|&o| o < range.start);
        while s + 1 < width && self.systems[s] == range.start {
            if self.systems[s + 1] == range.end {
                let cut = &self.cuts[id as usize * width..][s..s + 2];
                return cut[0] as usize..cut[1] as usize;
            }
            s += 1;
        }
        let (start, all) = (self.starts[id as usize] as usize, self.get(id));
        start + all.partition_point(|&o| o < range.start)..start + all.partition_point(|&o| o < range.end)
    }

    /// The sorted ordinals of the concepts using stem `id`.
    pub fn get(&self, id: u32) -> &[u32] {
        &self.ords[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
    }
}

#[cfg(test)]
mod label_tests {
    use super::{LabelTable, Postings};

    fn bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn labels_read_back_and_damage_is_refused() {
        // Three concepts, the first two in one system: [3, 1] with one
        // designation [2], no parent; [0, 0] with none, child of the first;
        // [] with designations [] and [3], alone in its system.
        let none = u32::MAX;
        let words = [none, 2, 3, 1, 1, 1, 2, /**/ 0, 2, 0, 0, 0, /**/ none, 0, 2, 0, 1, 3];
        let good = bytes(&words);
        let t = LabelTable::read(&good, &[2, 1], 4).unwrap();
        assert_eq!(t.parents, vec![None, Some(0), None]);
        assert_eq!((t.children(0), t.children(1), t.children(2)), (&[1u32][..], &[][..], &[][..]));
        assert_eq!(t.ancestors(1).collect::<Vec<_>>(), vec![0]);
        assert_eq!(t.display(0), &[3, 1]);
        assert_eq!(t.designations(0).collect::<Vec<_>>(), vec![&[2u32][..]]);
        assert_eq!(t.display(1), &[0, 0]);
        assert_eq!(t.designations(1).len(), 0);
        assert_eq!(t.display(2), &[] as &[u32]);
        assert_eq!(t.designations(2).collect::<Vec<_>>(), vec![&[] as &[u32], &[3]]);
        let p = Postings::of(&t, 4);
        let lists: Vec<&[u32]> = (0..4).map(|id| p.get(id)).collect();
        assert_eq!(lists, vec![&[1u32][..], &[0], &[0], &[0, 2]], "each concept once per stem, in order");
        assert_eq!(p.get(3), &[0, 2]);
        assert_eq!((p.within(3, &(1..3)), p.within(3, &(1..2))), (&[2u32][..], &[][..]));
        assert_eq!((p.within(3, &(0..2)), p.within(3, &(2..3))), (&[0u32][..], &[2u32][..]), "the systems' parts");
        assert_eq!(p.within_counted(0, &(0..2)), (&[1u32][..], &[2u16][..]));
        // Cut at the systems or searched, the same parts.
        for id in 0..4 {
            for range in [0..2, 2..3, 0..3, 1..3, 0..1, 3..3] {
                let all = p.get(id);
                let searched: Vec<u32> = all.iter().copied().filter(|o| range.contains(o)).collect();
                assert_eq!(p.within(id, &range), &searched[..], "{id} {range:?}");
            }
        }
        let empty = LabelTable::read(&good, &[0, 2, 0, 1, 0], 4).unwrap();
        let q = Postings::of(&empty, 4);
        assert_eq!(
            (q.within(3, &(0..2)), q.within(3, &(2..3)), q.within(3, &(3..3))),
            (&[0u32][..], &[2u32][..], &[][..])
        );
        assert_eq!(
            (p.within_counted(0, &(0..3)).1, p.within_counted(3, &(0..3)).1),
            (&[2u16][..], &[1, 1][..]),
            "the second concept says its stem twice"
        );
        let c = Postings::of_context(&t, 4);
        let lists: Vec<&[u32]> = (0..4).map(|id| c.get(id)).collect();
        assert_eq!(lists, vec![&[] as &[u32], &[1], &[], &[1]], "the child has its parent's display as context");

        assert!(LabelTable::read(&good, &[2, 2], 4).is_none(), "fewer concepts than the snapshot has");
        assert!(LabelTable::read(&good, &[2], 4).is_none(), "more concepts than the snapshot has");
        assert!(LabelTable::read(&good, &[2, 1], 3).is_none(), "an id outside the vocabulary");
        assert!(LabelTable::read(&good, &[1, 2], 4).is_none(), "a parent in another system");
        assert!(LabelTable::read(&good[..good.len() - 1], &[2, 1], 4).is_none(), "a truncated file");
        assert!(LabelTable::read(&good[..good.len() - 4], &[2, 1], 4).is_none(), "a missing word");
        let mut own = words;
        own[7] = 1;
        assert!(LabelTable::read(&bytes(&own), &[2, 1], 4).is_none(), "its own parent");
        let mut cycle = words;
        cycle[0] = 1;
        assert!(LabelTable::read(&bytes(&cycle), &[2, 1], 4).is_none(), "parents in a cycle");
        assert!(LabelTable::read(&bytes(&[none, u32::MAX]), &[1], 4).is_none(), "a length past the end");
        assert!(LabelTable::read(&good, &[u32::MAX, u32::MAX], 4).is_none(), "counts no file could hold");
    }
}
