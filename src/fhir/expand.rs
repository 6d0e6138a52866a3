//! `ValueSet/$expand`: the members of a value set, filtered, paged, with
//! the designations and properties asked for, and the parameters that shaped
//! the expansion echoed back.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::call::{options, requested_value_set, required_supplements};
use super::language::{Languages, display_in};
use super::messages::MessageId;
use super::outcome::{FhirError, Issue};
use super::params::Params;
use super::registry::{Registry, split_canonical};
use super::valueset::{Expander, Member, STANDARDS_STATUS, expansion_parameter, vs_canonical};

/// Deepest nesting of an expansion's `contains`.
pub const MAX_NESTING: usize = 32;
/// Largest expansion returned without paging (`count`).
pub const MAX_EXPANSION: usize = 1000;

/// `ValueSet/$expand`.
pub fn expand(reg: &Registry, params: &Params, langs: &Languages) -> Result<Value, FhirError> {
    let vs = requested_value_set(reg, params)?;
    // A display language the value set sets (`valueset-expansion-parameter`)
    // applies when the request names none, and is echoed.
    let vs_language = (langs.raw.is_none()).then(|| expansion_parameter(&vs, "displayLanguage")).flatten();
    let vs_langs;
    let langs = match &vs_language {
        Some(l) => {
            vs_langs = Languages::new(Some(l.clone()), None);
            &vs_langs
        }
        None => langs,
    };
    let mut opts = options(params);
    opts.supplements.extend(required_supplements(&vs));
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
        let mut issue = Issue::error("too-costly", text).id(MessageId::ValuesetTooCostly);
        issue.tx = None;
        return Err(FhirError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, issue));
    }
    let page: Vec<&Member> = members.iter().skip(offset).take(count.unwrap_or(usize::MAX)).collect();

    let include_designations = params.bool("includeDesignations").unwrap_or(false);
    // `designation=urn:ietf:bcp:47|de`: only the designations in those languages.
    let wanted_languages: Vec<String> = params
        .strs("designation")
        .iter()
        .filter_map(|d| d.strip_prefix("urn:ietf:bcp:47|").map(str::to_string))
        .collect();
    let include_definition = params.bool("includeDefinition").unwrap_or(false);
    let properties = params.strs("property");
    // Entries name their version when the expansion used several versions
    // of one system, or the value set names several (even if a parameter
    // then forced one).
    let multi_version = {
        let mut used: Vec<&str> = ex.used_systems.iter().map(|c| split_canonical(c).0).collect();
        used.sort();
        let mut named: Vec<(&str, &str)> =
            ex.includes.iter().filter_map(|(s, v)| Some((s.as_str(), v.as_deref()?))).collect();
        named.sort();
        named.dedup();
        used.windows(2).any(|w| w[0] == w[1]) || named.windows(2).any(|w| w[0].0 == w[1].0)
    };
    // The extensions the value set gives a code it lists (a deprecation…).
    let mut listed: HashMap<(&str, &str), &Value> = HashMap::new();
    for inc in vs["compose"]["include"].as_array().into_iter().flatten() {
        for c in inc["concept"].as_array().into_iter().flatten() {
            if let (Some(system), Some(code), Some(ext)) =
                (inc["system"].as_str(), c["code"].as_str(), c.get("extension"))
            {
                listed.insert((system, code), ext);
            }
        }
    }
    let contains: Vec<Value> = page
        .iter()
        .map(|m| {
            let c = m.concept();
            let mut e = json!({"system": m.cs.url, "code": c.code});
            if multi_version && let Some(v) = m.version_shown() {
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
                let ds = designations(&m.cs, c, e["display"].as_str(), langs, &wanted_languages);
                if !ds.is_empty() {
                    e["designation"] = Value::Array(ds);
                }
            }
            if let Some(ext) = listed.get(&(m.cs.url.as_str(), c.code.as_str())) {
                e["extension"] = (*ext).clone();
            }
            if include_definition && let Some(d) = &c.definition {
                let ext = json!({"url": "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition", "valueString": d});
                push_extensions(&mut e, vec![ext]);
            }
            let props: Vec<Value> = properties
                .iter()
                .flat_map(|p| m.cs.property_values(c, p))
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
            // A default or a check is echoed when it gave an include its version.
            if matches!(name, "system-version" | "check-system-version") {
                let value = ["valueCanonical", "valueUri", "valueString"].iter().find_map(|k| p[*k].as_str());
                if !ex.applied.iter().any(|(n, c)| *n == name && Some(c.as_str()) == value) {
                    continue;
                }
            }
            let mut p = p.clone();
            // A language list is echoed in its canonical spelling.
            if name == "displayLanguage"
                && let Some(l) = langs.echo()
            {
                p = json!({"name": name, "valueCode": l});
            }
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
        && let Some(l) = langs.echo()
    {
        parameters.push(json!({"name": "displayLanguage", "valueCode": l}));
    }
    for s in &ex.used_systems {
        parameters.push(json!({"name": "used-codesystem", "valueUri": s}));
    }
    for s in &ex.used_valuesets {
        parameters.push(json!({"name": "used-valueset", "valueUri": s}));
    }
    for s in &ex.used_fragments {
        parameters.push(json!({"name": "used-fragment", "valueUri": s}));
    }
    if ex.versions_matched {
        parameters.push(json!({"name": "versionsMatch", "valueBoolean": true}));
    }
    for (status, _, canonical) in &ex.status_notes {
        parameters.push(json!({"name": format!("warning-{}", status.as_str()), "valueUri": canonical}));
    }
    let mut expansion = json!({
        "identifier": format!("urn:uuid:{}", uuid()),
        "timestamp": crate::clock::instant(),
        "parameter": parameters,
    });
    // An expansion drawing on a fragment may miss codes.
    if let Some(url) = ex.used_fragments.first().map(|c| split_canonical(c).0) {
        expansion["extension"] = json!([
            {"url": "http://hl7.org/fhir/StructureDefinition/valueset-unclosed", "valueBoolean": true},
            {"url": "http://hl7.org/fhir/StructureDefinition/valueset-unclosed-reason",
             "valueString": format!("This extension is based on a fragment of the code system {url}")},
        ]);
    }
    // A search cut at the page asked for does not know the total.
    if !ex.truncated {
        expansion["total"] = json!(total);
    }
    if params.has("offset") {
        expansion["offset"] = json!(offset);
    }
    // The status property is declared when any member (on this page or
    // not) carries it.
    let status_used = members.iter().any(|m| {
        let c = m.concept();
        c.is_inactive() || c.is_deprecated()
    });
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
    // The code system's hierarchy is kept unless `excludeNested` asks for a
    // flat list (or a page is asked for: pages count flat entries).
    // Codes listed one by one, or imported from value sets, stay flat.
    // A text filter over a whole system lists its matches flat; over a
    // property filter's concepts, in their hierarchy.
    let whole_system = vs["compose"]["include"].as_array().is_some_and(|l| l.iter().any(|i| i.get("filter").is_none()));
    let enumerated = ["include", "exclude"].iter().any(|k| {
        vs["compose"][*k]
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i.get("concept").is_some() || i.get("valueSet").is_some()))
    });
    let nested = !params.bool("excludeNested").unwrap_or(false)
        && count.is_none()
        && offset == 0
        && !(filter.is_some() && whole_system)
        && !enumerated;
    let mut contains = if nested { nest(&page, contains) } else { contains };
    r4_properties(&mut contains);
    if !contains.is_empty() {
        expansion["contains"] = Value::Array(contains);
    }
    if let Some(Value::Array(defs)) = expansion.as_object_mut().and_then(|o| o.remove("property")) {
        let ext = defs.iter().map(|d| cross_version(EXPANSION_PROPERTY, d)).collect::<Vec<_>>();
        push_extensions(&mut expansion, ext);
    }
    let mut out = vs.clone();
    if let Some(o) = out.as_object_mut() {
        // The expansion replaces the definition (clients read
        // `expansion`): its description and standards status go with it.
        o.remove("text");
        o.remove("compose");
        o.remove("description");
        if let Some(Value::Array(list)) = o.get_mut("extension") {
            list.retain(|e| e["url"] != STANDARDS_STATUS);
            if list.is_empty() {
                o.remove("extension");
            }
        }
        o.insert("expansion".into(), expansion);
    }
    Ok(out)
}

