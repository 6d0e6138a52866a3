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
pub(crate) fn dfa(text: &str, distance: u8, prefix: bool) -> DFA {
    let b = &builders()[usize::from(distance.clamp(1, 2) - 1)];
    if prefix { b.build_prefix_dfa(text) } else { b.build_dfa(text) }
}

/// A Levenshtein DFA as an fst automaton.
pub(crate) struct Lev<'a>(pub &'a DFA);

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
