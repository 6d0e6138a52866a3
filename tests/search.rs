//! Search behaviour on the real default data: what a clinician typing in a
//! form, or a legacy file, must get.

mod common;

use harmonie::search::{How, MatchKind, SearchRequest, search};

/// Codes of the first `n` results.
fn top(system: &str, q: &str, n: usize) -> Vec<String> {
    hits(system, q, n).into_iter().map(|(c, _)| c).collect()
}

fn hits(system: &str, q: &str, n: usize) -> Vec<(String, MatchKind)> {
    let snap = common::snapshot();
    search_with(system, q, n, false).into_iter().map(|h| (snap.concept(h.concept).code.clone(), h.kind)).collect()
}

#[test]
fn accents_case_and_plurals_do_not_matter() {
    for q in ["SECRETAIRE", "secrétaire", "Secrétaires"] {
        assert_eq!(top("pcs", q, 1), ["542a"], "{q}");
    }
    assert_eq!(top("naf", "COMMERCE DE DETAIL FRUITS LEGUMES", 1), ["47.21Z"]);
}

#[test]
fn feminine_forms_meet_the_masculine_labels() {
    assert!(top("pcs", "infirmière", 2).iter().all(|c| c.starts_with("431")));
    assert!(top("pcs", "aide-soignante", 3).contains(&"526a".to_string()));
    assert!(top("pcs", "vendeuse", 5).contains(&"553a".to_string()));
}

#[test]
fn the_word_being_typed_is_a_prefix() {
    assert_eq!(top("cim10", "lomb", 1), ["M54.5"]);
    assert_eq!(top("pcs", "aide soign", 1), ["526a"]);
    assert_eq!(top("naf", "boulang", 1), ["10.71C"]);
    // A finished word (followed by a space) is not a prefix any more.
    assert!(hits("cim10", "lomb ", 5).iter().all(|(c, _)| !c.starts_with("M54.5")));
}

#[test]
fn typos_are_tolerated_from_four_letters() {
    let h = hits("cim10", "canal carpein", 1);
    assert_eq!(h[0], ("G56.0".to_string(), MatchKind::Fuzzy));
    assert!(top("naf", "imprimeire", 2).iter().all(|c| c.starts_with("18.1")));
    assert!(top("pcs", "plombeir", 3).contains(&"632f".to_string()));
    // Three letters get no typo tolerance: "tns" is not "tms".
    assert!(top("cim10", "tns", 5).iter().all(|c| !c.starts_with("M7")));
}

#[test]
fn lexicon_abbreviations_and_lay_terms_reach_codes() {
    let tms = top("cim10", "TMS", 5);
    assert!(tms.contains(&"G56.0".to_string()) && tms.iter().any(|c| c.starts_with("M75")), "{tms:?}");
    assert_eq!(top("pcs", "ASH", 1), ["525d"]);
    assert_eq!(top("pcs", "nounou", 1), ["563a"]);
    assert!(top("cim10", "mal de dos", 3).iter().any(|c| c.starts_with("M54")));
    assert_eq!(top("naf", "BTP gros oeuvre", 1), ["43.99C"]);
    assert!(top("naf", "pizzeria", 2).contains(&"56.10A".to_string()));
}

#[test]
fn codes_in_any_spelling_come_first_then_codes_beneath() {
    assert_eq!(hits("naf", "4722Z", 1)[0], ("47.22Z".to_string(), MatchKind::ExactCode));
    let h = hits("naf", "56.1", 5);
    assert_eq!(h[0], ("56.1".to_string(), MatchKind::ExactCode));
    assert!(h[1..].iter().all(|(c, k)| c.starts_with("56.1") && *k == MatchKind::CodePrefix));
    assert_eq!(top("pcs", "562B", 1), ["562b"]);
    assert_eq!(top("cim10", "a15.1", 1), ["A15.1"]);
}

#[test]
fn a_code_mixed_with_words_restricts_the_words() {
    assert_eq!(top("naf", "10.71 boulangerie", 1), ["10.71C"]);
    assert!(top("naf", "47 fruits", 5).iter().all(|c| c.starts_with("47")));
    // A number that is no code prefix is ignored rather than emptying the results.
    assert!(!top("naf", "99.9 boulangerie", 5).is_empty());
}

