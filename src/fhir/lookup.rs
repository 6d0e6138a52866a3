//! `CodeSystem/$lookup`: what a code of a system is (display, designations,
//! properties, parents and children, its status on a date).

use serde_json::{Value, json};

use super::call::resolve_system;
use super::language::{Languages, display_in};
use super::messages::MessageId;
use super::outcome::FhirError;
use super::params::{Out, Params, Type, part};
use super::registry::Registry;

/// `CodeSystem/$lookup`.
pub fn lookup(reg: &Registry, params: &Params, langs: &Languages) -> Result<Value, FhirError> {
    let (system, version, code) = match params.object("coding") {
        Some(c) => (
            c["system"].as_str().map(str::to_string),
            c["version"].as_str().map(str::to_string),
            c["code"].as_str().map(str::to_string),
        ),
        None => (params.str("system"), params.str("version"), params.str("code")),
    };
    let system = system.ok_or_else(|| FhirError::invalid("$lookup needs a system (or a coding)"))?;
    let code = code.ok_or_else(|| FhirError::invalid("$lookup needs a code (or a coding)"))?;
    let cs = resolve_system(reg, &system, version.as_deref())?;
    let cs = reg.with_supplements(cs, &params.strs("useSupplement"));
    let c = cs.concept(&code).ok_or_else(|| {
        FhirError::not_found(format!(
            "Unknown code '{code}' in the CodeSystem '{system}' version '{}'",
            cs.version.clone().unwrap_or_default()
        ))
        .with_tx("invalid-code")
        .with_id(MessageId::UnknownCodeInVersion)
    })?;
    let wanted = params.strs("property");
    let all = wanted.is_empty() || wanted.iter().any(|p| p == "*");
    let want = |p: &str| all || wanted.iter().any(|w| w == p);
    let mut out = Out::new();
    out.add("name", Type::String, cs.name.clone().unwrap_or_else(|| cs.url.clone()));
    if let Some(v) = &cs.version {
        out.add("version", Type::String, v.clone());
    }
    if let Some(d) = display_in(&cs, c, langs) {
        out.add("display", Type::String, d);
    }
    out.add("code", Type::Code, c.code.clone());
    out.add("system", Type::Uri, cs.url.clone());
    out.add("abstract", Type::Boolean, c.is_abstract());
    if want("definition")
        && let Some(d) = &c.definition
    {
        out.add("definition", Type::String, d.clone());
    }
    if want("designation") {
        for d in &c.designations {
            let mut parts = Vec::new();
            if let Some(l) = &d.language {
                parts.push(part("language", Type::Code, l.clone()));
            }
            if let Some(u) = &d.usage {
                parts.push(part("use", Type::Coding, Value::clone(u)));
            }
            parts.push(part("value", Type::String, d.value.clone()));
            out.part("designation", parts);
        }
    }
    // `date`: the code as of that day; a code of a version the date has
    // replaced (NAF 2008 from 2027-01-01) is inactive, retired, replaced by
    // the codes of the correspondence table.
    let snap = &reg.snapshot;
    let retired = params
        .str("date")
        .map(|d| d.chars().take(10).collect::<String>())
        .filter(|d| crate::clock::is_date(d))
        .and_then(|d| {
            let s = snap.systems.iter().position(|x| x.url == cs.url)?;
            snap.is_retired_on(s, &d).then(|| snap.lookup(s, &c.code)).flatten()
        });
    let mut props: Vec<(String, Value)> = Vec::new();
    if want("inactive") {
        props.push(("inactive".into(), json!({"valueBoolean": c.is_inactive() || retired.is_some()})));
    }
    if let Some(r) = retired {
        if want("status") {
            props.push(("status".into(), json!({"valueCode": "retired"})));
        }
        if want("replacedBy") {
            for (x, _) in snap.replacements(r) {
                props.push(("replacedBy".into(), json!({"valueCode": snap.concept(x).code})));
            }
        }
    }
    for p in c.properties.iter().map(|(k, _)| k.clone()).collect::<std::collections::BTreeSet<_>>() {
        if want(&p) {
            props.extend(cs.property_values(c, &p));
        }
    }
    for rel in ["parent", "child"] {
        if want(rel) {
            let list = if rel == "parent" { &c.parents } else { &c.children };
            for &i in list {
                let other = &cs.concepts[i];
                let mut parts = vec![part("code", Type::Code, rel), part("value", Type::Code, other.code.clone())];
                if let Some(d) = &other.display {
                    parts.push(part("description", Type::String, d.clone()));
                }
                out.part("property", parts);
            }
        }
    }
    for (code, v) in props {
        let mut parts = vec![part("code", Type::Code, code)];
        if let Some((k, v)) = v.as_object().and_then(|o| o.iter().next()) {
            let mut p = json!({"name": "value"});
            p[k] = v.clone();
            parts.push(p);
        }
        out.part("property", parts);
    }
    Ok(out.build())
}
