//! The property filters of a value set's `compose` (`is-a`, `is-not-a`,
//! `generalizes`, `=`, `in`, `not-in`, `regex`, `exists`…) over one code
//! system.

use regex::Regex;
use serde_json::Value;

use super::cs::CodeSystem;
use super::messages::MessageId;
use super::outcome::{FhirError, Issue};

/// The R5 filter operator carried by the cross-version extension of `_op`.
fn r5_operator(f: &Value) -> Option<&str> {
    f["_op"]["extension"].as_array()?.iter().find_map(|e| {
        e["url"].as_str()?.ends_with("extension-ValueSet.compose.include.filter.op").then(|| e["valueCode"].as_str())?
    })
}

/// The concepts of `cs` a `compose` filter keeps, as a mask over `cs.concepts`.
pub fn filter(cs: &CodeSystem, f: &Value, path: &str) -> Result<Vec<bool>, FhirError> {
    let property = f["property"].as_str().unwrap_or_default();
    // An operator R4 lacks (`child-of`, `descendent-leaf`) arrives from an
    // R4 client as the cross-version extension on `_op`.
    let op = f["op"].as_str().or_else(|| r5_operator(f)).unwrap_or_default();
    let bad = |text: String| {
        FhirError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Issue::error("invalid", text).tx("vs-invalid").at(path.to_string()),
        )
    };
    let value = match f.get("value").and_then(Value::as_str) {
        Some(v) => v,
        None if op == "exists" => "true",
        None => {
            return Err(bad(format!(
                "The system {} filter with property = {property}, op = {op} has no value",
                cs.url
            ))
            .with_id(MessageId::UnableToHandleSystemFilterWithNoValue));
        }
    };
    let n = cs.concepts.len();
    let mut mask = vec![false; n];
    let regex = |v: &str| {
        Regex::new(&format!("^(?:{v})$"))
            .map_err(|e| bad(format!("The regular expression '{v}' of filter {property} {op} is not valid: {e}")))
    };
    let is_concept = property == "concept" || property == "code";
    match (is_concept, op) {
        (true, "is-a") | (true, "descendent-of") | (true, "is-not-a") | (true, "generalizes") | (true, "child-of") => {
            let Some(root) = cs.find(value) else {
                if op == "is-not-a" {
                    return Ok(vec![true; n]);
                }
                return Ok(mask);
            };
            match op {
                "is-a" | "descendent-of" | "is-not-a" => {
                    for i in cs.descendants_or_self(root) {
                        mask[i] = true;
                    }
                    if op == "descendent-of" {
                        mask[root] = false;
                    }
                    if op == "is-not-a" {
                        mask.iter_mut().for_each(|m| *m = !*m);
                    }
                }
                "generalizes" => {
                    for (i, m) in mask.iter_mut().enumerate() {
                        *m = cs.subsumes(i, root);
                    }
                }
                _ => {
                    for &c in &cs.concepts[root].children {
                        mask[c] = true;
                    }
                }
            }
        }
        (true, "=") | (true, "in") | (true, "not-in") => {
            let codes: Vec<&str> = if op == "=" { vec![value] } else { value.split(',').map(str::trim).collect() };
            for code in codes {
                if let Some(i) = cs.find(code) {
                    mask[i] = true;
                }
            }
            if op == "not-in" {
                mask.iter_mut().for_each(|m| *m = !*m);
            }
        }
        (true, "regex") => {
            let re = regex(value)?;
            for (i, c) in cs.concepts.iter().enumerate() {
                mask[i] = re.is_match(&c.code);
            }
        }
        (false, _) => {
            let values_of = |c: &super::cs::Concept| -> Vec<String> {
                match property {
                    "display" => c.display.iter().cloned().collect(),
                    "inactive" => vec![c.is_inactive().to_string()],
                    // A built-in system derives it; a given one matches
                    // the values written only.
                    "notSelectable" if cs.builtin.is_some() => vec![c.is_abstract().to_string()],
                    "status" => c.status().into_iter().collect(),
                    "parent" => c.parents.iter().map(|&p| cs.concepts[p].code.clone()).collect(),
                    "child" => c.children.iter().map(|&p| cs.concepts[p].code.clone()).collect(),
                    "definition" => c.definition.iter().cloned().collect(),
                    _ => c.property(property).collect(),
                }
            };
            let known = matches!(
                property,
                "display" | "inactive" | "notSelectable" | "status" | "parent" | "child" | "definition"
            ) || cs.properties.iter().any(|p| p.code == property || p.uri.as_deref() == Some(property));
            if !known {
                return Err(bad(format!(
                    "The filter property '{property}' is not defined by the code system {}",
                    cs.url
                ))
                .with_id(MessageId::UnknownFilterProperty));
            }
            let re = if op == "regex" { Some(regex(value)?) } else { None };
            let list: Vec<&str> = value.split(',').map(str::trim).collect();
            for (i, c) in cs.concepts.iter().enumerate() {
                let vals = values_of(c);
                mask[i] = match op {
                    "=" => vals.iter().any(|v| v == value),
                    "in" => vals.iter().any(|v| list.contains(&v.as_str())),
                    "not-in" => !vals.iter().any(|v| list.contains(&v.as_str())),
                    "regex" => vals.iter().any(|v| re.as_ref().is_some_and(|r| r.is_match(v))),
                    "exists" => vals.is_empty() != (value == "true"),
                    _ => {
                        return Err(bad(format!(
                            "The filter operator '{op}' is not supported for property '{property}'"
                        ))
                        .with_id(MessageId::FilterNotUnderstood));
                    }
                };
            }
        }
        (true, _) => {
            return Err(bad(format!("The filter operator '{op}' is not supported for property '{property}'"))
                .with_id(MessageId::FilterNotUnderstood));
        }
    }
    Ok(mask)
}
