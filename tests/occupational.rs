//! Occupational reference data on real data: the tables of occupational
//! diseases (mp-rg, mp-ra) from the LEGI code files, their curated links to
//! CIM-10, PCS 2020 and CCAM (data/official/), and the examinations of
//! sst-examens linked to CCAM acts.

mod common;

use harmonie::model::PropertyKind;
use harmonie::search::{SearchRequest, search};
use serde_json::Value;

fn counts(system: &str) -> Vec<usize> {
    let snap = common::snapshot();
    let s = snap.system_index(system).unwrap_or_else(|| panic!("{system} is served"));
    snap.systems[s].level_counts().into_iter().map(|(_, n)| n).collect()
}

fn codes(system: Option<&str>, q: &str, n: usize) -> Vec<String> {
    let snap = common::snapshot();
    let s = system.map(|s| snap.system_index(s).unwrap());
    let req = SearchRequest {
        q,
        system: s,
        limit: n,
        level: None,
        leaf: false,
        level_only: false,
        no_context: false,
        unexplained: false,
    };
    search(&snap, &req)
        .unwrap()
        .iter()
        .map(|h| format!("{}:{}", snap.system_of(h.concept).id, snap.concept(h.concept).code))
        .collect()
}

#[test]
fn every_table_of_both_annexes_is_loaded() {
    // Code de la sécurité sociale, annexe II: 120 tables in force (1 to 102
    // with the bis and ter); Code rural, annexe II: 62 tables.
    let rg = counts("mp-rg");
    let ra = counts("mp-ra");
    assert_eq!(rg[0], 120, "régime général tables");
    assert_eq!(ra[0], 62, "régime agricole tables");
    // Every table is split into rows: a table without a row would have been
    // kept whole and counted in the load report.
    let snap = common::snapshot();
    for id in ["mp-rg", "mp-ra"] {
        let s = snap.system_index(id).unwrap();
        for t in snap.concepts_of(s).filter(|&r| snap.concept(r).level == 0) {
            assert!(snap.children(t).next().is_some(), "{} has no row", snap.concept(t).code);
        }
        let summary = snap.manifest.systems.iter().find(|x| x.id == id).unwrap();
        assert!(!summary.report.notes.contains_key("tables kept whole (rows not split)"), "{:?}", summary.report);
    }
    assert!(rg[2] > 300 && ra[2] > 150, "disease rows: {rg:?} {ra:?}");
}

#[test]
fn a_table_row_carries_its_delai_duree_and_works() {
    let snap = common::snapshot();
    let s = snap.system_index("mp-rg").unwrap();
    let c = snap.concept(snap.lookup(s, "rg57-c3").unwrap());
    assert_eq!(c.display, "Syndrome du canal carpien");
    assert_eq!(c.property(PropertyKind::Delai), Some("30 jours"));
    assert!(c.property(PropertyKind::Travaux).unwrap().contains("appui carpien"));
    let shoulder = snap.concept(snap.lookup(s, "RG57-A2").unwrap());
    assert_eq!(shoulder.property(PropertyKind::Delai), Some("6 mois"));
    assert_eq!(shoulder.property(PropertyKind::DureeExposition), Some("6 mois"));
    let asbestosis = snap.concept(snap.lookup(s, "RG 30 A").unwrap_or_else(|| snap.lookup(s, "RG30-A").unwrap()));
    assert!(asbestosis.display.starts_with("Asbestose"), "{}", asbestosis.display);
    assert_eq!(asbestosis.property(PropertyKind::Delai), Some("35 ans"));
    assert_eq!(asbestosis.property(PropertyKind::DureeExposition), Some("2 ans"));
    let table = snap.concept(snap.lookup(s, "RG57").unwrap());
    assert!(table.display.starts_with("Tableau n° 57 : Affections périarticulaires"), "{}", table.display);
    assert_eq!(table.property(PropertyKind::ListeTravaux), Some("limitative"));
    assert!(table.property(PropertyKind::EnVigueurDepuis).is_some_and(harmonie::clock::is_date));
    let hearing = snap.concept(snap.lookup(s, "RG42-1").unwrap());
    assert!(hearing.display.starts_with("Hypoacousie de perception"), "{}", hearing.display);
    // The explanatory lines under the disease belong to it, not to new rows.
    assert!(snap.lookup(s, "RG42-2").is_none());
    assert!(hearing.definition.as_deref().unwrap().contains("audiométrie tonale liminaire"));
}

