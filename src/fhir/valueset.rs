//! Value set expansion: `compose` includes and excludes (enumerated codes,
//! filters, imported value sets), version choice under the expansion
//! parameters, and the text filter.
//!
//! Guarantees: an expansion lists each (system, version, code) once (each
//! (system, code) once when the value set merges versions), in the order of
//! the includes (those naming versions of one system latest first) and,
//! within an include, in the order the code system defines its concepts; a
//! cycle of imports is an error, not a hang.
//! The work is bounded: at most [`MAX_COMPOSE_PARTS`] includes and excludes
//! per value set, [`MAX_IMPORT_DEPTH`] nested imports and [`MAX_IMPORTS`]
//! imports in all (each value set is expanded once however often it is
//! imported), [`MAX_MEMBERS`] codes gathered; past the request's deadline
//! ([`Registry::deadline`]) the expansion stops with a timeout.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::cs::CodeSystem;
use super::messages::MessageId;
use super::outcome::{FhirError, Issue};
use super::registry::{Missing, Registry, compare_versions, split_canonical, version_matches};

/// Most includes plus excludes in one value set's `compose`.
pub const MAX_COMPOSE_PARTS: usize = 256;
/// Deepest chain of imported value sets.
pub const MAX_IMPORT_DEPTH: usize = 16;
/// Most value set imports in one expansion.
pub const MAX_IMPORTS: usize = 256;
/// The extension giving a resource's (or a listed code's) standards status.
pub const STANDARDS_STATUS: &str = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status";
/// Most codes gathered by one expansion before it is refused as too costly.
pub const MAX_MEMBERS: usize = 2_000_000;

fn too_costly(text: String) -> FhirError {
    FhirError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, Issue::error("too-costly", text))
}

/// One code of an expansion.
#[derive(Clone)]
pub struct Member {
    /// The system of the member.
    pub cs: Arc<CodeSystem>,
    /// Index of the member in `cs.concepts`.
    pub idx: usize,
    /// The later version this member stands for when a value set merges
    /// the versions of its system (`versionsMatch=true`).
    pub merged_version: Option<String>,
}

impl Member {
    /// The member's concept.
    pub fn concept(&self) -> &super::cs::Concept {
        &self.cs.concepts[self.idx]
    }
    /// The version an expansion reports for the member.
    pub fn version_shown(&self) -> Option<&str> {
        self.merged_version.as_deref().or(self.cs.version.as_deref())
    }
    fn key(&self) -> (String, Option<String>, String) {
        (self.cs.url.clone(), self.cs.version.clone(), self.concept().code.clone())
    }
}

/// Expansion parameters that change what an expansion contains.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `activeOnly`: inactive concepts left out.
    pub active_only: bool,
    /// `force-system-version`: `url|version`, wins over the value set.
    pub force: Vec<String>,
    /// `system-version` / `default-to-version`: used when the value set names none.
    pub default: Vec<String>,
    /// `check-system-version`: the version used must match.
    pub check: Vec<String>,
    /// `useSupplement`.
    pub supplements: Vec<String>,
    /// `default-valueset-version`: `url|version` for imports without a version.
    pub valueset_versions: Vec<String>,
}

/// The order in which a compose's includes are expanded: as written, except
/// that includes naming versions of one system take the latest version
/// first, so that an expansion lists a code's later version before its
/// earlier one.
fn include_order(includes: &[&Value]) -> Vec<usize> {
    let versioned = |i: usize| {
        let inc = includes[i];
        Some((inc.get("system")?.as_str()?, inc.get("version")?.as_str()?))
    };
    let mut order: Vec<usize> = (0..includes.len()).collect();
    let mut done = vec![false; includes.len()];
    for i in 0..includes.len() {
        let Some((system, _)) = versioned(i) else { continue };
        if done[i] {
            continue;
        }
        let slots: Vec<usize> =
            (i..includes.len()).filter(|&j| versioned(j).is_some_and(|(s, _)| s == system)).collect();
        let version = |j: usize| versioned(j).map_or("", |(_, v)| v);
        let mut sorted = slots.clone();
        sorted.sort_by(|&a, &b| compare_versions(version(b), version(a)));
        for (slot, j) in slots.iter().zip(sorted) {
            order[*slot] = j;
            done[*slot] = true;
        }
    }
    order
}

