//! NAF 2025, from one of two files.
//!
//! [`load_csv`] (`insee-naf2025-csv`) reads `data/official/naf2025/naf2025.csv`,
//! one row per sous-classe with its section, division, groupe and classe
//! (codes and labels on the row); every level is built from those columns,
//! each concept once, and a code seen again with another label fails the load.
//!
//! [`load`] (`insee-naf2025-xlsx`) reads INSEE's `Structure_NAF_2025*.xlsx`: sheet `NAF 2025`,
//! column A the NACE 2.1 code (section letter, division `NN`, groupe
//! `NN.N`, classe `NN.NN`), column B the NAF sous-classe `NN.NNL` (on the
//! sous-classe rows), column C the intitulé. Rows come in hierarchical
//! order, so a division belongs to the last section above it.

use std::path::Path;

use anyhow::{Result, bail};

use super::{LoadReport, clean, sentence_case};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Status};
use crate::table::{CsvOptions, TableReader};

/// Reads the `NAF 2025` sheet into `system`.
pub fn load(path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let table = TableReader::open_sheet(path, Some("NAF 2025"))?;
    system.syntax = CodeSyntax::Naf;
    system.levels = super::naf::LEVELS.iter().map(|s| s.to_string()).collect();
    system.codable_from = 4;
    let mut section: Option<String> = None;
    for row in table {
        let row = row?;
        report.rows_read += 1;
        let cell = |i: usize| row.fields.get(i).map(|s| s.trim()).unwrap_or_default();
        let (nace, sous_classe, label) = (cell(0), cell(1), cell(2));
        let written = if sous_classe.is_empty() { nace } else { sous_classe };
        if written.is_empty() {
            report.note("rows without a code (skipped: titles or notes)");
            continue;
        }
        let Some(code) = CodeSyntax::Naf.canonical(written) else {
            bail!("{}: line {}: {written:?} is not a NAF code", path.display(), row.line);
        };
        let (level, parent) = match code.len() {
            1 => (0, None),
            2 => (1, section.clone()),
            4 => (2, Some(code[..2].to_string())),
            5 => (3, Some(code[..4].to_string())),
            _ => (4, Some(code[..5].to_string())),
        };
        if level == 1 && section.is_none() {
            bail!("{}: line {}: division {code} comes before any section", path.display(), row.line);
        }
        if level == 0 {
            section = Some(code.clone());
        }
        let display = sentence_case(&clean(label, report), report);
        if display.is_empty() {
            bail!("{}: line {}: {code} has no intitulé (column C)", path.display(), row.line);
        }
        system.concepts.push(Concept {
            code,
            display,
            level,
            parent,
            designations: Vec::new(),
            status: Status::Active,
            replaced_by: Vec::new(),
            definition: None,
            properties: Vec::new(),
        });
    }
    Ok(())
}

/// Reads the flat NAF 2025 CSV (columns `section_code`, `section_label`,
/// `division_code`, `division_label`, `group_code`, `group_label`,
/// `class_code`, `class_label`, `subclass_code`, `subclass_label`) into
/// `system`.
pub fn load_csv(path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let mut table = TableReader::open(path, CsvOptions::project_file())?;
    let names = ["section", "division", "group", "class", "subclass"];
    let mut cols = Vec::new();
    for n in names {
        cols.push((table.column(&format!("{n}_code"))?, table.column(&format!("{n}_label"))?));
    }
    system.syntax = CodeSyntax::Naf;
    system.levels = super::naf::LEVELS.iter().map(|s| s.to_string()).collect();
    system.codable_from = 4;
    let mut seen: std::collections::BTreeMap<String, Concept> = Default::default();
    for row in table.by_ref() {
        let row = row?;
        report.rows_read += 1;
        let mut parent: Option<String> = None;
        for (level, (c_code, c_label)) in cols.iter().enumerate() {
            let cell = |i: usize| row.fields.get(i).map(|s| s.trim()).unwrap_or_default();
            let (written, label) = (cell(*c_code), cell(*c_label));
            let Some(code) = CodeSyntax::Naf.canonical(written) else {
                bail!("{}: line {}: {written:?} is not a NAF {} code", path.display(), row.line, names[level]);
            };
            let mut repairs = LoadReport::default();
            let display = sentence_case(&clean(label, &mut repairs), &mut repairs);
            if display.is_empty() {
                bail!("{}: line {}: {code} has no label", path.display(), row.line);
            }
            match seen.get(&code) {
                Some(c) if c.display != display || c.parent != parent => bail!(
                    "{}: line {}: {code} is given another label or parent than on an earlier row",
                    path.display(),
                    row.line
                ),
                Some(_) => {}
                None => {
                    for (note, n) in repairs.notes {
                        *report.notes.entry(note).or_default() += n;
                    }
                    seen.insert(
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
    system.concepts.extend(seen.into_values());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::tests::empty_system;

    #[test]
    fn reads_the_naf_2025_sheet_with_all_levels() {
        let mut system = empty_system();
        let mut report = LoadReport::default();
        load(Path::new("tests/fixtures/Structure_NAF_2025.xlsx"), &mut system, &mut report).unwrap();
        system.check().unwrap();
        let counts: Vec<usize> = system.level_counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [2, 2, 2, 2, 3]);
        assert_eq!(system.find("47.12B").unwrap().parent.as_deref(), Some("47.12"));
        assert_eq!(system.find("47").unwrap().parent.as_deref(), Some("G"));
        assert_eq!(system.find("C").unwrap().display, "Industrie manufacturière");
    }

    #[test]
    fn reads_the_official_flat_csv_with_all_levels() {
        let mut system = empty_system();
        let mut report = LoadReport::default();
        load_csv(Path::new("data/official/naf2025/naf2025.csv"), &mut system, &mut report).unwrap();
        system.check().unwrap();
        let counts: Vec<usize> = system.level_counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts[4], 747);
        assert_eq!(system.find("01.11Y").unwrap().parent.as_deref(), Some("01.11"));
        assert_eq!(system.find("01").unwrap().parent.as_deref(), Some("A"));
    }
}
