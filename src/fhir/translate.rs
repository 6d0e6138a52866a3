//! `ConceptMap/$translate`: the correspondences of a code, from the tables
//! of the snapshot or a request's ConceptMaps, forward or reverse.

use serde_json::{Value, json};

use super::outcome::FhirError;
use super::params::{Out, Params, Type, part};
use super::registry::{Registry, split_canonical};
use crate::model::PropertyKind;

/// `ConceptMap/$translate` over the request's concept maps and the
/// correspondence tables of the snapshot.
pub fn translate(reg: &Registry, params: &Params) -> Result<Value, FhirError> {
    let (system, code) = match params.object("sourceCoding").or_else(|| params.object("coding")) {
        Some(c) => (c["system"].as_str().map(str::to_string), c["code"].as_str().map(str::to_string)),
        None => (
            params.str("sourceSystem").or_else(|| params.str("system")),
            params.str("sourceCode").or_else(|| params.str("code")),
        ),
    };
    // A former URN of a built-in system names it.
    let resolve = |s: Option<String>| s.map(|s| reg.builtins.resolve(&s).to_string());
    let system = resolve(system);
    let target_system = resolve(params.str("targetSystem"));
    let url = params.str("url");
    // Reverse (R4 `reverse=true`, R5 `targetCode`): which source codes map
    // to this code (CIM-10 G56.0 → the table rows that may cover it).
    let target_code = params.str("targetCode");
    let reverse = params.bool("reverse").unwrap_or(false) || target_code.is_some();
    let code = target_code.or(code);
    let mut out = Out::new();
    let mut matches: Vec<Vec<Value>> = Vec::new();
    let mut notices: Vec<String> = Vec::new();
    let maps: Vec<Value> =
        reg.concept_maps.iter().cloned().chain(super::resources::concept_maps(&reg.snapshot)).collect();
    if let Some(code) = &code {
        for map in &maps {
            // A table is also named by its former URN, `urn:harmonie:cm:{id}`.
            let named = |u: &str| {
                let u = split_canonical(u).0;
                map["url"].as_str() == Some(u)
                    || map["id"].as_str().is_some_and(|id| u.strip_prefix("urn:harmonie:cm:") == Some(id))
            };
            if url.as_deref().is_some_and(|u| !named(u)) {
                continue;
            }
            for group in map.get("group").and_then(Value::as_array).into_iter().flatten() {
                if reverse {
                    let found = reverse_matches(reg, map, group, system.as_deref(), target_system.as_deref(), code);
                    if !found.is_empty()
                        && let Some(n) = map["purpose"].as_str()
                        && !notices.iter().any(|x| x == n)
                    {
                        notices.push(n.to_string());
                    }
                    matches.extend(found);
                    continue;
                }
                if system.as_deref().is_some_and(|s| group["source"].as_str() != Some(s)) {
                    continue;
                }
                if target_system.as_deref().is_some_and(|t| group["target"].as_str() != Some(t)) {
                    continue;
                }
                for el in group.get("element").and_then(Value::as_array).into_iter().flatten() {
                    if el["code"].as_str() != Some(code) {
                        continue;
                    }
                    for t in el.get("target").and_then(Value::as_array).into_iter().flatten() {
                        let rel = t["relationship"].as_str().or(t["equivalence"].as_str()).unwrap_or("equivalent");
                        let mut concept = json!({"system": group["target"], "code": t["code"]});
                        if let Some(d) = t["display"].as_str() {
                            concept["display"] = json!(d);
                        }
                        let mut parts =
                            vec![part("relationship", Type::Code, rel), part("concept", Type::Coding, concept)];
                        if let Some(u) = map["url"].as_str() {
                            parts.push(part("originMap", Type::Canonical, u));
                        }
                        matches.push(parts);
                    }
                }
            }
        }
    }
    out.add("result", Type::Boolean, !matches.is_empty());
    if matches.is_empty() {
        out.add("message", Type::String, format!("No translations found for '{}'", code.unwrap_or_default()));
    } else if !notices.is_empty() {
        out.add("message", Type::String, notices.join(" "));
    }
    for m in matches {
        out.part("match", m);
    }
    Ok(out.build())
}

/// The matches of a reverse `$translate` in one group: every element with
/// a target `code`, as a coding of the group's source, the relationship
/// turned round (the source row is narrower than a wider target), with the
/// délai and durée d'exposition of the source concept when it is served.
fn reverse_matches(
    reg: &Registry,
    map: &Value,
    group: &Value,
    system: Option<&str>,
    target_system: Option<&str>,
    code: &str,
) -> Vec<Vec<Value>> {
    if system.is_some_and(|s| group["target"].as_str() != Some(s))
        || target_system.is_some_and(|t| group["source"].as_str() != Some(t))
    {
        return Vec::new();
    }
    let snap = &reg.snapshot;
    let source = snap.systems.iter().position(|s| group["source"].as_str() == Some(s.url.as_str()));
    let mut out = Vec::new();
    for el in group.get("element").and_then(Value::as_array).into_iter().flatten() {
        for t in el.get("target").and_then(Value::as_array).into_iter().flatten() {
            if t["code"].as_str() != Some(code) {
                continue;
            }
            let rel = match t["equivalence"].as_str().unwrap_or("equivalent") {
                "wider" => "narrower",
                "narrower" => "wider",
                other => other,
            };
            let concept_ref = source.and_then(|s| snap.lookup(s, el["code"].as_str().unwrap_or_default()));
            let mut concept = json!({"system": group["source"], "code": el["code"]});
            let display = concept_ref.map(|r| snap.concept(r).display.clone());
            if let Some(d) = display.or_else(|| el["display"].as_str().map(str::to_string)) {
                concept["display"] = json!(d);
            }
            let mut parts = vec![part("relationship", Type::Code, rel), part("concept", Type::Coding, concept)];
            if let Some(r) = concept_ref {
                for p in &snap.concept(r).properties {
                    if matches!(p.kind, PropertyKind::Delai | PropertyKind::DureeExposition) {
                        parts.push(json!({"name": "property", "part": [
                            {"name": "code", "valueCode": p.kind.as_str()},
                            {"name": "value", "valueString": p.value},
                        ]}));
                    }
                }
            }
            if let Some(u) = map["url"].as_str() {
                parts.push(part("originMap", Type::Canonical, u));
            }
            out.push(parts);
        }
    }
    out
}
