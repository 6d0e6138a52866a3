//! Context priors (`data/curated/priors.toml`): the explicit preferences of
//! the setting Harmonie serves, occupational health, where people search for
//! employees' trades, work-related conditions and the shops they work in.
//!
//! A prior promotes or demotes the concepts of one system (or family) whose
//! code starts with one of its prefixes, or whose label holds one of its
//! words, when the query holds one of its `when` words (always, if it has
//! none) and none of its `unless` words. Among hits matched equally well
//! (same tier: code, every word, typos, some words), promoted concepts come
//! first and demoted ones last; a prior never lets a weaker match pass a
//! stronger one. Search with `context=none` applies none.
//!
//! Guarantees: every prior names its reason; a prior whose system is
//! unknown, or whose code prefix matches no code of its systems, fails the
//! build (see [`Prior::check`]), so a prior never silently does nothing.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::model::CodeSystem;
use crate::text::analyze;

/// What a prior does to the concepts it selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Ranked before the other hits of the same tier.
    Promote,
    /// Ranked after the other hits of the same tier.
    Demote,
}

/// One prior, its words analysed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Prior {
    /// Stable id, named by `explain`.
    pub id: String,
    /// System id, alias or family the prior applies to.
    pub system: String,
    /// Promote or demote.
    pub effect: Effect,
    /// Code prefixes of the concepts selected.
    pub codes: Vec<String>,
    /// Stems: a concept whose display holds one of them is selected.
    pub label_words: Vec<String>,
    /// Phrases (stems); the prior applies when the query holds one (always
    /// when empty).
    pub when: Vec<Vec<String>>,
    /// Phrases (stems); the prior does not apply when the query holds one.
    pub unless: Vec<Vec<String>>,
    /// Why the prior exists, shown by `explain`.
    pub why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "prior")]
    priors: Vec<RawPrior>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrior {
    id: String,
    system: String,
    effect: Effect,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    label_words: Vec<String>,
    #[serde(default)]
    when: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    why: String,
}

fn stems(text: &str) -> Vec<String> {
    analyze(text).into_iter().map(|t| t.stem).collect()
}

/// Reads a priors file.
pub fn read(path: &Path) -> Result<Vec<Prior>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: File = toml::from_str(&text).with_context(|| format!("{} is not a valid priors file", path.display()))?;
    let mut out: Vec<Prior> = Vec::new();
    for p in file.priors {
        if out.iter().any(|o| o.id == p.id) {
            bail!("{}: prior {:?} is declared twice", path.display(), p.id);
        }
        if p.why.trim().is_empty() {
            bail!("{}: prior {:?} does not say why it exists", path.display(), p.id);
        }
        if p.codes.is_empty() && p.label_words.is_empty() {
            bail!("{}: prior {:?} selects nothing: give codes or label_words", path.display(), p.id);
        }
        let phrases = |list: &[String], what: &str| -> Result<Vec<Vec<String>>> {
            list.iter()
                .map(|w| {
                    let s = stems(w);
                    if s.is_empty() {
                        bail!("{}: prior {:?}: {what} word {w:?} has no searchable word", path.display(), p.id);
                    }
                    Ok(s)
                })
                .collect()
        };
        out.push(Prior {
            when: phrases(&p.when, "when")?,
            unless: phrases(&p.unless, "unless")?,
            label_words: phrases(&p.label_words, "label")?.into_iter().flatten().collect(),
            id: p.id,
            system: p.system,
            effect: p.effect,
            codes: p.codes,
            why: p.why,
        });
    }
    Ok(out)
}

impl Prior {
    /// Whether `system` is one the prior applies to.
    pub fn covers(&self, system: &CodeSystem) -> bool {
        let name = self.system.as_str();
        system.id.eq_ignore_ascii_case(name)
            || system.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
            || system.family.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(name))
    }

    /// Whether the prior applies to a query whose stems are those `has`
    /// says it has.
    pub fn applies(&self, has: impl Fn(&str) -> bool) -> bool {
        let holds = |phrase: &Vec<String>| phrase.iter().all(|s| has(s));
        (self.when.is_empty() || self.when.iter().any(holds)) && !self.unless.iter().any(holds)
    }

    /// Fails when the prior's system is unknown or one of its code prefixes
    /// starts no code of its systems.
    pub fn check(&self, systems: &[CodeSystem]) -> Result<()> {
        let covered: Vec<&CodeSystem> = systems.iter().filter(|s| self.covers(s)).collect();
        if covered.is_empty() {
            bail!("prior {:?}: no system is named {:?}", self.id, self.system);
        }
        for prefix in &self.codes {
            if !covered.iter().any(|s| s.concepts.iter().any(|c| c.code.starts_with(prefix.as_str()))) {
                bail!("prior {:?}: no code of {} starts with {prefix:?}", self.id, self.system);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<Vec<Prior>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("priors.toml");
        std::fs::write(&p, text).unwrap();
        read(&p)
    }

    /// Whether a query of `text` has a stem, as a search asks.
    fn has(text: &str) -> impl Fn(&str) -> bool {
        let stems = stems(text);
        move |stem| stems.iter().any(|s| s == stem)
    }

    #[test]
    fn applies_on_when_words_unless_an_exception_is_there() {
        let priors = read_str(
            r#"
[[prior]]
id = "work"
system = "cim10"
effect = "demote"
codes = ["O"]
when = ["travail"]
unless = ["grossesse", "salle de naissance"]
why = "work, not labour"
"#,
        )
        .unwrap();
        let p = &priors[0];
        assert!(p.applies(has("souffrance au travail")));
        assert!(!p.applies(has("souffrance")));
        assert!(!p.applies(has("travail et grossesse")));
        assert!(!p.applies(has("travail en salle de naissance")));
        assert!(p.applies(has("travail en salle")));
    }

    #[test]
    fn a_prior_without_reason_or_selection_is_refused() {
        let no_why = "[[prior]]\nid='a'\nsystem='pcs'\neffect='demote'\ncodes=['1']\nwhy=' '\n";
        assert!(read_str(no_why).unwrap_err().to_string().contains("why"));
        let nothing = "[[prior]]\nid='a'\nsystem='pcs'\neffect='demote'\nwhy='x'\n";
        assert!(read_str(nothing).unwrap_err().to_string().contains("selects nothing"));
    }
}
