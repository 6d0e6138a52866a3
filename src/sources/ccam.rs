//! Loader `ccam-json`: the CCAM (classification commune des actes
//! médicaux) from the two tables of the `nomensland` package kept under
//! `data/official/ccam/`: `ccam_actes.json.gz` (one object per act: `code`,
//! `libelle_court`, `libelle_long`, `type_acte`, `date_debut`, `date_fin`)
//! and `ccam_hierarchie_actes.json.gz` (the tree: nodes `type = H` with their
//! position `strate` `NN.NN.NN.NN` and depth `niveau`, acts `type = A` with
//! the node they hang from).
//!
//! Guarantees: the places of the tree are coded by their position (`04`,
//! `04.01`, `04.01.01`, `04.01.01.01`), acts by their CCAM code, all acts at
//! the level `acte` whatever the depth of the node they hang from; an act
//! closed (`date_fin`) is retired, with the date as property; an act missing
//! from the tree fails the load (the two tables must agree).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{LoadReport, clean};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Property, PropertyKind, Status};

/// Level names, from the root down.
pub const LEVELS: [&str; 5] = ["chapitre", "sous-chapitre", "paragraphe", "sous-paragraphe", "acte"];

#[derive(Deserialize)]
struct Act {
    code: String,
    libelle_court: Option<String>,
    libelle_long: String,
    type_acte: Option<serde_json::Value>,
    date_debut: Option<String>,
    date_fin: Option<String>,
}

#[derive(Deserialize)]
struct TreeEntry {
    code: String,
    parent: Option<String>,
    strate: Option<String>,
    niveau: Option<serde_json::Value>,
    libelle: String,
    #[serde(rename = "type")]
    kind: String,
}

fn read_gz_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut text)
        .with_context(|| format!("{} is not a gzip file", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{}: unexpected JSON layout", path.display()))
}

/// Reads the acts (`acts`) and the tree (`hierarchy`) into `system`.
pub fn load(acts: &Path, hierarchy: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let acts: Vec<Act> = read_gz_json(acts)?;
    let tree: Vec<TreeEntry> = read_gz_json(hierarchy)?;
    system.syntax = CodeSyntax::Ccam;
    system.levels = LEVELS.iter().map(|s| s.to_string()).collect();
    system.codable_from = 4;
    // Node id (`000123`) → position code (`04.01`).
    let mut place: HashMap<&str, String> = HashMap::new();
    let mut act_parent: HashMap<&str, &str> = HashMap::new();
    for e in &tree {
        report.rows_read += 1;
        if e.kind == "A" {
            if let Some(p) = &e.parent {
                act_parent.insert(&e.code, p);
            }
            continue;
        }
        let depth = match &e.niveau {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
            Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(0),
            _ => 0,
        };
        let Some(strate) = e.strate.as_deref() else { continue };
        if !(1..=4).contains(&depth) {
            report.note("tree nodes outside the four levels (the root, left out)");
            continue;
        }
        let code = strate.split('.').take(depth).collect::<Vec<_>>().join(".");
        if CodeSyntax::Ccam.canonical(&code).as_deref() != Some(code.as_str()) {
            bail!("{}: node {} has position {strate:?}, not NN.NN.NN.NN", hierarchy.display(), e.code);
        }
        place.insert(&e.code, code);
    }
    let mut seen = std::collections::HashSet::new();
    for e in tree.iter().filter(|e| e.kind != "A") {
        let Some(code) = place.get(e.code.as_str()) else { continue };
        if !seen.insert(code.clone()) {
            bail!("{}: position {code} appears twice", hierarchy.display());
        }
        let depth = code.split('.').count();
        system.concepts.push(Concept {
            code: code.clone(),
            display: super::sentence_case(&clean(&e.libelle, report), report),
            level: (depth - 1) as u8,
            parent: (depth > 1).then(|| code[..code.len() - 3].to_string()),
            designations: Vec::new(),
            status: Status::Active,
            replaced_by: Vec::new(),
            definition: None,
            properties: Vec::new(),
        });
    }
    for a in acts {
        report.rows_read += 1;
        let Some(code) = CodeSyntax::Ccam.canonical(&a.code).filter(|c| c.len() == 7) else {
            bail!("{}: {:?} is not a CCAM act code (4 letters, 3 digits)", hierarchy.display(), a.code);
        };
        let Some(parent) = act_parent.get(code.as_str()).and_then(|p| place.get(p)) else {
            bail!("{}: act {code} hangs from no place of the tree", hierarchy.display());
        };
        let display = clean(&a.libelle_long, report);
        let mut designations = Vec::new();
        match a.libelle_court.as_deref().map(|s| clean(s, report)) {
            Some(short) if !short.is_empty() && short != display => {
                designations.push(Designation { kind: DesignationKind::Short, value: short })
            }
            Some(_) => {}
            None => report.note("acts without a short label"),
        }
        let mut properties = Vec::new();
        if let Some(d) = a.date_debut.filter(|d| crate::clock::is_date(d)) {
            properties.push(Property { kind: PropertyKind::EnVigueurDepuis, value: d });
        }
        let retired = a.date_fin.as_deref().is_some_and(crate::clock::is_date);
        if let Some(d) = a.date_fin.filter(|d| crate::clock::is_date(d)) {
            properties.push(Property { kind: PropertyKind::FinValidite, value: d });
            report.note("closed acts (retired)");
        }
        let kind = match a.type_acte.as_ref().map(|v| v.to_string().trim_matches('"').to_string()).as_deref() {
            Some("0") => Some("acte isolé"),
            Some("1") => Some("procédure"),
            Some("2") => Some("acte ou geste complémentaire"),
            _ => None,
        };
        if let Some(k) = kind {
            properties.push(Property { kind: PropertyKind::TypeActe, value: k.to_string() });
        }
        system.concepts.push(Concept {
            code,
            display,
            level: 4,
            parent: Some(parent.clone()),
            designations,
            status: if retired { Status::Retired } else { Status::Active },
            replaced_by: Vec::new(),
            definition: None,
            properties,
        });
    }
    Ok(())
}
