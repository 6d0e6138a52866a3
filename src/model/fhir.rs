//! The FHIR `CodeSystem` resource as a graph of concepts, and its one JSON
//! reader ([`CodeSystem::from_resource`]). The FHIR operations use this form
//! for the built-in systems of the snapshot (see `fhir::cs`) and for the
//! `CodeSystem` resources a request brings (`tx-resource`), so every
//! operation has one code path; the `fhir-codesystem` loader reads its files
//! with it.
//!
//! Guarantees: `concepts` are in definition order (depth first, as the
//! resource nests them); `parents`/`children` are indices into `concepts`;
//! [`CodeSystem::find`] honours `caseSensitive`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

/// System of the designation uses of the built-in systems.
pub const DESIGNATION_USE: &str = "urn:harmonie:designation-use";

#[derive(Clone, Debug)]
/// One designation of a concept.
pub struct Designation {
    /// Its language tag, if given.
    pub language: Option<String>,
    /// A `Coding`, shared by the designations of the same use.
    pub usage: Option<Arc<Value>>,
    /// The label.
    pub value: String,
}

/// A property declared by a code system.
#[derive(Clone, Debug)]
pub struct PropertyDef {
    /// Its code.
    pub code: String,
    /// Its URI, if given.
    pub uri: Option<String>,
    /// Its FHIR type (`code`, `string`, `boolean`…).
    pub kind: String,
}

#[derive(Clone, Debug)]
/// One concept of a code system.
pub struct Concept {
    /// Its code.
    pub code: String,
    /// Its display, if any.
    pub display: Option<String>,
    /// Its definition, if any.
    pub definition: Option<String>,
    /// Its designations.
    pub designations: Vec<Designation>,
    /// `(property code, {"valueX": …})`, each value shared by the concepts
    /// that carry the same one (the built-in systems' 59,000 concepts hold
    /// a few hundred distinct ones).
    pub properties: Vec<(String, Arc<Value>)>,
    /// Indices of its parents in `concepts`.
    pub parents: Vec<usize>,
    /// Indices of its children in `concepts`.
    pub children: Vec<usize>,
    /// Parent codes declared by a `parent` or `subsumedBy` property, as
    /// written, found in the system or not (a loader reports the missing).
    pub parent_codes: Vec<String>,
    /// Not selectable (a grouping concept, not to be recorded): its
    /// `notSelectable` property, or the property its system declares with
    /// the URI [`NOT_SELECTABLE_URI`], is true.
    pub not_selectable: bool,
}

/// The URI of the standard `notSelectable` concept property; a code system
/// may give that property another code.
pub const NOT_SELECTABLE_URI: &str = "http://hl7.org/fhir/concept-properties#notSelectable";

impl Concept {
    /// Its designations as FHIR `designation` elements.
    pub fn designations_json(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for d in &self.designations {
            let mut v = json!({"value": d.value});
            if let Some(l) = &d.language {
                v["language"] = json!(l);
            }
            if let Some(u) = &d.usage {
                v["use"] = Value::clone(u);
            }
            out.push(v);
        }
        out
    }

    /// Every value of property `code`, as text.
    pub fn property<'a>(&'a self, code: &'a str) -> impl Iterator<Item = String> + 'a {
        self.properties.iter().filter(move |(c, _)| c == code).filter_map(|(_, v)| {
            v.as_object()?.values().next().map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Object(o) => o.get("code").and_then(Value::as_str).unwrap_or_default().to_string(),
                other => other.to_string(),
            })
        })
    }
    /// Its `status` property, if any.
    pub fn status(&self) -> Option<String> {
        self.property("status").next()
    }
    /// `notSelectable`: a grouping concept, not to be recorded.
    pub fn is_abstract(&self) -> bool {
        self.not_selectable
    }
    /// Whether it is inactive (`inactive` property, or status retired or inactive).
    pub fn is_inactive(&self) -> bool {
        self.property("inactive").any(|v| v == "true")
            || matches!(self.status().as_deref(), Some("retired") | Some("inactive"))
    }
    /// Whether its status is deprecated.
    pub fn is_deprecated(&self) -> bool {
        self.status().as_deref() == Some("deprecated")
    }
}

