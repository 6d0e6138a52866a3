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

use crate::model::{CodeSystem, Designation, DesignationKind, named};
use crate::text::analyze;

/// A query-time expansion: a term (one or more stems) also matches any of
/// its alternatives (each one or more stems).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Expansion {
    /// The term, analysed.
    pub term: Vec<String>,
    /// Its alternatives, each analysed.
    pub alternatives: Vec<Vec<String>>,
    /// The term frames rather than names (`cabinet`, `magasin`): a label
    /// need not hold it (kind `optional`).
    #[serde(default)]
    pub optional: bool,
}

/// A term to attach as a synonym to concepts of a system.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeSynonym {
    /// Line of the lexicon file.
    pub line: usize,
    /// `Synonym` (kind `code`) or `Legacy` (kind `legacy`: a title the
    /// code had in an earlier edition).
    pub kind: DesignationKind,
    /// The term as written.
    pub term: String,
    /// System id or alias of the codes.
    pub system: String,
    /// The codes the term is a synonym of; the first is its code.
    pub codes: Vec<String>,
}

/// The lexicon as read from its file.
#[derive(Clone, Debug, Default)]
pub struct Lexicon {
    /// Query-time expansions (family rules).
    pub expansions: Vec<Expansion>,
    /// Terms attached to codes at build time.
    pub synonyms: Vec<CodeSynonym>,
    /// Every entry as written, with its line, for [`check`].
    pub lines: Vec<Line>,
}

/// One entry of a lexicon file as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Line of the file.
    pub line: usize,
    /// The term as written.
    pub term: String,
    /// `expand`, `code`, `legacy` or `optional`.
    pub kind: String,
    /// What the term stands for (see the file's header).
    pub target: String,
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
            lex.lines.push(Line { line: n, term: term.trim().into(), kind: kind.into(), target: target.trim().into() });
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
                    lex.expansions.push(Expansion { term: term_stems, alternatives, optional: false });
                }
                "optional" => {
                    lex.expansions.push(Expansion { term: term_stems, alternatives: Vec::new(), optional: true });
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
                other => bail!("{}: line {n}: kind {other:?} is not expand, optional, code or legacy", path.display()),
            }
        }
        Ok(lex)
    }

    /// Attaches every `code` line as a synonym designation of its concepts.
    /// Returns the number of designations added per system id.
    pub fn apply_synonyms(&self, path: &Path, systems: &mut [CodeSystem]) -> Result<HashMap<String, usize>> {
        let mut added: HashMap<String, usize> = HashMap::new();
        for syn in &self.synonyms {
            let Some(system) = named(systems, &syn.system).map(|i| &mut systems[i]) else {
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
                // The first code of a line is the term's code; the others are related.
                let kind = match syn.kind {
                    DesignationKind::Synonym if code != &syn.codes[0] => DesignationKind::Related,
                    kind => kind,
                };
                if !concept.designations.iter().any(|d| d.value.eq_ignore_ascii_case(&syn.term)) {
                    concept.designations.push(Designation { kind, value: syn.term.clone() });
                    *added.entry(system.id.clone()).or_default() += 1;
                }
            }
        }
        Ok(added)
    }
}

/// What [`check`] found in the lexicon files.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// `file:line: problem`, each a reason to fix the file.
    pub problems: Vec<String>,
    /// Entries per kind.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// Concepts that at least one family rule (`expand`) reaches.
    pub reached_by_rules: usize,
}

