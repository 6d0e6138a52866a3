//! Source declarations (`data/sources.toml`) and one loader per upstream
//! format.
//!
//! A [`SourceDecl`] says what a terminology is and which files it is read
//! from; [`load`] resolves those files on disk and runs the declared loader,
//! which returns a checked [`CodeSystem`] and a [`LoadReport`] counting every
//! repair it made (nothing is dropped silently).

pub mod ccam;
pub mod cim10;
pub mod decl;
pub mod fhir;
mod html_table;
pub mod maps;
pub mod mp;
pub mod naf;
pub mod naf2025;
pub mod pcs;
pub mod tep;
pub mod thesaurus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use decl::{FileDecl, Loader, MappingDecl, Package, PathList, SourceDecl, SourcesFile};

use crate::model::{CodeSystem, Concept};
use crate::paths::Paths;

/// What a loader repaired or noticed, by kind, for the build report and the
/// snapshot manifest.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadReport {
    /// Rows or records read.
    pub rows_read: usize,
    /// What was repaired or counted, with how many times.
    pub notes: BTreeMap<String, usize>,
}

impl LoadReport {
    /// Counts one more `what`.
    pub fn note(&mut self, what: &str) {
        *self.notes.entry(what.to_string()).or_default() += 1;
    }

    /// Adds the notes of `other` to these.
    pub fn merge(&mut self, other: LoadReport) {
        self.rows_read += other.rows_read;
        for (k, v) in other.notes {
            *self.notes.entry(k).or_default() += v;
        }
    }
}

/// The resolved input files of one source, by role.
pub struct Inputs<'a> {
    decl: &'a SourceDecl,
    paths: &'a Paths,
}

impl Inputs<'_> {
    /// Path of the file with this role; an error names what is missing and
    /// what to do.
    pub fn path(&self, role: &str) -> Result<PathBuf> {
        let f = self.decl.files.iter().find(|f| f.role == role).with_context(|| {
            format!("source {} declares no file with role {role:?} (loader {})", self.decl.id, self.decl.loader)
        })?;
        let p = f.local_path(self.paths);
        if !p.exists() {
            match f.package() {
                Some(pkg) => bail!("{} is missing (from {pkg}): run `harmonie fetch`", p.display()),
                None => bail!("{} is missing: put the file there or fix data/sources.toml", p.display()),
            }
        }
        Ok(p)
    }

    /// [`Inputs::path`] of a file the loader can do without: `None` when
    /// no file has this role.
    pub fn optional_path(&self, role: &str) -> Result<Option<PathBuf>> {
        match self.decl.files.iter().any(|f| f.role == role) {
            true => self.path(role).map(Some),
            false => Ok(None),
        }
    }
}

/// Runs the declared loader of `decl` and returns its checked system.
pub fn load(decl: &SourceDecl, paths: &Paths) -> Result<(CodeSystem, LoadReport)> {
    let inputs = Inputs { decl, paths };
    let mut system = CodeSystem {
        id: decl.id.clone(),
        aliases: decl.aliases.clone(),
        title: decl.title.clone(),
        version: decl.version.clone(),
        publisher: decl.publisher.clone(),
        licence: decl.licence.clone(),
        attribution: decl.attribution.clone(),
        url: decl.url.clone(),
        url_aliases: vec![decl::legacy_urn(&decl.id)],
        family: decl.family.clone(),
        default: decl.default,
        default_from: decl.default_from.clone(),
        retired_from: decl.retired_from.clone(),
        syntax: crate::codes::CodeSyntax::Plain,
        levels: Vec::new(),
        codable_from: 0,
        concepts: Vec::new(),
    };
    let mut report = LoadReport::default();
    match decl.loader {
        Loader::NafJson => naf::load(&inputs.path("main")?, &mut system, &mut report)?,
        Loader::PcsSqlite => pcs::load(&inputs.path("main")?, &mut system, &mut report)?,
        Loader::InseeNaf2025Xlsx => naf2025::load(&inputs.path("main")?, &mut system, &mut report)?,
        Loader::InseeNaf2025Csv => naf2025::load_csv(&inputs.path("main")?, &mut system, &mut report)?,
        Loader::ThesaurusTable => thesaurus::load(decl, &inputs.path("main")?, &mut system, &mut report)?,
        Loader::FhirCodesystem => fhir::load(decl, &inputs.path("main")?, &mut system, &mut report)?,
        Loader::TepOwl => tep::load_owl(decl, &inputs.path("main")?, &mut system, &mut report)?,
        Loader::TepWorkbook => tep::load_workbook(decl, &inputs.path("main")?, &mut system, &mut report)?,
        Loader::LegiMpTables => mp::load(decl, &inputs.path("main")?, &mut system, &mut report)?,
        Loader::Pcs2020Json => pcs::load_2020(&inputs.path("main")?, &mut system, &mut report)?,
        Loader::CcamJson => ccam::load(&inputs.path("main")?, &inputs.path("hierarchy")?, &mut system, &mut report)?,
        Loader::Cim10Edsnlp => cim10::load(
            &cim10::Files {
                codes: inputs.path("main")?,
                chapters: inputs.path("chapters")?,
                chapters_fr: inputs.path("chapters-fr")?,
                corrections: inputs.path("block-corrections")?,
                legacy: inputs.optional_path("legacy-labels")?,
            },
            &mut system,
            &mut report,
        )?,
    }
    system.check().with_context(|| format!("source {} failed its consistency check", decl.id))?;
    Ok((system, report))
}

