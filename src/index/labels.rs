//! The analysed labels of a snapshot: `vocab.fst` (every stem, ids in
//! sorted order) and `labels.bin` (per concept, the stem ids of its display
//! and designations), written at build so that opening analyses no text.

use std::path::Path;

use anyhow::{Context, Result};

use crate::model::CodeSystem;

/// The stems of a text, as the one analyser gives them.
fn stems(text: &str) -> Vec<String> {
    crate::text::analyze(text).into_iter().map(|t| t.stem).collect()
}

/// Writes the vocabulary of every label (`vocab.fst`: stem → id, ids in
/// sorted order) and, per concept in snapshot order, the stem ids of its
/// display and of each designation (`labels.bin`, little-endian `u32`s:
/// display length, ids, number of designations, then each one's length and
/// ids): what opening a snapshot would otherwise analyse again.
pub(crate) fn write_labels(dir: &Path, systems: &[CodeSystem]) -> Result<()> {
    let mut label_stems: Vec<(Vec<String>, Vec<Vec<String>>)> = Vec::new();
    for s in systems {
        for c in &s.concepts {
            label_stems.push((stems(&c.display), c.designations.iter().map(|d| stems(&d.value)).collect()));
        }
    }
    let mut terms: Vec<&str> =
        label_stems.iter().flat_map(|(l, alts)| l.iter().chain(alts.iter().flatten())).map(String::as_str).collect();
    terms.sort_unstable();
    terms.dedup();
    let vocab = fst::Map::from_iter(terms.iter().enumerate().map(|(i, t)| (*t, i as u64)))?;
    let id = |t: &String| vocab.get(t).expect("every stem is in the vocabulary") as u32;
    let mut out: Vec<u32> = Vec::new();
    for (label, alts) in &label_stems {
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

/// The stem ids of a concept's display, and of each of its designations.
type LabelIds = (Vec<u32>, Vec<Vec<u32>>);

/// Reads `labels.bin` (see [`write_labels`]): per concept, the stem ids of
/// its display and of each designation; `None` when the file does not hold
/// exactly `concepts` entries with ids below `terms`.
pub(super) fn read_labels(bytes: &[u8], concepts: usize, terms: u32) -> Option<Vec<LabelIds>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut words = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let list = |words: &mut dyn Iterator<Item = u32>| -> Option<Vec<u32>> {
        let n = words.next()? as usize;
        let ids: Vec<u32> = words.take(n).collect();
        (ids.len() == n && ids.iter().all(|&i| i < terms)).then_some(ids)
    };
    let mut out = Vec::with_capacity(concepts);
    for _ in 0..concepts {
        let label = list(&mut words)?;
        let n = words.next()? as usize;
        let alts = (0..n).map(|_| list(&mut words)).collect::<Option<Vec<_>>>()?;
        out.push((label, alts));
    }
    words.next().is_none().then_some(out)
}

#[cfg(test)]
mod label_tests {
    use super::read_labels;

    fn bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn labels_read_back_and_damage_is_refused() {
        // Two concepts: [3, 1] with one designation [2]; [0] with none.
        let good = bytes(&[2, 3, 1, 1, 1, 2, 1, 0, 0]);
        let labels = read_labels(&good, 2, 4).unwrap();
        assert_eq!(labels, vec![(vec![3, 1], vec![vec![2]]), (vec![0], vec![])]);
        assert!(read_labels(&good, 3, 4).is_none(), "fewer concepts than the snapshot has");
        assert!(read_labels(&good, 1, 4).is_none(), "more concepts than the snapshot has");
        assert!(read_labels(&good, 2, 3).is_none(), "an id outside the vocabulary");
        assert!(read_labels(&good[..good.len() - 1], 2, 4).is_none(), "a truncated file");
        assert!(read_labels(&bytes(&[u32::MAX]), 1, 4).is_none(), "a length past the end");
    }
}
