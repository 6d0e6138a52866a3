//! The ANSES thesaurus of professional exposures (TEP), in the two shapes
//! ANS publishes it:
//! * OWL/RDF-XML from the SMT: `owl:Class rdf:about="http://data.esante.gouv.fr/tep/<code>"`
//!   with `skos:notation`, `rdfs:label`, `skos:altLabel` (synonyms), `dc:type`
//!   (level: Classe, Sous-classe, Niveau 1–6), `rdfs:subClassOf` (parent; the
//!   root is `…/tep/TEP`), `owl:deprecated`;
//! * the source workbook: columns B Classe, C Sous-classe, D–I Niveau 1–6
//!   (the path of labels; the last filled one gives the level), J code,
//!   S synonyme(s), T description, V libellé, W nature of the change, Z statut.

use std::path::Path;

use anyhow::{Context, Result, bail};
use quick_xml::events::Event;

use super::{LoadReport, SourceDecl, clean};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Status};
use crate::table::{CsvOptions, TableReader};

const ROOT: &str = "TEP";
const LEVELS: [&str; 8] =
    ["Classe", "Sous-classe", "Niveau 1", "Niveau 2", "Niveau 3", "Niveau 4", "Niveau 5", "Niveau 6"];

fn iri_code(iri: &str) -> &str {
    iri.rsplit(['/', '#']).next().unwrap_or(iri)
}