#[test]
fn long_descriptions_get_flagged_partial_candidates() {
    let h = hits("naf", "Pizzeria, snack, restauration rapide sur place et à emporter.", 5);
    assert!(h.iter().any(|(c, _)| c == "56.10C"), "{h:?}");
    assert!(h.iter().any(|(_, k)| *k == MatchKind::Partial), "{h:?}");
}

#[test]
fn codable_levels_come_before_groups_by_default_and_level_is_honoured() {
    let snap = common::snapshot();
    let naf = snap.system_index("naf").unwrap();
    let first = |q: &str, level: Option<&str>, leaf: bool| {
        let h = search(
            &snap,
            &SearchRequest {
                q,
                system: Some(naf),
                limit: 1,
                level,
                leaf,
                level_only: false,
                no_context: false,
                unexplained: false,
            },
        )
        .unwrap();
        snap.concept(h[0].concept).code.clone()
    };
    // "pain" is in a classe and in its sous-classes, all matched in order.
    assert_eq!(first("pain", None, false), "10.71A");
    assert_eq!(first("pain", Some("classe"), false), "10.71");
    assert_eq!(first("pain", Some("3"), false), "10.71");
    assert_eq!(first("pain", None, true), "10.71A");
    // The kind of match still comes first: an exact label beats the level asked.
    assert_eq!(first("boulangerie", Some("groupe"), false), "10.71C");
}

#[test]
fn explain_says_how_each_word_matched() {
    let h = search_with("cim10", "canal carpein", 1, false);
    let how: Vec<(String, How)> = h[0].matched.iter().map(|m| (m.term.clone(), m.how)).collect();
    assert_eq!(how, [("canal".to_string(), How::Exact), ("carpein".to_string(), How::Fuzzy)]);
    let h = search_with("cim10", "TMS", 1, false);
    assert_eq!((h[0].matched[0].how, h[0].matched[0].field), (How::Synonym, "synonym"));
}

#[test]
fn ranking_is_deterministic() {
    for q in ["lomb", "aide", "commerce", "a"] {
        assert_eq!(top("cim10", q, 20), top("cim10", q, 20), "{q}");
        assert_eq!(top("naf", q, 20), top("naf", q, 20), "{q}");
    }
}

fn search_with(system: &str, q: &str, n: usize, no_context: bool) -> Vec<harmonie::search::Hit> {
    let snap = common::snapshot();
    let s = snap.system_index(system).unwrap();
    search(
        &snap,
        &SearchRequest {
            q,
            system: Some(s),
            limit: n,
            level: None,
            leaf: false,
            level_only: false,
            no_context,
            unexplained: false,
        },
    )
    .unwrap()
}

fn codes_of(hits: &[harmonie::search::Hit]) -> Vec<String> {
    let snap = common::snapshot();
    hits.iter().map(|h| snap.concept(h.concept).code.clone()).collect()
}

#[test]
fn clinicians_words_reach_the_nomenclature_through_family_rules() {
    // One rule, "cancer" ⇒ "tumeur maligne", for organs no line names.
    assert_eq!(top("cim10", "cancer de la vessie", 1), ["C67"]);
    assert_eq!(top("cim10", "cancer du larynx", 1), ["C32"]);
    assert_eq!(top("cim10", "K du pancréas", 1), ["C25"]);
    // Adjective for noun: "pulmonaire" meets "poumon".
    assert!(top("cim10", "cancer pulmonaire", 3).contains(&"C34".to_string()));
    // Inclusion terms and abbreviations attached to codes.
    assert_eq!(top("cim10", "bronchite chronique obstructive", 1), ["J44"]);
    assert_eq!(top("cim10", "syndrome anxio-dépressif", 1), ["F41.2"]);
    assert_eq!(top("cim10", "électrocution", 1), ["T75.4"]);
    assert!(top("cim10", "TVP", 2).iter().any(|c| c.starts_with("I80")));
}

#[test]
fn a_cancer_without_qualifier_is_the_primary_tumour() {
    let first = top("cim10", "cancer du poumon", 1);
    assert_eq!(first, ["C34"], "secondary tumours (C78) come after");
    assert!(top("cim10", "métastase pulmonaire", 3).iter().any(|c| c.starts_with("C78")));
    let hits = search_with("cim10", "cancer du poumon", 5, true);
    assert!(codes_of(&hits).iter().any(|c| c.starts_with("C78")), "without context the secondary tumour is back");
}

