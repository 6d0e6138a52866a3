//! Levenshtein automata (from `levenshtein_automata`, as tantivy uses) run
//! over the snapshot's fsts: typo-tolerant words and near-miss codes.

use std::sync::OnceLock;

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};

fn builders() -> &'static [LevenshteinAutomatonBuilder; 2] {
    static B: OnceLock<[LevenshteinAutomatonBuilder; 2]> = OnceLock::new();
    B.get_or_init(|| [LevenshteinAutomatonBuilder::new(1, true), LevenshteinAutomatonBuilder::new(2, true)])
}

/// A DFA accepting the strings within `distance` (1 or 2; transpositions
/// count as one edit) of `text`, or, with `prefix`, starting with such a
/// string.
fn dfa(text: &str, distance: u8, prefix: bool) -> DFA {
    let b = &builders()[usize::from(distance.clamp(1, 2) - 1)];
    if prefix { b.build_prefix_dfa(text) } else { b.build_dfa(text) }
}

/// Calls `found` with each key of `map` within `distance` (1 or 2) edits
/// of `word` (with `prefix`, starting with such a string), and its value,
/// in key order, until `found` returns false. Short ASCII words run
/// [`BitLev`] (no construction); others the [`dfa`].
pub(crate) fn each_within(
    map: &fst::Map<Vec<u8>>,
    word: &str,
    distance: u8,
    prefix: bool,
    mut found: impl FnMut(&[u8], u64) -> bool,
) {
    match BitLev::new(word, distance, prefix) {
        Some(automaton) => drain(map, automaton, &mut found),
        None => drain(map, Lev(&dfa(word, distance, prefix)), &mut found),
    }
}

/// Feeds the keys of `map` that `automaton` accepts, with their values,
/// to `found` in key order (as `map.search(automaton)` streams them),
/// until it returns false.
///
/// A depth-first walk of the fst's nodes: a transition into a state that
/// cannot match is not followed, so its node is never read (the fst's own
/// stream reads the node of every transition it tries, and copies the
/// automaton's state in and out of its stack at each).
fn drain<A: fst::Automaton>(map: &fst::Map<Vec<u8>>, automaton: A, found: &mut impl FnMut(&[u8], u64) -> bool) {
    let fst = map.as_fst();
    let (root, start) = (fst.root(), automaton.start());
    if !automaton.can_match(&start) {
        return;
    }
    if root.is_final() && automaton.is_match(&start) && !found(&[], root.final_output().value()) {
        return;
    }
    let mut key = Vec::with_capacity(32);
    descend(fst, &automaton, root, &start, fst::raw::Output::zero(), &mut key, found);
}

/// [`drain`] below `node`, reached by `key` in `state` with output `out`;
/// false once `found` asked to stop.
fn descend<A: fst::Automaton>(
    fst: &fst::raw::Fst<Vec<u8>>,
    automaton: &A,
    node: fst::raw::Node<'_>,
    state: &A::State,
    out: fst::raw::Output,
    key: &mut Vec<u8>,
    found: &mut impl FnMut(&[u8], u64) -> bool,
) -> bool {
    for t in node.transitions() {
        let next = automaton.accept(state, t.inp);
        if !automaton.can_match(&next) {
            continue;
        }
        let (child, out) = (fst.node(t.addr), out.cat(t.out));
        key.push(t.inp);
        if child.is_final() && automaton.is_match(&next) && !found(key, out.cat(child.final_output()).value()) {
            return false;
        }
        if !descend(fst, automaton, child, &next, out, key, found) {
            return false;
        }
        key.pop();
    }
    true
}

/// A Levenshtein DFA as an fst automaton.
struct Lev<'a>(pub &'a DFA);

impl fst::Automaton for Lev<'_> {
    type State = u32;
    fn start(&self) -> u32 {
        self.0.initial_state()
    }
    fn is_match(&self, s: &u32) -> bool {
        matches!(self.0.distance(*s), Distance::Exact(_))
    }
    fn can_match(&self, s: &u32) -> bool {
        *s != SINK_STATE
    }
    fn accept(&self, s: &u32, b: u8) -> u32 {
        self.0.transition(*s, b)
    }
}

/// The Levenshtein automaton of a short ASCII word, simulated rather than
/// built: bit-parallel (Wu and Manber's NFA with Damerau transpositions,
/// one edit each), so that a word asked once costs no construction. It
/// accepts the strings within the distance of the word (restricted
/// Damerau-Levenshtein, by characters), as [`dfa`] does; with `prefix`,
/// every string that starts with such a string, which the prefix DFA of
/// `levenshtein_automata` does not always accept (`10g` for `0y0` within
/// 2). Bytes of other UTF-8 characters count as one character that
/// matches none of the word's.
///
/// In a state, bit `i` of `rows[k]` says that the first `i` letters of the
/// word are within `k` edits of the bytes read.
pub(crate) struct BitLev {
    /// Per ASCII byte, the positions `i` (1-based) where the word has it.
    masks: [u32; 128],
    /// Letters of the word.
    len: u32,
    distance: usize,
    prefix: bool,
}

