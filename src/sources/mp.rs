//! Loader `legi-mp-tables`: the tables of occupational diseases (tableaux
//! des maladies professionnelles) of one code, read from a code file of the
//! LEGI database as the `@socialgouv/legi-data` package ships it (one JSON
//! tree per code: sections, articles with their HTML text and dates).
//!
//! The annex is the section whose title starts with « Annexe II : Tableaux
//! des maladies professionnelles » (Code de la sécurité sociale: régime
//! général; Code rural: régime agricole). Each article of it is a table:
//! * a concept per table (`RG57`), its title, the date of the version in
//!   force, its article id, whether its list of works is limitative or
//!   indicative, its footnotes;
//! * a concept per lettered paragraph (`RG57-C`, titled by its heading row
//!   or by its disease when the paragraph is one disease);
//! * a concept per disease row (`RG57-C3`, `RG42-1`), with the designation
//!   of the disease (the whole text as definition when the label is cut),
//!   the délai de prise en charge, the durée d'exposition when the row
//!   requires one, and the works of the row.
//!
//! Guarantees: every article of the annex gives a table concept; a table
//! whose rows cannot be split keeps its whole text as definition and is
//! counted in the report (`tables kept whole`); every row of the HTML table
//! is either a concept, a part of one (continuation lines, shared works,
//! footnotes), or counted.

use std::path::Path;

use anyhow::{Context, Result, bail};
use regex::Regex;
use scraper::Html;
use serde::Deserialize;

use super::html_table::{Row, cell_text, rows_of};
use super::{LoadReport, SourceDecl};
use crate::codes::CodeSyntax;
use crate::model::{CodeSystem, Concept, Designation, DesignationKind, Property, PropertyKind, Status};

/// A node of the LEGI tree, with only the fields read here.
#[derive(Deserialize)]
struct LegiNode {
    #[serde(rename = "type")]
    kind: String,
    data: Data,
    #[serde(default)]
    children: Vec<LegiNode>,
}

#[derive(Deserialize)]
struct Data {
    title: Option<String>,
    num: Option<String>,
    id: Option<String>,
    #[serde(rename = "texteHtml")]
    html: Option<String>,
    #[serde(rename = "dateDebut")]
    start: Option<serde_json::Value>,
}

/// The longest label kept whole; longer designations are cut at a word and
/// kept whole as definition.
const MAX_LABEL: usize = 180;

