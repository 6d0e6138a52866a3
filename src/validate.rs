//! Validation of stored codes: is this a code of the system, in which
//! canonical form, is it current, and if not, what is near.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::index::{ConceptRef, Snapshot};
use crate::model::Status;

/// Most near-miss suggestions returned per item.
pub const MAX_SUGGESTIONS: usize = 5;

/// One code to validate.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct Item {
    /// System id or alias (`naf`, `cim10`, `pcs-2003`…).
    pub system: String,
    /// The code as stored, in any spelling.
    pub code: String,
    /// The date (`YYYY-MM-DD`) to validate on; today when absent. A family
    /// name (`naf`) resolves to the version in force that day, and a code of
    /// a version replaced by then is retired, with its replacements.
    #[serde(default)]
    pub as_of: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
/// What validating a code found.
pub enum Verdict {
    /// A current code of the system.
    Active,
    /// A code of the system that is no longer to be used (see `replaced_by`).
    Retired,
    /// Shaped like a code of the system but not one of its codes.
    Unknown,
    /// Not shaped like a code of the system.
    Malformed,
    /// The system itself is unknown.
    UnknownSystem,
}

/// A concept offered in an answer.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Suggestion {
    /// The code offered.
    pub code: String,
    /// Its label.
    pub display: String,
    /// Why it is offered (`one keystroke away`, `replacement`).
    pub reason: String,
}

/// The answer for one item.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Validation {
    /// The system as given.
    pub system: String,
    /// The code as given.
    pub input: String,
    /// True for an active code of the system.
    pub valid: bool,
    /// The verdict.
    pub status: Verdict,
    /// Canonical code, when the input is a code of the system.
    pub code: Option<String>,
    /// Label of `code`.
    pub display: Option<String>,
    /// What was found and what to do, in French and English.
    pub message: String,
    /// Replacements of a retired code.
    pub replaced_by: Vec<Suggestion>,
    /// Near misses for an unknown code.
    pub suggestions: Vec<Suggestion>,
}

fn suggestion(snap: &Snapshot, r: ConceptRef, reason: &str) -> Suggestion {
    let c = snap.concept(r);
    Suggestion { code: c.code.clone(), display: c.display.clone(), reason: reason.to_string() }
}

impl Validation {
    /// The answer for an item whose validation failed (a bug, logged): not
    /// valid, `malformed`, with a message saying so.
    pub fn failed(item: &Item) -> Validation {
        let mut v = blank(item);
        v.status = Verdict::Malformed;
        v.message = "Erreur interne sur cet élément / internal error on this item (logged): retry or report it".into();
        v
    }
}

fn blank(item: &Item) -> Validation {
    Validation {
        system: item.system.clone(),
        input: item.code.clone(),
        valid: false,
        status: Verdict::UnknownSystem,
        code: None,
        display: None,
        message: String::new(),
        replaced_by: Vec::new(),
        suggestions: Vec::new(),
    }
}

/// Validates one item against `snap`.
pub fn validate(snap: &Snapshot, item: &Item) -> Validation {
    let mut v = blank(item);
    let date = item.as_of.as_deref().map(str::trim).map_or_else(crate::clock::today, String::from);
    if !crate::clock::is_date(&date) {
        v.status = Verdict::Malformed;
        v.message = format!("as_of {date:?} n'est pas une date / is not a date: write YYYY-MM-DD");
        return v;
    }
    let s = match snap.resolve_system_as_of(&item.system, &date) {
        Ok(s) => s,
        Err(e) => {
            v.message = e.to_string();
            return v;
        }
    };
    let system = &snap.systems[s];
    let Some(canonical) = system.syntax.canonical(&item.code).or_else(|| {
        // Not shaped like a current code, but maybe an old or local one.
        snap.maps
            .iter()
            .any(|m| m.target == system.id && m.get(&item.code).is_some())
            .then(|| item.code.trim().to_string())
    }) else {
        v.status = Verdict::Malformed;
        v.message =
            format!("{:?} n'a pas la forme d'un code {id} / is not shaped like a {id} code", item.code, id = system.id);
        return v;
    };
    match snap.lookup_as_of(&item.system, &item.code, &date) {
        Some((r, true)) => {
            // A code of a version the date has replaced.
            let c = snap.concept(r);
            let version = snap.system_of(r);
            v.code = Some(c.code.clone());
            v.display = Some(c.display.clone());
            v.status = Verdict::Retired;
            v.replaced_by = snap
                .replacements(r)
                .into_iter()
                .map(|(x, t)| suggestion(snap, x, t.note.as_deref().unwrap_or("replacement")))
                .collect();
            let codes: Vec<&str> = v.replaced_by.iter().map(|x| x.code.as_str()).collect();
            v.message = format!(
                "Code {code} de {id}, remplacée le {from} / code of {id}, replaced on {from}: utiliser / use {}",
                if codes.is_empty() { "-".to_string() } else { codes.join(", ") },
                code = c.code,
                id = version.id,
                from = version.retired_from.as_deref().unwrap_or("?"),
            );
        }
        Some((r, false)) => {
            let c = snap.concept(r);
            v.code = Some(c.code.clone());
            v.display = Some(c.display.clone());
            match c.status {
                Status::Active => {
                    v.valid = true;
                    v.status = Verdict::Active;
                    v.message = if c.code == item.code.trim() {
                        "Code valide / valid code".to_string()
                    } else {
                        format!("Code valide, forme canonique {0} / valid code, canonical form {0}", c.code)
                    };
                }
                Status::Retired => {
                    v.status = Verdict::Retired;
                    v.replaced_by = c
                        .replaced_by
                        .iter()
                        .filter_map(|code| snap.get(s, code))
                        .map(|r| suggestion(snap, r, "replacement"))
                        .collect();
                    v.message = format!(
                        "Code retiré / retired code {}: utiliser / use {}",
                        c.code,
                        if c.replaced_by.is_empty() { "-".to_string() } else { c.replaced_by.join(", ") }
                    );
                }
            }
        }
        None => {
            v.status = Verdict::Unknown;
            v.code = None;
            // An old-version or local code the correspondence tables know.
            for map in snap.maps.iter().filter(|m| m.target == system.id) {
                if let Some(e) = map.get(&item.code) {
                    for t in &e.targets {
                        if let Some(r) = snap.get(s, &t.code) {
                            v.suggestions.push(suggestion(
                                snap,
                                r,
                                &format!("{} {} in {}", map.source, e.code, map.id),
                            ));
                        }
                    }
                }
            }
            v.suggestions.extend(
                snap.near_codes(s, &canonical, MAX_SUGGESTIONS)
                    .into_iter()
                    .map(|r| suggestion(snap, r, "one keystroke away")),
            );
            v.suggestions.truncate(MAX_SUGGESTIONS);
            v.message = format!(
                "{canonical} n'est pas un code de {id} / is not a code of {id}{}",
                if v.suggestions.is_empty() { "" } else { "; voir / see suggestions" },
                id = system.id
            );
        }
    }
    v
}