/// The version `list` (`url|version` canonicals) gives for `url`.
pub fn version_for<'a>(list: &'a [String], url: &str) -> Option<&'a str> {
    list.iter().find_map(|c| match split_canonical(c) {
        (u, Some(v)) if u == url => Some(v),
        _ => None,
    })
}

/// One expansion in progress: the registry, the options, and what it used.
pub struct Expander<'r> {
    /// What the request sees.
    pub reg: &'r Registry,
    /// The options of the request.
    pub opts: &'r Options,
    /// Canonicals (`url|version`) of the code systems used.
    pub used_systems: Vec<String>,
    /// Canonicals of the value sets used.
    pub used_valuesets: Vec<String>,
    /// Canonicals (`url|version`) of the code systems used that are fragments.
    pub used_fragments: Vec<String>,
    /// Canonicals of the supplements used.
    pub used_supplements: Vec<String>,
    stack: Vec<String>,
    /// The text filter of `$expand`: with it, a built-in system contributes
    /// only the concepts the search engine finds, in its ranking order.
    pub text_filter: Option<String>,
    /// Most hits taken from the search engine per built-in system.
    pub search_limit: usize,
    /// Whether a search stopped at `search_limit` (the total is then unknown).
    pub truncated: bool,
    hits: std::collections::HashMap<usize, Vec<usize>>,
    /// Imported value sets already expanded, by canonical.
    imported: std::collections::HashMap<String, Vec<Member>>,
    imports: usize,
    gathered: usize,
    /// Validating codes rather than listing them: an include naming a
    /// version that does not exist, or one that a `check-system-version`
    /// refuses, is not an error of the expansion but of the codes checked
    /// against it ([`Expander::includes`] keeps what each include named).
    pub validating: bool,
    /// Each include's system and the version it names (as written), in
    /// order.
    pub includes: Vec<(String, Option<String>)>,
    /// The code systems and value sets used whose status calls for a note:
    /// (status, resource type, `url|version`), each once.
    pub status_notes: Vec<(Status, &'static str, String)>,
    /// The version parameters that gave a versionless include its version:
    /// (`system-version` or `check-system-version`, `url|version`).
    pub applied: Vec<(&'static str, String)>,
    /// Whether codes were matched across versions of their system: merged
    /// (`versionsMatch=true`) or excluded by another version's exclude.
    pub versions_matched: bool,
}

/// A status of a code system or value set that its users should hear of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `standards-status` withdrawn.
    Withdrawn,
    /// `standards-status` deprecated.
    Deprecated,
    /// `status` draft.
    Draft,
    /// `experimental` true.
    Experimental,
}

impl Status {
    /// The status of a CodeSystem or ValueSet resource worth a note, if any.
    pub fn of(resource: &Value) -> Option<Status> {
        let standards = resource["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| (e["url"] == STANDARDS_STATUS).then(|| e["valueCode"].as_str()).flatten());
        match (standards, resource["status"].as_str(), resource["experimental"].as_bool()) {
            (Some("withdrawn"), _, _) => Some(Status::Withdrawn),
            (Some("deprecated"), _, _) => Some(Status::Deprecated),
            (_, Some("draft"), _) => Some(Status::Draft),
            (_, _, Some(true)) => Some(Status::Experimental),
            _ => None,
        }
    }

    /// As FHIR writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Withdrawn => "withdrawn",
            Status::Deprecated => "deprecated",
            Status::Draft => "draft",
            Status::Experimental => "experimental",
        }
    }

    /// The note of a validation that used a resource of this status.
    pub fn issue(self, kind: &str, canonical: &str) -> Issue {
        let id = match self {
            Status::Withdrawn => MessageId::MsgWithdrawn,
            Status::Deprecated => MessageId::MsgDeprecated,
            Status::Draft => MessageId::MsgDraft,
            Status::Experimental => MessageId::MsgExperimental,
        };
        Issue::error("business-rule", format!("Reference to {} {kind} {canonical}", self.as_str()))
            .severity(super::outcome::Severity::Information)
            .tx("status-check")
            .id(id)
    }
}

