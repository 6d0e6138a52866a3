//! The terminology operations: `$lookup`, `$validate-code` (code system and
//! value set), `$expand`, `$subsumes`, `$translate` and batch validation.
//! Each takes the request's [`Registry`] and [`Params`] and returns a FHIR
//! resource or a [`FhirError`].

use std::sync::Arc;

use serde_json::{Value, json};

use super::cs::{CodeSystem, Concept};
use super::outcome::{FhirError, Issue, outcome};
use super::params::{Out, Params, part};
use super::registry::{Missing, Registry, split_canonical};
use super::valueset::{Expander, Member, Options, vs_canonical};
use crate::model::PropertyKind;

/// Largest expansion returned without paging (`count`).
pub const MAX_EXPANSION: usize = 1000;

/// Languages asked for: `displayLanguage`, else the `Accept-Language` header.
#[derive(Clone, Debug, Default)]
pub struct Languages {
    /// As given, for messages.
    pub raw: Option<String>,
    pub tags: Vec<String>,
}

impl Languages {
    pub fn new(param: Option<String>, header: Option<String>) -> Languages {
        let raw = param.or(header);
        let tags = raw
            .iter()
            .flat_map(|r| r.split(','))
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_string())
            .filter(|t| !t.is_empty() && t != "*")
            .collect();
        Languages { raw, tags }
    }
}

fn lang_matches(wanted: &str, have: &str) -> bool {
    let (w, h) = (wanted.to_lowercase(), have.to_lowercase());
    w == h || h.starts_with(&format!("{w}-")) || w.starts_with(&format!("{h}-"))
}

/// The display of `c` in the first of `langs` the system has, else its display.
pub fn display_in(cs: &CodeSystem, c: &Concept, langs: &Languages) -> Option<String> {
    for lang in &langs.tags {
        if cs.language.as_deref().is_some_and(|l| lang_matches(lang, l)) && c.display.is_some() {
            return c.display.clone();
        }
        if let Some(d) = c.designations.iter().find(|d| d.language.as_deref().is_some_and(|l| lang_matches(lang, l))) {
            return Some(d.value.clone());
        }
    }
    c.display.clone()
}

fn options(params: &Params) -> Options {
    Options {
        active_only: params.bool("activeOnly").unwrap_or(false),
        force: params.strs("force-system-version"),
        default: params.strs("system-version").into_iter().chain(params.strs("default-to-version")).collect(),
        check: params.strs("check-system-version"),
        supplements: params.strs("useSupplement"),
        valueset_versions: params.strs("default-valueset-version"),
    }
}

/// The request's registry with its `tx-resource`s added; every
/// `useSupplement` must name a supplement the request brought.
pub fn load_resources(reg: &mut Registry, params: &Params) -> Result<(), FhirError> {
    for r in params.resources("tx-resource") {
        reg.add(r).map_err(FhirError::invalid)?;
    }
    for s in params.strs("useSupplement") {
        if reg.supplement(&s).is_none() {
            return Err(FhirError::not_found(format!("Required supplement not found: {s}"))
                .with_tx("not-found")
                .with_id("VALUESET_SUPPLEMENT_MISSING"));
        }
    }
    Ok(())
}

/// The value set the request names (`url` + `valueSetVersion`, or `valueSet`).
fn requested_value_set(reg: &Registry, params: &Params) -> Result<Value, FhirError> {
    if let Some(vs) = params.object("valueSet") {
        return Ok(vs.clone());
    }
    let url = params.str("url").ok_or_else(|| FhirError::invalid("give the value set as url or valueSet"))?;
    let version = params.str("valueSetVersion");
    reg.value_set(&url, version.as_deref()).ok_or_else(|| {
        let shown = match &version {
            Some(v) => format!("{}|{v}", split_canonical(&url).0),
            None => url.clone(),
        };
        FhirError::not_found(format!("A definition for the value Set '{shown}' could not be found"))
            .with_tx("not-found")
            .with_id("Unable_to_resolve_value_Set_")
    })
}

// ---------------------------------------------------------------- $expand

