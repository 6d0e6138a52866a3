//! Bulk recoding of legacy files, end to end: real files through the CLI and
//! over HTTP, correspondence tables and NAF 2025 declared in sources.toml.

mod common;

fn harmonie(root: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = common::harmonie(root, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn records(csv_text: &str, delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    common::csv_records(csv_text.as_bytes(), delimiter)
}

#[test]
fn a_messy_windows_1252_file_comes_back_complete_in_order_and_recoded() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let input = common::root().join("tests/fixtures/legacy_naf_cp1252.csv");
    let (ok, _, stderr) = harmonie(
        &common::root(),
        &[
            "recode",
            input.to_str().unwrap(),
            "--system",
            "naf",
            "--code-col",
            "code_ape",
            "--label-col",
            "activite",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stderr.contains("61 rows read (Windows-1252; separator ;)") && stderr.contains("1 malformed"), "{stderr}");

    let (header, rows) = records(&std::fs::read_to_string(&out).unwrap(), b';');
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, label, expected, code, method, review, note) = (
        col("id"),
        col("activite"),
        col("attendu"),
        col("harmonie_code"),
        col("harmonie_method"),
        col("harmonie_review"),
        col("harmonie_note"),
    );
    // Every input row once, in order, original columns untouched (decoded to UTF-8).
    let ids: Vec<&str> = rows.iter().map(|r| r[id].as_str()).collect();
    let mut want: Vec<String> = (1..=60).map(|i| i.to_string()).collect();
    want.insert(30, "30b".into());
    assert_eq!(ids, want);
    let row = |i: &str| rows.iter().find(|r| r[id] == i).unwrap();
    assert_eq!(row("42")[label], "Élevage de porcins");
    assert_eq!(row("41")[label], "BOULANGERIE PATISSERIE\n(vente sur place; terminal de cuisson)");
    // The line with a field too many is kept, flagged, its extra field kept in the note.
    let bad = row("30b");
    assert_eq!(bad[review], "true");
    assert!(bad[note].contains("line 31") && bad[note].contains("56.10A"), "{:?}", bad[note]);

    let recoverable: Vec<&Vec<String>> = rows.iter().filter(|r| r[id] != "30b" && !r[expected].is_empty()).collect();
    let right = recoverable.iter().filter(|r| r[code] == r[expected]).count();
    assert!(right * 10 >= recoverable.len() * 9, "{right} of {} recoverable rows recoded correctly", recoverable.len());
    for r in rows.iter().filter(|r| r[id] != "30b" && r[expected].is_empty()) {
        assert_eq!(r[code], "", "junk row {} got a code", r[id]);
        assert_eq!(r[review], "true", "junk row {} not flagged", r[id]);
    }
    assert_eq!(row("3")[code], "01.41Z", "lost leading zero");
    assert_eq!(row("3")[method], "respelled");
    assert_eq!(row("1")[method], "respelled");
    assert_eq!(row("34")[method], "exact");
    assert_eq!(row("51")[method], "none");
}

#[test]
fn a_valid_code_contradicted_by_its_label_is_flagged() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "code,label\n4722Z,PLOMBERIE CHAUFFAGE\n4722Z,BOUCHERIE\n").unwrap();
    let (ok, stdout, stderr) = harmonie(
        &common::root(),
        &["recode", input.to_str().unwrap(), "--system", "naf", "--code-col", "code", "--label-col", "label"],
    );
    assert!(ok, "{stderr}");
    let (header, rows) = records(&stdout, b',');
    let review = header.iter().position(|h| h == "harmonie_review").unwrap();
    let note = header.iter().position(|h| h == "harmonie_note").unwrap();
    assert_eq!((rows[0][review].as_str(), rows[1][review].as_str()), ("true", "false"));
    assert!(rows[0][note].contains("label suggests"), "{:?}", rows[0]);
}

#[test]
fn spreadsheets_are_read_too() {
    common::snapshot();
    let input = common::root().join("tests/fixtures/legacy_pcs.xlsx");
    let (ok, stdout, stderr) = harmonie(
        &common::root(),
        &["recode", input.to_str().unwrap(), "--system", "pcs", "--code-col", "code_pcs", "--label-col", "poste"],
    );
    assert!(ok, "{stderr}");
    let (header, rows) = records(&stdout, b',');
    let code = header.iter().position(|h| h == "harmonie_code").unwrap();
    let got: Vec<&str> = rows.iter().map(|r| r[code].as_str()).collect();
    assert_eq!(got, ["526a", "", "542a", "526a", "652a", ""]);
    assert!(stderr.contains("spreadsheet"), "{stderr}");
}

