//! PCS 2003 from the SQLite database of the `insee-pcs` package: table `pcs`
//! (`id`, `code`, `description`, `level` 1–4, `parent_id`); PCS 2020 from
//! INSEE's code list `data/official/pcs2020/pcs2020.json` ([`load_2020`]).
//!
//! The 24-position level (2) reuses the digits of the 42-position level (3)
//! for fourteen categories (`21 Artisans` is both); level-2 codes are
//! therefore written `N2-21` (see [`crate::codes::CodeSyntax::Pcs`]).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags};

use super::{LoadReport, clean};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Status};

/// Level names of PCS 2003, from the root down.
pub const LEVELS: [&str; 4] = [
    "groupe socioprofessionnel",
    "catégorie socioprofessionnelle (24 postes)",
    "catégorie socioprofessionnelle (42 postes)",
    "profession",
];

struct Row {
    id: i64,
    code: String,
    description: String,
    level: i64,
    parent_id: Option<i64>,
}

/// Level names of PCS 2020, from the root down.
pub const LEVELS_2020: [&str; 4] =
    ["groupe socioprofessionnel", "catégorie socioprofessionnelle", "sous-catégorie", "profession"];

/// One node of `pcs2020.json`.
#[derive(serde::Deserialize)]
struct Node2020 {
    id: String,
    label: String,
    #[serde(default)]
    short: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Reads PCS 2020 (`[{id, label, level, short, tags}]`; the level is the
/// length of the code, the parent its prefix) into `system`. A code that is
/// not a PCS 2020 code, or whose parent is missing, fails the load.
pub fn load_2020(path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let nodes: Vec<Node2020> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a PCS 2020 list [{{id, label, short}}]", path.display()))?;
    system.syntax = CodeSyntax::Pcs2020;
    system.levels = LEVELS_2020.iter().map(|s| s.to_string()).collect();
    system.codable_from = 3;
    for n in nodes {
        report.rows_read += 1;
        let Some(code) = CodeSyntax::Pcs2020.canonical(&n.id).filter(|c| c == n.id.trim()) else {
            bail!("{}: {:?} is not a PCS 2020 code (1, 10, 10A, 10A1)", path.display(), n.id);
        };
        let level = code.len() - 1;
        let mut designations: Vec<Designation> = Vec::new();
        let short = clean(&n.short, report);
        if !short.is_empty() && short != n.label {
            designations.push(Designation { kind: DesignationKind::Short, value: short });
        }
        designations.extend(n.tags.iter().map(|t| Designation { kind: DesignationKind::Synonym, value: t.clone() }));
        system.concepts.push(Concept {
            parent: (level > 0).then(|| code[..level].to_string()),
            code,
            display: clean(&n.label, report),
            level: level as u8,
            designations,
            status: Status::Active,
            replaced_by: Vec::new(),
            definition: None,
            properties: Vec::new(),
        });
    }
    Ok(())
}

/// Reads the `insee_pcs/PCS.db` SQLite file into `system`.
pub fn load(path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {} as SQLite", path.display()))?;
    let mut stmt = conn
        .prepare("SELECT id, code, description, level, parent_id FROM pcs ORDER BY id")
        .with_context(|| format!("{}: no table pcs(id, code, description, level, parent_id)", path.display()))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row { id: r.get(0)?, code: r.get(1)?, description: r.get(2)?, level: r.get(3)?, parent_id: r.get(4)? })
        })?
        .collect::<rusqlite::Result<Vec<Row>>>()
        .with_context(|| format!("{}: unreadable row in table pcs", path.display()))?;

    system.syntax = CodeSyntax::Pcs;
    system.levels = LEVELS.iter().map(|s| s.to_string()).collect();
    system.codable_from = 3;
    let mut codes: HashMap<i64, String> = HashMap::new();
    for r in &rows {
        if !(1..=4).contains(&r.level) {
            bail!("{}: row id {}: level {} is not 1 to 4", path.display(), r.id, r.level);
        }
        let written = if r.level == 2 { format!("N2-{}", r.code.trim()) } else { r.code.clone() };
        let Some(code) = CodeSyntax::Pcs.canonical(&written) else {
            bail!("{}: row id {}: {:?} is not a PCS code", path.display(), r.id, r.code);
        };
        if code != r.code && r.level != 2 {
            report.note("codes respelled to canonical form");
        }
        codes.insert(r.id, code);
    }
    for r in rows {
        report.rows_read += 1;
        let parent = match r.parent_id {
            None => None,
            Some(pid) => Some(codes.get(&pid).cloned().with_context(|| {
                format!("{}: row id {}: parent_id {pid} is not in the table", path.display(), r.id)
            })?),
        };
        let display = clean(&strip_cell_reference(&r.description, report), report);
        if display.is_empty() {
            bail!("{}: row id {} ({}): empty description", path.display(), r.id, r.code);
        }
        system.concepts.push(Concept {
            code: codes[&r.id].clone(),
            display,
            level: (r.level - 1) as u8,
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

/// Removes spreadsheet cell references pasted into labels upstream
/// (`Artistes+B493 de la musique` → `Artistes de la musique`), counting them.
fn strip_cell_reference(label: &str, report: &mut LoadReport) -> String {
    let b = label.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'+' && i + 2 < b.len() && b[i + 1].is_ascii_uppercase() && b[i + 2].is_ascii_digit() {
            let end = (i + 2..b.len()).find(|&j| !b[j].is_ascii_digit()).unwrap_or(b.len());
            report.note("spreadsheet cell references removed from labels");
            return format!("{}{}", &label[..i], &label[end..]);
        }
    }
    label.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::tests::empty_system;

    /// Builds a database in the package's layout from the SQL fixture.
    fn fixture_db(dir: &Path) -> std::path::PathBuf {
        let p = dir.join("PCS.db");
        let conn = Connection::open(&p).unwrap();
        conn.execute_batch(&std::fs::read_to_string("tests/fixtures/pcs_sample.sql").unwrap()).unwrap();
        p
    }

    #[test]
    fn loads_fixture_with_levels_and_qualified_level_two() {
        let dir = tempfile::tempdir().unwrap();
        let mut system = empty_system();
        let mut report = LoadReport::default();
        load(&fixture_db(dir.path()), &mut system, &mut report).unwrap();
        system.check().unwrap();
        let counts: Vec<usize> = system.level_counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [2, 2, 2, 4]);
        assert_eq!(system.find("21").unwrap().parent.as_deref(), Some("N2-21"));
        assert_eq!(system.find("N2-21").unwrap().parent.as_deref(), Some("2"));
        assert_eq!(
            system.find("526a").unwrap().display,
            "Aides-soignants (de la fonction publique ou du secteur privé)"
        );
        assert_eq!(system.find("488a").unwrap().display, "Maîtrise de restauration : cuisine/production");
        assert_eq!(report.notes["labels with spacing repaired"], 1);
        assert_eq!(report.notes["codes respelled to canonical form"], 1);
        assert_eq!(system.find("354b").unwrap().display, "Artistes de la musique et du chant");
        assert_eq!(report.notes["spreadsheet cell references removed from labels"], 1);
    }

    #[test]
    fn names_the_row_whose_parent_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = fixture_db(dir.path());
        Connection::open(&p)
            .unwrap()
            .execute_batch("PRAGMA foreign_keys = OFF; UPDATE pcs SET parent_id = 999 WHERE code = '526a'")
            .unwrap();
        let err = load(&p, &mut empty_system(), &mut LoadReport::default()).unwrap_err().to_string();
        assert!(err.contains("parent_id 999"), "{err}");
    }
}