/// `ValueSet/$expand`.
pub fn expand(reg: &Registry, params: &Params, langs: &Languages) -> Result<Value, FhirError> {
    let vs = requested_value_set(reg, params)?;
    let opts = options(params);
    let mut ex = Expander::new(reg, &opts);
    let filter = params.str("filter").filter(|f| !f.trim().is_empty());
    let offset = params.int("offset").map_err(FhirError::invalid)?.unwrap_or(0).max(0) as usize;
    let count = params.int("count").map_err(FhirError::invalid)?.map(|c| c.max(0) as usize);
    ex.text_filter = filter.clone();
    // Autocomplete asks for a page: search no deeper than that page.
    ex.search_limit = count.map_or(MAX_EXPANSION, |c| offset.saturating_add(c).clamp(1, MAX_EXPANSION));
    let mut members = ex.expand(&vs)?;
    if let Some(f) = &filter {
        members = filter_members(members, f);
    }
    let total = members.len();
    if count.is_none() && total > MAX_EXPANSION {
        let text =
            format!("The value set '{}' expansion has too many codes to produce (>{MAX_EXPANSION})", vs_canonical(&vs));
        let mut issue = Issue::error("too-costly", text).id("VALUESET_TOO_COSTLY");
        issue.tx = None;
        return Err(FhirError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, issue));
    }
    let page: Vec<&Member> = members.iter().skip(offset).take(count.unwrap_or(usize::MAX)).collect();

    let include_designations = params.bool("includeDesignations").unwrap_or(false);
    let include_definition = params.bool("includeDefinition").unwrap_or(false);
    let properties = params.strs("property");
    let multi_version = {
        let mut urls: Vec<(&str, Option<&str>)> =
            members.iter().map(|m| (m.cs.url.as_str(), m.cs.version.as_deref())).collect();
        urls.sort();
        urls.dedup();
        urls.windows(2).any(|w| w[0].0 == w[1].0)
    };
    let contains: Vec<Value> = page
        .iter()
        .map(|m| {
            let c = m.concept();
            let mut e = json!({"system": m.cs.url, "code": c.code});
            if multi_version && let Some(v) = &m.cs.version {
                e["version"] = json!(v);
            }
            if let Some(d) = display_in(&m.cs, c, langs) {
                e["display"] = json!(d);
            }
            if c.is_abstract() {
                e["abstract"] = json!(true);
            }
            if c.is_inactive() {
                e["inactive"] = json!(true);
            }
            let status = c.status().or_else(|| c.is_inactive().then(|| "inactive".to_string()));
            if let Some(st) = status.filter(|_| c.is_inactive() || c.is_deprecated()) {
                e["property"] = json!([{"code": "status", "valueCode": st}]);
            }
            if include_designations {
                let ds = designations_json(c);
                if !ds.is_empty() {
                    e["designation"] = Value::Array(ds);
                }
            }
            if include_definition && let Some(d) = &c.definition {
                e["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition", "valueString": d}]);
            }
            let props: Vec<Value> = properties
                .iter()
                .flat_map(|p| concept_properties(&m.cs, c, p))
                .map(|(code, v)| {
                    let mut o = json!({"code": code});
                    if let Some(obj) = v.as_object() {
                        for (k, v) in obj {
                            o[k] = v.clone();
                        }
                    }
                    o
                })
                .collect();
            if !props.is_empty() {
                match e.get_mut("property").and_then(Value::as_array_mut) {
                    Some(list) => list.extend(props.into_iter().filter(|p| p["code"] != "status")),
                    None => e["property"] = Value::Array(props),
                }
            }
            e
        })
        .collect();

    let mut parameters: Vec<Value> = Vec::new();
    for p in params.items() {
        let name = p["name"].as_str().unwrap_or_default();
        if matches!(
            name,
            "excludeNested"
                | "includeDesignations"
                | "includeDefinition"
                | "activeOnly"
                | "filter"
                | "count"
                | "offset"
                | "displayLanguage"
                | "designation"
                | "force-system-version"
                | "system-version"
                | "check-system-version"
                | "default-valueset-version"
        ) {
            let mut p = p.clone();
            if name.ends_with("-version")
                && let Some(v) = p.get("valueCanonical").cloned()
            {
                p.as_object_mut().map(|o| o.remove("valueCanonical"));
                p["valueUri"] = v;
            }
            parameters.push(p);
        }
    }
    if !params.has("displayLanguage")
        && let Some(l) = &langs.raw
    {
        parameters.push(json!({"name": "displayLanguage", "valueCode": l}));
    }
    for s in &ex.used_systems {
        parameters.push(json!({"name": "used-codesystem", "valueUri": s}));
    }
    for s in &ex.used_valuesets {
        parameters.push(json!({"name": "used-valueset", "valueUri": s}));
    }
    let mut expansion = json!({
        "identifier": format!("urn:uuid:{}", uuid()),
        "timestamp": crate::clock::instant(),
        "parameter": parameters,
    });
    // A search cut at the page asked for does not know the total.
    if !ex.truncated {
        expansion["total"] = json!(total);
    }
    if params.has("offset") {
        expansion["offset"] = json!(offset);
    }
    let status_used =
        contains.iter().any(|c| c["property"].as_array().is_some_and(|l| l.iter().any(|p| p["code"] == "status")));
    if status_used && !properties.iter().any(|p| p == "status") {
        expansion["property"] = json!([{"code": "status", "uri": "http://hl7.org/fhir/concept-properties#status"}]);
    }
    if !properties.is_empty() {
        expansion["property"] = Value::Array(
            properties
                .iter()
                .map(|p| {
                    let uri = members
                        .first()
                        .and_then(|m| m.cs.properties.iter().find(|d| &d.code == p).and_then(|d| d.uri.clone()));
                    match uri {
                        Some(u) => json!({"code": p, "uri": u}),
                        None => json!({"code": p}),
                    }
                })
                .collect(),
        );
    }
    if !contains.is_empty() {
        expansion["contains"] = Value::Array(contains);
    }
    let mut out = vs.clone();
    if let Some(o) = out.as_object_mut() {
        // The expansion replaces the definition: clients read `expansion`.
        o.remove("text");
        o.remove("compose");
        o.insert("expansion".into(), expansion);
    }
    Ok(out)
}

