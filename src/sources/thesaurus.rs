//! A generic thesaurus from a CSV or spreadsheet, with its column mapping
//! declared in `data/sources.toml` (`[source.columns]`): for the Présanse
//! harmonised thesauri, a service's local AMT thesaurus, and the project's
//! curated thesauri.
//!
//! Mapped roles: `code` and `label` (required); `parent`, `synonyms`
//! (separated by `|`), `definition`, `source` (appended to the definition),
//! `status` (`active`/`actif`, or `retired`/`inactive`/`inactif`/`supprimé`/
//! `obsolète`), `valid_to` (a past `YYYY-MM-DD` date retires the concept),
//! `level` (level names). Errors name the file, the line and the column.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{LoadReport, SourceDecl, clean};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Status};
use crate::table::{CsvOptions, TableReader};

const ROLES: [&str; 9] = ["code", "label", "parent", "synonyms", "definition", "source", "status", "valid_to", "level"];

/// Reads the table of `decl` into `system`.
pub fn load(decl: &SourceDecl, path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let Some(columns) = &decl.columns else {
        bail!(
            "source {}: loader thesaurus-table needs a [source.columns] table (code = \"…\", label = \"…\", …)",
            decl.id
        );
    };
    for role in columns.keys() {
        if !ROLES.contains(&role.as_str()) {
            bail!("source {}: unknown column role {role:?} in [source.columns] (known: {})", decl.id, ROLES.join(", "));
        }
    }
    let mut table = TableReader::open(path, CsvOptions::project_file())?;
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (role, name) in columns {
        let i = table.column(name).with_context(|| {
            format!(
                "{}: the column {name:?} declared for {role} in data/sources.toml (source {}) is not in the file",
                path.display(),
                decl.id
            )
        })?;
        col.insert(role.as_str(), i);
    }
    for required in ["code", "label"] {
        if !col.contains_key(required) {
            bail!("source {}: [source.columns] must name the {required} column", decl.id);
        }
    }
    system.syntax = CodeSyntax::Plain;
    let today = crate::clock::today();
    let mut concepts: BTreeMap<String, Concept> = BTreeMap::new();
    let mut level_names: HashMap<String, String> = HashMap::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    for row in table.by_ref() {
        let row = row?;
        report.rows_read += 1;
        let cell = |role: &str| col.get(role).and_then(|&i| row.fields.get(i)).map(|s| s.trim()).unwrap_or_default();
        let column_name = |role: &'static str| columns.get(role).map(String::as_str).unwrap_or(role);
        if let Some(problem) = &row.problem {
            bail!("{}: {problem}", path.display());
        }
        let code = cell("code");
        if code.is_empty() {
            if row.fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            bail!("{}: line {}, column {:?}: empty code", path.display(), row.line, column_name("code"));
        }
        let display = clean(cell("label"), report);
        if display.is_empty() {
            bail!("{}: line {}, column {:?}: code {code} has no label", path.display(), row.line, column_name("label"));
        }
        let status = match cell("status").to_lowercase().as_str() {
            "" | "active" | "actif" | "valide" => Status::Active,
            "retired" | "inactive" | "inactif" | "supprimé" | "supprime" | "obsolète" | "obsolete" => Status::Retired,
            other => bail!(
                "{}: line {}, column {:?}: status {other:?} is neither active nor retired",
                path.display(),
                row.line,
                column_name("status")
            ),
        };
        let status = match cell("valid_to") {
            "" => status,
            d if d.len() == 10 && d < today.as_str() => Status::Retired,
            d if d.len() == 10 => status,
            d => bail!(
                "{}: line {}, column {:?}: {d:?} is not a YYYY-MM-DD date",
                path.display(),
                row.line,
                column_name("valid_to")
            ),
        };
        let designations = cell("synonyms")
            .split('|')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Designation { kind: DesignationKind::Synonym, value: s.to_string() })
            .collect();
        let definition = match (cell("definition"), cell("source")) {
            ("", "") => None,
            (d, "") => Some(d.to_string()),
            ("", s) => Some(format!("Source : {s}")),
            (d, s) => Some(format!("{d} (Source : {s})")),
        };
        let parent = Some(cell("parent").to_string()).filter(|p| !p.is_empty());
        if !cell("level").is_empty() {
            level_names.insert(code.to_string(), cell("level").to_string());
        }
        if lines.insert(code.to_string(), row.line).is_some() {
            bail!("{}: line {}: code {code} appears twice", path.display(), row.line);
        }
        concepts.insert(
            code.to_string(),
            Concept {
                code: code.to_string(),
                display,
                level: 0,
                parent,
                designations,
                status,
                replaced_by: Vec::new(),
                definition,
                properties: Vec::new(),
            },
        );
    }
    // Parents must be codes of the file; the error names the line.
    for c in concepts.values() {
        if let Some(p) = &c.parent
            && !concepts.contains_key(p)
        {
            bail!(
                "{}: line {}, column {:?}: parent {p:?} of {} is not a code of the file",
                path.display(),
                lines[&c.code],
                columns.get("parent").map(String::as_str).unwrap_or("parent"),
                c.code
            );
        }
    }
    super::set_depths(decl, path, system, concepts.into_values().collect())?;
    if decl.levels.is_none() {
        for c in &system.concepts {
            if let Some(name) = level_names.get(&c.code) {
                system.levels[usize::from(c.level)] = name.clone();
            }
        }
    }
    Ok(())
}