#[test]
fn cim10_codes_name_the_tables_that_may_cover_them() {
    let snap = common::snapshot();
    let cim = snap.system_index("cim-10").unwrap();
    // (CIM-10 code, a table row that must cover it)
    let links = [
        ("G56.0", "RG57-C3"),
        ("G56.0", "RA39-C3"),
        ("M77.1", "RG57-B1"),
        ("M75.1", "RG57-A1"),
        ("H83.3", "RG42-1"),
        ("H83.3", "RA46-1"),
        ("M51.1", "RG98-1"),
        ("M51.1", "RG97-1"),
        ("M51.1", "RA57BIS-1"),
        ("J61", "RG30-A"),
        ("C45.0", "RG30-D"),
        ("C34", "RG30BIS-1"),
        ("J62.8", "RG25-A2"),
        ("L23", "RG65-1"),
        ("J45.0", "RG66-2"),
        ("G20", "RA58-1"),
    ];
    for (code, row) in links {
        let r = snap.lookup(cim, code).unwrap();
        let out = harmonie::api::concepts::concept_out(&snap, r);
        let m = out.mappings.iter().find(|m| m.code == row && m.direction == harmonie::api::concepts::Direction::From);
        let m = m.unwrap_or_else(|| panic!("{code} does not name {row}"));
        assert!(m.notice.as_deref().is_some_and(|n| n.contains("pas une décision")), "{code}");
        assert!(m.conditions.iter().any(|p| p.kind == PropertyKind::Delai), "{code} {row}: no délai");
        assert!(m.display.as_deref().is_some_and(|d| !d.is_empty()));
    }
    // And the other way: a table row lists its CIM-10 codes.
    let rg = snap.system_index("mp-rg").unwrap();
    let out = harmonie::api::concepts::concept_out(&snap, snap.lookup(rg, "RG30-D").unwrap());
    let to: Vec<&str> = out
        .mappings
        .iter()
        .filter(|m| m.direction == harmonie::api::concepts::Direction::To)
        .map(|m| m.code.as_str())
        .collect();
    assert_eq!(to, ["C45.0", "C45.1", "C45.2"]);
}

#[test]
fn pcs_2020_is_served_in_the_pcs_family_with_its_four_levels() {
    assert_eq!(counts("pcs-2020"), [6, 29, 121, 311]);
    let snap = common::snapshot();
    let s = snap.system_index("pcs-2020").unwrap();
    // PCS 2003 stays the family default.
    assert_eq!(snap.system_index("pcs"), snap.system_index("pcs-2003"));
    let c = snap.concept(snap.lookup(s, "21e2").unwrap());
    assert_eq!(c.code, "21E2");
    assert!(c.designations.iter().any(|d| d.value == "chauffeur"));
    assert_eq!(snap.concept(snap.parent(snap.lookup(s, "21E2").unwrap()).unwrap()).code, "21E");
    assert!(codes(Some("pcs-2020"), "transporteurs independants", 3).contains(&"pcs-2020:21E2".to_string()));
}

