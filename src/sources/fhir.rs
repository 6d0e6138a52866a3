//! A FHIR R4 CodeSystem (JSON), as the ANS Serveur Multi-Terminologies and
//! terminology servers publish them: hierarchy by `concept` nesting or by a
//! `parent` property, designations, definitions, and status from the
//! `status`, `inactive` or `deprecated` properties.
//!
//! The resource is read by the FHIR API's own reader
//! ([`crate::model::fhir::CodeSystem::from_resource`], the one used for
//! `tx-resource`s), then turned into the snapshot model here.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{LoadReport, SourceDecl, clean};
use crate::codes::CodeSyntax;
use crate::model::fhir as cs;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Status};

/// Reads a CodeSystem resource into `system`.
pub fn load(decl: &SourceDecl, path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut res: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: line {}, column {}: not JSON: {e}", path.display(), e.line(), e.column()))?;
    let kind = res.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
    if kind != "CodeSystem" {
        bail!("{}: resourceType is {kind:?}, expected CodeSystem", path.display());
    }
    // A file without its own canonical URL takes the one declared in sources.toml.
    if res.get("url").and_then(Value::as_str).is_none()
        && let Some(obj) = res.as_object_mut()
    {
        obj.insert("url".into(), Value::String(system.url.clone()));
    }
    let fhir = cs::CodeSystem::from_resource(&res).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    system.syntax = CodeSyntax::Plain;
    let flat: Vec<Concept> = fhir.concepts.iter().map(|c| concept(&fhir, c, report)).collect();
    super::set_depths(decl, path, system, flat)
}

/// One concept in the snapshot model: its first parent (by nesting, else by
/// property, as written even when missing, so that `set_depths` reports it),
/// designations as synonyms, retired when inactive or deprecated.
fn concept(fhir: &cs::CodeSystem, c: &cs::Concept, report: &mut LoadReport) -> Concept {
    report.rows_read += 1;
    let parent = c.parents.first().map(|&p| fhir.concepts[p].code.clone()).or_else(|| c.parent_codes.first().cloned());
    let retired = c.is_inactive() || c.is_deprecated() || c.property("deprecated").any(|v| v == "true");
    let display = match c.display.as_deref().map(|d| clean(d, report)).filter(|d| !d.is_empty()) {
        Some(d) => d,
        None => {
            report.note("concepts without display (code shown)");
            c.code.clone()
        }
    };
    Concept {
        code: c.code.trim().to_string(),
        display,
        level: 0,
        parent,
        designations: c
            .designations
            .iter()
            .map(|d| Designation { kind: DesignationKind::Synonym, value: d.value.clone() })
            .collect(),
        status: if retired { Status::Retired } else { Status::Active },
        replaced_by: Vec::new(),
        definition: c.definition.clone(),
        properties: Vec::new(),
    }
}
