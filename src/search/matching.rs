//! Grading one candidate against a query plan: which slot matched which
//! label term, and how. This is what ranking sorts on and what `explain`
//! shows.

use serde::Serialize;

use super::MatchKind;
use super::plan::{Plan, Slot};
use crate::index::{ConceptRef, Snapshot};
use crate::model::DesignationKind;

/// How one query term matched, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum How {
    /// The query was a code.
    Code = 0,
    /// The whole term.
    Exact = 1,
    /// Through the lexicon (abbreviation, lay term, job title).
    Synonym = 2,
    /// The term is the start of a label term (the word being typed).
    Prefix = 3,
    /// Within the allowed edit distance.
    Fuzzy = 4,
}

impl How {
    fn from_u8(v: u8) -> How {
        match v {
            1 => How::Exact,
            2 => How::Synonym,
            3 => How::Prefix,
            _ => How::Fuzzy,
        }
    }
}

/// One query term and what it matched, for `explain` and highlighting.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Matched {
    /// The query word(s) as folded (accents and case removed).
    pub term: String,
    /// How it matched.
    pub how: How,
    /// `code`, `display`, or the designation that matched: `short`, `long`,
    /// `synonym` (from the lexicon).
    pub field: &'static str,
    /// The label term (stem) it matched.
    pub target: String,
}

impl Matched {
    pub(super) fn code(q: &str) -> Matched {
        Matched { term: q.trim().to_string(), how: How::Code, field: "code", target: String::new() }
    }
}

/// Where a hit's [`Matched`] terms sit in its label: the character ranges
/// (`[start, end)`, counted in Unicode scalar values) of the words of
/// `display` whose stem is the target of one of `matched`, in label order.
/// Words matched through a code or a synonym that the label does not contain
/// give no range.
///
/// ```
/// use harmonie::search::{highlights, How, Matched};
/// let m = Matched { term: "lomb".into(), how: How::Prefix, field: "display", target: "lombalgi".into() };
/// assert_eq!(highlights("Lombalgie basse", &[m]), [[0, 9]]);
/// ```
pub fn highlights(display: &str, matched: &[Matched]) -> Vec<[usize; 2]> {
    let targets: Vec<&str> = matched.iter().map(|m| m.target.as_str()).filter(|t| !t.is_empty()).collect();
    if targets.is_empty() {
        return Vec::new();
    }
    crate::text::fold_spans(display)
        .into_iter()
        .filter(|(word, _)| !crate::text::is_stopword(word) && targets.contains(&crate::text::stem(word).as_str()))
        .map(|(_, r)| {
            let start = display[..r.start].chars().count();
            [start, start + display[r].chars().count()]
        })
        .collect()
}

pub(super) struct Grade {
    pub kind: MatchKind,
    /// Slots that matched somewhere.
    pub matched_slots: usize,
    /// How each slot matched; filled only when asked (it allocates).
    pub matched: Vec<Matched>,
    /// The best label is a `related` designation: the concept is one of
    /// several codes a lexicon line gives, not its first.
    pub related: bool,
}

/// How a slot matched a label, and at which position; `None` if it did not.
type SlotMatch = Option<(How, usize)>;

/// The best match of a slot among a label's terms: how, and where.
fn match_slot(slot: &Slot, label: &[u32]) -> SlotMatch {
    let mut best: Option<(u8, usize)> = None;
    for (pos, &id) in label.iter().enumerate() {
        let h = slot.how[id as usize];
        if h != 0 && best.is_none_or(|(b, _)| h < b) {
            best = Some((h, pos));
            if h == How::Exact as u8 {
                break;
            }
        }
    }
    for alt in &slot.multi {
        if let Some(pos) = label.iter().position(|id| *id == alt[0])
            && alt.iter().all(|a| label.contains(a))
            && best.is_none_or(|(b, _)| How::Synonym as u8 <= b)
        {
            best = Some((How::Synonym as u8, pos));
        }
    }
    best.map(|(h, pos)| (How::from_u8(h), pos))
}

#[cfg(test)]
fn kind_of(matches: &[SlotMatch], label_len: usize) -> Option<MatchKind> {
    let mut shape = Shape::default();
    for m in matches {
        shape.push((*m)?);
    }
    Some(shape.kind(label_len))
}

/// What decides the kind of a match, gathered one slot match at a time
/// (so that grading allocates nothing).
#[derive(Default)]
struct Shape {
    /// Slot matches seen.
    n: usize,
    fuzzy: bool,
    /// Every match so far is at the position of its slot.
    from_start: bool,
    /// Positions strictly increase.
    in_order: bool,
    /// Every match is exact or a synonym.
    exact: bool,
    last: Option<usize>,
}

impl Shape {
    fn push(&mut self, (how, pos): (How, usize)) {
        if self.n == 0 {
            (self.from_start, self.in_order, self.exact) = (true, true, true);
        }
        self.fuzzy |= how == How::Fuzzy;
        self.from_start &= pos == self.n;
        self.in_order &= self.last.is_none_or(|l| l < pos);
        self.exact &= how <= How::Synonym;
        self.last = Some(pos);
        self.n += 1;
    }

