//! Occupational-health thesauri: the curated ones served by default, and
//! the official formats (TEP OWL, TEP workbook, FHIR CodeSystem, a mapped
//! CSV) dropped in data/local/ and declared in sources.toml.

mod common;

use std::process::Command;

fn harmonie(root: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harmonie")).arg("--root").arg(root).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn curated_thesauri_are_served_with_definitions_and_sources() {
    let snap = common::snapshot();
    for (id, at_least) in [("sst-risques", 20), ("sst-vaccins", 20), ("sst-examens", 30)] {
        let s = snap.system_index(id).unwrap();
        let system = &snap.systems[s];
        assert!(system.concepts.len() >= at_least, "{id}: {}", system.concepts.len());
        for c in &system.concepts {
            assert!(c.code.starts_with("HAR-"), "{id} {}: codes carry the project prefix", c.code);
            assert!(
                c.definition.as_deref().is_some_and(|d| d.contains("Source :")),
                "{id} {} has no definition with its source",
                c.code
            );
        }
    }
    let risques = snap.system_index("risques").unwrap();
    let amiante = snap.lookup(risques, "har-r11").unwrap();
    assert_eq!(snap.concept(amiante).display, "Amiante");
    assert!(snap.concept(amiante).definition.as_deref().unwrap().contains("R. 4624-23"));
    assert_eq!(snap.level_name(amiante), "risque");
}

#[test]
fn searching_every_system_finds_thesauri_with_the_same_analyser() {
    let snap = common::snapshot();
    let hits = harmonie::search::search(
        &snap,
        &harmonie::search::SearchRequest {
            q: "amiante",
            system: None,
            limit: 10,
            level: None,
            leaf: false,
            level_only: false,
            no_context: false,
            unexplained: false,
        },
    )
    .unwrap();
    let systems: Vec<&str> = hits.iter().map(|h| snap.system_of(h.concept).id.as_str()).collect();
    assert!(systems.contains(&"sst-risques") && systems.contains(&"cim-10"), "{systems:?}");
    let vaccins = snap.system_index("vaccins").unwrap();
    let hb = harmonie::search::search(
        &snap,
        &harmonie::search::SearchRequest {
            q: "hepatite b obligatoire",
            system: Some(vaccins),
            limit: 1,
            level: None,
            leaf: false,
            level_only: false,
            no_context: false,
            unexplained: false,
        },
    )
    .unwrap();
    assert_eq!(snap.concept(hb[0].concept).code, "HAR-V01");
}