/// Sets `system.concepts` from `concepts` whose parents are codes: checks
/// that every parent exists (the error names the file), computes each
/// concept's depth, and names the levels (`decl.levels`, else `niveau N`).
pub(crate) fn set_depths(
    decl: &SourceDecl,
    path: &Path,
    system: &mut CodeSystem,
    concepts: Vec<Concept>,
) -> Result<()> {
    let index: std::collections::HashMap<String, usize> =
        concepts.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect();
    if index.len() != concepts.len() {
        let mut seen = std::collections::HashSet::new();
        let dup = concepts.iter().find(|c| !seen.insert(&c.code)).map(|c| c.code.clone()).unwrap_or_default();
        bail!("{}: code {dup} appears twice", path.display());
    }
    let mut depths = Vec::with_capacity(concepts.len());
    for c in &concepts {
        let (mut depth, mut cur) = (0u8, c.parent.clone());
        while let Some(p) = cur {
            let Some(&i) = index.get(&p) else {
                bail!("{}: the parent {p:?} of {} is not a code of the file", path.display(), c.code);
            };
            depth += 1;
            if depth > 32 {
                bail!("{}: the parents of {} loop", path.display(), c.code);
            }
            cur = concepts[i].parent.clone();
        }
        depths.push(depth);
    }
    let max = depths.iter().copied().max().unwrap_or(0) as usize;
    system.levels = (0..=max)
        .map(|d| decl.levels.as_ref().and_then(|l| l.get(d).cloned()).unwrap_or_else(|| format!("niveau {}", d + 1)))
        .collect();
    system.codable_from = decl.codable_from.unwrap_or(0);
    system.concepts = concepts
        .into_iter()
        .zip(depths)
        .map(|(mut c, d)| {
            c.level = d;
            c
        })
        .collect();
    Ok(())
}

/// The value of attribute `key` of an XML element, entities resolved.
pub(crate) fn xml_attr(e: &quick_xml::events::BytesStart, key: &str) -> Result<Option<String>> {
    for a in e.attributes() {
        let a = a?;
        if a.key.as_ref() == key {
            return Ok(Some(a.normalized_value(quick_xml::XmlVersion::Implicit1_0)?.into_owned()));
        }
    }
    Ok(None)
}

/// Appends the text an XML entity reference stands for (`&amp;` → `&`,
/// `&#233;` → `é`); an unknown entity is kept by name.
pub(crate) fn push_xml_ref(buf: &mut String, r: &quick_xml::events::BytesRef) {
    match r.resolve_char_ref() {
        Ok(Some(ch)) => buf.push(ch),
        _ => buf.push_str(match &**r {
            "amp" => "&",
            "lt" => "<",
            "gt" => ">",
            "quot" => "\"",
            "apos" => "'",
            other => other,
        }),
    }
}

/// Cleans a label with [`crate::text::clean_label`] and counts the fix.
pub(crate) fn clean(label: &str, report: &mut LoadReport) -> String {
    let (cleaned, changed) = crate::text::clean_label(label);
    if changed {
        report.note("labels with spacing repaired");
    }
    cleaned
}