#[test]
fn ccam_is_served_with_its_tree_and_acts() {
    assert_eq!(counts("ccam"), [19, 91, 566, 1048, 8593]);
    let snap = common::snapshot();
    let s = snap.system_index("ccam").unwrap();
    let ecg = snap.lookup(s, "deqp003").unwrap();
    assert_eq!(snap.concept(ecg).display, "Électrocardiographie sur au moins 12 dérivations");
    assert_eq!(snap.concept(snap.parent(ecg).unwrap()).code, "04.01.01.01");
    assert!(snap.is_codable(ecg));
    assert!(!snap.is_codable(snap.parent(ecg).unwrap()));
    let retired = snap.concepts_of(s).filter(|&r| snap.concept(r).status == harmonie::model::Status::Retired).count();
    assert_eq!(retired, 298, "closed acts");
    assert_eq!(codes(Some("ccam"), "radiographie du thorax", 1), ["ccam:ZBQK002"]);
    // The examinations of occupational health lead to their acts.
    let ex = snap.system_index("sst-examens").unwrap();
    let out = harmonie::api::concepts::concept_out(&snap, snap.lookup(ex, "HAR-E05").unwrap());
    assert!(out.mappings.iter().any(|m| m.system == "ccam" && m.code == "GLQP012"), "spirométrie → GLQP012");
}

#[test]
fn occupational_words_find_tables_and_diagnoses_together() {
    let all = codes(None, "canal carpien", 10);
    for want in ["cim-10:G56.0", "mp-rg:RG57-C3", "mp-ra:RA39-C3"] {
        assert!(all.iter().any(|c| c == want), "{want} not in {all:?}");
    }
    let t57 = codes(None, "tableau 57", 5);
    assert!(t57.contains(&"mp-rg:RG57".to_string()) && t57.contains(&"mp-ra:RA57".to_string()), "{t57:?}");
    let asbestos = codes(None, "amiante", 10);
    assert!(asbestos.contains(&"mp-rg:RG30".to_string()), "{asbestos:?}");
    assert_eq!(codes(Some("mp-rg"), "rg 30 bis", 1), ["mp-rg:RG30BIS"]);
}

#[test]
fn the_api_lists_the_new_systems_and_the_links_both_ways() {
    let addr = common::serve();
    let get = |path: &str| -> Value {
        let mut resp = ureq::get(&format!("http://{addr}{path}")).call().unwrap();
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    };
    let systems = get("/v1/systems");
    let list = systems.as_array().or_else(|| systems["systems"].as_array()).unwrap().clone();
    for id in ["mp-rg", "mp-ra", "pcs-2020", "ccam"] {
        assert!(list.iter().any(|s| s["id"] == id), "{id} not listed");
    }
    // The load report says what was read otherwise than row by row.
    let rg = list.iter().find(|s| s["id"] == "mp-rg").unwrap();
    assert_eq!(rg["levels"][0]["count"], 120);
    assert!(rg["load_report"]["rows holding several designations and délais (kept whole)"].as_u64().is_some(), "{rg}");
    let g560 = get("/v1/systems/cim10/concepts/G56.0");
    let from: Vec<&str> = g560["mappings"].as_array().unwrap().iter().filter_map(|m| m["code"].as_str()).collect();
    assert!(from.contains(&"RG57-C3") && from.contains(&"RA39-C3"), "{from:?}");
    let row = get("/v1/systems/mp-rg/concepts/rg57-c3");
    assert_eq!(row["code"], "RG57-C3");
    assert!(row["properties"].as_array().unwrap().iter().any(|p| p["kind"] == "delai" && p["value"] == "30 jours"));
    // FHIR: $lookup gives the délai; $translate in reverse names the tables.
    let lookup = get("/fhir/CodeSystem/$lookup?system=urn:harmonie:cs:mp-rg&code=RG57-C3");
    let text = lookup.to_string();
    assert!(text.contains("\"delai\"") && text.contains("30 jours"), "{text}");
    let tr = get("/fhir/ConceptMap/$translate?system=urn:harmonie:cs:cim-10&code=G56.0&reverse=true");
    let text = tr.to_string();
    assert!(text.contains("RG57-C3") && text.contains("RA39-C3"), "{text}");
    assert!(text.contains("pas une décision"), "the notice is given: {text}");
    // The table page reads like the table.
    let mut resp = ureq::get(&format!("http://{addr}/systemes/mp-rg/RG57")).call().unwrap();
    let page = resp.body_mut().read_to_string().unwrap();
    assert!(page.contains("Délai de prise en charge") && page.contains("Syndrome du canal carpien"));
    assert!(page.contains("30 jours"));
}