#[test]
fn official_formats_load_from_data_local_through_sources_toml() {
    let project = common::scratch_project();
    let root = project.path();
    let local = root.join("data/local");
    std::fs::create_dir_all(&local).unwrap();
    for f in ["tep_sample.owl", "tep_sample.xlsx", "codesystem_sample.json", "presanse_sample.csv"] {
        std::fs::copy(common::root().join("tests/fixtures").join(f), local.join(f)).unwrap();
    }
    let declarations = r#"
[[source]]
id = "tep-2023"
family = "tep"
title = "TEP (test extract, OWL)"
version = "2023"
publisher = "ANSES / ANS"
licence = "test"
attribution = "test"
url = "http://data.esante.gouv.fr/tep"
loader = "tep-owl"
[[source.file]]
role = "main"
path = "data/local/tep_sample.owl"

[[source]]
id = "tep-2024"
family = "tep"
default = true
title = "TEP (test extract, workbook)"
version = "2024"
publisher = "ANSES / ANS"
licence = "test"
attribution = "test"
url = "http://data.esante.gouv.fr/tep"
loader = "tep-workbook"
[[source.file]]
role = "main"
path = "data/local/tep_sample.xlsx"

[[source]]
id = "test-fhir"
title = "A FHIR CodeSystem"
version = "1"
publisher = "test"
licence = "test"
attribution = "test"
url = "urn:harmonie:test:codesystem"
loader = "fhir-codesystem"
[[source.file]]
role = "main"
path = "data/local/codesystem_sample.json"

[[source]]
id = "presanse-test"
title = "A Présanse-shaped thesaurus"
version = "1"
publisher = "test"
licence = "test"
attribution = "test"
url = "urn:harmonie:test:presanse"
loader = "thesaurus-table"
levels = ["rubrique", "poste"]
columns = { code = "Code", label = "Libellé", parent = "Code parent", synonyms = "Synonymes", status = "Statut", valid_to = "Date de fin" }
[[source.file]]
role = "main"
path = "data/local/presanse_sample.csv"
"#;
    let toml = std::fs::read_to_string(root.join("data/sources.toml")).unwrap() + declarations;
    std::fs::write(root.join("data/sources.toml"), &toml).unwrap();
    let (ok, _, stderr) = harmonie(root, &["build"]);
    assert!(ok, "{stderr}");

    let snap =
        harmonie::prepare::open_current(&harmonie::paths::Paths::new(root), harmonie::prepare::Prepare::OpenOnly)
            .unwrap();
    let sys = |n: &str| snap.system_index(n).unwrap_or_else(|| panic!("{n} not served"));
    let get = |s: &str, code: &str| {
        snap.concept(snap.lookup(sys(s), code).unwrap_or_else(|| panic!("{code} not in {s}"))).clone()
    };

    // TEP OWL: hierarchy from subClassOf, levels from dc:type, synonyms, deprecation.
    let owl = get("tep-2023", "TEST010101");
    assert_eq!((owl.display.as_str(), owl.parent.as_deref()), ("Amiante chrysotile", Some("TEST0101")));
    assert_eq!(snap.systems[sys("tep-2023")].levels, ["Classe", "Sous-classe", "Niveau 1"]);
    assert_eq!(owl.designations[0].value, "amiante blanc");
    assert_eq!(get("tep-2023", "TEST010102").status, harmonie::model::Status::Retired);
    assert_eq!(get("tep-2023", "TEST010102").display, "Laines minérales & fibres céramiques");
    // TEP workbook: levels from columns B–I, synonyms S, description T, status Z.
    let wb = get("tep-2024", "TESTW111");
    assert_eq!((wb.parent.as_deref(), wb.level), (Some("TESTW11"), 2));
    assert_eq!(wb.definition.as_deref(), Some("Test fixture."));
    assert_eq!(get("tep-2024", "TESTW12").status, harmonie::model::Status::Retired);
    // The family name resolves to the default version; a code of another version says so.
    assert_eq!(snap.systems[sys("tep")].id, "tep-2024");
    assert_eq!(snap.other_versions_with(sys("tep-2024"), "TEST010101"), ["tep-2023"]);
    // FHIR: nesting and parent property, designations, status.
    assert_eq!(get("test-fhir", "TST-AUD-1").parent.as_deref(), Some("TST-AUD"));
    assert_eq!(get("test-fhir", "TST-RES-1").parent.as_deref(), Some("TST-AUD"));
    assert_eq!(get("test-fhir", "TST-AUD-2").status, harmonie::model::Status::Retired);
    // Mapped CSV: its own column names, levels, a past end date retires.
    assert_eq!(get("presanse-test", "tst-11").display, "Travail sur écran");
    assert_eq!(get("presanse-test", "TST-12").status, harmonie::model::Status::Retired);
    assert_eq!(snap.systems[sys("presanse-test")].levels, ["rubrique", "poste"]);
    // All searchable with the same analyser.
    let hits = harmonie::search::search(
        &snap,
        &harmonie::search::SearchRequest {
            q: "amiante blanc",
            system: Some(sys("tep-2023")),
            limit: 1,
            level: None,
            leaf: false,
            level_only: false,
            no_context: false,
            unexplained: false,
        },
    )
    .unwrap();
    assert_eq!(snap.concept(hits[0].concept).code, "TEST010101");

    // A file that does not match its declaration: the error names the file and the column.
    let broken = toml.replace("synonyms = \"Synonymes\"", "synonyms = \"Synonymes officiels\"");
    std::fs::write(root.join("data/sources.toml"), broken).unwrap();
    let (ok, _, stderr) = harmonie(root, &["build"]);
    assert!(!ok);
    assert!(stderr.contains("presanse_sample.csv") && stderr.contains("Synonymes officiels"), "{stderr}");
    std::fs::write(
        root.join("data/local/presanse_sample.csv"),
        "Code;Libellé;Code parent;Synonymes;Statut;Date de fin\nA;;;;;\n",
    )
    .unwrap();
    std::fs::write(root.join("data/sources.toml"), &toml).unwrap();
    let (ok, _, stderr) = harmonie(root, &["build"]);
    assert!(!ok && stderr.contains("line 2") && stderr.contains("Libellé"), "{stderr}");

    // A FHIR CodeSystem whose parent property names a missing code is refused, not flattened.
    std::fs::copy(common::root().join("tests/fixtures/presanse_sample.csv"), local.join("presanse_sample.csv"))
        .unwrap();
    let cs = std::fs::read_to_string(local.join("codesystem_sample.json")).unwrap();
    std::fs::write(
        local.join("codesystem_sample.json"),
        cs.replace(r#""valueCode": "TST-AUD"}"#, r#""valueCode": "TST-NONE"}"#),
    )
    .unwrap();
    let (ok, _, stderr) = harmonie(root, &["build"]);
    assert!(!ok && stderr.contains("codesystem_sample.json") && stderr.contains("TST-NONE"), "{stderr}");
}