/// Keeps the members matching a text `filter`. Members of built-in
/// systems are already the search engine's hits, in its order (see
/// [`Expander::text_filter`]); the others match on word prefixes of their
/// labels, or on their code.
fn filter_members(members: Vec<Member>, filter: &str) -> Vec<Member> {
    let words: Vec<String> = crate::text::fold_words(filter);
    let (builtin, other): (Vec<Member>, Vec<Member>) = members.into_iter().partition(|m| m.cs.builtin.is_some());
    let mut out = builtin;
    out.extend(other.into_iter().filter(|m| {
        let c = m.concept();
        let labels = c.display.iter().chain(c.designations.iter().map(|d| &d.value));
        c.code.eq_ignore_ascii_case(filter)
            || labels.into_iter().any(|l| {
                let lw = crate::text::fold_words(l);
                words.iter().all(|w| lw.iter().any(|x| x.starts_with(w.as_str())))
            })
    }));
    out
}

fn designations_json(c: &Concept) -> Vec<Value> {
    let mut out = Vec::new();
    for d in &c.designations {
        let mut v = json!({"value": d.value});
        if let Some(l) = &d.language {
            v["language"] = json!(l);
        }
        if let Some(u) = &d.usage {
            v["use"] = u.clone();
        }
        out.push(v);
    }
    out
}

/// The values of property `p` of `c`, with the derived ones (`parent`,
/// `child`, `inactive`, `status`, `definition`).
fn concept_properties(cs: &CodeSystem, c: &Concept, p: &str) -> Vec<(String, Value)> {
    match p {
        "parent" => c.parents.iter().map(|&i| (p.to_string(), json!({"valueCode": cs.concepts[i].code}))).collect(),
        "child" => c.children.iter().map(|&i| (p.to_string(), json!({"valueCode": cs.concepts[i].code}))).collect(),
        "inactive" => vec![(p.to_string(), json!({"valueBoolean": c.is_inactive()}))],
        "definition" => c.definition.iter().map(|d| (p.to_string(), json!({"valueString": d}))).collect(),
        _ => c.properties.iter().filter(|(k, _)| k == p).cloned().collect(),
    }
}

