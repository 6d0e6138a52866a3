//! What a FHIR request can see: the built-in systems, correspondence tables
//! and implicit value sets of the snapshot, plus the resources the request
//! brought as `tx-resource` (used for that request only).
//!
//! Guarantee: resources of the request shadow nothing they do not name; a
//! request never changes what another request sees.

use std::sync::Arc;

use serde_json::{Value, json};

use super::cs::CodeSystem;
use crate::index::Snapshot;

/// The built-in systems of one snapshot in their FHIR form, built once per
/// snapshot (see [`super::Cache`]).
pub struct Builtins {
    /// Id of the snapshot converted.
    pub snapshot_id: String,
    /// Each built-in system in FHIR form, in snapshot order.
    pub systems: Vec<Arc<CodeSystem>>,
    /// Other URLs of built-in systems (their former URNs): (alias, url).
    pub url_aliases: Vec<(String, String)>,
}

impl Builtins {
    /// Converts every system of `snap`.
    pub fn new(snap: &Snapshot) -> Builtins {
        Builtins {
            snapshot_id: snap.manifest.id.clone(),
            systems: (0..snap.systems.len()).map(|i| Arc::new(CodeSystem::from_snapshot(snap, i))).collect(),
            url_aliases: snap
                .systems
                .iter()
                .flat_map(|s| s.url_aliases.iter().map(|a| (a.clone(), s.url.clone())))
                .collect(),
        }
    }

    /// The canonical URL `url` names: itself, or the system's whose alias it is.
    pub fn resolve<'a>(&'a self, url: &'a str) -> &'a str {
        self.url_aliases.iter().find(|(a, _)| a == url).map_or(url, |(_, u)| u.as_str())
    }
}

/// What one request sees: the built-in systems, the implicit value sets, and the resources it brought (`tx-resource`).
pub struct Registry {
    /// The snapshot served.
    pub snapshot: Arc<Snapshot>,
    /// Its systems in FHIR form.
    pub builtins: Arc<Builtins>,
    /// Code systems the request brought.
    pub code_systems: Vec<Arc<CodeSystem>>,
    /// Value sets the request brought.
    pub value_sets: Vec<Value>,
    /// Concept maps the request brought.
    pub concept_maps: Vec<Value>,
    /// When the request times out: long work (expansions) stops past it.
    pub deadline: Option<std::time::Instant>,
}

/// Why a code system could not be had.
pub enum Missing {
    /// No system with that URL.
    System,
    /// The URL is known, not that version; the versions known.
    Version(Vec<String>),
}

/// Whether `version` satisfies `wanted` (exact, or a pattern with `x`/`*`
/// parts such as `1.0.x`).
pub fn version_matches(wanted: &str, version: &str) -> bool {
    if wanted == version {
        return true;
    }
    let w: Vec<&str> = wanted.split('.').collect();
    if !w.iter().any(|p| *p == "x" || *p == "*") {
        return false;
    }
    let v: Vec<&str> = version.split('.').collect();
    w.len() <= v.len() && w.iter().zip(&v).all(|(a, b)| *a == "x" || *a == "*" || a == b)
}

/// Orders versions: numeric parts numerically, the others as text.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let pa: Vec<&str> = a.split(['.', '-']).collect();
    let pb: Vec<&str> = b.split(['.', '-']).collect();
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

impl Registry {
    /// A registry of the built-in systems only.
    pub fn new(snapshot: Arc<Snapshot>, builtins: Arc<Builtins>) -> Registry {
        Registry {
            snapshot,
            builtins,
            code_systems: Vec::new(),
            value_sets: Vec::new(),
            concept_maps: Vec::new(),
            deadline: None,
        }
    }

    /// Adds a resource of the request (`CodeSystem`, `ValueSet`, `ConceptMap`).
    pub fn add(&mut self, res: &Value) -> Result<(), String> {
        match res.get("resourceType").and_then(Value::as_str) {
            Some("CodeSystem") => {
                let cs = CodeSystem::from_resource(res)?;
                self.code_systems.push(Arc::new(cs));
            }
            Some("ValueSet") => self.value_sets.push(res.clone()),
            Some("ConceptMap") => self.concept_maps.push(res.clone()),
            Some(other) => {
                return Err(format!(
                    "a tx-resource of type {other} cannot be used; give CodeSystem, ValueSet or ConceptMap"
                ));
            }
            None => return Err("a tx-resource without resourceType".into()),
        }
        Ok(())
    }