#[test]
fn legacy_titles_recode_old_files() {
    // E10 was "Diabète sucré insulino-dépendant" before the type 1 wording.
    assert_eq!(top("cim10", "Diabète sucré insulino-dépendant", 1), ["E10"]);
    assert_eq!(top("cim10", "diabete non insulino dependant", 1), ["E11"]);
    // An ATIH 2015-2018 title, from data/curated/cim10-legacy-labels.tsv.
    assert_eq!(top("cim10", "Sclérose systémique progressive", 1), ["M34.0"]);
    let snap = common::snapshot();
    let cim = snap.system_index("cim10").unwrap();
    let m34 = snap.concept(snap.lookup(cim, "M34").unwrap());
    assert!(m34.designations.iter().any(|d| d.kind == harmonie::model::DesignationKind::Legacy));
}

#[test]
fn salaried_trades_come_first_unless_the_query_says_self_employed() {
    assert_eq!(top("pcs", "couvreur", 1), ["632e"]);
    assert_eq!(top("pcs", "boucher", 1), ["636a"]);
    assert_eq!(top("pcs", "artisan couvreur", 1), ["211c"]);
    let hits = search_with("pcs", "couvreur", 5, false);
    let snap = common::snapshot();
    let artisan = hits.iter().find(|h| snap.concept(h.concept).code == "211c").expect("211c still listed");
    assert_eq!(snap.priors[artisan.prior.unwrap()].prior.id, "salaries-d-abord");
    // context=none: no prior moves anything.
    assert!(search_with("pcs", "couvreur", 5, true).iter().all(|h| h.prior.is_none()));
}

#[test]
fn work_is_work_unless_an_obstetric_word_says_labour() {
    let first = top("cim10", "souffrance au travail", 5);
    assert!(first[0].starts_with("Z56"), "{first:?}");
    assert!(first.iter().all(|c| !c.starts_with('O')), "{first:?}");
    assert!(top("cim10", "travail prolongé grossesse", 3).iter().any(|c| c.starts_with("O63")));
}

#[test]
fn shop_words_mean_the_retail_sous_classe() {
    assert_eq!(top("naf", "boucherie", 1), ["47.22Z"]);
    assert_eq!(top("naf", "vente de chaussures", 1), ["47.72A"]);
    // Bakeries stay where INSEE codes them.
    assert_eq!(top("naf", "boulangerie", 1), ["10.71C"]);
}

#[test]
fn framing_words_are_optional() {
    assert_eq!(top("naf", "cabinet de kinésithérapie", 1), ["86.90E"]);
    assert_eq!(top("naf", "centre hospitalier", 1), ["86.10Z"]);
    assert_eq!(top("naf", "magasin de bricolage", 1), ["47.52B"]);
}

#[test]
fn no_dead_end_a_loose_search_says_so() {
    let hits = search_with("pcs", "secraitaire", 3, false);
    assert_eq!(codes_of(&hits)[0], "542a");
    assert!(hits.iter().all(|h| h.fallback));
    // A word close to nothing in this system still gets the nearest family.
    let hits = search_with("naf", "Enseignant indépendant", 3, false);
    assert!(!hits.is_empty() && hits.iter().all(|h| h.fallback));
    assert!(codes_of(&hits).iter().all(|c| c.starts_with("85")), "{:?}", codes_of(&hits));
    // Strict matches are not marked.
    assert!(search_with("pcs", "secrétaire", 3, false).iter().all(|h| !h.fallback));
    // Nothing at all, even loosely: the only empty answer.
    assert!(search_with("naf", "qqqqzzzz", 3, false).is_empty());
}

#[test]
fn long_descriptions_are_read_in_bounded_time() {
    // What a register holds: the activity first, then conditions and formalities.
    let mut text = String::from(
        "Pizzeria, snack, restauration rapide sur place et à emporter : pizzas cuites au feu de bois, \
         sandwichs, salades, desserts maison et boissons. ",
    );
    while text.chars().count() < 4_000 {
        text.push_str("La société pourra réaliser toutes opérations se rattachant directement ou indirectement à l'objet social. ");
    }
    let first = top("naf", &text, 3);
    assert!(first.iter().any(|c| c.starts_with("56.10")), "{first:?}");
}