/// Turns an all-capitals label into sentence case (`AGRICULTURE, SYLVICULTURE
/// ET PÊCHE` → `Agriculture, sylviculture et pêche`), counting the fix.
pub(crate) fn sentence_case(label: &str, report: &mut LoadReport) -> String {
    if label.chars().any(|c| c.is_lowercase()) {
        return label.to_string();
    }
    report.note("all-capitals labels put in sentence case");
    let lower = label.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => lower,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::CodeSystem;

    /// A system with metadata only, for loader tests.
    pub fn empty_system() -> CodeSystem {
        CodeSystem {
            id: "test".into(),
            aliases: vec![],
            title: "test".into(),
            version: "0".into(),
            publisher: "test".into(),
            licence: "test".into(),
            attribution: "test".into(),
            url: "urn:test".into(),
            url_aliases: vec![],
            family: None,
            default: false,
            default_from: None,
            retired_from: None,
            syntax: crate::codes::CodeSyntax::Plain,
            levels: vec![],
            codable_from: 0,
            concepts: vec![],
        }
    }
}

#[cfg(test)]
mod loader_tests {
    use super::*;

    #[test]
    fn an_unknown_loader_is_refused_with_the_known_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sources.toml");
        let source = |loader: &str| {
            format!(
                "[[source]]\nid = \"x\"\ntitle = \"x\"\nversion = \"1\"\npublisher = \"p\"\nlicence = \"l\"\n\
                 attribution = \"a\"\nurl = \"urn:x\"\nloader = \"{loader}\"\n[[source.file]]\nrole = \"main\"\npath = \"x.csv\"\n"
            )
        };
        std::fs::write(&path, source("naf-jsn")).unwrap();
        let err = format!("{:#}", SourcesFile::read(&path).unwrap_err());
        assert!(err.contains("naf-jsn") && err.contains("naf-json") && err.contains("tep-workbook"), "{err}");
        std::fs::write(&path, source("insee-naf2025-csv")).unwrap();
        let file = SourcesFile::read(&path).unwrap();
        assert_eq!(file.sources[0].loader, Loader::InseeNaf2025Csv);
        assert_eq!(file.sources[0].loader.to_string(), "insee-naf2025-csv");
        assert_eq!(maps::MapLoader::InseePcs2003To2020.to_string(), "insee-pcs2003-2020");
    }

    #[test]
    fn a_source_without_url_gets_one_under_the_canonical_base() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sources.toml");
        let source = |id: &str, url: &str| {
            format!(
                "[[source]]\nid = \"{id}\"\ntitle = \"x\"\nversion = \"1\"\npublisher = \"p\"\nlicence = \"l\"\n\
                 attribution = \"a\"\n{url}loader = \"naf-json\"\n[[source.file]]\nrole = \"main\"\npath = \"x.csv\"\n"
            )
        };
        let text = source("naf-2008", "") + &source("cim-10", "url = \"https://official.example/cim-10\"\n");
        std::fs::write(&path, &text).unwrap();
        let mut file = SourcesFile::read(&path).unwrap();
        assert_eq!(file.sources[0].url, format!("{}/CodeSystem/naf-2008", decl::DEFAULT_CANONICAL_BASE));
        assert_eq!(file.sources[1].url, "https://official.example/cim-10");
        // Another base replaces the derived URLs only; a trailing / is dropped.
        file.set_canonical_base("https://sst.example/fhir/").unwrap();
        assert_eq!(file.sources[0].url, "https://sst.example/fhir/CodeSystem/naf-2008");
        assert_eq!(file.sources[1].url, "https://official.example/cim-10");
        for bad in ["urn:x", "ftp://x", "https://", "https://a b", ""] {
            let err = format!("{:#}", file.set_canonical_base(bad).unwrap_err());
            assert!(err.contains("not an http(s) URL"), "{bad}: {err}");
        }
        std::fs::write(&path, format!("canonical_base = \"harmonie\"\n{text}")).unwrap();
        let err = format!("{:#}", SourcesFile::read(&path).unwrap_err());
        assert!(err.contains("canonical_base") && err.contains("not an http(s) URL"), "{err}");
    }
}
