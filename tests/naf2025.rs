//! NAF 2025 on real data: served beside NAF 2008, the family default by
//! date, and the move of a company base from NAF 2008 with the official
//! table (`data/official/naf2025/`).

mod common;

use harmonie::recode::{Method, Recoder, Transition};

fn naf2025() -> usize {
    common::snapshot().system_index("naf-2025").expect("naf-2025 is served by default")
}

#[test]
fn naf_2025_is_served_with_its_five_levels() {
    let snap = common::snapshot();
    let s = naf2025();
    let counts: Vec<usize> = snap.systems[s].level_counts().into_iter().map(|(_, n)| n).collect();
    assert_eq!(counts[4], 747, "sous-classes");
    assert_eq!(snap.systems[s].family.as_deref(), Some("naf"));
    // The family name follows the date; an explicit version always wins.
    let naf2008 = snap.system_index("naf-2008").unwrap();
    assert_eq!(snap.system_index_as_of("naf", "2026-12-31"), Some(naf2008));
    assert_eq!(snap.system_index_as_of("naf", "2027-01-01"), Some(s));
    assert_eq!(snap.system_index_as_of("naf-2008", "2030-01-01"), Some(naf2008));
}

#[test]
fn a_2008_code_as_of_2027_is_retired_with_what_goes_where() {
    let snap = common::snapshot();
    let (r, retired) = snap.lookup_as_of("naf", "0119Z", "2027-03-01").unwrap();
    assert!(retired);
    assert_eq!(snap.concept(r).code, "01.19Z");
    let repl: Vec<(String, bool)> = snap
        .replacements(r)
        .into_iter()
        .map(|(x, t)| (snap.concept(x).code.clone(), t.note.as_deref().is_some_and(|n| !n.is_empty())))
        .collect();
    assert_eq!(repl, [("01.13Y".to_string(), true), ("01.19Y".to_string(), true)]);
    let (_, retired) = snap.lookup_as_of("naf", "01.19Z", "2026-06-01").unwrap();
    assert!(!retired);
}

#[test]
fn every_one_to_one_link_of_the_official_table_recodes_to_its_target() {
    let snap = common::snapshot();
    let map = snap.maps.iter().find(|m| m.id == "naf2008-naf2025").expect("the official table is loaded");
    let mut recoder = Recoder::new(&snap, naf2025(), harmonie::recode::DEFAULT_THRESHOLD);
    let mut checked = 0;
    for e in map.elements.values().filter(|e| e.targets.len() == 1) {
        let o = recoder.recode(&e.code, "");
        assert_eq!(o.code.as_deref(), Some(e.targets[0].code.as_str()), "{}: {o:?}", e.code);
        assert_eq!(o.method, Method::Transcoded);
        assert!(matches!(o.transition, Some(Transition::OneToOne | Transition::Merged)));
        checked += 1;
    }
    assert_eq!(checked, 732 - 212);
}

#[test]
fn splits_are_settled_by_the_rows_text_or_kept_for_review() {
    let snap = common::snapshot();
    let mut recoder = Recoder::new(&snap, naf2025(), harmonie::recode::DEFAULT_THRESHOLD);
    let text = std::fs::read_to_string(common::root().join("tests/fixtures/naf2025_splits.tsv")).unwrap();
    let (mut decidable, mut settled, mut right) = (0, 0, 0);
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (code, label, expected) = (f[0], f[1], f[2]);
        let o = recoder.recode(code, label);
        if expected == "review" {
            assert!(o.review && o.code.is_none() && o.candidates.len() >= 2, "{code} {label:?}: {o:?}");
            assert_eq!(o.transition, Some(Transition::SplitReview));
            continue;
        }
        decidable += 1;
        if let Some(c) = &o.code {
            settled += 1;
            right += usize::from(c == expected);
            assert_eq!(o.transition, Some(Transition::SplitSettled));
        } else {
            assert!(o.review && o.candidates.iter().any(|(c, _)| c == expected), "{code} {label:?}: {o:?}");
        }
    }
    let share = settled as f64 / decidable as f64;
    let accuracy = right as f64 / settled.max(1) as f64;
    println!("split cases: {decidable} decidable, {settled} settled ({share:.2}), {right} right ({accuracy:.2})");
    assert!(share >= 0.8, "settled share {share:.2}");
    assert!(accuracy >= 0.9, "accuracy {accuracy:.2}");
}