#[derive(Clone, Debug, Default)]
/// A code system: its metadata and its concepts.
pub struct CodeSystem {
    /// Canonical URL.
    pub url: String,
    /// Version, if given.
    pub version: Option<String>,
    /// Computer name, if given.
    pub name: Option<String>,
    /// Title, if given.
    pub title: Option<String>,
    /// Publication status, if given.
    pub status: Option<String>,
    /// Language of its displays, if given.
    pub language: Option<String>,
    /// Whether codes are case-sensitive.
    pub case_sensitive: bool,
    /// `complete`, `fragment`, `supplement`…
    pub content: String,
    /// Canonical of the system this one supplements, if a supplement.
    pub supplements: Option<String>,
    /// Its property definitions.
    pub properties: Vec<PropertyDef>,
    /// Its concepts, in definition order.
    pub concepts: Vec<Concept>,
    pub(crate) index: HashMap<String, usize>,
    /// The resource as given (built-in systems: metadata only), for reads.
    pub resource: Value,
    /// Index of the built-in system in the snapshot.
    pub builtin: Option<usize>,
}

impl CodeSystem {
    /// The values of property `p` of `c`, with the derived ones (`parent`,
    /// `child`, `inactive`, `definition`).
    pub fn property_values(&self, c: &Concept, p: &str) -> Vec<(String, Value)> {
        match p {
            "parent" => {
                c.parents.iter().map(|&i| (p.to_string(), json!({"valueCode": self.concepts[i].code}))).collect()
            }
            "child" => {
                c.children.iter().map(|&i| (p.to_string(), json!({"valueCode": self.concepts[i].code}))).collect()
            }
            "inactive" => vec![(p.to_string(), json!({"valueBoolean": c.is_inactive()}))],
            "definition" => c.definition.iter().map(|d| (p.to_string(), json!({"valueString": d}))).collect(),
            _ => c.properties.iter().filter(|(k, _)| k == p).map(|(k, v)| (k.clone(), Value::clone(v))).collect(),
        }
    }

    /// `url|version` as `used-codesystem` reports it.
    pub fn canonical(&self) -> String {
        match &self.version {
            Some(v) => format!("{}|{v}", self.url),
            None => self.url.clone(),
        }
    }

    /// The concept with `code`, honouring case sensitivity.
    pub fn find(&self, code: &str) -> Option<usize> {
        if self.case_sensitive { self.index.get(code).copied() } else { self.index.get(&code.to_lowercase()).copied() }
    }

    /// The concept of `code`, if any.
    pub fn concept(&self, code: &str) -> Option<&Concept> {
        self.find(code).map(|i| &self.concepts[i])
    }

    /// Whether `a` subsumes `b` (or is `b`).
    pub fn subsumes(&self, a: usize, b: usize) -> bool {
        let mut stack = vec![b];
        let mut seen = vec![false; self.concepts.len()];
        while let Some(x) = stack.pop() {
            if x == a {
                return true;
            }
            if !std::mem::replace(&mut seen[x], true) {
                stack.extend(&self.concepts[x].parents);
            }
        }
        false
    }

    /// `i` and all its descendants, in definition order.
    pub fn descendants_or_self(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = vec![false; self.concepts.len()];
        let mut stack = vec![i];
        while let Some(x) = stack.pop() {
            if !std::mem::replace(&mut seen[x], true) {
                out.push(x);
                stack.extend(self.concepts[x].children.iter().rev());
            }
        }
        out
    }

    pub(crate) fn finish(&mut self) {
        self.index = self
            .concepts
            .iter()
            .enumerate()
            .map(|(i, c)| (if self.case_sensitive { c.code.clone() } else { c.code.to_lowercase() }, i))
            .collect();
    }