/// The R4 cross-version extension carrying R5's `expansion.property`.
pub const EXPANSION_PROPERTY: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property";
/// The R4 cross-version extension carrying R5's `expansion.contains.property`.
pub const CONTAINS_PROPERTY: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property";

/// R4 has no `contains.property` (an R5 element an R4 parser drops): each
/// entry's properties, at every level, go as [`CONTAINS_PROPERTY`]
/// extensions, which the R4↔R5 converters read back.
fn r4_properties(entries: &mut [Value]) {
    for e in entries {
        if let Some(Value::Array(children)) = e.get_mut("contains") {
            r4_properties(children);
        }
        if let Some(Value::Array(props)) = e.as_object_mut().and_then(|o| o.remove("property")) {
            let ext = props.iter().map(|p| cross_version(CONTAINS_PROPERTY, p)).collect();
            push_extensions(e, ext);
        }
    }
}

/// The cross-version extension `url` for the R5 element `element`: one
/// sub-extension per field (`code`, `uri`, `value[x]` as `value`).
fn cross_version(url: &str, element: &Value) -> Value {
    let parts: Vec<Value> = element
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let name = if k.starts_with("value") { "value" } else { k.as_str() };
            let key = match k.as_str() {
                "code" => "valueCode",
                "uri" => "valueUri",
                other => other,
            };
            json!({"url": name, key: v})
        })
        .collect();
    json!({"url": url, "extension": parts})
}