#[test]
fn a_company_base_moves_with_its_transition_report_in_the_same_run() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("base.csv");
    std::fs::write(
        &input,
        "siret;ape;activite\n1;01.19Z;culture de betteraves fourragères\n2;0119Z;\n3;01.11Z;céréales\n4;0113Z;\n5;01.12Y;riz\n",
    )
    .unwrap();
    let report = dir.path().join("transition.json");
    let args = [
        "recode",
        input.to_str().unwrap(),
        "--system",
        "naf-2025",
        "--code-col",
        "ape",
        "--label-col",
        "activite",
        "--report",
        report.to_str().unwrap(),
    ];
    let out = common::harmonie(&common::root(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let (header, rows) = common::csv_records(&out.stdout, b';');
    assert_eq!(rows.len(), 5, "every row once, in order");
    let code = header.iter().position(|h| h == "harmonie_code").unwrap();
    let got: Vec<&str> = rows.iter().map(|r| r[code].as_str()).collect();
    assert_eq!(got, ["01.13Y", "", "01.11Y", "01.13Y", "01.12Y"]);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let t = &r["transition"];
    assert_eq!((t["split_settled"].as_u64(), t["split_review"].as_u64()), (Some(1), Some(1)), "{r}");
    assert_eq!(
        (t["one_to_one"].as_u64(), t["merged"].as_u64(), t["unchanged"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["by_old_code"]["01.19Z"]["split_review"], 1, "keyed by the table's spelling: {r}");
    assert!(
        stderr.contains("transition: merged 1, one_to_one 1, split_review 1, split_settled 1, unchanged 1"),
        "{stderr}"
    );
}

#[test]
fn the_transition_report_over_http_is_the_summary_of_the_same_recode() {
    let addr = common::serve();
    let body = "ape;activite\n01.19Z;culture de luzerne\n01.19Z;\n01.11Z;\n";
    let url = format!("http://{addr}/v1/recode?system=naf-2025&code_col=ape&label_col=activite&report=true");
    let mut res = ureq::post(&url).header("content-type", "text/csv").send(body).unwrap();
    assert_eq!(res.headers().get("content-type").unwrap(), "application/json");
    let summary: serde_json::Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(summary["rows"], 3);
    assert_eq!(summary["transition"]["split_settled"], 1);
    assert_eq!(summary["transition"]["split_review"], 1);
    assert_eq!(summary["transition"]["one_to_one"], 1);
    assert_eq!(summary["transition_by_code"]["01.19Z"]["split_review"], 1);
    // The recode page shows it after the download.
    let mut page = ureq::get(&format!("http://{addr}/recodage")).call().unwrap();
    assert!(page.body_mut().read_to_string().unwrap().contains("Bilan de transition"));
}

#[test]
fn fhir_lookup_with_a_date_says_a_2008_code_is_retired_and_by_what() {
    let addr = common::serve();
    let get = |date: &str| -> serde_json::Value {
        let url =
            format!("http://{addr}/fhir/CodeSystem/$lookup?system=urn:harmonie:cs:naf-2008&code=01.19Z&date={date}");
        serde_json::from_str(&ureq::get(&url).call().unwrap().body_mut().read_to_string().unwrap()).unwrap()
    };
    let props = |p: &serde_json::Value| -> Vec<(String, String)> {
        p["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["name"] == "property")
            .map(|x| {
                let parts = x["part"].as_array().unwrap();
                let value = parts.iter().find(|q| q["name"] == "value").unwrap();
                let v = value.get("valueCode").or(value.get("valueBoolean")).map(|v| v.to_string()).unwrap_or_default();
                (parts[0]["valueCode"].as_str().unwrap().to_string(), v)
            })
            .collect()
    };
    let after = props(&get("2027-03-01"));
    assert!(after.contains(&("inactive".into(), "true".into())), "{after:?}");
    assert!(after.contains(&("status".into(), "\"retired\"".into())), "{after:?}");
    assert!(after.contains(&("replacedBy".into(), "\"01.13Y\"".into())), "{after:?}");
    let before = props(&get("2026-06-01"));
    assert!(before.contains(&("inactive".into(), "false".into())), "{before:?}");
}

#[test]
fn another_text_column_can_settle_a_split() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("base.csv");
    std::fs::write(&input, "ape;enseigne;description\n01.19Z;EARL des Prés;culture de luzerne et de trèfle\n").unwrap();
    let args = ["recode", input.to_str().unwrap(), "--to", "naf-2025", "--code-col", "ape", "--label-col", "enseigne"];
    let without = common::harmonie(&common::root(), &args);
    assert!(without.status.success(), "{}", String::from_utf8_lossy(&without.stderr));
    let (header, rows) = common::csv_records(&without.stdout, b';');
    let code = header.iter().position(|h| h == "harmonie_code").unwrap();
    assert_eq!(rows[0][code], "", "the company name settles nothing");
    let with: Vec<&str> = args.iter().copied().chain(["--text-col", "description"]).collect();
    let out = common::harmonie(&common::root(), &with);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, rows) = common::csv_records(&out.stdout, b';');
    assert_eq!(rows[0][code], "01.19Y", "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_recoders_cache_tells_rows_apart_whatever_their_fields_hold() {
    let snap = common::snapshot();
    let mut recoder = Recoder::new(&snap, naf2025(), harmonie::recode::DEFAULT_THRESHOLD);
    // The same characters split otherwise between code, label and text.
    let rows = [
        ("47.22Z", "", ""),
        ("47.22", "Z", ""),
        ("", "47.22Z", ""),
        ("47.22Z\u{1}", "", ""),
        ("47.2", "2Z", "boucherie"),
        ("47.22Z", "", "boucherie"),
        ("47.22Z", "\u{1}boucherie", ""),
        ("47.22Z\u{1}", "boucherie", ""),
    ];
    let fresh: Vec<_> = rows
        .iter()
        .map(|(c, l, t)| Recoder::new(&snap, naf2025(), harmonie::recode::DEFAULT_THRESHOLD).recode_with_text(c, l, t))
        .collect();
    // Twice through one recoder: every answer is the one a fresh recoder gives.
    for _ in 0..2 {
        for ((c, l, t), expected) in rows.iter().zip(&fresh) {
            assert_eq!(&recoder.recode_with_text(c, l, t), expected, "{c:?} {l:?} {t:?}");
        }
    }
    assert_ne!(fresh[0], fresh[1]);
}
