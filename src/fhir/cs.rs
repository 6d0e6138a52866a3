//! Code systems as the FHIR operations see them: the built-in systems of the
//! snapshot converted to the one in-memory form of [`crate::model::fhir`],
//! which the `CodeSystem` resources a request brings share.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::index::Snapshot;
use crate::model::Status;
pub use crate::model::fhir::*;

impl CodeSystem {
    /// The built-in system `system` of `snap`.
    pub fn from_snapshot(snap: &Snapshot, system: usize) -> CodeSystem {
        let s = &snap.systems[system];
        let refs: Vec<_> = snap.concepts_of(system).collect();
        let base = refs.first().map(|r| r.0).unwrap_or(0);
        let mut concepts = Vec::with_capacity(refs.len());
        let mut shared = Shared::default();
        for &r in &refs {
            let c = snap.concept(r);
            let mut properties =
                vec![("level".to_string(), shared.of(json!({"valueString": s.levels[c.level as usize]})))];
            properties.extend(
                c.properties.iter().map(|p| (p.kind.as_str().to_string(), shared.of(json!({"valueString": p.value})))),
            );
            if c.status == Status::Retired {
                properties.push(("status".into(), shared.of(json!({"valueCode": "retired"}))));
            }
            let not_selectable = !snap.is_codable(r);
            if not_selectable {
                properties.push(("notSelectable".into(), shared.of(json!({"valueBoolean": true}))));
            }
            for by in &c.replaced_by {
                properties.push(("replacedBy".into(), shared.of(json!({"valueCode": by}))));
            }
            concepts.push(Concept {
                code: c.code.clone(),
                display: Some(c.display.clone()),
                definition: c.definition.clone(),
                designations: c
                    .designations
                    .iter()
                    .map(|d| Designation {
                        language: Some("fr".into()),
                        usage: Some(shared.of(json!({"system": DESIGNATION_USE, "code": d.kind.as_str()}))),
                        value: d.value.clone(),
                    })
                    .collect(),
                properties,
                parents: snap.parent(r).map(|p| (p.0 - base) as usize).into_iter().collect(),
                children: snap.children(r).map(|k| (k.0 - base) as usize).collect(),
                parent_codes: Vec::new(),
                not_selectable,
            });
        }
        let mut cs = CodeSystem {
            url: s.url.clone(),
            version: Some(s.version.clone()),
            name: Some(s.id.replace('-', "_")),
            title: Some(s.title.clone()),
            status: Some("active".into()),
            language: Some("fr".into()),
            case_sensitive: false,
            content: "complete".into(),
            supplements: None,
            properties: {
                // The properties of the model this system uses (délai…).
                let mut kinds: Vec<crate::model::PropertyKind> = Vec::new();
                for &r in &refs {
                    for p in &snap.concept(r).properties {
                        if !kinds.contains(&p.kind) {
                            kinds.push(p.kind);
                        }
                    }
                }
                let mut defs = builtin_properties();
                defs.extend(kinds.into_iter().map(|k| PropertyDef {
                    code: k.as_str().into(),
                    uri: None,
                    kind: "string".into(),
                }));
                defs
            },
            concepts,
            index: HashMap::new(),
            resource: Value::Null,
            builtin: Some(system),
        };
        cs.finish();
        cs.resource = cs.summary(snap);
        cs
    }

    /// The `CodeSystem` resource of a built-in system, without its concepts.
    fn summary(&self, snap: &Snapshot) -> Value {
        let s = &snap.systems[self.builtin.unwrap_or_default()];
        json!({
            "resourceType": "CodeSystem",
            "id": s.id,
            "url": s.url,
            "version": s.version,
            "name": self.name,
            "title": s.title,
            "status": "active",
            "experimental": false,
            "publisher": s.publisher,
            "copyright": format!("{} — {}", s.licence, s.attribution),
            "caseSensitive": false,
            "hierarchyMeaning": "is-a",
            "content": "not-present",
            "count": s.concepts.len(),
            "language": "fr",
            "valueSet": format!("{}?fhir_vs", s.url),
            "property": self.properties.iter().map(|p| json!({"code": p.code, "uri": p.uri, "type": p.kind})).collect::<Vec<_>>(),
        })
    }
}

/// One allocation per distinct JSON element of a built-in system (a JSON
/// object is a map of a few hundred bytes: one per concept and designation
/// made the FHIR form of the snapshot 140 MB).
#[derive(Default)]
struct Shared(HashMap<String, Arc<Value>>);

impl Shared {
    /// The shared copy of `v`.
    fn of(&mut self, v: Value) -> Arc<Value> {
        self.0.entry(v.to_string()).or_insert_with(|| Arc::new(v)).clone()
    }
}

fn builtin_properties() -> Vec<PropertyDef> {
    let p = |code: &str, uri: Option<&str>, kind: &str| PropertyDef {
        code: code.into(),
        uri: uri.map(str::to_string),
        kind: kind.into(),
    };
    vec![
        p("parent", Some("http://hl7.org/fhir/concept-properties#parent"), "code"),
        p("child", Some("http://hl7.org/fhir/concept-properties#child"), "code"),
        p("status", Some("http://hl7.org/fhir/concept-properties#status"), "code"),
        p("notSelectable", Some("http://hl7.org/fhir/concept-properties#notSelectable"), "boolean"),
        p("replacedBy", None, "code"),
        p("level", None, "string"),
    ]
}