/// Appends `ext` to the `extension` list of `target`.
fn push_extensions(target: &mut Value, ext: Vec<Value>) {
    if ext.is_empty() {
        return;
    }
    match target.get_mut("extension") {
        Some(Value::Array(list)) => list.extend(ext),
        _ => target["extension"] = Value::Array(ext),
    }
}

/// The designations of `c` in an expansion entry showing `shown` (chosen
/// for `langs`): those but the one shown, in the `wanted` languages if any
/// are asked; and the code system's own display when another one is shown
/// (in the system's language, as preferred for that language).
fn designations(
    cs: &super::cs::CodeSystem,
    c: &super::cs::Concept,
    shown: Option<&str>,
    langs: &Languages,
    wanted: &[String],
) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(d) = c.display.as_deref().filter(|d| Some(*d) != shown) {
        let mut v = json!({"value": d});
        if let Some(l) = &cs.language {
            v["language"] = json!(l);
        }
        v["use"] = json!({
            "system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra",
            "code": "preferredForLanguage",
            "display": "Preferred For Language"
        });
        out.push(v);
    }
    let is_shown = |d: &Value| {
        shown != c.display.as_deref()
            && d["value"].as_str() == shown
            && d["language"].as_str().is_some_and(|l| langs.tags.iter().any(|t| super::language::lang_matches(t, l)))
    };
    out.extend(c.designations_json().into_iter().filter(|d| !is_shown(d)));
    if !wanted.is_empty() {
        out.retain(|d| d["language"].as_str().is_some_and(|l| wanted.iter().any(|w| w == l)));
    }
    out
}

/// Nests each entry under the entry of its parent concept (same code
/// system version) when the expansion has it; `entries[i]` is `members[i]`.
/// Order is kept among siblings; every entry appears once.
fn nest(members: &[&Member], entries: Vec<Value>) -> Vec<Value> {
    let key = |m: &Member, idx: usize| (std::sync::Arc::as_ptr(&m.cs), idx);
    let at: std::collections::HashMap<_, usize> = members.iter().enumerate().map(|(i, m)| (key(m, m.idx), i)).collect();
    let parent: Vec<Option<usize>> = members
        .iter()
        .enumerate()
        .map(|(i, m)| m.concept().parents.iter().find_map(|&p| at.get(&key(m, p)).copied().filter(|&j| j != i)))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); members.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children[*p].push(i);
        }
    }
    let mut slots: Vec<Option<Value>> = entries.into_iter().map(Some).collect();
    let mut placed = vec![false; members.len()];
    // Below MAX_NESTING levels, entries go back to the top: a hierarchy a
    // request brings may be arbitrarily deep, the recursion is not.
    fn build(
        i: usize,
        depth: usize,
        children: &[Vec<usize>],
        slots: &mut [Option<Value>],
        placed: &mut [bool],
    ) -> Option<Value> {
        if placed[i] {
            return None;
        }
        placed[i] = true;
        let mut e = slots[i].take()?;
        if depth + 1 >= MAX_NESTING {
            return Some(e);
        }
        let kids: Vec<Value> =
            children[i].iter().filter_map(|&c| build(c, depth + 1, children, slots, placed)).collect();
        if !kids.is_empty() {
            e["contains"] = Value::Array(kids);
        }
        Some(e)
    }
    let mut out: Vec<Value> = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        if p.is_none() {
            out.extend(build(i, 0, &children, &mut slots, &mut placed));
        }
    }
    // A cycle of parents has no root, and entries below MAX_NESTING were
    // not placed: they start again at the top.
    for i in 0..members.len() {
        out.extend(build(i, 0, &children, &mut slots, &mut placed));
    }
    out
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