/// Loads the annex of tables of `path` into `system`; codes start with the
/// source's `code_prefix` (`RG`, `RA`).
pub fn load(decl: &SourceDecl, path: &Path, system: &mut CodeSystem, report: &mut LoadReport) -> Result<()> {
    let prefix = decl.code_prefix.as_deref().unwrap_or("RG");
    if !matches!(prefix, "RG" | "RA") {
        bail!("source {}: code_prefix must be RG or RA, not {prefix:?}", decl.id);
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let tree: LegiNode = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a LEGI code file (JSON tree)", path.display()))?;
    let annex = find_annex(&tree).with_context(|| {
        format!("{}: no section « Annexe II : Tableaux des maladies professionnelles »", path.display())
    })?;
    system.syntax = CodeSyntax::MpTable;
    // Disease rows are at level 2 whether or not their table has lettered
    // paragraphs; a paragraph that is one disease stays at level 1.
    system.levels = vec!["tableau".into(), "paragraphe".into(), "maladie".into()];
    system.codable_from = 1;
    let number = Regex::new(r"(?i)tableau\s+n°\s*(\d+)\s*(bis|ter|quater)?").expect("valid regex");
    for article in annex.children.iter().filter(|c| c.kind == "article") {
        report.rows_read += 1;
        let num = article.data.num.as_deref().unwrap_or_default();
        let Some(m) = number.captures(num) else {
            report.note("articles of the annex that are not a numbered table (left out)");
            continue;
        };
        let suffix = m.get(2).map(|s| s.as_str().to_lowercase());
        let code = format!("{prefix}{}{}", &m[1], suffix.as_deref().unwrap_or_default().to_uppercase());
        let shown = format!("{}{}", &m[1], suffix.map(|s| format!(" {s}")).unwrap_or_default());
        let html = article.data.html.as_deref().unwrap_or_default();
        let table = Table::new(&code, &shown, prefix, article, html, report);
        system.concepts.extend(table.into_concepts(report));
    }
    if system.concepts.is_empty() {
        bail!("{}: the annex has no table", path.display());
    }
    Ok(())
}

fn find_annex(node: &LegiNode) -> Option<&LegiNode> {
    let title = node.data.title.as_deref().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    if node.kind == "section" && title.starts_with("Annexe II : Tableaux des maladies professionnelles") {
        return Some(node);
    }
    node.children.iter().find_map(find_annex)
}

/// What the designation cell of a row starts with.
enum Marker {
    /// `- A -` alone: a paragraph begins, its heading comes next.
    Letter(char),
    /// `A. Anémie…`, `A. - Asbestose…`, `- A - Epaule`.
    LetterText(char, String),
    /// `C. 1. Néphropathie…`.
    LetterNumber(char, u32, String),
    None,
}

fn marker(text: &str) -> Marker {
    static RES: std::sync::OnceLock<[Regex; 3]> = std::sync::OnceLock::new();
    let [alone, numbered, lettered] = RES.get_or_init(|| {
        [
            Regex::new(r"^-?\s*([A-Z])\s*[-.]?$").expect("valid regex"),
            Regex::new(r"^([A-Z])\s*[.)]?\s*-?\s*(\d{1,2})\s*[.)°]\s*-?\s*(.+)$").expect("valid regex"),
            Regex::new(r"^(?:-\s*([A-Z])\s*-|([A-Z])\s*[.)]\s*-?)\s*(.+)$").expect("valid regex"),
        ]
    });
    let first = text.lines().next().unwrap_or_default();
    let rest = |t: &str| std::iter::once(t).chain(text.lines().skip(1)).collect::<Vec<_>>().join("\n");
    let letter = |s: &str| s.chars().next().unwrap_or('A');
    if let Some(m) = alone.captures(first) {
        return Marker::Letter(letter(&m[1]));
    }
    if let Some(m) = numbered.captures(first) {
        return Marker::LetterNumber(letter(&m[1]), m[2].parse().unwrap_or(1), rest(&m[3]));
    }
    if let Some(m) = lettered.captures(first) {
        let l = m.get(1).or(m.get(2)).map(|x| letter(x.as_str())).unwrap_or('A');
        return Marker::LetterText(l, rest(&m[3]));
    }
    Marker::None
}

/// A table being read: its concepts in order, the table itself first.
struct Table {
    concepts: Vec<Concept>,
    split: bool,
    /// Rows whose number was taken (see [`Table::push`]).
    renumbered: usize,
}

impl Table {
    fn new(code: &str, shown: &str, prefix: &str, article: &LegiNode, html: &str, report: &mut LoadReport) -> Table {
        let before = html.split("<table").next().unwrap_or_default();
        let intro = cell_text(Html::parse_fragment(before).root_element());
        let first = intro
            .lines()
            .map(|l| l.trim_matches(|c: char| c == '.' || c.is_whitespace()))
            .find(|l| !l.is_empty() && !l.starts_with("Date de création") && !l.starts_with("Dernière mise à jour"));
        let title = match first {
            Some(l) => super::sentence_case(l, report),
            None => {
                report.note("tables without a title (number shown)");
                String::new()
            }
        };
        let regime = if prefix == "RG" { "régime général" } else { "régime agricole" };
        let display =
            if title.is_empty() { format!("Tableau n° {shown}") } else { format!("Tableau n° {shown} : {title}") };
        let mut properties = Vec::new();
        if let Some(date) = article.data.start.as_ref().and_then(serde_json::Value::as_i64) {
            properties.push(prop(PropertyKind::EnVigueurDepuis, crate::clock::date_of(date / 1000)));
        }
        if let Some(id) = &article.data.id {
            properties.push(prop(PropertyKind::Article, id.clone()));
        }
        let (rows, header) = rows_of(html);
        if let Some(h) = &header {
            let works = h[2].to_uppercase();
            if works.contains("LIMITATIVE") {
                properties.push(prop(PropertyKind::ListeTravaux, "limitative".into()));
            } else if works.contains("INDICATIVE") {
                properties.push(prop(PropertyKind::ListeTravaux, "indicative".into()));
            }
        }
        let table = Concept {
            code: code.to_string(),
            display,
            level: 0,
            parent: None,
            designations: [
                format!("tableau {shown}"),
                format!("tableau n° {shown} du {regime}"),
                format!("{prefix} {shown}"),
                format!("maladie professionnelle tableau {shown}"),
            ]
            .into_iter()
            .map(|value| Designation { kind: DesignationKind::Synonym, value })
            .collect(),
            status: Status::Active,
            replaced_by: Vec::new(),
            definition: None,
            properties,
        };
        let mut t = Table { concepts: vec![table], split: false, renumbered: 0 };
        if header.is_none() {
            report.note("tables without a header row (read as designation, délai, works)");
        }
        t.read_rows(rows, report);
        if !t.split {
            let text = cell_text(Html::parse_fragment(html).root_element());
            t.concepts[0].definition = Some(text.replace('\n', " "));
            report.note("tables kept whole (rows not split)");
        }
        t
    }

    fn read_rows(&mut self, rows: Vec<Row>, report: &mut LoadReport) {
        let table = self.concepts[0].code.clone();
        // Index of the current paragraph, whether its heading is still to
        // come, and the last disease read.
        let mut paragraph: Option<(usize, bool)> = None;
        let mut last: Option<usize> = None;
        let mut last_works = String::new();
        // A sub-heading ending with `:` ("Hygromas :") leads the rows below.
        let mut lead: Option<String> = None;
        for row in rows {
            if let Some(note) = row.note {
                let at = paragraph.map(|(i, _)| i).unwrap_or(0);
                self.concepts[at].properties.push(prop(PropertyKind::Note, note.replace('\n', " ")));
                continue;
            }
            let [d, delai, works] = row.cells;
            let carried = row.carried;
            if carried[0] && !d.is_empty() {
                // The designation spans rows: more works of the same disease.
                if let Some(i) = last.filter(|_| !works.is_empty() && !carried[2]) {
                    self.concepts[i].properties.push(prop(PropertyKind::Travaux, works.clone()));
                }
                report.note("rows continuing a designation that spans them");
                continue;
            }
            if d.is_empty() {
                if !works.is_empty() && !carried[2] {
                    // "Cette liste est commune à l'ensemble des affections…"
                    self.concepts[0].properties.push(prop(PropertyKind::Note, works.replace('\n', " ")));
                    last_works = works;
                } else if !delai.is_empty() {
                    report.note("table rows with a délai but no designation (kept as note)");
                    let at = last.unwrap_or(0);
                    self.concepts[at].properties.push(prop(PropertyKind::Note, delai.replace('\n', " ")));
                }
                continue;
            }
            if !works.is_empty() {
                last_works = works.clone();
            }
            // A row whose délai and works both come from the row above adds
            // lines to that row's disease.
            let from_above = carried[1] && carried[2];
            let is_disease = !delai.is_empty() && !from_above;
            let marker = marker(&d);
            if !matches!(marker, Marker::None) {
                lead = None;
            }
            match marker {
                Marker::Letter(l) => {
                    let i = self.push_paragraph(&table, l, format!("Paragraphe {l}"));
                    paragraph = Some((i, true));
                    last = None;
                }
                Marker::LetterText(l, text) if !is_disease => {
                    let i = self.push_paragraph(&table, l, text);
                    paragraph = Some((i, false));
                    last = None;
                }
                Marker::LetterText(l, text) => {
                    let i = self.push_paragraph(&table, l, text);
                    self.set_row(i, &delai, &works, &last_works, report);
                    paragraph = Some((i, false));
                    last = Some(i);
                }
                Marker::LetterNumber(l, n, text) => {
                    let parent = match paragraph {
                        Some((i, _)) if self.concepts[i].code.ends_with(&format!("-{l}")) => i,
                        _ => {
                            let i = self.push_paragraph(&table, l, format!("Paragraphe {l}"));
                            paragraph = Some((i, false));
                            i
                        }
                    };
                    let code = format!("{table}-{l}{n}");
                    let i = self.push_row(&code, parent, text);
                    self.set_row(i, &delai, &works, &last_works, report);
                    last = Some(i);
                }
                Marker::None if !is_disease && d.ends_with(':') && !matches!(paragraph, Some((_, true))) => {
                    lead = Some(d.trim_end_matches([':', ' ']).to_string());
                }
                Marker::None if !is_disease => match paragraph {
                    Some((i, true)) => {
                        self.concepts[i].display = label(&d, &mut None);
                        paragraph = Some((i, false));
                    }
                    _ => match last {
                        Some(i) => {
                            let full =
                                self.concepts[i].definition.take().unwrap_or_else(|| self.concepts[i].display.clone());
                            self.concepts[i].definition = Some(format!("{full}\n{d}"));
                            report.note("continuation lines appended to the row above");
                        }
                        None => {
                            let at = paragraph.map(|(i, _)| i).unwrap_or(0);
                            self.concepts[at].properties.push(prop(PropertyKind::Note, d.replace('\n', " ")));
                            report.note("heading lines outside a paragraph (kept as note)");
                        }
                    },
                },
                Marker::None => {
                    let parent = paragraph.map(|(i, _)| i).unwrap_or(0);
                    if let Some((i, true)) = paragraph {
                        paragraph = Some((i, false));
                    }
                    let base = &self.concepts[parent].code;
                    let n = self.concepts.iter().filter(|c| c.parent.as_deref() == Some(base.as_str())).count() + 1;
                    let code = if parent == 0 { format!("{table}-{n}") } else { format!("{base}{n}") };
                    let d = match &lead {
                        Some(l) if d.starts_with('-') => format!("{l} : {}", d.trim_start_matches(['-', ' '])),
                        _ => {
                            lead = None;
                            d
                        }
                    };
                    let i = self.push_row(&code, parent, d);
                    self.set_row(i, &delai, &works, &last_works, report);
                    last = Some(i);
                }
            }
        }
        // A paragraph whose heading never came is named by its first row.
        for i in 1..self.concepts.len() {
            if self.concepts[i].display.starts_with("Paragraphe ") {
                let code = self.concepts[i].code.clone();
                if let Some(first) = self.concepts.iter().find(|c| c.parent.as_deref() == Some(code.as_str())) {
                    let d = first.display.clone();
                    self.concepts[i].display = format!("{} ({d}…)", self.concepts[i].display);
                }
            }
        }
    }

    /// Adds paragraph `letter` (or returns it when it exists).
    fn push_paragraph(&mut self, table: &str, letter: char, text: String) -> usize {
        let code = format!("{table}-{letter}");
        if let Some(i) = self.concepts.iter().position(|c| c.code == code) {
            return i;
        }
        self.push(&code, 0, 1, text)
    }

    /// Adds a disease row under `parent` (a paragraph or the table).
    fn push_row(&mut self, code: &str, parent: usize, text: String) -> usize {
        self.push(code, parent, 2, text)
    }

    fn push(&mut self, code: &str, parent: usize, level: u8, text: String) -> usize {
        // A number used twice by the text (or by a numbered and an unnumbered
        // row) takes the next free one.
        let mut code = code.to_string();
        if self.concepts.iter().any(|c| c.code == code) {
            let stem = code.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
            let sep = if stem.ends_with('-') || stem.chars().last().is_some_and(|c| c.is_ascii_uppercase()) {
                ""
            } else {
                "-"
            };
            code = (1..)
                .map(|n| format!("{stem}{sep}{n}"))
                .find(|c| !self.concepts.iter().any(|x| &x.code == c))
                .unwrap_or(code);
            self.renumbered += 1;
        }
        let code = code.as_str();
        let mut definition = None;
        let display = label(&text, &mut definition);
        self.concepts.push(Concept {
            code: code.to_string(),
            display,
            level,
            parent: Some(self.concepts[parent].code.clone()),
            designations: Vec::new(),
            status: Status::Active,
            replaced_by: Vec::new(),
            definition,
            properties: Vec::new(),
        });
        self.concepts.len() - 1
    }

    /// Sets the délai, durée and works of disease row `i`.
    fn set_row(&mut self, i: usize, delai: &str, works: &str, last_works: &str, report: &mut LoadReport) {
        static DUREE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let duree = DUREE.get_or_init(|| {
            Regex::new(r"(?i)durée\s+(?:minimale\s+)?d['’]exposition\s+(?:de\s+|d'|d’)([^,);]+)").expect("valid regex")
        });
        self.split = true;
        static MARK: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let mark = MARK.get_or_init(|| Regex::new(r"^(?:[A-Z]\d{0,2}|\d{1,2})\s*[.)]\s*-?\s*").expect("valid regex"));
        // A line break inside a parenthesis is not a new délai.
        let mut lines: Vec<String> = Vec::new();
        for l in delai.lines() {
            match lines.last_mut() {
                Some(open) if open.matches('(').count() > open.matches(')').count() => {
                    open.push(' ');
                    open.push_str(l);
                }
                _ => lines.push(l.to_string()),
            }
        }
        let plain: Vec<String> = lines
            .iter()
            .map(|l| mark.replace(l, "").to_string())
            .map(|l| l.split(" (").next().unwrap_or(&l).trim().trim_end_matches('.').to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if plain.is_empty() {
            // "B1. - Kaolinose" under a paragraph whose délai is given once.
            let above =
                self.concepts[..i].iter().rev().find_map(|c| c.property(PropertyKind::Delai)).map(str::to_string);
            if let Some(d) = above {
                report.note("rows without a délai (délai of the row above)");
                self.concepts[i].properties.push(prop(PropertyKind::Delai, d));
            }
        }
        let c = &mut self.concepts[i];
        if !plain.is_empty() {
            c.properties.push(prop(PropertyKind::Delai, plain.join(" ; ")));
        }
        if plain.len() > 1 && c.definition.as_deref().is_some_and(|d| d.lines().count() >= plain.len()) {
            // Several designations in one cell, with their délais in the
            // next: kept as one row, its whole text as definition.
            report.note("rows holding several designations and délais (kept whole)");
        }
        if let Some(m) = duree.captures(delai) {
            c.properties.push(prop(PropertyKind::DureeExposition, m[1].trim().to_string()));
        }
        if delai.contains('(') && plain.join(" ").len() + 4 < delai.len() {
            c.properties.push(prop(PropertyKind::Note, delai.replace('\n', " ")));
        }
        let works = if works.is_empty() && !last_works.is_empty() {
            report.note("rows whose works cell is empty (works of the row above)");
            last_works
        } else {
            works
        };
        if !works.is_empty() {
            c.properties.push(prop(PropertyKind::Travaux, works.to_string()));
        }
    }

    fn into_concepts(self, report: &mut LoadReport) -> Vec<Concept> {
        report.rows_read += self.concepts.len() - 1;
        for _ in 0..self.renumbered {
            report.note("rows numbered twice by the text (given the next free number)");
        }
        self.concepts
    }
}

fn prop(kind: PropertyKind, value: String) -> Property {
    Property { kind, value }
}

/// The label of a designation: its first line, without a trailing `.` or
/// `:`, cut at a word when longer than [`MAX_LABEL`]; the whole text goes to
/// `definition` when the label is not all of it.
fn label(text: &str, definition: &mut Option<String>) -> String {
    // The first sentence: lines are joined while the text runs on (a line
    // break inside a sentence, next line in lower case).
    let mut lines = text.lines().map(str::trim);
    let mut joined = lines.next().unwrap_or_default().to_string();
    for next in lines {
        let runs_on = !joined.ends_with(['.', ':', ';']) && next.chars().next().is_some_and(char::is_lowercase);
        if !runs_on {
            break;
        }
        joined = format!("{joined} {next}");
    }
    let first = joined.trim_start_matches(['-', '–', ' ']);
    let mut out = first.trim_end_matches(['.', ':', ';', ',', ' ']).to_string();
    if out.chars().count() > MAX_LABEL {
        let cut: String = out.chars().take(MAX_LABEL).collect();
        out = format!("{}…", cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut));
    }
    let out = crate::text::clean_label(&out).0;
    if text.trim() != first || out.len() + 1 < first.len() {
        *definition = Some(text.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert!(matches!(marker("- A -"), Marker::Letter('A')));
        assert!(matches!(marker("A. Anémie"), Marker::LetterText('A', t) if t == "Anémie"));
        assert!(matches!(marker("B. - Lésions pleurales"), Marker::LetterText('B', t) if t == "Lésions pleurales"));
        assert!(matches!(marker("C. 1. Néphropathie"), Marker::LetterNumber('C', 1, t) if t == "Néphropathie"));
        assert!(matches!(marker("A1. - Silicose aigüe"), Marker::LetterNumber('A', 1, t) if t == "Silicose aigüe"));
        assert!(matches!(marker("Tendinite."), Marker::None));
        assert!(matches!(marker("Epaule"), Marker::None));
    }

    #[test]
    fn labels_are_cut_at_a_word_and_kept_whole() {
        let mut def = None;
        assert_eq!(label("Syndrome du canal carpien.", &mut def), "Syndrome du canal carpien");
        assert!(def.is_none());
        let long = "mot ".repeat(80);
        let l = label(&long, &mut def);
        assert!(l.ends_with('…') && l.chars().count() <= MAX_LABEL + 1, "{l}");
        assert!(def.is_some());
    }

    #[test]
    fn rowspans_repeat_their_cell() {
        let html = "<table><tr><td>DÉSIGNATION</td><td>DÉLAI</td><td>LISTE LIMITATIVE</td></tr>\
            <tr><td>Tendinite.</td><td>7 jours</td><td rowspan=\"2\">Travaux répétés.</td></tr>\
            <tr><td>Ténosynovite.</td><td>7 jours</td></tr></table>";
        let (rows, header) = rows_of(html);
        assert!(header.is_some());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].cells[2], "Travaux répétés.");
        assert_eq!(rows[1].carried, [false, false, true]);
    }
}