/// A state of [`BitLev`]: the rows after the last byte and the one
/// before (for transpositions), that byte, and whether a prefix already
/// matched.
#[derive(Clone)]
pub(crate) struct BitState {
    rows: [u32; 3],
    before: [u32; 3],
    last: u8,
    matched: bool,
}

impl BitLev {
    /// The automaton of `word` within `distance` (1 or 2) edits; `None`
    /// for a word that is not ASCII or longer than 30 letters (use [`dfa`]).
    /// (A state then fits in 28 bytes, which the walk of an fst copies at
    /// every step.)
    pub(crate) fn new(word: &str, distance: u8, prefix: bool) -> Option<BitLev> {
        if !word.is_ascii() || word.len() > 30 {
            return None;
        }
        let mut masks = [0u32; 128];
        for (i, b) in word.bytes().enumerate() {
            masks[usize::from(b)] |= 1 << (i + 1);
        }
        Some(BitLev { masks, len: word.len() as u32, distance: usize::from(distance.clamp(1, 2)), prefix })
    }

    fn mask(&self, b: u8) -> u32 {
        self.masks.get(usize::from(b)).copied().unwrap_or(0)
    }

    /// Bits `0..=len`.
    fn full(&self) -> u32 {
        (1u32 << (self.len + 1)) - 1
    }

    fn whole(&self, s: &BitState) -> bool {
        s.rows[self.distance] >> self.len & 1 == 1
    }
}

impl fst::Automaton for BitLev {
    type State = BitState;

    fn start(&self) -> BitState {
        // The first k letters of the word are within k deletions of nothing.
        let rows = std::array::from_fn(|k| ((1u32 << (k + 1)) - 1) & self.full());
        let s = BitState { rows, before: [0; 3], last: 0, matched: false };
        BitState { matched: self.prefix && self.whole(&s), ..s }
    }

    fn is_match(&self, s: &BitState) -> bool {
        s.matched || self.whole(s)
    }

    fn can_match(&self, s: &BitState) -> bool {
        s.matched || s.rows[self.distance] != 0
    }

    fn accept(&self, s: &BitState, b: u8) -> BitState {
        if s.matched {
            return s.clone();
        }
        // The following bytes of a character already read as one.
        if (0x80..0xC0).contains(&b) {
            return s.clone();
        }
        let (here, swapped) = (self.mask(b), self.mask(s.last) & (self.mask(b) << 1));
        let mut rows = [0u32; 3];
        for k in 0..=self.distance {
            let mut x = (s.rows[k] << 1) & here;
            if k > 0 {
                let (up, back, now) = (s.rows[k - 1], s.before[k - 1], rows[k - 1]);
                // Substitution, insertion of the byte, deletion of a letter,
                // transposition of the last two bytes, and anything closer.
                x |= (up << 1) | up | (now << 1) | now | ((back << 2) & swapped);
            }
            rows[k] = x & self.full();
        }
        let next = BitState { rows, before: s.rows, last: b, matched: false };
        BitState { matched: self.prefix && self.whole(&next), ..next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fst::{IntoStreamer, Streamer};

    /// Keys of `map` the automaton accepts.
    fn accepted<A: fst::Automaton>(map: &fst::Map<Vec<u8>>, a: A) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = map.search(a).into_stream();
        while let Some((k, _)) = stream.next() {
            out.push(k.to_vec());
        }
        out
    }

    /// Keys of `map` the automaton accepts, with their values, as the
    /// fst's stream gives them.
    fn accepted_with_values<A: fst::Automaton>(map: &fst::Map<Vec<u8>>, a: A) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        let mut stream = map.search(a).into_stream();
        while let Some((k, v)) = stream.next() {
            out.push((k.to_vec(), v));
        }
        out
    }

