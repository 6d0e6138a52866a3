//! The default sources, fetched from their pinned packages and loaded: the
//! counts and hierarchies the issue and the upstream files promise.

mod common;

use harmonie::search::{MatchKind, SearchRequest, search};

fn level_counts(system: &str) -> Vec<(String, usize)> {
    let snap = common::snapshot();
    let s = snap.system_index(system).unwrap();
    snap.systems[s].level_counts()
}

#[test]
fn naf_2008_has_its_five_levels() {
    let counts: Vec<usize> = level_counts("naf").into_iter().map(|(_, n)| n).collect();
    assert_eq!(counts, [21, 88, 272, 615, 732]);
    assert_eq!(counts.iter().sum::<usize>(), 1728);
}

#[test]
fn pcs_2003_has_571_concepts_on_four_levels() {
    let counts: Vec<usize> = level_counts("pcs").into_iter().map(|(_, n)| n).collect();
    assert_eq!(counts, [8, 24, 42, 497]);
    assert_eq!(counts.iter().sum::<usize>(), 571);
}

#[test]
fn cim10_has_every_atih_code_under_chapters_and_blocks() {
    let snap = common::snapshot();
    let s = snap.system_index("cim10").unwrap();
    let counts = snap.systems[s].level_counts();
    let codes: usize = counts[2..].iter().map(|(_, n)| n).sum();
    assert_eq!(codes, 42_886);
    assert_eq!(counts[0].1, 22, "chapters");
    assert!(counts[1].1 >= 260, "blocks: {}", counts[1].1);
    // Every category hangs from a block, or from its chapter when no block covers it.
    for r in snap.concepts_of(s) {
        let c = snap.concept(r);
        if c.level == 2 {
            let parent = snap.concept(snap.parent(r).unwrap());
            assert!(parent.level <= 1, "{} under {}", c.code, parent.code);
        }
    }
    let m545 = snap.lookup(s, "m545").unwrap();
    let path: Vec<&str> = snap.ancestors(m545).into_iter().map(|a| snap.concept(a).code.as_str()).collect();
    assert_eq!(path, ["XIII", "M50-M54", "M54"]);
    assert_eq!(snap.concept(snap.lookup(s, "M50-M54").unwrap()).display, "Autres dorsopathies");
    let report = &snap.manifest.systems.iter().find(|x| x.id == "cim-10").unwrap().report;
    assert_eq!(report.notes["categories outside any block (attached to their chapter)"], 5);
}

#[test]
fn labels_are_repaired_and_counted() {
    let snap = common::snapshot();
    let naf = snap.system_index("naf").unwrap();
    let r = snap.lookup(naf, "47.52B").unwrap();
    assert!(snap.concept(r).display.ends_with("(400 m2 et plus)"), "{}", snap.concept(r).display);
    assert_eq!(snap.concept(snap.lookup(naf, "A").unwrap()).display, "Agriculture, sylviculture et pêche");
    for s in &snap.systems {
        for c in &s.concepts {
            assert!(
                !c.display.contains("  ") && c.display.trim() == c.display && !c.display.is_empty(),
                "{} {:?}",
                c.code,
                c.display
            );
        }
    }
    let naf_report = &snap.manifest.systems[naf].report;
    assert!(naf_report.notes["labels with spacing repaired"] > 0);
}

#[test]
fn every_spelling_finds_the_same_concept() {
    let snap = common::snapshot();
    let naf = snap.system_index("naf").unwrap();
    let cim = snap.system_index("cim10").unwrap();
    let pcs = snap.system_index("pcs").unwrap();
    for code in ["1071c", "10.71 C", "10.71C", "1071C"] {
        assert_eq!(snap.concept(snap.lookup(naf, code).unwrap()).code, "10.71C");
    }
    for code in ["M545", "m54.5", "M54.5"] {
        assert_eq!(snap.concept(snap.lookup(cim, code).unwrap()).code, "M54.5");
    }
    assert_eq!(snap.concept(snap.lookup(pcs, "526A").unwrap()).code, "526a");
    assert_eq!(snap.concept(snap.lookup(pcs, "10").unwrap()).code, "N2-10");
    assert_eq!(snap.concept(snap.lookup(pcs, "21").unwrap()).code, "21");
}

#[test]
fn search_answers_codes_and_words_in_each_system() {
    let snap = common::snapshot();
    let top = |system: &str, q: &str| {
        let s = snap.system_index(system).unwrap();
        let hits = search(
            &snap,
            &SearchRequest {
                q,
                system: Some(s),
                limit: 5,
                level: None,
                leaf: false,
                level_only: false,
                no_context: false,
                unexplained: false,
            },
        )
        .unwrap();
        hits.into_iter().map(|h| (snap.concept(h.concept).code.clone(), h.kind)).collect::<Vec<_>>()
    };
    assert_eq!(top("naf", "1071c")[0], ("10.71C".to_string(), MatchKind::ExactCode));
    assert_eq!(top("naf", "boulang")[0].0, "10.71C");
    assert!(top("pcs", "aide soign").iter().any(|(c, _)| c == "526a"));
    assert!(top("cim10", "lomb").iter().any(|(c, _)| c.starts_with("M54.5")));
    assert_eq!(top("cim10", "canal carpien")[0].0, "G56.0");
    let j45 = top("cim10", "j45");
    assert_eq!(j45[0], ("J45".to_string(), MatchKind::ExactCode));
    assert!(j45[1..].iter().all(|(c, k)| c.starts_with("J45.") && *k == MatchKind::CodePrefix));
}