    fn kind(&self, label_len: usize) -> MatchKind {
        if self.fuzzy {
            MatchKind::Fuzzy
        } else if self.from_start && label_len == self.n && self.exact {
            MatchKind::ExactLabel
        } else if self.from_start {
            MatchKind::LabelPrefix
        } else if self.in_order {
            MatchKind::InOrder
        } else {
            MatchKind::AllTerms
        }
    }
}

/// Which label of a concept matched: `display`, or the kind of designation
/// (`short`, `long`, `synonym`).
type Field = &'static str;

fn field_name(kind: DesignationKind) -> Field {
    kind.as_str()
}

/// How a slot matches `label`; an exact match on a lexicon synonym is a
/// synonym match.
fn match_on(slot: &Slot, label: &[u32], synonym: bool) -> SlotMatch {
    match_slot(slot, label).map(|(h, p)| if synonym && h == How::Exact { (How::Synonym, p) } else { (h, p) })
}

/// The kind of match of one label, optional slots it lacks left out, and
/// how many slots matched it; `None` when a required slot does not.
fn label_kind(plan: &Plan, label: &[u32], synonym: bool) -> Option<(MatchKind, usize)> {
    let mut shape = Shape::default();
    for slot in &plan.slots {
        match match_on(slot, label, synonym) {
            Some(m) => shape.push(m),
            None if slot.optional => {}
            None => return None,
        }
    }
    (shape.n > 0).then(|| (shape.kind(label.len()), shape.n))
}

/// Grades concept `r`: the best kind over its display and designations, or
/// the union of their matches when no single label matches every slot.
/// Allocates only with `explain`.
pub(super) fn grade(snap: &Snapshot, plan: &Plan, r: ConceptRef, explain: bool) -> Grade {
    let describe = |slot: &Slot, (how, pos): (How, usize), label: &[u32], field: Field| Matched {
        term: slot.word.clone(),
        how,
        field,
        target: snap.vocab.terms[label[pos] as usize].to_string(),
    };
    let display = snap.label_terms(r);
    let alts = snap.designation_terms(r);
    let concept = snap.concept(r);
    let is_synonym = |kind: DesignationKind| matches!(kind, DesignationKind::Synonym | DesignationKind::Related);

    let mut best: Option<(MatchKind, usize, &[u32], Field, bool)> =
        label_kind(plan, display, false).map(|(k, n)| (k, n, display, "display", false));
    for (alt, d) in alts.clone().zip(&concept.designations) {
        let synonym = is_synonym(d.kind);
        if let Some((k, n)) = label_kind(plan, alt, synonym)
            && best.as_ref().is_none_or(|(b, _, _, f, _)| k < *b || (k == *b && *f == "related"))
        {
            best = Some((k, n, alt, field_name(d.kind), synonym));
        }
    }
    if let Some((kind, matched_slots, label, field, synonym)) = best {
        let matched = if explain {
            plan.slots
                .iter()
                .filter_map(|slot| match_on(slot, label, synonym).map(|x| describe(slot, x, label, field)))
                .collect()
        } else {
            Vec::new()
        };
        return Grade { kind, matched_slots, matched, related: field == "related" };
    }
    // No single label has every slot: take each slot where it matches.
    let labels = || {
        std::iter::once((display, "display"))
            .chain(alts.clone().zip(&concept.designations).map(|(a, d)| (a, field_name(d.kind))))
    };
    let (mut matched_slots, mut fuzzy, mut matched) = (0, false, Vec::new());
    let mut required = plan.slots.iter().filter(|s| !s.optional).count();
    for slot in &plan.slots {
        if let Some((x, label, field)) =
            labels().find_map(|(label, field)| match_slot(slot, label).map(|x| (x, label, field)))
        {
            matched_slots += 1;
            required -= usize::from(!slot.optional);
            fuzzy |= x.0 == How::Fuzzy;
            if explain {
                matched.push(describe(slot, x, label, field));
            }
        }
    }
    let kind = match (required == 0 && matched_slots > 0, fuzzy) {
        (true, true) => MatchKind::Fuzzy,
        (true, false) => MatchKind::AllTerms,
        (false, _) => MatchKind::Partial,
    };
    Grade { kind, matched_slots, matched, related: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[(How, usize)]) -> Vec<SlotMatch> {
        v.iter().map(|x| Some(*x)).collect()
    }

    #[test]
    fn kinds_follow_the_ranking_order() {
        use How::*;
        assert_eq!(kind_of(&m(&[(Exact, 0)]), 1), Some(MatchKind::ExactLabel));
        assert_eq!(kind_of(&m(&[(Synonym, 0), (Exact, 1)]), 2), Some(MatchKind::ExactLabel));
        assert_eq!(kind_of(&m(&[(Exact, 0), (Prefix, 1)]), 4), Some(MatchKind::LabelPrefix));
        assert_eq!(kind_of(&m(&[(Exact, 0), (Exact, 2)]), 4), Some(MatchKind::InOrder));
        assert_eq!(kind_of(&m(&[(Exact, 2), (Exact, 0)]), 4), Some(MatchKind::AllTerms));
        assert_eq!(kind_of(&m(&[(Exact, 0), (Fuzzy, 1)]), 2), Some(MatchKind::Fuzzy));
        assert_eq!(kind_of(&[Some((Exact, 0)), None], 2), None);
    }
}