/// The value of the `valueset-expansion-parameter` extension `name` of a
/// value set's `compose`.
pub fn expansion_parameter(vs: &Value, name: &str) -> Option<String> {
    vs["compose"]["extension"].as_array()?.iter().find_map(|e| {
        if e["url"] != "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter" {
            return None;
        }
        let parts = e["extension"].as_array()?;
        let part = |n: &str| parts.iter().find(|p| p["url"] == n);
        if part("name")?["valueCode"] != name {
            return None;
        }
        let value = part("value")?;
        ["valueCode", "valueString", "valueUri"].iter().find_map(|k| value[*k].as_str()).map(str::to_string)
    })
}

/// `url|version` of a value set, as messages name it.
pub fn vs_canonical(vs: &Value) -> String {
    let url = vs["url"].as_str().unwrap_or_default();
    match vs["version"].as_str() {
        Some(v) => format!("{url}|{v}"),
        None => url.to_string(),
    }
}

impl<'r> Expander<'r> {
    /// An expander of `reg` with `opts`.
    pub fn new(reg: &'r Registry, opts: &'r Options) -> Expander<'r> {
        Expander {
            reg,
            opts,
            used_systems: Vec::new(),
            used_valuesets: Vec::new(),
            used_fragments: Vec::new(),
            used_supplements: Vec::new(),
            stack: Vec::new(),
            text_filter: None,
            search_limit: 1000,
            truncated: false,
            hits: std::collections::HashMap::new(),
            imported: std::collections::HashMap::new(),
            imports: 0,
            gathered: 0,
            validating: false,
            status_notes: Vec::new(),
            includes: Vec::new(),
            applied: Vec::new(),
            versions_matched: false,
        }
    }

    /// Stops the expansion when the request's time is up or it grew too big.
    fn check_budget(&self) -> Result<(), FhirError> {
        if self.reg.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(FhirError::new(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                Issue::error(
                    "timeout",
                    "The expansion took longer than the request time allowed: narrow the value set",
                ),
            ));
        }
        if self.gathered > MAX_MEMBERS {
            return Err(too_costly(format!(
                "The expansion gathered more than {MAX_MEMBERS} codes: narrow the value set"
            )));
        }
        Ok(())
    }

    /// Every member of `vs`.
    pub fn expand(&mut self, vs: &Value) -> Result<Vec<Member>, FhirError> {
        let canonical = vs_canonical(vs);
        if self.stack.contains(&canonical) {
            let path = self.stack.join(", ");
            return Err(FhirError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                Issue::error(
                    "processing",
                    format!("Found a circularity pointing to {canonical} processing ValueSet with pathway [{path}]"),
                )
                .tx("vs-invalid")
                .id(MessageId::ValuesetCircularReference),
            ));
        }
        self.note_status(vs, "ValueSet", canonical.clone());
        self.stack.push(canonical);
        let result = self.expand_inner(vs);
        self.stack.pop();
        result
    }

    fn expand_inner(&mut self, vs: &Value) -> Result<Vec<Member>, FhirError> {
        let compose = match vs.get("compose") {
            Some(c) => c,
            None => {
                // A value set given already expanded.
                return Ok(Vec::new());
            }
        };
        let parts = ["include", "exclude"]
            .iter()
            .map(|k| compose.get(*k).and_then(Value::as_array).map_or(0, Vec::len))
            .sum::<usize>();
        if parts > MAX_COMPOSE_PARTS {
            return Err(too_costly(format!(
                "The value set '{}' has {parts} includes and excludes; at most {MAX_COMPOSE_PARTS} are expanded",
                vs_canonical(vs)
            )));
        }
        let versions_match = expansion_parameter(vs, "versionsMatch").map(|v| v == "true");
        let includes: Vec<&Value> = compose.get("include").and_then(Value::as_array).into_iter().flatten().collect();
        let mut out: Vec<Member> = Vec::new();
        let mut seen: HashMap<(String, Option<String>, String), usize> = HashMap::new();
        // Merging keeps the first include's entry (its display) and reports
        // the latest version; otherwise later versions come first.
        let order = match versions_match {
            Some(true) => (0..includes.len()).collect(),
            _ => include_order(&includes),
        };
        for i in order {
            for m in self.include(vs, includes[i], &format!("ValueSet.compose.include[{i}]"))? {
                // `versionsMatch=true`: one entry per code whatever the
                // version, reporting the latest version.
                let key = match versions_match {
                    Some(true) => (m.cs.url.clone(), None, m.concept().code.clone()),
                    _ => m.key(),
                };
                match seen.get(&key) {
                    None => {
                        seen.insert(key, out.len());
                        out.push(m);
                    }
                    Some(&at) => {
                        let newer = compare_versions(
                            m.cs.version.as_deref().unwrap_or_default(),
                            out[at].version_shown().unwrap_or_default(),
                        );
                        if newer.is_gt() {
                            out[at].merged_version = m.cs.version.clone();
                        }
                        self.versions_matched = true;
                    }
                }
            }
        }
        // An exclude of a whole version removes its codes from every
        // version (the difference between two versions) unless
        // `versionsMatch=false`; an exclude naming codes or filters removes
        // them from the version it names only.
        let mut excluded: HashSet<(String, Option<String>, String)> = HashSet::new();
        for (i, exc) in compose.get("exclude").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let whole = exc.get("concept").is_none() && exc.get("filter").is_none();
            let across = whole && versions_match != Some(false);
            for m in self.include(vs, exc, &format!("ValueSet.compose.exclude[{i}]"))? {
                excluded.insert(match across {
                    true => (m.cs.url.clone(), None, m.concept().code.clone()),
                    false => m.key(),
                });
            }
        }
        let inactive_ok = compose.get("inactive").and_then(Value::as_bool).unwrap_or(true) && !self.opts.active_only;
        let mut matched = false;
        out.retain(|m| {
            let across = excluded.contains(&(m.cs.url.clone(), None, m.concept().code.clone()));
            matched |= across && m.cs.version.is_some();
            !excluded.contains(&m.key()) && !across && (inactive_ok || !m.concept().is_inactive())
        });
        self.versions_matched |= matched;
        Ok(out)
    }

    /// Notes a status worth reporting: any of a code system's, only a
    /// value set's standards status (withdrawn, deprecated).
    fn note_status(&mut self, resource: &Value, kind: &'static str, canonical: String) {
        let status = Status::of(resource)
            .filter(|s| kind == "CodeSystem" || matches!(s, Status::Withdrawn | Status::Deprecated));
        if let Some(status) = status {
            let note = (status, kind, canonical);
            if !self.status_notes.contains(&note) {
                self.status_notes.push(note);
            }
        }
    }

    /// Chooses the version of `url` for an include naming `version`.
    pub fn pick(&mut self, url: &str, version: Option<&str>) -> Result<Arc<CodeSystem>, Missing> {
        let version = version.filter(|v| !v.is_empty());
        let forced = version_for(&self.opts.force, url);
        // A versionless include takes the version `system-version` gives,
        // else the one `check-system-version` requires.
        let given = [("system-version", &self.opts.default), ("check-system-version", &self.opts.check)]
            .into_iter()
            .find_map(|(name, list)| Some((name, url, version_for(list, url)?)))
            .filter(|_| forced.is_none() && version.is_none());
        if let Some((name, url, v)) = given {
            let applied = (name, format!("{url}|{v}"));
            if !self.applied.contains(&applied) {
                self.applied.push(applied);
            }
        }
        let wanted = forced.or(version).or(given.map(|(_, _, v)| v));
        let cs = self.reg.code_system(url, wanted)?;
        let cs = self.reg.with_supplements(cs, &self.opts.supplements);
        let canonical = cs.canonical();
        if !self.used_systems.contains(&canonical) {
            if cs.content == "fragment" {
                self.used_fragments.push(canonical.clone());
            }
            self.note_status(&cs.resource, "CodeSystem", canonical.clone());
            self.used_systems.push(canonical);
        }
        Ok(cs)
    }

    fn include(&mut self, vs: &Value, inc: &Value, path: &str) -> Result<Vec<Member>, FhirError> {
        self.check_budget()?;
        let set = self.include_inner(vs, inc, path)?;
        self.gathered += set.len();
        self.check_budget()?;
        Ok(set)
    }

    fn include_inner(&mut self, vs: &Value, inc: &Value, path: &str) -> Result<Vec<Member>, FhirError> {
        let mut set: Option<Vec<Member>> = None;
        if let Some(system) = inc.get("system").and_then(Value::as_str) {
            let system = self.reg.builtins.resolve(system);
            let version = inc.get("version").and_then(Value::as_str);
            self.includes.push((system.to_string(), version.map(str::to_string)));
            let cs = match self.pick(system, version) {
                Ok(cs) => cs,
                // Validating: the codes are checked against the version the
                // parameters give, else the latest, and the coding reports
                // the include's unknown version.
                Err(Missing::Version(_)) if self.validating => {
                    let fallback =
                        version_for(&self.opts.default, system).or_else(|| version_for(&self.opts.check, system));
                    match self.reg.code_system(system, fallback).or_else(|_| self.reg.code_system(system, None)) {
                        Ok(cs) => self.reg.with_supplements(cs, &self.opts.supplements),
                        Err(missing) => return Err(unknown_system_error(system, version, &missing)),
                    }
                }
                // Validating: a code of a system nobody knows is reported
                // on the code; the other includes still count.
                Err(Missing::System) if self.validating => return Ok(Vec::new()),
                Err(missing) => return Err(unknown_system_error(system, version, &missing)),
            };
            if let Some(check) = version_for(&self.opts.check, system).filter(|_| !self.validating) {
                let v = cs.version.clone().unwrap_or_default();
                if !version_matches(check, &v) {
                    return Err(FhirError::unprocessable(
                        Issue::error("exception", format!("The version '{v}' is not allowed for system '{system}': required to be '{check}' by a version-check parameter"))
                            .tx("version-error")
                            .id(MessageId::ValuesetVersionCheck),
                    ));
                }
            }
            let mut members: Vec<usize> = match inc.get("concept").and_then(Value::as_array) {
                Some(list) => list.iter().filter_map(|c| c["code"].as_str()).filter_map(|code| cs.find(code)).collect(),
                None => match (cs.builtin, &self.text_filter) {
                    (Some(system), Some(_)) => self.search_hits(&cs, system),
                    _ => (0..cs.concepts.len()).collect(),
                },
            };
            for (j, f) in inc.get("filter").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let keep = super::filter::filter(&cs, f, &format!("{path}.filter[{j}]"))?;
                members.retain(|i| keep[*i]);
            }
            set = Some(members.into_iter().map(|idx| Member { cs: cs.clone(), idx, merged_version: None }).collect());
        }
        for imported in inc.get("valueSet").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            let members = self.import(vs, imported)?;
            set = Some(match set {
                None => members,
                Some(current) => {
                    let keys: HashSet<(String, String)> =
                        members.iter().map(|m| (m.cs.url.clone(), m.concept().code.clone())).collect();
                    current
                        .into_iter()
                        .filter(|m| keys.contains(&(m.cs.url.clone(), m.concept().code.clone())))
                        .collect()
                }
            });
        }
        Ok(set.unwrap_or_default())
    }

    /// The concepts of built-in `system` the search engine finds for the
    /// text filter, best first (at most `search_limit`).
    fn search_hits(&mut self, cs: &CodeSystem, system: usize) -> Vec<usize> {
        if let Some(h) = self.hits.get(&system) {
            return h.clone();
        }
        let q = self.text_filter.clone().unwrap_or_default();
        let req = crate::search::SearchRequest {
            q: &q,
            system: Some(system),
            limit: self.search_limit,
            level: None,
            leaf: false,
            level_only: false,
            no_context: false,
            unexplained: false,
        };
        let snap = &self.reg.snapshot;
        let hits = crate::search::search(snap, &req).unwrap_or_default();
        self.truncated |= hits.len() >= self.search_limit;
        let found: Vec<usize> = hits.iter().filter_map(|h| cs.find(&snap.concept(h.concept).code)).collect();
        self.hits.insert(system, found.clone());
        found
    }

    fn import(&mut self, from: &Value, url: &str) -> Result<Vec<Member>, FhirError> {
        let (u, v) = split_canonical(url);
        let version = v.or_else(|| version_for(&self.opts.valueset_versions, u));
        // A contained value set.
        let contained = u
            .strip_prefix('#')
            .and_then(|id| from.get("contained")?.as_array()?.iter().find(|r| r["id"].as_str() == Some(id)).cloned());
        let vs = match contained.or_else(|| self.reg.value_set(u, version)) {
            Some(vs) => vs,
            None => {
                let text = match version {
                    Some(v) => format!("A definition for the value Set '{u}|{v}' could not be found"),
                    None => format!("A definition for the value Set '{u}' could not be found"),
                };
                return Err(FhirError::not_found(text)
                    .with_tx("not-found")
                    .with_id(MessageId::UnableToResolveValueSet));
            }
        };
        let canonical = vs_canonical(&vs);
        // A contained value set is part of its container, not one used.
        if !u.starts_with('#') && !self.used_valuesets.contains(&canonical) {
            self.used_valuesets.push(canonical.clone());
        }
        self.imports += 1;
        if self.imports > MAX_IMPORTS || self.stack.len() >= MAX_IMPORT_DEPTH {
            return Err(too_costly(format!(
                "The value set imports more than {MAX_IMPORTS} value sets, or nests them deeper than {MAX_IMPORT_DEPTH}"
            )));
        }
        // A value set imported twice is expanded once (but a cycle is still found).
        let key = if u.starts_with('#') { None } else { Some(canonical.clone()) };
        if let Some(members) = key.as_ref().and_then(|k| self.imported.get(k))
            && !self.stack.contains(&canonical)
        {
            return Ok(members.clone());
        }
        let members = self.expand(&vs)?;
        if let Some(k) = key {
            self.imported.insert(k, members.clone());
        }
        Ok(members)
    }
}

/// The error for a system (or version) an include or a coding names and
/// that is not known.
pub fn unknown_system_error(system: &str, version: Option<&str>, missing: &Missing) -> FhirError {
    let text = match (missing, version) {
        (Missing::Version(known), Some(v)) => format!(
            "A definition for CodeSystem '{system}' version '{v}' could not be found, so the value set cannot be expanded. Valid versions: {}",
            known.join(" or ")
        ),
        _ => format!("A definition for CodeSystem '{system}' could not be found, so the value set cannot be expanded"),
    };
    FhirError::not_found(text).with_tx("not-found").with_id(if matches!(missing, Missing::Version(_)) {
        MessageId::UnknownCodesystemVersionExp
    } else {
        MessageId::UnknownCodesystemExp
    })
}
