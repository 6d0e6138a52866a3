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
        }
    }

    /// The element of a source code in any spelling.
    pub fn get(&self, code: &str) -> Option<&Element> {
        self.elements.get(&compact(code))
    }

    pub(crate) fn add(&mut self, source: &str, display: Option<String>, target: Option<Target>) {
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
}
