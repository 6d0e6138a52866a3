//! A FHIR R4 CodeSystem (JSON), as the ANS Serveur Multi-Terminologies and
//! terminology servers publish them: hierarchy by `concept` nesting or by a
//! `parent` property, designations, definitions, and status from the
//! `status`, `inactive` or `deprecated` properties.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{LoadReport, SourceDecl, clean};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Status};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    resource_type: String,
    #[serde(default)]
    concept: Vec<FhirConcept>,
}

#[derive(Deserialize)]
struct FhirConcept {
    code: String,
    display: Option<String>,
    definition: Option<String>,
    #[serde(default)]
    designation: Vec<FhirDesignation>,
    #[serde(default)]
    property: Vec<FhirProperty>,
    #[serde(default)]
    concept: Vec<FhirConcept>,
}

#[derive(Deserialize)]
struct FhirDesignation {
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FhirProperty {
    code: String,
    value_code: Option<String>,
    value_string: Option<String>,
    value_boolean: Option<bool>,
}

/// Reads a CodeSystem resource into `system`.
pub fn load(decl: &SourceDecl, path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let res: Resource = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}: line {}, column {}: not a FHIR CodeSystem: {e}", path.display(), e.line(), e.column())
    })?;
    if res.resource_type != "CodeSystem" {
        bail!("{}: resourceType is {:?}, expected CodeSystem", path.display(), res.resource_type);
    }
    system.syntax = CodeSyntax::Plain;
    let mut flat: Vec<Concept> = Vec::new();
    fn walk(c: &FhirConcept, parent: Option<&str>, out: &mut Vec<Concept>, report: &mut LoadReport) {
        report.rows_read += 1;
        let prop = |name: &str| c.property.iter().find(|p| p.code == name);
        let parent = parent
            .map(str::to_string)
            .or_else(|| prop("parent").and_then(|p| p.value_code.clone().or(p.value_string.clone())));
        let retired = prop("status")
            .and_then(|p| p.value_code.as_deref())
            .is_some_and(|s| matches!(s, "retired" | "deprecated" | "inactive"))
            || prop("inactive").and_then(|p| p.value_boolean).unwrap_or(false)
            || prop("deprecated").and_then(|p| p.value_boolean).unwrap_or(false);
        let display = match c.display.as_deref().map(|d| clean(d, report)).filter(|d| !d.is_empty()) {
            Some(d) => d,
            None => {
                report.note("concepts without display (code shown)");
                c.code.clone()
            }
        };
        out.push(Concept {
            code: c.code.trim().to_string(),
            display,
            level: 0,
            parent,
            designations: c
                .designation
                .iter()
                .map(|d| Designation { kind: DesignationKind::Synonym, value: d.value.clone() })
                .collect(),
            status: if retired { Status::Retired } else { Status::Active },
            replaced_by: Vec::new(),
            definition: c.definition.clone(),
        });
        for child in &c.concept {
            walk(child, Some(&c.code), out, report);
        }
    }
    for c in &res.concept {
        walk(c, None, &mut flat, report);
    }
    super::set_depths(decl, path, system, flat)
}