#[test]
fn bad_options_say_what_to_do() {
    common::snapshot();
    let input = common::root().join("tests/fixtures/legacy_naf_cp1252.csv");
    let (ok, _, stderr) =
        harmonie(&common::root(), &["recode", input.to_str().unwrap(), "--system", "naf", "--code-col", "nope"]);
    assert!(!ok && stderr.contains("no column \"nope\"") && stderr.contains("code_ape"), "{stderr}");
    let (ok, _, stderr) = harmonie(&common::root(), &["recode", input.to_str().unwrap(), "--system", "naf"]);
    assert!(!ok && stderr.contains("--code-col"), "{stderr}");
}

#[test]
fn correspondence_tables_and_naf_2025_declared_in_sources_toml() {
    let project = common::scratch_project();
    let root = project.path();
    let local = root.join("data/local");
    std::fs::create_dir_all(&local).unwrap();
    for f in
        ["table_NAF1-NAF2.xls", "Structure_NAF_2025.xlsx", "Correspondances_NAFrev2-NAF2025.xlsx", "mapping_amt.csv"]
    {
        std::fs::copy(common::root().join("tests/fixtures").join(f), local.join(f)).unwrap();
    }
    let mut toml = std::fs::read_to_string(root.join("data/sources.toml")).unwrap();
    toml.push_str(
        r#"
[[source]]
id = "naf-2025-extrait"
title = "NAF 2025 (test extract)"
version = "2025"
publisher = "INSEE"
licence = "test"
attribution = "test"
url = "urn:harmonie:cs:naf-2025-extrait"
loader = "insee-naf2025-xlsx"

[[source.file]]
role = "main"
path = "data/local/Structure_NAF_2025.xlsx"

[[mapping]]
id = "naf1-naf2"
title = "NAF rév. 1 → NAF rév. 2"
source = "naf-rev1"
target = "naf"
loader = "insee-naf1-naf2"
path = "data/local/table_NAF1-NAF2.xls"

[[mapping]]
id = "naf2-naf2025"
title = "NAF rév. 2 → NAF 2025"
source = "naf-2008"
target = "naf-2025-extrait"
loader = "insee-naf2-naf2025"
path = "data/local/Correspondances_NAFrev2-NAF2025.xlsx"

[[mapping]]
id = "amt"
title = "Local AMT thesaurus → NAF"
source = "amt"
target = "naf-2008"
loader = "mapping-csv"
path = "data/local/mapping_amt.csv"
"#,
    );
    std::fs::write(root.join("data/sources.toml"), toml).unwrap();
    let (ok, _, stderr) = harmonie(root, &["build"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("mapping naf1-naf2"), "{stderr}");

    let input = root.join("old.csv");
    std::fs::write(
        &input,
        "code;label\n15.8C;BOULANGERIE\n158C;\n55.3B;SANDWICHERIE RESTAURATION RAPIDE\n55.3B;\n99.9Z;\nAMT-002;\n1071C;BOULANGERIE\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = harmonie(
        root,
        &["recode", input.to_str().unwrap(), "--system", "naf", "--code-col", "code", "--label-col", "label"],
    );
    assert!(ok, "{stderr}");
    let (header, rows) = records(&stdout, b';');
    let (code, method) = (
        header.iter().position(|h| h == "harmonie_code").unwrap(),
        header.iter().position(|h| h == "harmonie_method").unwrap(),
    );
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (r[code].as_str(), r[method].as_str())).collect();
    assert_eq!(
        got,
        [
            ("10.71C", "transcoded"),
            ("10.71C", "transcoded"),
            ("56.10C", "transcoded"),
            ("", "ambiguous"),
            ("", "none"),
            ("96.02A", "transcoded"),
            ("10.71C", "respelled"),
        ]
    );

    // Validation suggests what an old code maps to.
    let snap =
        harmonie::prepare::open_current(&harmonie::paths::Paths::new(root), harmonie::prepare::Prepare::OpenOnly)
            .unwrap();
    let v = harmonie::validate::validate(
        &snap,
        &harmonie::validate::Item { system: "naf".into(), code: "15.8C".into(), as_of: None },
    );
    assert_eq!(v.status, harmonie::validate::Verdict::Unknown);
    assert_eq!(v.suggestions[0].code, "10.71C");
    assert!(v.suggestions[0].reason.contains("naf-rev1 15.8C"), "{:?}", v.suggestions);

    // A concept shows its correspondences both ways, in the API and on its page.
    let c =
        harmonie::api::concepts::concept_out(&snap, snap.lookup(snap.system_index("naf").unwrap(), "10.71C").unwrap());
    use harmonie::api::concepts::Direction;
    let links: Vec<(Direction, &str, &str)> =
        c.mappings.iter().map(|m| (m.direction, m.system.as_str(), m.code.as_str())).collect();
    assert!(links.contains(&(Direction::From, "naf-rev1", "15.8C")), "{links:?}");
    assert!(links.contains(&(Direction::To, "naf-2025-extrait", "10.71C")), "{links:?}");
    let addr = common::serve_snapshot(std::sync::Arc::new(snap), |_| {});
    let mut page = ureq::get(&format!("http://{addr}/systemes/naf-2008/10.71C")).call().unwrap();
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("vient de naf-rev1 <span class=\"code\">15.8C</span>"), "{html}");
    assert!(html.contains(r#"devient naf-2025-extrait <a href="/systemes/naf-2025-extrait/10.71C">"#), "{html}");

    // NAF 2025 is served, and NAF rév. 2 codes recode to it.
    let (ok, stdout, _) = harmonie(root, &["lookup", "naf-2025-extrait", "4712b"]);
    assert!(ok && stdout.contains("47.12B"), "{stdout}");
    let input = root.join("rev2.csv");
    std::fs::write(&input, "ape,activite\n1071C,\n47.91B,\n").unwrap();
    let (ok, stdout, stderr) = harmonie(
        root,
        &[
            "recode",
            input.to_str().unwrap(),
            "--system",
            "naf-2025-extrait",
            "--code-col",
            "ape",
            "--label-col",
            "activite",
        ],
    );
    assert!(ok, "{stderr}");
    let (header, rows) = records(&stdout, b',');
    let method = header.iter().position(|h| h == "harmonie_method").unwrap();
    assert_eq!(rows[0][method], "respelled", "10.71C exists in NAF 2025 as such");
    // 47.91B splits into 47.12B and 47.11F, but this extract of NAF 2025 has no
    // 47.11F: the build left that target out (and counted it), so one remains.
    assert_eq!(rows[1][method], "transcoded");
    let code = header.iter().position(|h| h == "harmonie_code").unwrap();
    assert_eq!(rows[1][code], "47.12B");
    let manifest = std::fs::read_to_string(
        root.join("index")
            .join(std::fs::read_to_string(root.join("index/CURRENT")).unwrap().trim())
            .join("manifest.json"),
    )
    .unwrap();
    assert!(manifest.contains("mapping naf2-naf2025: targets not in naf-2025-extrait (left out)"), "{manifest}");
}

#[test]
fn the_http_route_streams_csv_and_ndjson() {
    let addr = common::serve();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let body = std::fs::read(common::root().join("tests/fixtures/legacy_naf_cp1252.csv")).unwrap();
    let mut resp = agent
        .post(&format!("http://{addr}/v1/recode?system=naf&code_col=code_ape&label_col=activite"))
        .header("content-type", "text/csv")
        .send(&body[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.body_mut().read_to_string().unwrap();
    let (header, rows) = records(&text, b';');
    assert_eq!(rows.len(), 61);
    assert_eq!(header.last().unwrap(), "harmonie_note");

    let ndjson = "{\"code\":\"141Z\",\"label\":\"ELEVAGE\"}\n{\"label\":\"COIFFURE\"}\nnot json\n";
    let mut resp = agent
        .post(&format!("http://{addr}/v1/recode?system=naf&code_col=code&label_col=label"))
        .header("content-type", "application/x-ndjson")
        .send(ndjson)
        .unwrap();
    let lines: Vec<serde_json::Value> =
        resp.body_mut().read_to_string().unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["harmonie_code"], "01.41Z");
    assert_eq!(lines[1]["harmonie_method"], "label_exact");
    assert_eq!((lines[2]["harmonie_method"].as_str(), lines[2]["line"].as_u64()), (Some("none"), Some(3)));
    assert_eq!(lines[3]["summary"]["rows"], 3);

    let mut resp = agent
        .post(&format!("http://{addr}/v1/recode?system=naf&code_col=nope"))
        .header("content-type", "text/csv")
        .send("a,b\n1,2\n")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.body_mut().read_to_string().unwrap().contains("no column"));
}

/// Rows of many costs (codes, labels, typos, junk, empty) over several
/// batches: both workers take chunks of every batch, and each row comes
/// back once, in order, recoded as it is alone.
#[test]
fn rows_of_every_cost_come_back_in_order_over_several_batches() {
    use harmonie::recode::{Recoder, pipeline};
    use harmonie::table::{CsvOptions, TableReader};
    let snap = common::snapshot();
    let naf = snap.system_index("naf").unwrap();
    let concepts: Vec<_> = snap.concepts_of(naf).filter(|&r| snap.is_codable(r)).collect();
    let mut csv = String::from("id;code_ape;activite\n");
    let mut rows = Vec::new();
    for i in 0..10_000usize {
        let c = snap.concept(concepts[(i * 7919) % concepts.len()]);
        let (code, label) = match i % 7 {
            0 => (c.code.clone(), String::new()),
            1 => (String::new(), c.display.to_uppercase()),
            // A typo in a label: the slow rows.
            2 => (String::new(), format!("SARL {}x", c.display)),
            3 => (String::new(), "divers".to_string()),
            4 => (String::new(), String::new()),
            5 => (c.code.replace('.', ""), c.display.clone()),
            _ => (format!("{}9", c.code), format!("{} et négoce", c.display)),
        };
        let label = label.replace(['"', ';', '\n'], " ");
        csv.push_str(&format!("{i};{code};{label}\n"));
        rows.push((i.to_string(), code, label));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, &csv).unwrap();
    let table = TableReader::open(&path, CsvOptions::user(None)).unwrap();
    let opts = pipeline::Options {
        system: "naf".into(),
        code_col: Some("code_ape".into()),
        label_col: Some("activite".into()),
        text_cols: Vec::new(),
        threshold: 0.6,
    };
    let mut out = Vec::new();
    let mut progress = Vec::new();
    let summary = pipeline::to_csv(pipeline::Job::new(&snap, table, &opts).unwrap(), &mut out, |n| progress.push(n));
    assert!(summary.complete(), "{}", summary.describe());
    assert_eq!(summary.rows, 10_000);
    assert_eq!(progress, [4096, 8192, 10_000], "progress after each batch");
    let (header, written) = common::csv_records(&out, b';');
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (code_at, method_at) = (at("harmonie_code"), at("harmonie_method"));
    assert_eq!(written.len(), rows.len(), "every row once");
    let mut alone = Recoder::new(&snap, naf, 0.6);
    for (row, (id, code, label)) in written.iter().zip(&rows) {
        assert_eq!(&row[..3], [id.as_str(), code.as_str(), label.as_str()], "in order");
        let o = alone.recode_shared(code, label, "");
        assert_eq!(row[code_at], o.code.clone().unwrap_or_default(), "row {id}");
        assert_eq!(row[method_at], o.method.as_str(), "row {id}");
    }
}

/// An output that takes `room` bytes and then fails as a full disk does,
/// keeping what it took.
struct FullAfter {
    room: usize,
    took: Vec<u8>,
}

impl std::io::Write for FullAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.room - self.took.len());
        if n == 0 && !buf.is_empty() {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        self.took.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_disk_stops_the_recode_and_the_count_is_the_rows_the_output_holds() {
    use harmonie::recode::pipeline;
    use harmonie::table::{CsvOptions, TableReader};
    let snap = common::snapshot();
    let mut csv = String::from("n;code_ape\n");
    for i in 0..5_000 {
        csv.push_str(&format!("{i};{}\n", ["4722Z", "47.22Z", "86.21z", "12é", ""][i % 5]));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, &csv).unwrap();
    let opts = pipeline::Options {
        system: "naf".into(),
        code_col: Some("code_ape".into()),
        label_col: None,
        text_cols: Vec::new(),
        threshold: 0.6,
    };
    for room in [0, 10, 5_000, 40_000, 123_457] {
        let table = TableReader::open(&path, CsvOptions::user(None)).unwrap();
        let mut out = FullAfter { room, took: Vec::new() };
        let summary = pipeline::to_csv(pipeline::Job::new(&snap, table, &opts).unwrap(), &mut out, |_| {});
        let error = summary.error.as_deref().unwrap_or_else(|| panic!("room {room}: no error"));
        assert!(error.contains("cannot write"), "{error}");
        // Every row counted as written is whole in the output, in order;
        // what follows them is at most part of the chunk that failed.
        let text = String::from_utf8(out.took).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').filter(|l| l.ends_with('\n')).collect();
        let whole_rows = lines.len().saturating_sub(1) as u64;
        assert!(whole_rows >= summary.rows, "room {room}: {whole_rows} whole rows, {} counted", summary.rows);
        assert!(whole_rows < summary.rows + 64, "room {room}: {whole_rows} whole rows, {} counted", summary.rows);
        for (i, line) in lines.iter().skip(1).take(summary.rows as usize).enumerate() {
            assert!(line.starts_with(&format!("{i};")), "room {room}, row {i}: {line}");
        }
        assert!(error.contains(&format!("rows {} to", summary.rows + 1)) || summary.rows == 0, "{error}");
    }
}

#[test]
fn the_cli_says_how_many_rows_reached_a_full_output() {
    common::snapshot();
    let input = common::root().join("tests/fixtures/legacy_naf_cp1252.csv");
    let (ok, stdout, stderr) = harmonie(
        &common::root(),
        &["recode", input.to_str().unwrap(), "--system", "naf", "--code-col", "code_ape", "--output", "/dev/full"],
    );
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("(0 rows written): cannot write the header: No space left on device"), "{stderr}");
}

