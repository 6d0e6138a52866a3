//! The project's lexicon (`data/curated/lexicon.tsv`): abbreviations, acronyms,
//! lay terms and job titles, either expanded at query time into the
//! nomenclatures' wording (`expand`: a family rule, "cancer" ⇒ "tumeur
//! maligne" for every label that says so) or attached to concepts at build
//! time, as synonyms (`code`) or as titles of earlier editions (`legacy`,
//! shown as "ancien libellé").
//!
//! Guarantees: every line is either applied or rejected with its line number;
//! a `code` line naming an unknown system or code fails the build, so the
//! lexicon never silently drifts from the nomenclatures.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::model::{CodeSystem, Designation, DesignationKind};
use crate::text::analyze;

/// A query-time expansion: a term (one or more stems) also matches any of
/// its alternatives (each one or more stems).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Expansion {
    pub term: Vec<String>,
    pub alternatives: Vec<Vec<String>>,
}

/// A term to attach as a synonym to concepts of a system.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeSynonym {
    pub line: usize,
    /// `Synonym` (kind `code`) or `Legacy` (kind `legacy`: a title the
    /// code had in an earlier edition).
    pub kind: DesignationKind,
    pub term: String,
    pub system: String,
    pub codes: Vec<String>,
}

/// The lexicon as read from its file.
#[derive(Clone, Debug, Default)]
pub struct Lexicon {
    pub expansions: Vec<Expansion>,
    pub synonyms: Vec<CodeSynonym>,
}

fn stems(text: &str) -> Vec<String> {
    analyze(text).into_iter().map(|t| t.stem).collect()
}

impl Lexicon {
    /// Reads a lexicon file (see the header of `data/curated/lexicon.tsv`).
    pub fn read(path: &Path) -> Result<Lexicon> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut lex = Lexicon::default();
        let mut header_seen = false;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if !header_seen {
                header_seen = true;
                if f.first() == Some(&"term") {
                    continue;
                }
            }
            let [term, kind, target, source] = f[..] else {
                bail!(
                    "{}: line {n}: expected 4 tab-separated fields (term, kind, target, source), found {}",
                    path.display(),
                    f.len()
                );
            };
            if source.trim().is_empty() {
                bail!("{}: line {n}: the source or rationale is missing", path.display());
            }
            let term_stems = stems(term);
            if term_stems.is_empty() {
                bail!("{}: line {n}: the term {term:?} has no searchable word", path.display());
            }
            match kind {
                "expand" => {
                    let alternatives: Vec<Vec<String>> =
                        target.split('|').map(stems).filter(|a: &Vec<String>| !a.is_empty()).collect();
                    if alternatives.is_empty() {
                        bail!("{}: line {n}: expansion of {term:?} has no searchable word", path.display());
                    }
                    lex.expansions.push(Expansion { term: term_stems, alternatives });
                }
                "code" | "legacy" => {
                    let kind = if kind == "code" { DesignationKind::Synonym } else { DesignationKind::Legacy };
                    for part in target.split(';') {
                        let Some((system, codes)) = part.split_once(':') else {
                            bail!("{}: line {n}: target {part:?} must be written system:code,code", path.display());
                        };
                        lex.synonyms.push(CodeSynonym {
                            line: n,
                            kind,
                            term: term.trim().to_string(),
                            system: system.trim().to_string(),
                            codes: codes.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect(),
                        });
                    }
                }
                other => bail!("{}: line {n}: kind {other:?} is not expand, code or legacy", path.display()),
            }
        }
        Ok(lex)
    }

    /// Attaches every `code` line as a synonym designation of its concepts.
    /// Returns the number of designations added per system id.
    pub fn apply_synonyms(&self, path: &Path, systems: &mut [CodeSystem]) -> Result<HashMap<String, usize>> {
        let mut added: HashMap<String, usize> = HashMap::new();
        for syn in &self.synonyms {
            let Some(system) = systems.iter_mut().find(|s| {
                s.id.eq_ignore_ascii_case(&syn.system) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(&syn.system))
            }) else {
                bail!("{}: line {}: unknown system {:?}", path.display(), syn.line, syn.system);
            };
            for code in &syn.codes {
                let canonical = system.syntax.canonical(code);
                let Some(idx) = canonical
                    .as_deref()
                    .and_then(|c| system.concepts.binary_search_by(|x| x.code.as_str().cmp(c)).ok())
                else {
                    bail!(
                        "{}: line {}: {code:?} is not a code of {}; fix the line or remove it",
                        path.display(),
                        syn.line,
                        system.id
                    );
                };
                let concept = &mut system.concepts[idx];
                if !concept.designations.iter().any(|d| d.value.eq_ignore_ascii_case(&syn.term)) {
                    concept.designations.push(Designation { kind: syn.kind, value: syn.term.clone() });
                    *added.entry(system.id.clone()).or_default() += 1;
                }
            }
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lexicon.tsv");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_expansions_and_code_synonyms() {
        let (_d, p) = write(
            "# test\nterm\tkind\ttarget\tsource\nBTP\texpand\tbâtiment|travaux publics\tusage\nnounou\tcode\tpcs:563a;naf:88.91A\tusage\n",
        );
        let lex = Lexicon::read(&p).unwrap();
        assert_eq!(lex.expansions[0].term, ["btp"]);
        assert_eq!(
            lex.expansions[0].alternatives,
            [vec!["batiment".to_string()], vec!["traval".into(), "public".into()]]
        );
        assert_eq!(lex.synonyms.len(), 2);
        assert_eq!(lex.synonyms[1].codes, ["88.91A"]);
    }

    #[test]
    fn errors_name_the_line() {
        let (_d, p) = write("term\tkind\ttarget\tsource\nfoo\tguess\tbar\tbecause\n");
        assert!(Lexicon::read(&p).unwrap_err().to_string().contains("line 2"));
        let (_d, p) = write("term\tkind\ttarget\tsource\nfoo\texpand\tbar\t\n");
        assert!(Lexicon::read(&p).unwrap_err().to_string().contains("source"));
    }
}