/// Reads the OWL/RDF-XML export into `system`.
pub fn load_owl(decl: &SourceDecl, path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut concepts: Vec<Concept> = Vec::new();
    let mut types: Vec<(String, String)> = Vec::new();
    let mut current: Option<Concept> = None;
    let mut notation: Option<String> = None;
    let mut field: Option<String> = None;
    let mut buf = String::new();
    loop {
        let pos = reader.buffer_position();
        let event =
            reader.read_event().map_err(|e| anyhow::anyhow!("{}: XML error at byte {pos}: {e}", path.display()))?;
        match event {
            Event::Start(e) if e.name().as_ref() == "owl:Class" => {
                let about = super::xml_attr(&e, "rdf:about")?.unwrap_or_default();
                current = Some(Concept {
                    code: iri_code(&about).to_string(),
                    display: String::new(),
                    level: 0,
                    parent: None,
                    designations: Vec::new(),
                    status: Status::Active,
                    replaced_by: Vec::new(),
                    definition: None,
                    properties: Vec::new(),
                });
                notation = None;
            }
            Event::Start(e) | Event::Empty(e) if current.is_some() => {
                let name = e.name().as_ref().to_string();
                if name == "rdfs:subClassOf"
                    && let Some(res) = super::xml_attr(&e, "rdf:resource")?
                {
                    let parent = iri_code(&res);
                    if let Some(c) = current.as_mut()
                        && parent != ROOT
                    {
                        c.parent = Some(parent.to_string());
                    }
                }
                field = Some(name);
                buf.clear();
            }
            Event::Text(t) if field.is_some() => buf.push_str(&t.xml10_content()),
            // Entities come as events of their own: `&amp;`, `&#233;`.
            Event::GeneralRef(r) if field.is_some() => super::push_xml_ref(&mut buf, &r),
            Event::End(e) if current.is_some() && e.name().as_ref() != "owl:Class" => {
                let value = std::mem::take(&mut buf).trim().to_string();
                let name = field.take();
                if value.is_empty() {
                    continue;
                }
                let c = current.as_mut().expect("checked");
                let field = name;
                match field.as_deref() {
                    Some("skos:notation") => notation = Some(value),
                    Some("rdfs:label" | "skos:prefLabel") if c.display.is_empty() => c.display = clean(&value, report),
                    Some("skos:altLabel") => c.designations.push(Designation { kind: DesignationKind::Synonym, value }),
                    Some("skos:definition" | "rdfs:comment") => c.definition = Some(value),
                    Some("dc:type" | "dcterms:type") => types.push((c.code.clone(), value)),
                    Some("owl:deprecated") if value == "true" => c.status = Status::Retired,
                    _ => {}
                }
            }
            Event::End(e) if e.name().as_ref() == "owl:Class" => {
                if let Some(mut c) = current.take() {
                    report.rows_read += 1;
                    if let Some(n) = notation.take() {
                        if n != c.code {
                            report.note("notations differing from their IRI (notation used)");
                        }
                        for t in types.iter_mut().filter(|(code, _)| *code == c.code) {
                            t.0 = n.clone();
                        }
                        c.code = n;
                    }
                    if c.code == ROOT {
                        continue;
                    }
                    if c.display.is_empty() {
                        bail!("{}: class {} has no rdfs:label", path.display(), c.code);
                    }
                    concepts.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if concepts.is_empty() {
        bail!("{}: no owl:Class found", path.display());
    }
    system.syntax = CodeSyntax::Plain;
    super::set_depths(decl, path, system, concepts)?;
    // Level names from dc:type, by depth, when the declaration gives none.
    if decl.levels.is_none() {
        for (code, kind) in types {
            if let Some(c) = system.find(&code) {
                let level = usize::from(c.level);
                if system.levels[level].starts_with("niveau ") {
                    system.levels[level] = kind;
                }
            }
        }
    }
    Ok(())
}

/// Reads the TEP source workbook into `system`.
pub fn load_workbook(decl: &SourceDecl, path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let table = TableReader::open(path, CsvOptions::project_file())?;
    let mut last_at_level: Vec<Option<String>> = vec![None; LEVELS.len()];
    let mut concepts = Vec::new();
    for row in table {
        let row = row?;
        let cell = |i: usize| row.fields.get(i).map(|s| s.trim()).unwrap_or_default();
        let code = cell(9);
        if code.is_empty() {
            if row.fields.iter().any(|f| !f.trim().is_empty()) {
                report.note("rows without a code in column J (skipped)");
            }
            continue;
        }
        report.rows_read += 1;
        let Some(level) = (1..=8).rev().find(|&i| !cell(i).is_empty()).map(|i| i - 1) else {
            bail!(
                "{}: line {}: code {code} has no Classe / Sous-classe / Niveau in columns B to I",
                path.display(),
                row.line
            );
        };
        let parent = if level == 0 {
            None
        } else {
            match last_at_level[level - 1].clone() {
                Some(p) => Some(p),
                None => bail!(
                    "{}: line {}: code {code} at level {} comes before any {}",
                    path.display(),
                    row.line,
                    LEVELS[level],
                    LEVELS[level - 1]
                ),
            }
        };
        last_at_level[level] = Some(code.to_string());
        for deeper in last_at_level.iter_mut().skip(level + 1) {
            *deeper = None;
        }
        let label = if cell(21).is_empty() { cell(level + 1) } else { cell(21) };
        let status = match cell(25).to_lowercase().as_str() {
            "" | "actif" | "active" | "valide" => Status::Active,
            "inactif" | "inactive" | "supprimé" | "supprime" | "obsolète" | "deprecated" => Status::Retired,
            other => {
                bail!("{}: line {}, column Z: statut {other:?} is neither actif nor inactif", path.display(), row.line)
            }
        };
        concepts.push(Concept {
            code: code.to_string(),
            display: clean(label, report),
            level: level as u8,
            parent,
            designations: cell(18)
                .split(['|', ';'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Designation { kind: DesignationKind::Synonym, value: s.to_string() })
                .collect(),
            status,
            replaced_by: Vec::new(),
            definition: Some(cell(19).to_string()).filter(|d| !d.is_empty()),
            properties: Vec::new(),
        });
    }
    system.syntax = CodeSyntax::Plain;
    super::set_depths(decl, path, system, concepts)?;
    if decl.levels.is_none() {
        let levels: Vec<String> = LEVELS.iter().map(|s| s.to_string()).collect();
        system.levels = levels[..system.levels.len().min(levels.len())].to_vec();
    }
    Ok(())
}