// ---------------------------------------------------------------- $lookup

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
        .with_id("Unknown_Code_in_Version")
    })?;
    let wanted = params.strs("property");
    let all = wanted.is_empty() || wanted.iter().any(|p| p == "*");
    let want = |p: &str| all || wanted.iter().any(|w| w == p);
    let mut out = Out::new();
    out.add("name", "String", cs.name.clone().unwrap_or_else(|| cs.url.clone()));
    if let Some(v) = &cs.version {
        out.add("version", "String", v.clone());
    }
    if let Some(d) = display_in(&cs, c, langs) {
        out.add("display", "String", d);
    }
    out.add("code", "Code", c.code.clone());
    out.add("system", "Uri", cs.url.clone());
    out.add("abstract", "Boolean", c.is_abstract());
    if want("definition")
        && let Some(d) = &c.definition
    {
        out.add("definition", "String", d.clone());
    }
    if want("designation") {
        for d in &c.designations {
            let mut parts = Vec::new();
            if let Some(l) = &d.language {
                parts.push(part("language", "Code", l.clone()));
            }
            if let Some(u) = &d.usage {
                parts.push(part("use", "Coding", u.clone()));
            }
            parts.push(part("value", "String", d.value.clone()));
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
            props.extend(concept_properties(&cs, c, &p));
        }
    }
    for rel in ["parent", "child"] {
        if want(rel) {
            let list = if rel == "parent" { &c.parents } else { &c.children };
            for &i in list {
                let other = &cs.concepts[i];
                let mut parts = vec![part("code", "Code", rel), part("value", "Code", other.code.clone())];
                if let Some(d) = &other.display {
                    parts.push(part("description", "String", d.clone()));
                }
                out.part("property", parts);
            }
        }
    }
    for (code, v) in props {
        let mut parts = vec![part("code", "Code", code)];
        if let Some((k, v)) = v.as_object().and_then(|o| o.iter().next()) {
            let mut p = json!({"name": "value"});
            p[k] = v.clone();
            parts.push(p);
        }
        out.part("property", parts);
    }
    Ok(out.build())
}

fn resolve_system(reg: &Registry, system: &str, version: Option<&str>) -> Result<Arc<CodeSystem>, FhirError> {
    reg.code_system(system, version).map_err(|m| match m {
        Missing::System => FhirError::not_found(format!("A definition for CodeSystem '{system}' could not be found"))
            .with_tx("not-found")
            .with_id("UNKNOWN_CODESYSTEM"),
        Missing::Version(known) => FhirError::not_found(format!(
            "A definition for CodeSystem '{system}' version '{}' could not be found. Valid versions: {}",
            version.unwrap_or_default(),
            known.join(" or ")
        ))
        .with_tx("not-found")
        .with_id("UNKNOWN_CODESYSTEM_VERSION"),
    })
}

// ---------------------------------------------------------------- $subsumes

/// `CodeSystem/$subsumes`.
pub fn subsumes(reg: &Registry, params: &Params) -> Result<Value, FhirError> {
    let (a, b, system, version) = match (params.object("codingA"), params.object("codingB")) {
        (Some(a), Some(b)) => (
            a["code"].as_str().map(str::to_string),
            b["code"].as_str().map(str::to_string),
            a["system"].as_str().map(str::to_string).or(params.str("system")),
            a["version"].as_str().map(str::to_string).or(params.str("version")),
        ),
        _ => (params.str("codeA"), params.str("codeB"), params.str("system"), params.str("version")),
    };
    let (Some(a), Some(b), Some(system)) = (a, b, system) else {
        return Err(FhirError::invalid("$subsumes needs system, codeA and codeB (or codingA and codingB)"));
    };
    let cs = resolve_system(reg, &system, version.as_deref())?;
    let find = |code: &str| {
        cs.find(code).ok_or_else(|| {
            FhirError::not_found(format!("Unknown code '{code}' in the CodeSystem '{system}'"))
                .with_tx("invalid-code")
                .with_id("Unknown_Code_in_Version")
        })
    };
    let (ia, ib) = (find(&a)?, find(&b)?);
    let outcome = if ia == ib {
        "equivalent"
    } else if cs.subsumes(ia, ib) {
        "subsumes"
    } else if cs.subsumes(ib, ia) {
        "subsumed-by"
    } else {
        "not-subsumed"
    };
    let mut out = Out::new();
    out.add("outcome", "Code", outcome);
    Ok(out.build())
}