    /// Every version of the system `url` (supplements excluded).
    pub fn versions_of(&self, url: &str) -> Vec<&Arc<CodeSystem>> {
        let url = self.builtins.resolve(url);
        let mut out: Vec<&Arc<CodeSystem>> = self
            .code_systems
            .iter()
            .chain(&self.builtins.systems)
            .filter(|c| c.url == url && c.supplements.is_none())
            .collect();
        out.sort_by(|a, b| compare_versions(a.version.as_deref().unwrap_or(""), b.version.as_deref().unwrap_or("")));
        out
    }

    /// Whether any version of `url` is known.
    pub fn knows_system(&self, url: &str) -> bool {
        !self.versions_of(url).is_empty()
    }

    /// The system `url` in `version` (a pattern allowed), or its latest
    /// version when none is asked.
    pub fn code_system(&self, url: &str, version: Option<&str>) -> Result<Arc<CodeSystem>, Missing> {
        let all = self.versions_of(url);
        if all.is_empty() {
            return Err(Missing::System);
        }
        let found = match version {
            None | Some("") => all.last().copied(),
            Some(v) => all.iter().rev().find(|c| version_matches(v, c.version.as_deref().unwrap_or(""))).copied(),
        };
        match found {
            Some(cs) => Ok(cs.clone()),
            None => Err(Missing::Version(all.iter().filter_map(|c| c.version.clone()).collect())),
        }
    }

    /// The system with the supplements of it named in `use_supplements`
    /// applied (a supplement the request brought but nothing names is not).
    pub fn with_supplements(&self, cs: Arc<CodeSystem>, use_supplements: &[String]) -> Arc<CodeSystem> {
        let sups: Vec<&Arc<CodeSystem>> = self
            .code_systems
            .iter()
            .filter(|s| {
                s.supplements.as_deref().is_some_and(|t| t == cs.url || t.split('|').next() == Some(cs.url.as_str()))
                    && use_supplements.iter().any(|u| u.split('|').next() == Some(&s.url))
            })
            .collect();
        if sups.is_empty() {
            return cs;
        }
        let mut merged = (*cs).clone();
        for s in sups {
            merged.apply_supplement(s);
        }
        Arc::new(merged)
    }

    /// A supplement of the request with `url`.
    pub fn supplement(&self, url: &str) -> Option<&Arc<CodeSystem>> {
        let (u, v) = split_canonical(url);
        self.code_systems
            .iter()
            .find(|s| s.supplements.is_some() && s.url == u && v.is_none_or(|v| s.version.as_deref() == Some(v)))
    }

    /// The value set `url` (with an optional `|version`), including the
    /// implicit ones of every system: `{system}?fhir_vs` and
    /// `{system}?fhir_vs=isa/{code}`.
    pub fn value_set(&self, url: &str, version: Option<&str>) -> Option<Value> {
        let (u, v) = split_canonical(url);
        let version = version.or(v);
        let mut candidates: Vec<&Value> = self
            .value_sets
            .iter()
            .filter(|vs| vs["url"].as_str() == Some(u))
            .filter(|vs| version.is_none_or(|v| version_matches(v, vs["version"].as_str().unwrap_or(""))))
            .collect();
        candidates
            .sort_by(|a, b| compare_versions(a["version"].as_str().unwrap_or(""), b["version"].as_str().unwrap_or("")));
        if let Some(vs) = candidates.last() {
            return Some((*vs).clone());
        }
        let (system, rest) = u.split_once("?fhir_vs")?;
        let cs = self.code_system(system, None).ok()?;
        let include = match rest.strip_prefix("=isa/") {
            Some(code) => json!({"system": system, "filter": [{"property": "concept", "op": "is-a", "value": code}]}),
            None if rest.is_empty() => json!({"system": system}),
            None => return None,
        };
        Some(json!({
            "resourceType": "ValueSet",
            "url": u,
            "version": cs.version,
            "name": format!("{}_all", cs.name.clone().unwrap_or_default()),
            "title": cs.title,
            "status": "active",
            "compose": {"include": [include]},
        }))
    }
}

/// `url|version` → (`url`, `version`).
pub fn split_canonical(s: &str) -> (&str, Option<&str>) {
    match s.split_once('|') {
        Some((u, v)) => (u, Some(v)),
        None => (s, None),
    }
}