    /// A code system from a FHIR `CodeSystem` resource (R4 or R5).
    pub fn from_resource(res: &Value) -> Result<CodeSystem, String> {
        let s = |k: &str| res.get(k).and_then(Value::as_str).map(str::to_string);
        let url = s("url").ok_or("a CodeSystem without url cannot be used")?;
        let mut cs = CodeSystem {
            url,
            version: s("version"),
            name: s("name"),
            title: s("title"),
            status: s("status"),
            language: s("language"),
            case_sensitive: res.get("caseSensitive").and_then(Value::as_bool).unwrap_or(false),
            content: s("content").unwrap_or_else(|| "complete".into()),
            supplements: s("supplements"),
            properties: res
                .get("property")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| PropertyDef {
                            code: p["code"].as_str().unwrap_or_default().to_string(),
                            uri: p["uri"].as_str().map(str::to_string),
                            kind: p["type"].as_str().unwrap_or("string").to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            resource: res.clone(),
            ..CodeSystem::default()
        };
        let mut parent_codes: Vec<(usize, String)> = Vec::new();
        fn walk(cs: &mut CodeSystem, list: &[Value], parent: Option<usize>, parent_codes: &mut Vec<(usize, String)>) {
            for c in list {
                let i = cs.concepts.len();
                let mut concept = Concept {
                    code: c["code"].as_str().unwrap_or_default().to_string(),
                    display: c["display"].as_str().map(str::to_string),
                    definition: c["definition"].as_str().map(str::to_string),
                    designations: c
                        .get("designation")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .map(|d| Designation {
                                    language: d["language"].as_str().map(str::to_string),
                                    usage: d.get("use").cloned().map(Arc::new),
                                    value: d["value"].as_str().unwrap_or_default().to_string(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    properties: Vec::new(),
                    parents: parent.into_iter().collect(),
                    children: Vec::new(),
                    parent_codes: Vec::new(),
                    not_selectable: false,
                };
                for p in c.get("property").and_then(Value::as_array).into_iter().flatten() {
                    let code = p["code"].as_str().unwrap_or_default().to_string();
                    let value: serde_json::Map<String, Value> = p
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| k.starts_with("value"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if code == "parent" || code == "subsumedBy" {
                        if let Some(v) = value.values().next().and_then(Value::as_str) {
                            parent_codes.push((i, v.to_string()));
                            concept.parent_codes.push(v.to_string());
                        }
                        continue;
                    }
                    let selectable_code = code == "notSelectable"
                        || cs.properties.iter().any(|d| d.code == code && d.uri.as_deref() == Some(NOT_SELECTABLE_URI));
                    if selectable_code && value.values().next().is_some_and(|v| v == true || v == "true") {
                        concept.not_selectable = true;
                    }
                    concept.properties.push((code, Arc::new(Value::Object(value))));
                }
                cs.concepts.push(concept);
                if let Some(p) = parent {
                    cs.concepts[p].children.push(i);
                }
                if let Some(children) = c.get("concept").and_then(Value::as_array) {
                    walk(cs, children, Some(i), parent_codes);
                }
            }
        }
        let list = res.get("concept").and_then(Value::as_array).cloned().unwrap_or_default();
        walk(&mut cs, &list, None, &mut parent_codes);
        cs.finish();
        for (child, code) in parent_codes {
            if let Some(p) = cs.find(&code)
                && !cs.concepts[child].parents.contains(&p)
            {
                cs.concepts[child].parents.push(p);
                cs.concepts[p].children.push(child);
            }
        }
        Ok(cs)
    }

    /// Applies a supplement: its designations and properties are added to
    /// the concepts of this system.
    pub fn apply_supplement(&mut self, sup: &CodeSystem) {
        for sc in &sup.concepts {
            if let Some(i) = self.find(&sc.code) {
                let c = &mut self.concepts[i];
                let mut designations = sc.designations.clone();
                if let (Some(d), Some(lang)) = (&sc.display, &sup.language) {
                    designations.push(Designation { language: Some(lang.clone()), usage: None, value: d.clone() });
                }
                c.designations.extend(designations);
                c.properties.extend(sc.properties.iter().cloned());
            }
        }
        for p in &sup.properties {
            if !self.properties.iter().any(|q| q.code == p.code) {
                self.properties.push(p.clone());
            }
        }
    }
}