// ---------------------------------------------------------------- $validate-code

/// One coding to validate, with the FHIRPath of where it came from.
struct Coding {
    system: Option<String>,
    version: Option<String>,
    code: Option<String>,
    display: Option<String>,
    /// `""` for bare `code`/`system` parameters, `Coding`, or `CodeableConcept.coding[i]`.
    path: String,
}

impl Coding {
    fn at(&self, field: &str) -> String {
        if self.path.is_empty() { field.to_string() } else { format!("{}.{field}", self.path) }
    }
    fn base(&self) -> String {
        if self.path.is_empty() { "code".to_string() } else { self.path.clone() }
    }
    fn from_json(v: &Value, path: String) -> Coding {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Coding { system: s("system"), version: s("version"), code: s("code"), display: s("display"), path }
    }
}

/// What validating one coding found.
#[derive(Default)]
struct Finding {
    issues: Vec<Issue>,
    /// Valid in the system (and the value set, if any), display aside.
    valid: bool,
    display: Option<String>,
    system: Option<String>,
    version: Option<String>,
    code: Option<String>,
    inactive: bool,
    unknown_system: Option<String>,
    /// Whether `unknown_system` is the system itself (not one of its versions).
    system_unknown: bool,
}

/// `CodeSystem/$validate-code` (`vs_mode` false) and `ValueSet/$validate-code`.
pub fn validate_code(reg: &Registry, params: &Params, langs: &Languages, vs_mode: bool) -> Result<Value, FhirError> {
    let lenient = params.bool("lenient-display-validation").unwrap_or(false);
    let opts = options(params);
    let vs = if vs_mode { Some(requested_value_set(reg, params)?) } else { None };
    let mut codings: Vec<Coding> = Vec::new();
    let mut concept_echo: Option<Value> = None;
    if let Some(cc) = params.object("codeableConcept") {
        concept_echo = Some(cc.clone());
        for (i, c) in cc.get("coding").and_then(Value::as_array).into_iter().flatten().enumerate() {
            codings.push(Coding::from_json(c, format!("CodeableConcept.coding[{i}]")));
        }
    } else if let Some(c) = params.object("coding") {
        codings.push(Coding::from_json(c, "Coding".into()));
    } else {
        let system = params.str("system").or_else(|| if vs_mode { None } else { params.str("url") });
        codings.push(Coding {
            system,
            version: params.str("systemVersion").or_else(|| params.str("version").filter(|_| !vs_mode)),
            code: params.str("code"),
            display: params.str("display"),
            path: String::new(),
        });
    }
    if codings.is_empty() || codings.iter().all(|c| c.code.is_none()) {
        return Err(FhirError::invalid("$validate-code needs a code (with a system), a coding or a codeableConcept"));
    }

    // The members of the value set, once.
    let members: Option<Vec<Member>> = match &vs {
        Some(vs) => {
            let mut ex = Expander::new(reg, &opts);
            match ex.expand(vs) {
                Ok(m) => Some(m),
                // A circular definition is an error of the request; the
                // other failures answer "not valid", with their reasons.
                Err(e) if e.issues.iter().any(|i| i.message_id == Some("VALUESET_CIRCULAR_REFERENCE")) => {
                    return Err(e);
                }
                Err(e) => {
                    let mut out = Out::new();
                    out.add("result", "Boolean", false);
                    let mut texts: Vec<&str> = e.issues.iter().map(|i| i.text.as_str()).collect();
                    texts.sort();
                    out.add("message", "String", texts.join("; "));
                    out.resource("issues", outcome(&e.issues));
                    return Ok(out.build());
                }
            }
        }
        None => None,
    };
    let vs_name = vs.as_ref().map(vs_canonical);

    let findings: Vec<Finding> = codings
        .iter()
        .map(|c| validate_one(reg, c, members.as_deref(), vs_name.as_deref(), &opts, langs, lenient))
        .collect();

    let mut out = Out::new();
    let mut issues: Vec<Issue> = Vec::new();
    let result;
    let best: Option<&Finding>;
    if concept_echo.is_some() {
        let any_valid = findings.iter().any(|f| f.valid);
        result = any_valid && !findings.iter().any(|f| f.valid && f.issues.iter().any(|i| i.severity == "error"));
        best = findings.iter().find(|f| f.valid).or_else(|| findings.iter().find(|f| f.display.is_some()));
        for f in &findings {
            for i in &f.issues {
                let mut i = i.clone();
                if any_valid && i.tx == Some("not-in-vs") {
                    i.severity = "information";
                    i.tx = Some("this-code-not-in-vs");
                }
                issues.push(i);
            }
        }
        if !any_valid && let Some(name) = &vs_name {
            for i in issues.iter_mut().filter(|i| i.tx == Some("not-in-vs")) {
                i.severity = "information";
                i.tx = Some("this-code-not-in-vs");
            }
            issues.push(
                Issue::error("code-invalid", format!("No valid coding was found for the value set '{name}'"))
                    .tx("not-in-vs")
                    .id("None_of_the_provided_codes_are_in_the_value_set_one"),
            );
        }
    } else {
        let f = &findings[0];
        result = f.valid && !f.issues.iter().any(|i| i.severity == "error");
        best = Some(f);
        issues.extend(f.issues.iter().cloned());
    }
    if let Some(f) = best {
        if let Some(c) = &f.code {
            out.add("code", "Code", c.clone());
        }
        if let Some(s) = &f.system {
            out.add("system", "Uri", s.clone());
        }
        if let Some(v) = &f.version {
            out.add("version", "String", v.clone());
        }
        if let Some(d) = &f.display {
            out.add("display", "String", d.clone());
        }
        if f.inactive {
            out.add("inactive", "Boolean", true);
        }
    }
    for f in &findings {
        if let Some(u) = &f.unknown_system {
            let name = if f.system_unknown { "x-unknown-system" } else { "x-caused-by-unknown-system" };
            out.add(name, "Canonical", u.clone());
        }
    }
    if let Some(cc) = concept_echo {
        out.add("codeableConcept", "CodeableConcept", cc);
    }
    out.add("result", "Boolean", result);
    if !issues.is_empty() {
        let serious = issues.iter().any(|i| i.severity != "information");
        let mut texts: Vec<&str> =
            issues.iter().filter(|i| !serious || i.severity != "information").map(|i| i.text.as_str()).collect();
        texts.sort();
        texts.dedup();
        if !texts.is_empty() {
            out.add("message", "String", texts.join("; "));
        }
        out.resource("issues", outcome(&issues));
    }
    Ok(out.build())
}

