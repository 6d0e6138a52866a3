//! Resources served as such: the `CapabilityStatement`, the
//! `TerminologyCapabilities`, the `CodeSystem` of each built-in system and a
//! `ConceptMap` for each correspondence table of the snapshot.

use serde_json::{Value, json};

use super::operations;
use super::registry::Builtins;
use crate::index::Snapshot;

/// FHIR version served.
pub const FHIR_VERSION: &str = "4.0.1";

/// `GET /fhir/metadata`.
pub fn capability_statement(snap: &Snapshot) -> Value {
    let ops = |resource: &str| operations::capabilities(Some(resource));
    json!({
        "resourceType": "CapabilityStatement",
        "url": format!("{}/CapabilityStatement/harmonie", snap.manifest.canonical_base),
        "version": env!("CARGO_PKG_VERSION"),
        "name": "Harmonie",
        "title": "Harmonie — serveur de terminologies en santé au travail",
        "status": "active",
        "date": snapshot_date(snap),
        "publisher": "Harmonie",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "software": {"name": "Harmonie", "version": env!("CARGO_PKG_VERSION"), "releaseDate": snapshot_date(snap)},
        "implementation": {"description": format!("snapshot {}", snap.manifest.id)},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "application/json"],
        "rest": [{
            "mode": "server",
            "resource": [
                {
                    "type": "CodeSystem",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": [
                        {"name": "url", "type": "uri"}, {"name": "version", "type": "token"},
                        {"name": "name", "type": "string"}, {"name": "title", "type": "string"}
                    ],
                    "operation": ops("CodeSystem")
                },
                {
                    "type": "ValueSet",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "operation": ops("ValueSet")
                },
                {
                    "type": "ConceptMap",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "operation": ops("ConceptMap")
                }
            ],
            "interaction": [{"code": "batch"}],
            "operation": operations::capabilities(None)
        }]
    })
}

/// `GET /fhir/metadata?mode=terminology`.
pub fn terminology_capabilities(snap: &Snapshot, builtins: &Builtins) -> Value {
    let expansion_parameters: Vec<Value> = [
        "filter",
        "count",
        "offset",
        "activeOnly",
        "displayLanguage",
        "includeDesignations",
        "includeDefinition",
        "excludeNested",
        "property",
        "tx-resource",
    ]
    .iter()
    .map(|p| json!({"name": p}))
    .collect();
    json!({
        "resourceType": "TerminologyCapabilities",
        "url": format!("{}/TerminologyCapabilities/harmonie", snap.manifest.canonical_base),
        "version": env!("CARGO_PKG_VERSION"),
        "name": "HarmonieTerminologyCapabilities",
        "title": "Harmonie terminology capabilities",
        "status": "active",
        "date": snapshot_date(snap),
        "kind": "instance",
        "software": {"name": "Harmonie", "version": env!("CARGO_PKG_VERSION")},
        "codeSystem": builtins.systems.iter().map(|cs| json!({
            "uri": cs.url,
            "version": [{"code": cs.version, "isDefault": true, "language": ["fr"],
                "filter": [{"code": "concept", "op": ["is-a", "descendent-of", "is-not-a", "generalizes", "child-of", "in", "=", "regex"]}],
                "property": cs.properties.iter().map(|p| p.code.clone()).collect::<Vec<_>>()}],
            "subsumption": true
        })).collect::<Vec<_>>(),
        "expansion": {"hierarchical": false, "paging": true, "incomplete": false,
            "parameter": expansion_parameters,
            "textFilter": "Mots du libellé, préfixes, fautes de frappe, synonymes du lexique, codes"},
        "validateCode": {"translations": false},
        "translation": {"needsMap": false}
    })
}

/// The date of the snapshot's build.
fn snapshot_date(snap: &Snapshot) -> String {
    crate::clock::date_of(snap.manifest.built_at as i64)
}

/// The correspondence tables of the snapshot as `ConceptMap`s.
pub fn concept_maps(snap: &Snapshot) -> Vec<Value> {
    snap.maps
        .iter()
        .map(|m| {
            let target =
                snap.system_index(&m.target).map(|i| snap.systems[i].url.clone()).unwrap_or_else(|| m.target.clone());
            let source = snap
                .system_index(&m.source)
                .map(|i| snap.systems[i].url.clone())
                .unwrap_or_else(|| crate::sources::decl::legacy_urn(&m.source));
            let elements: Vec<Value> = m
                .elements
                .values()
                .map(|e| {
                    let mut el = json!({"code": e.code});
                    if let Some(d) = &e.display {
                        el["display"] = json!(d);
                    }
                    if e.targets.is_empty() {
                        el["target"] = json!([{"equivalence": "unmatched"}]);
                    } else {
                        el["target"] = Value::Array(
                            e.targets
                                .iter()
                                .map(|t| {
                                    let mut v = json!({"code": t.code, "equivalence": t.equivalence.as_str()});
                                    if let Some(s) = t.share {
                                        v["comment"] = json!(format!("share {s}"));
                                    } else if let Some(n) = &t.note {
                                        v["comment"] = json!(n);
                                    }
                                    v
                                })
                                .collect(),
                        );
                    }
                    el
                })
                .collect();
            let mut map = json!({
                "resourceType": "ConceptMap",
                "id": m.id,
                "url": format!("{}/ConceptMap/{}", snap.manifest.canonical_base, m.id),
                "name": m.id.replace('-', "_"),
                "title": m.title,
                "status": "active",
                "sourceUri": source,
                "targetUri": target,
                "group": [{"source": source, "target": target, "element": elements}]
            });
            if let Some(n) = &m.notice {
                map["purpose"] = json!(n);
            }
            map
        })
        .collect()
}