/// `--output`, `--report` or a redirected standard output naming the input
/// (by its path, a link, or `>>`) would destroy the rows not read yet, or
/// read the command's own output back until the disk is full: refused
/// before anything is written, the input left as it was.
#[test]
fn an_output_onto_the_input_is_refused_and_the_input_kept() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("base.csv");
    let original = std::fs::read(common::root().join("tests/fixtures/legacy_naf_cp1252.csv")).unwrap();
    std::fs::write(&input, &original).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let other = dir.path().join("out.csv");
    let base = ["recode", input.to_str().unwrap(), "--system", "naf", "--code-col", "code_ape"];
    let cases: [(&[&str], &str); 4] = [
        (&["--output", input.to_str().unwrap()], "is the input file"),
        (&["--output", link.to_str().unwrap()], "is the input file"),
        (&["--output", other.to_str().unwrap(), "--report", input.to_str().unwrap()], "--report"),
        (&["--output", other.to_str().unwrap(), "--report", other.to_str().unwrap()], "is the --output file"),
    ];
    for (extra, says) in cases {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let (ok, _, stderr) = harmonie(&common::root(), &args);
        assert!(!ok && stderr.contains(says), "{extra:?}: {stderr}");
        assert_eq!(std::fs::read(&input).unwrap(), original, "{extra:?}: the input is kept");
    }
    // Standard output appended to the input (`>> base.csv`).
    let appended = std::fs::OpenOptions::new().append(true).open(&input).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harmonie"))
        .arg("--root")
        .arg(common::root())
        .args(base)
        .stdout(appended)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("standard output goes to the input file"), "{stderr}");
    assert_eq!(std::fs::read(&input).unwrap(), original, "the input is kept");
    // An empty input is named as such.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let (ok, _, stderr) =
        harmonie(&common::root(), &["recode", empty.to_str().unwrap(), "--system", "naf", "--code-col", "x"]);
    assert!(!ok && stderr.contains("the input is empty: its first line must name the columns"), "{stderr}");
    // Another file still works.
    let args: Vec<&str> = base.iter().copied().chain(["--output", other.to_str().unwrap()]).collect();
    let (ok, _, stderr) = harmonie(&common::root(), &args);
    assert!(ok, "{stderr}");
}