fn validate_one(
    reg: &Registry,
    coding: &Coding,
    members: Option<&[Member]>,
    vs_name: Option<&str>,
    opts: &Options,
    langs: &Languages,
    lenient: bool,
) -> Finding {
    let mut f = Finding { code: coding.code.clone(), ..Finding::default() };
    let code = coding.code.clone().unwrap_or_default();
    let not_in_vs = |system: &str, vs: &str| {
        Issue::error(
            "code-invalid",
            format!("The provided code '{system}#{code}' was not found in the value set '{vs}'"),
        )
        .tx("not-in-vs")
        .id("None_of_the_provided_codes_are_in_the_value_set_one")
        .at(coding.at("code"))
    };
    // The system: given, or inferred from the value set.
    let system = match &coding.system {
        Some(s) => s.clone(),
        None => {
            let candidates: Vec<&Member> =
                members.into_iter().flatten().filter(|m| m.cs.find(&code).is_some()).collect();
            let mut urls: Vec<&str> = candidates.iter().map(|m| m.cs.url.as_str()).collect();
            urls.sort();
            urls.dedup();
            match (urls.len(), vs_name) {
                (1, _) => urls[0].to_string(),
                (_, Some(vs)) => {
                    let detail = if urls.len() > 1 {
                        format!(": value set expansion has multiple matches: [{}]", urls.join(", "))
                    } else {
                        String::new()
                    };
                    f.issues.push(
                        Issue::error("not-found", format!("The System URI could not be determined for the code '{code}' in the ValueSet '{vs}'{detail}"))
                            .tx("cannot-infer")
                            .id("UNABLE_TO_INFER_CODESYSTEM")
                            .at(coding.at("code")),
                    );
                    f.issues.push(not_in_vs("", vs));
                    return f;
                }
                _ => {
                    f.issues
                        .push(Issue::error("invalid", "A code needs a system to be validated").at(coding.at("system")));
                    return f;
                }
            }
        }
    };
    f.system = Some(system.clone());
    // The version: the coding's, else the one the value set uses.
    let vs_versions: Vec<&Arc<CodeSystem>> = {
        let mut v: Vec<&Arc<CodeSystem>> =
            members.into_iter().flatten().filter(|m| m.cs.url == system).map(|m| &m.cs).collect();
        v.dedup_by(|a, b| Arc::ptr_eq(a, b));
        v
    };
    let wanted = coding.version.clone();
    let cs = match reg
        .code_system(&system, wanted.as_deref().or_else(|| vs_versions.first().and_then(|c| c.version.as_deref())))
    {
        Ok(cs) => reg.with_supplements(cs, &opts.supplements),
        Err(Missing::System) => {
            f.unknown_system = Some(system.clone());
            f.system_unknown = true;
            f.issues.push(
                Issue::error(
                    "not-found",
                    format!(
                        "A definition for CodeSystem '{system}' could not be found, so the code cannot be validated"
                    ),
                )
                .tx("not-found")
                .id("UNKNOWN_CODESYSTEM")
                .at(coding.at("system")),
            );
            if let Some(vs) = vs_name {
                f.issues.push(not_in_vs(&system, vs));
            }
            return f;
        }
        Err(Missing::Version(known)) => {
            let v = wanted.clone().unwrap_or_default();
            f.unknown_system = Some(format!("{system}|{v}"));
            f.version = Some(v.clone());
            f.issues.push(
                Issue::error("not-found", format!("A definition for CodeSystem '{system}' version '{v}' could not be found, so the code cannot be validated. Valid versions: {}", known.join(" or ")))
                    .tx("not-found")
                    .id("UNKNOWN_CODESYSTEM_VERSION")
                    .at(coding.at("system")),
            );
            if let Some(vs) = vs_name {
                f.issues.push(
                    Issue::error("not-found", format!("Unable to check whether the code is in the value set '{vs}' because the code system {system}|{v} was not found"))
                        .tx("not-found")
                        .id("UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_CS")
                        .severity("warning"),
                );
            }
            return f;
        }
    };
    f.version = cs.version.clone();
    let Some(idx) = cs.find(&code) else {
        f.issues.push(
            Issue::error(
                "code-invalid",
                format!(
                    "Unknown code '{code}' in the CodeSystem '{system}' version '{}'",
                    cs.version.clone().unwrap_or_default()
                ),
            )
            .tx("invalid-code")
            .id("Unknown_Code_in_Version")
            .at(coding.at("code")),
        );
        if let Some(vs) = vs_name {
            f.issues.push(not_in_vs(&system, vs));
        }
        return f;
    };
    let c = &cs.concepts[idx];
    f.code = Some(c.code.clone());
    f.display = display_in(&cs, c, langs);
    f.valid = true;
    if c.is_inactive() {
        f.inactive = true;
        let status = c.status().unwrap_or_else(|| "inactive".into());
        let status = if status == "retired" { "retired and inactive".to_string() } else { status };
        f.issues.push(
            Issue::error(
                "business-rule",
                format!("The concept '{}' has a status of {status} and its use should be reviewed", c.code),
            )
            .severity("warning")
            .tx("code-comment")
            .id("INACTIVE_CONCEPT_FOUND")
            .at(coding.base().replace("code", "Coding")),
        );
    }
    if let Some(given) = &coding.display {
        let mut valid: Vec<&str> = c.display.iter().map(String::as_str).collect();
        valid.extend(c.designations.iter().map(|d| d.value.as_str()));
        let lang_known = langs.tags.is_empty()
            || langs.tags.iter().any(|t| {
                cs.language.as_deref().is_some_and(|l| lang_matches(t, l))
                    || c.designations.iter().any(|d| d.language.as_deref().is_some_and(|l| lang_matches(t, l)))
            });
        if valid.iter().any(|v| v == given) && !lang_known {
            let langs_text = langs.raw.clone().unwrap_or_default();
            f.issues.push(
                Issue::error("invalid", format!("There are no valid display names found for the code {system}#{} for language(s) '{langs_text}'. The display is '{given}' which is a valid display for the default language", c.code))
                    .severity("information")
                    .tx("invalid-display")
                    .id("NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK")
                    .at(coding.at("display")),
            );
        }
        if !valid.iter().any(|v| v == given) {
            let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let ws_only = valid.iter().any(|v| squash(v) == squash(given));
            let lang = cs.language.clone().unwrap_or_else(|| "--".into());
            let langs_text = langs.raw.clone().unwrap_or_else(|| "--".into());
            let shown = f.display.clone().unwrap_or_default();
            let text = if !lang_known {
                format!(
                    "Wrong Display Name '{given}' for {system}#{}. There are no valid display names found for language(s) '{langs_text}'. Default display is '{shown}'",
                    c.code
                )
            } else if ws_only {
                format!(
                    "Wrong whitespace in Display Name '{given}' for {system}#{}. Valid display is '{shown}' ({lang}) (for the language(s) '{langs_text}')",
                    c.code
                )
            } else {
                format!(
                    "Wrong Display Name '{given}' for {system}#{}. Valid display is '{shown}' ({lang}) (for the language(s) '{langs_text}')",
                    c.code
                )
            };
            f.issues.push(
                Issue::error("invalid", text)
                    .severity(if lenient { "warning" } else { "error" })
                    .tx("invalid-display")
                    .id("Display_Name_for__should_be_one_of__instead_of")
                    .at(coding.at("display")),
            );
        }
    }
    if let (Some(members), Some(vs)) = (members, vs_name) {
        let inside = members.iter().any(|m| {
            m.cs.url == cs.url && m.concept().code == c.code && (coding.version.is_none() || m.cs.version == cs.version)
        });
        if !inside {
            f.valid = false;
            if c.is_inactive() {
                f.issues.push(
                    Issue::error("business-rule", format!("The concept '{}' is valid but is not active", c.code))
                        .tx("code-rule")
                        .id("STATUS_CODE_WARNING_CODE")
                        .at(coding.at("code")),
                );
            }
            f.issues.push(not_in_vs(&system, vs));
        }
    }
    f
}

// ---------------------------------------------------------------- $translate

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
    let target_system = params.str("targetSystem");
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
            if url.as_deref().is_some_and(|u| map["url"].as_str() != Some(split_canonical(u).0)) {
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
                        let mut parts = vec![part("relationship", "Code", rel), part("concept", "Coding", concept)];
                        if let Some(u) = map["url"].as_str() {
                            parts.push(part("originMap", "Canonical", u));
                        }
                        matches.push(parts);
                    }
                }
            }
        }
    }
    out.add("result", "Boolean", !matches.is_empty());
    if matches.is_empty() {
        out.add("message", "String", format!("No translations found for '{}'", code.unwrap_or_default()));
    } else if !notices.is_empty() {
        out.add("message", "String", notices.join(" "));
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
            let mut parts = vec![part("relationship", "Code", rel), part("concept", "Coding", concept)];
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
                parts.push(part("originMap", "Canonical", u));
            }
            out.push(parts);
        }
    }
    out
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let n = N.fetch_add(1, Ordering::Relaxed);
    let a = t ^ n.rotate_left(32);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a as u16) & 0xfff,
        (n as u16) & 0xfff,
        (t.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n) & 0xffff_ffff_ffff
    )
}