    /// The first `n` keys and values [`each_within`] gives.
    fn walked(map: &fst::Map<Vec<u8>>, word: &str, distance: u8, prefix: bool, n: usize) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        each_within(map, word, distance, prefix, |k, v| {
            out.push((k.to_vec(), v));
            out.len() < n
        });
        out
    }

    /// The words of NAF 2025's labels, stemmed as the index stems them, and
    /// as written (lowercased, accents kept: keys of several bytes per
    /// character).
    pub(super) fn naf_words() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/official/naf2025/naf2025.csv");
        let text = std::fs::read_to_string(path).expect("NAF 2025 is committed");
        let mut words: Vec<String> = crate::text::analyze(&text).into_iter().map(|t| t.stem).collect();
        words.extend(text.split(|c: char| !c.is_alphabetic()).map(str::to_lowercase));
        words.retain(|w| !w.is_empty());
        words.sort();
        words.dedup();
        words
    }

    /// Typos of `word`: each kind of edit at a few places, and two at once.
    fn typos(word: &str, seed: usize) -> Vec<String> {
        let b = word.as_bytes();
        let n = b.len();
        let at = |k: usize| (seed * 7 + k * 3) % n.max(1);
        let mut out = vec![word.to_string()];
        if n >= 2 {
            let i = at(1).min(n - 2);
            let mut t = b.to_vec();
            t.swap(i, i + 1);
            out.push(String::from_utf8_lossy(&t).into_owned());
            let mut del = b.to_vec();
            del.remove(at(2));
            out.push(String::from_utf8_lossy(&del).into_owned());
            let mut two = del.clone();
            two.insert(at(3).min(two.len()), b'e');
            out.push(String::from_utf8_lossy(&two).into_owned());
        }
        let mut sub = b.to_vec();
        if n > 0 {
            sub[at(4)] = b'z';
        }
        sub.push(b'x');
        out.push(String::from_utf8_lossy(&sub).into_owned());
        out.push(format!("{word}s"));
        out.push(word.chars().take(3).collect());
        out
    }

    /// The restricted Damerau-Levenshtein distance (each transposition of
    /// two neighbours one edit) between `a` and `b`, by characters; with
    /// `prefix`, the least between `a` and a start of `b`.
    fn distance(a: &str, b: &str, prefix: bool) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        if prefix { d[a.len()].iter().copied().min().unwrap_or(0) } else { d[a.len()][b.len()] }
    }

    #[test]
    fn the_bit_parallel_automaton_accepts_the_words_within_the_distance() {
        let words = naf_words();
        let map = fst::Map::from_iter(words.iter().enumerate().map(|(i, w)| (w.as_bytes(), i as u64))).unwrap();
        assert!(words.len() > 1000 && words.iter().any(|w| !w.is_ascii()), "{} words", words.len());
        let (mut compared, mut found) = (0, 0);
        for (seed, word) in words.iter().enumerate().filter(|(i, w)| i % 5 == 0 && w.is_ascii()) {
            for query in typos(word, seed) {
                for distance in [1, 2] {
                    for prefix in [false, true] {
                        let Some(bits) = BitLev::new(&query, distance, prefix) else { continue };
                        let streamed = accepted_with_values(&map, bits);
                        assert_eq!(walked(&map, &query, distance, prefix, usize::MAX), streamed, "{query:?}");
                        assert_eq!(walked(&map, &query, distance, prefix, 2), streamed[..streamed.len().min(2)]);
                        let got: Vec<Vec<u8>> = streamed.into_iter().map(|(k, _)| k).collect();
                        // Every word against the definition, for some queries;
                        // against the DFA for all (whose prefix mode misses
                        // some words: `10g` is not within 2 of `0y0` for it).
                        if seed % 80 == 0 {
                            let expected: Vec<Vec<u8>> = words
                                .iter()
                                .filter(|w| distance_ok(&query, w, distance, prefix))
                                .map(|w| w.as_bytes().to_vec())
                                .collect();
                            assert_eq!(got, expected, "{query:?} within {distance}, prefix {prefix}");
                        }
                        let dfa = accepted(&map, Lev(&dfa(&query, distance, prefix)));
                        if prefix {
                            assert!(dfa.iter().all(|k| got.contains(k)), "{query:?} within {distance}, prefix");
                        } else {
                            assert_eq!(got, dfa, "{query:?} within {distance}");
                        }
                        compared += 1;
                        found += got.len();
                    }
                }
            }
        }
        assert!(compared > 10_000 && found > compared, "{compared} queries, {found} keys");
        // Words the DFA serves: the walk gives what the fst's stream gives.
        for (seed, word) in words.iter().enumerate().filter(|(i, w)| i % 7 == 0 && !w.is_ascii()) {
            for query in typos(word, seed).into_iter().filter(|q| BitLev::new(q, 1, false).is_none()) {
                for (distance, prefix) in [(1, false), (2, true)] {
                    let streamed = accepted_with_values(&map, Lev(&dfa(&query, distance, prefix)));
                    assert_eq!(walked(&map, &query, distance, prefix, usize::MAX), streamed, "{query:?}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 10_500, "{compared} queries");
        assert!(BitLev::new("électricien", 1, false).is_none(), "not ASCII: the DFA's");
        assert!(BitLev::new(&"a".repeat(30), 2, false).is_some());
        assert!(BitLev::new(&"a".repeat(31), 1, false).is_none(), "too long: the DFA's");
    }

    fn distance_ok(query: &str, word: &str, d: u8, prefix: bool) -> bool {
        distance(query, word, prefix) <= usize::from(d)
    }
}