#[test]
fn frequent_words_rank_as_if_every_candidate_were_graded() {
    // A frequent word grades only the likeliest candidates (search::MAX_GRADED);
    // its results must be those of grading them all, typed or finished,
    // in one system or all, at every level filter.
    let snap = common::snapshot();
    let words = [
        "autres",
        "autre",
        "précisées",
        "maladie",
        "tumeur",
        "activités",
        "commerce",
        "fabrication",
        "travail",
        // What a form sends after two letters.
        "lo",
        "bo",
        "ai",
        "ca",
        "as",
        "co",
        "ma",
    ];
    let mut checked = 0;
    for system in [Some("cim10"), Some("naf"), Some("naf-2025"), Some("pcs"), Some("ccam"), None] {
        for w in words {
            for q in [w.to_string(), format!("{w} ")] {
                for level in [None, Some("sous-classe")] {
                    let req = SearchRequest {
                        q: &q,
                        system: system.map(|s| snap.system_index(s).unwrap()),
                        limit: 10,
                        level,
                        ..Default::default()
                    };
                    let codes = |hits: Vec<harmonie::search::Hit>| -> Vec<String> {
                        hits.iter().map(|h| snap.concept(h.concept).code.clone()).collect()
                    };
                    let bounded = codes(search(&snap, &req).unwrap());
                    let all = codes(harmonie::search::search_exhaustive(&snap, &req).unwrap());
                    assert_eq!(bounded, all, "{q:?} in {system:?} at {level:?}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * words.len() * 2 * 2);
}

#[test]
fn the_bm25_fallback_ranks_as_tantivy_does() {
    // The free-text fallback scores on the snapshot's own postings; tantivy's
    // query on the text index is the reference. Long descriptions (every one
    // goes through the fallback), with and without a system, and words
    // matching nothing strictly (the loose plan's fallback).
    let snap = common::snapshot();
    let queries = [
        "Pizzeria, snack, restauration rapide sur place et à emporter.",
        "ACQUISITION ADMINISTRATION GESTION EXPLOITATION PAR BAIL LOCATION OU AUTREMENT DE TOUS IMMEUBLES",
        "conception, assemblage, et revente de vélos, composants et accessoires cycles, conseil",
        "travaux de maçonnerie générale et gros oeuvre de bâtiment, carrelage, plâtrerie",
        "négoce de fruits et légumes en gros, import export, transport frigorifique",
        "cabinet infirmier soins à domicile et en centre, prélèvements",
        "nettoyage industriel de locaux et de vitres, entretien des espaces verts",
        "douleur lombaire basse chronique avec irradiation sciatique gauche",
        "cancer de la vessie chez un ouvrier exposé aux amines aromatiques",
        "surdité professionnelle bilatérale après exposition au bruit en atelier",
        "agent de service hospitalier en maison de retraite, aide aux repas",
        "conducteur de poids lourds livraison régionale et manutention",
        "audiogramme tonal et vocal, spirométrie, radiographie du thorax",
        "zorglub plimpf couvreurr",
        "menuiserrie alluminium pvc posse",
    ];
    let mut compared = 0;
    for system in [Some("naf"), Some("naf-2025"), Some("cim10"), Some("pcs"), Some("ccam"), None] {
        for q in queries {
            let req = SearchRequest {
                q,
                system: system.map(|s| snap.system_index(s).unwrap()),
                limit: 10,
                ..Default::default()
            };
            let hits = |hits: Vec<harmonie::search::Hit>| -> Vec<(String, MatchKind, bool)> {
                hits.iter().map(|h| (snap.concept(h.concept).code.clone(), h.kind, h.fallback)).collect()
            };
            let ours = hits(search(&snap, &req).unwrap());
            let reference = hits(harmonie::search::search_tantivy_fallback(&snap, &req).unwrap());
            assert_eq!(ours, reference, "{q:?} in {system:?}");
            compared += usize::from(ours.iter().any(|h| h.1 == MatchKind::Partial));
        }
    }
    assert!(compared >= 60, "the fallback ranked only {compared} searches");
}