/// Checks lexicon files against the systems they name (as loaded, before
/// any lexicon is applied): every `code` and `legacy` target exists; no
/// term has two entries of one kind (in one file or across files); every
/// alternative of a family rule is held by some label (a rule that
/// produces nothing is dead); every `optional` word is a single word.
pub fn check(files: &[(std::path::PathBuf, Lexicon)], systems: &[CodeSystem]) -> CheckReport {
    use std::collections::{HashMap, HashSet};
    let mut report = CheckReport::default();
    // Stems of every label, per concept, to see what a rule reaches.
    let labels: Vec<HashSet<String>> = systems
        .iter()
        .flat_map(|s| s.concepts.iter())
        .map(|c| {
            std::iter::once(&c.display).chain(c.designations.iter().map(|d| &d.value)).flat_map(|t| stems(t)).collect()
        })
        .collect();
    let vocabulary: HashSet<&str> = labels.iter().flatten().map(String::as_str).collect();
    let mut reached = vec![false; labels.len()];
    let mut seen: HashMap<(String, String, String), String> = HashMap::new();
    for (path, lex) in files {
        for l in &lex.lines {
            let at = format!("{}:{}", path.display(), l.line);
            *report.counts.entry(l.kind.clone()).or_default() += 1;
            // One entry per term, kind and system (the same term may name a
            // code in NAF and another in PCS on separate lines).
            let systems_named: Vec<String> = if matches!(l.kind.as_str(), "code" | "legacy") {
                l.target
                    .split(';')
                    .filter_map(|p| p.split_once(':'))
                    .map(|(s, _)| {
                        let s = s.trim();
                        named(systems, s).map_or_else(|| s.to_lowercase(), |i| systems[i].id.clone())
                    })
                    .collect()
            } else {
                vec![String::new()]
            };
            for system in systems_named {
                let key = (stems(&l.term).join(" "), l.kind.clone(), system);
                if let Some(first) = seen.get(&key) {
                    report.problems.push(format!(
                        "{at}: {:?} ({}) already has an entry at {first}; merge the two",
                        l.term, l.kind
                    ));
                    break;
                }
                seen.insert(key, at.clone());
            }
            match l.kind.as_str() {
                "expand" => {
                    let term = stems(&l.term);
                    // The term itself may be listed, to keep it when labels lack it.
                    for alt in l.target.split('|').map(stems).filter(|a| !a.is_empty() && *a != term) {
                        let missing: Vec<&String> = alt.iter().filter(|s| !vocabulary.contains(s.as_str())).collect();
                        if !missing.is_empty() {
                            report.problems.push(format!(
                                "{at}: the rule {:?} ⇒ {:?} produces nothing: no label holds {missing:?}",
                                l.term,
                                alt.join(" ")
                            ));
                            continue;
                        }
                        for (i, label) in labels.iter().enumerate() {
                            if alt.iter().all(|s| label.contains(s)) {
                                reached[i] = true;
                            }
                        }
                    }
                }
                "optional" if stems(&l.term).len() != 1 => {
                    report.problems.push(format!("{at}: an optional word must be one word, not {:?}", l.term));
                }
                "code" | "legacy" => {
                    for part in l.target.split(';') {
                        let Some((name, codes)) = part.split_once(':') else { continue };
                        let Some(system) = named(systems, name).map(|i| &systems[i]) else {
                            report.problems.push(format!("{at}: unknown system {:?}", name.trim()));
                            continue;
                        };
                        for code in codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                            let found = system.syntax.canonical(code).is_some_and(|c| system.find(&c).is_some());
                            if !found {
                                report.problems.push(format!("{at}: {code:?} is not a code of {}", system.id));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    report.reached_by_rules = reached.iter().filter(|r| **r).count();
    report
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
    fn check_finds_unknown_codes_duplicates_and_dead_rules() {
        let (_d, p) = write(
            "term\tkind\ttarget\tsource\nK\texpand\ttumeur maligne\trule\nK\texpand\ttumeur\tagain\n\
             zzz\texpand\tmot introuvable\tdead\ncabinet\toptional\t-\tframe\nlombalgie\tcode\tcim10:M54.5,Z99.99\tx\n",
        );
        let lex = Lexicon::read(&p).unwrap();
        let mut system = crate::sources::tests::empty_system();
        system.id = "cim-10".into();
        system.aliases = vec!["cim10".into()];
        system.syntax = crate::codes::CodeSyntax::Cim10;
        for (code, display) in [("C34", "Tumeur maligne du poumon"), ("M54.5", "Lombalgie basse")] {
            system.concepts.push(crate::model::Concept {
                code: code.into(),
                display: display.into(),
                level: 0,
                parent: None,
                designations: Vec::new(),
                status: crate::model::Status::Active,
                replaced_by: Vec::new(),
                definition: None,
                properties: Vec::new(),
            });
        }
        let report = check(&[(p.clone(), lex)], &[system]);
        let all = report.problems.join("\n");
        assert!(all.contains(":3: \"K\" (expand) already has an entry at"), "{all}");
        assert!(all.contains(":4: the rule \"zzz\"") && all.contains("introuvabl"), "{all}");
        assert!(all.contains(":6: \"Z99.99\" is not a code of cim-10"), "{all}");
        assert_eq!(report.problems.len(), 3, "{all}");
        assert_eq!(report.reached_by_rules, 1);
        assert_eq!(report.counts["expand"], 3);
    }

    #[test]
    fn errors_name_the_line() {
        let (_d, p) = write("term\tkind\ttarget\tsource\nfoo\tguess\tbar\tbecause\n");
        assert!(Lexicon::read(&p).unwrap_err().to_string().contains("line 2"));
        let (_d, p) = write("term\tkind\ttarget\tsource\nfoo\texpand\tbar\t\n");
        assert!(Lexicon::read(&p).unwrap_err().to_string().contains("source"));
    }
}
