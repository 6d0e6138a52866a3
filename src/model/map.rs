//! Correspondence tables (FHIR ConceptMaps): old or local codes to codes of
//! a served system. Their loaders are in `sources::maps`.
//!
//! Source codes are keyed by their compact form (upper case, no dots or
//! spaces), so that every spelling of an old code finds its element.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a target relates to its source code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Equivalence {
    /// Same meaning.
    Equivalent,
    /// The target is wider than the source.
    Wider,
    /// The target is narrower than the source (a split).
    Narrower,
    /// Related, secondary link.
    Inexact,
}

impl Equivalence {
    /// Its FHIR R4 code (`equivalent`, `wider`, `narrower`, `inexact`), as
    /// serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Equivalence::Equivalent => "equivalent",
            Equivalence::Wider => "wider",
            Equivalence::Narrower => "narrower",
            Equivalence::Inexact => "inexact",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// One target of a source code.
pub struct Target {
    /// Target code as written in the table (canonicalised when loaded into a snapshot).
    pub code: String,
    /// How it relates to the source.
    pub equivalence: Equivalence,
    /// Share of the source that goes to this target, 0–1, when the table gives it.
    pub share: Option<f32>,
    /// What part of the source goes to this target, in the table's words
    /// (INSEE's `contenu_commun`), when the table gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// One source code and its targets.
pub struct Element {
    /// Source code as written in the table.
    pub code: String,
    /// The source's label, when the table gives it.
    pub display: Option<String>,
    /// Empty when the table says there is no correspondence.
    pub targets: Vec<Target>,
}

/// A correspondence table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConceptMap {
    /// Id of the table (from `sources.toml`).
    pub id: String,
    /// Title of the table.
    pub title: String,
    /// Name of the source code system (may not be served, e.g. `naf-rev1`).
    pub source: String,
    /// Id of the target system (served).
    pub target: String,
    /// Keyed by compact source code.
    pub elements: BTreeMap<String, Element>,
    /// What a reader must know before using the table (shown with every
    /// correspondence of it), from `notice` in `sources.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// Per target code, the keys of the elements that have it, in key
    /// order: built on first use ([`ConceptMap::sources_of`]), emptied by
    /// [`ConceptMap::add`] (a table is read whole before it is looked up;
    /// changing `elements` directly after a lookup leaves it stale).
    #[serde(skip)]
    by_target: std::sync::OnceLock<std::collections::HashMap<String, Vec<String>>>,
}

/// Upper case, no dots, spaces or dashes: the key of source codes. A dash
/// between two digits is kept, so that row `RG4-1` of a table stays apart
/// from table `RG41`.
///
/// ```
/// use harmonie::model::map::compact;
/// assert_eq!(compact("amt-001"), "AMT001");
/// assert_eq!(compact("10.71 c"), "1071C");
/// assert_eq!(compact("RG57-C3"), "RG57C3");
/// assert_eq!(compact("RG4-1"), "RG4-1");
/// ```
pub fn compact(code: &str) -> String {
    let chars: Vec<char> = code.chars().filter(|c| !c.is_whitespace() && *c != '.').collect();
    let digit = |i: Option<&char>| i.is_some_and(char::is_ascii_digit);
    chars
        .iter()
        .enumerate()
        .filter(|&(i, c)| *c != '-' || (i > 0 && digit(chars.get(i - 1)) && digit(chars.get(i + 1))))
        .flat_map(|(_, c)| c.to_uppercase())
        .collect()
}

impl ConceptMap {
    pub(crate) fn new(id: &str, title: &str, source: &str, target: &str) -> ConceptMap {
        ConceptMap {
            id: id.into(),
            title: title.into(),
            source: source.into(),
            target: target.into(),
            elements: BTreeMap::new(),
            notice: None,
            by_target: Default::default(),
        }
    }

    /// The element of a source code in any spelling.
    pub fn get(&self, code: &str) -> Option<&Element> {
        self.elements.get(&compact(code))
    }

    /// The elements with a target whose code is `code` (as written in the
    /// table), with that target, in element order: a lookup, not a walk of
    /// the table.
    pub fn sources_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = (&'a Element, &'a Target)> + 'a {
        let index = self.by_target.get_or_init(|| {
            let mut index: std::collections::HashMap<String, Vec<String>> = Default::default();
            for (key, e) in &self.elements {
                for t in &e.targets {
                    let keys = index.entry(t.code.clone()).or_default();
                    if keys.last() != Some(key) {
                        keys.push(key.clone());
                    }
                }
            }
            index
        });
        index
            .get(code)
            .into_iter()
            .flatten()
            .filter_map(|key| self.elements.get(key))
            .flat_map(move |e| e.targets.iter().filter(move |t| t.code == code).map(move |t| (e, t)))
    }

    pub(crate) fn add(&mut self, source: &str, display: Option<String>, target: Option<Target>) {
        self.by_target = Default::default();
        let e = self.elements.entry(compact(source)).or_insert_with(|| Element {
            code: source.trim().to_string(),
            display: None,
            targets: Vec::new(),
        });
        if e.display.is_none() {
            e.display = display.filter(|d| !d.trim().is_empty()).map(|d| d.trim().to_string());
        }
        if let Some(t) = target
            && !e.targets.iter().any(|x| compact(&x.code) == compact(&t.code))
        {
            e.targets.push(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalence_names_are_the_serialised_ones() {
        for e in [Equivalence::Equivalent, Equivalence::Wider, Equivalence::Narrower, Equivalence::Inexact] {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
    }

    #[test]
    fn sources_of_a_target_are_found_in_element_order_and_follow_additions() {
        let to =
            |code: &str| Target { code: code.into(), equivalence: Equivalence::Equivalent, share: None, note: None };
        let mut m = ConceptMap::new("t", "t", "a", "b");
        m.add("20.1", None, Some(to("X1")));
        m.add("10.1", None, Some(to("X1")));
        m.add("10.1", None, Some(to("X2")));
        let codes = |m: &ConceptMap, code: &str| {
            m.sources_of(code).map(|(e, t)| (e.code.clone(), t.code.clone())).collect::<Vec<_>>()
        };
        assert_eq!(codes(&m, "X1"), [("10.1".to_string(), "X1".to_string()), ("20.1".into(), "X1".into())]);
        assert_eq!(codes(&m, "X3"), []);
        m.add("05", None, Some(to("X3")));
        assert_eq!(codes(&m, "X3"), [("05".to_string(), "X3".to_string())], "an addition rebuilds the index");
        let back: ConceptMap = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(codes(&back, "X2"), [("10.1".to_string(), "X2".to_string())], "read back, indexed on first use");
    }
}
