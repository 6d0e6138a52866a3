//! Snapshots: immutable, checksummed builds of every declared terminology.
//!
//! A snapshot lives in `index/<id>/`, where `<id>` is derived from the
//! checksums of every input (sources.toml, upstream and project files) and
//! the snapshot format. It holds:
//! * `manifest.json`: inputs with their sha256, per-system counts and load
//!   reports ([`Manifest`]);
//! * `systems.json`: the systems, without their concepts;
//! * `concepts/`: the concepts (lexicon synonyms attached as designations)
//!   in binary files ([`store`]) of [`snapshot::CHUNK`], decoded on every
//!   core at open;
//! * `lexicon.json`: the lexicon's query-time expansions;
//! * `maps.json`: the correspondence tables, targets canonical;
//! * `codes.fst`: an fst map from `<system id>\0<canonical code>` to the
//!   concept's ordinal;
//! * `vocab.fst` and `labels.bin`: the stems of every label and, per
//!   concept, its parent's ordinal and the stem ids of its display and
//!   designations, derived at build so that opening analyses no text and
//!   looks up no code;
//! * `text/`: a tantivy index of the normalised labels and designations,
//!   the reference the in-memory BM25 fallback ([`bm25`]) reproduces.
//!
//! Guarantees: a snapshot is written into a temporary folder and renamed
//! into place only when complete, so a crash never leaves a half index; a
//! build whose inputs did not change does nothing; builds and fetches take a
//! lock so concurrent processes do not collide. The manifest lists the
//! sha256 of every other file of the snapshot, checked when it is opened: a
//! changed or damaged file refuses the snapshot with a rebuild hint.
//! `index/CURRENT` names the snapshot last put in service ([`mark_current`]):
//! a build alone never moves it.

pub(crate) mod bm25;
pub(crate) mod fuzzy;
mod labels;
mod snapshot;
mod store;
mod systems;
pub(crate) mod text;

pub use snapshot::{ConceptRef, LoadedPrior, Snapshot};
pub use systems::{UnknownLevel, UnknownSystem};
pub(crate) use text::TextIndex;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::digest::{DigestCache, sha256_file, sha256_hex};
use crate::lexicon::Lexicon;
use crate::model::CodeSystem;
use crate::model::map::ConceptMap;
use crate::paths::Paths;
use crate::sources::{self, LoadReport, SourcesFile};

/// Bumped whenever the snapshot layout or the analysis changes, so that old
/// snapshots are rebuilt.
pub const FORMAT: u32 = 9;

/// What a snapshot was built from and what it holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Snapshot format number; a snapshot of another format is rebuilt.
    pub format: u32,
    /// The snapshot id (a hash of its inputs and code).
    pub id: String,
    /// Version of the crate that built it.
    pub harmonie_version: String,
    /// Seconds since the Unix epoch.
    pub built_at: u64,
    /// How long the build took.
    pub build_ms: u64,
    /// Every input file with its checksum.
    pub inputs: Vec<InputFile>,
    /// Per system: counts and load report.
    pub systems: Vec<SystemSummary>,
    /// Base of the project's canonical URLs (see
    /// [`crate::sources::SourcesFile::canonical_base`]).
    #[serde(default = "crate::sources::decl::default_canonical_base")]
    pub canonical_base: String,
    /// sha256 of every file of the snapshot but the manifest, by path
    /// relative to the snapshot folder (`/`-separated).
    pub files: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
/// One input file of a snapshot.
pub struct InputFile {
    /// Id of the source (or mapping, lexicon, priors) it belongs to.
    pub source: String,
    /// What the loader used it for.
    pub role: String,
    /// Its path in the project.
    pub path: String,
    /// Its sha256.
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
/// What one system of a snapshot holds.
pub struct SystemSummary {
    /// Id of the system.
    pub id: String,
    /// Concepts in it.
    pub concept_count: usize,
    /// Concepts per level, from the root down.
    pub levels: Vec<(String, usize)>,
    /// What the loader repaired or counted.
    pub report: LoadReport,
}

/// The result of [`build`].
#[derive(Debug)]
pub struct BuildOutcome {
    /// Id of the snapshot.
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
    /// False when an identical snapshot already existed.
    pub built: bool,
}

/// Lists every input file with its checksum and derives the snapshot id;
/// a file unchanged since it was last hashed is not read again
/// ([`DigestCache`]).
pub fn inputs(paths: &Paths, sources: &SourcesFile) -> Result<(String, Vec<InputFile>)> {
    let mut digests = DigestCache::open(&paths.digests);
    let result = inputs_with(paths, sources, &mut digests);
    digests.save();
    result
}

fn inputs_with(paths: &Paths, sources: &SourcesFile, digests: &mut DigestCache) -> Result<(String, Vec<InputFile>)> {
    let mut files = Vec::new();
    for s in &sources.sources {
        for f in &s.files {
            let p = f.local_path(paths);
            if !p.exists() {
                match f.package() {
                    Some(pkg) => bail!("{} is missing (from {pkg}): run `harmonie fetch` first", p.display()),
                    None => bail!("{} is missing: put the file there or fix data/sources.toml", p.display()),
                }
            }
            let sha256 = digests.sha256(&p)?;
            // A committed official file is pinned too: it must be the file INSEE published.
            if f.package().is_none()
                && let Some(pinned) = &f.sha256
                && !pinned.eq_ignore_ascii_case(&sha256)
            {
                bail!(
                    "{} has sha256 {sha256}, data/sources.toml pins {pinned}: the official file was changed; restore it (git checkout {}) or, for a new official release, update the pin and its SOURCE.md",
                    p.display(),
                    f.path
                );
            }
            files.push(InputFile { source: s.id.clone(), role: f.role.clone(), path: f.path.clone(), sha256 });
        }
    }
    let project_files = sources
        .lexicon
        .list()
        .into_iter()
        .map(|p| ("lexicon", p))
        .chain(sources.priors.as_deref().map(|p| ("priors", p)));
    for (role, path) in project_files {
        let p = paths.root.join(path);
        if !p.exists() {
            bail!(
                "{} is missing: the {role} file is declared in data/sources.toml; put it there or remove the declaration",
                p.display()
            );
        }
        files.push(InputFile {
            source: role.into(),
            role: role.into(),
            path: path.to_string(),
            sha256: digests.sha256(&p)?,
        });
    }
    for m in &sources.mappings {
        let p = paths.root.join(&m.path);
        if !p.exists() {
            bail!(
                "{} is missing: mapping {} is declared in data/sources.toml; put the file there or remove the declaration",
                p.display(),
                m.id
            );
        }
        let sha256 = digests.sha256(&p)?;
        if let Some(pinned) = &m.sha256
            && !pinned.eq_ignore_ascii_case(&sha256)
        {
            bail!(
                "{} has sha256 {sha256}, data/sources.toml pins {pinned}: the official table was changed; restore it (git checkout {}) or update the pin and its SOURCE.md",
                p.display(),
                m.path
            );
        }
        files.push(InputFile { source: m.id.clone(), role: "mapping".into(), path: m.path.clone(), sha256 });
    }
    let mut key =
        format!("format {FORMAT}\nversion {}\ncode {}\n", env!("CARGO_PKG_VERSION"), env!("HARMONIE_SNAPSHOT_CODE"));
    // A thesaurus with a `valid_to` column retires concepts as dates pass:
    // its snapshot is valid for the day it was built.
    if sources.sources.iter().any(|s| s.columns.as_ref().is_some_and(|c| c.contains_key("valid_to"))) {
        key.push_str(&format!("date {}\n", crate::clock::today()));
    }
    key.push_str(&digests.sha256(&paths.sources)?);
    key.push_str(&format!("\ncanonical {}", sources.canonical_base));
    for f in &files {
        key.push_str(&format!("\n{} {} {}", f.source, f.role, f.sha256));
    }
    Ok((sha256_hex(key.as_bytes())[..16].to_string(), files))
}

/// Builds the snapshot of the current inputs unless it already exists (or
/// `force`), printing progress on stderr.
pub fn build(paths: &Paths, sources: &SourcesFile, force: bool) -> Result<BuildOutcome> {
    let _lock = Paths::lock(&paths.index)?;
    let (id, input_files) = inputs(paths, sources)?;
    let dir = paths.index.join(&id);
    if dir.join("manifest.json").exists() && !force {
        return Ok(BuildOutcome { id, dir, built: false });
    }
    let started = Instant::now();
    remove_stale_builds(&paths.index)?;
    let mut systems: Vec<CodeSystem> = Vec::new();
    let mut summaries = Vec::new();
    for decl in &sources.sources {
        let t = Instant::now();
        let (system, report) = sources::load(decl, paths)?;
        eprintln!(
            "  loaded {:<10} {:>6} concepts in {:>5} ms{}",
            system.id,
            system.concepts.len(),
            t.elapsed().as_millis(),
            if report.notes.is_empty() { String::new() } else { format!(" ({})", describe_notes(&report)) }
        );
        summaries.push(SystemSummary {
            id: system.id.clone(),
            concept_count: system.concepts.len(),
            levels: system.level_counts(),
            report,
        });
        systems.push(system);
    }
    let mut expansions = Vec::new();
    for lex in sources.lexicon.list() {
        let path = paths.root.join(lex);
        let lexicon = Lexicon::read(&path)?;
        let added = lexicon.apply_synonyms(&path, &mut systems)?;
        for summary in summaries.iter_mut() {
            if let Some(n) = added.get(&summary.id) {
                *summary.report.notes.entry("lexicon synonyms attached".into()).or_default() += *n;
            }
        }
        eprintln!(
            "  lexicon {lex}: {} expansions, {} synonyms attached",
            lexicon.expansions.len(),
            added.values().sum::<usize>()
        );
        expansions.extend(lexicon.expansions);
    }
    let mut priors = Vec::new();
    if let Some(file) = &sources.priors {
        let path = paths.root.join(file);
        priors = crate::priors::read(&path)?;
        for p in &priors {
            p.check(&systems).with_context(|| format!("{}: fix or remove the prior", path.display()))?;
        }
        eprintln!("  priors: {}", priors.len());
    }
    let maps = load_maps(paths, sources, &systems, &mut summaries)?;
    let tmp = paths.index.join(format!(".build-{id}-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = (|| -> Result<()> {
        snapshot::write_systems(&tmp, &systems)?;
        write_json(&tmp.join("lexicon.json"), &expansions)?;
        write_json(&tmp.join("priors.json"), &priors)?;
        write_json(&tmp.join("maps.json"), &maps)?;
        snapshot::write_codes(&tmp.join("codes.fst"), &systems)?;
        labels::write_labels(&tmp, &systems)?;
        let t = Instant::now();
        TextIndex::write(&tmp.join("text"), &systems)?;
        eprintln!("  text index written in {} ms", t.elapsed().as_millis());
        let manifest = Manifest {
            format: FORMAT,
            id: id.clone(),
            canonical_base: sources.canonical_base.clone(),
            harmonie_version: env!("CARGO_PKG_VERSION").to_string(),
            built_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            build_ms: started.elapsed().as_millis() as u64,
            inputs: input_files,
            systems: summaries,
            files: checksums(&tmp)?,
        };
        // The manifest is written last: its presence marks a complete snapshot.
        write_json(&tmp.join("manifest.json"), &manifest)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!("building snapshot {id} failed; the previous snapshot is untouched")));
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot replace {}", dir.display()))?;
    }
    std::fs::rename(&tmp, &dir).with_context(|| format!("cannot move {} to {}", tmp.display(), dir.display()))?;
    // The snapshot in service (CURRENT) is kept: a server may still read it.
    let current = std::fs::read_to_string(paths.index.join("CURRENT")).unwrap_or_default();
    remove_old_snapshots(&paths.index, &[id.as_str(), current.trim()])?;
    Ok(BuildOutcome { id, dir, built: true })
}

/// Whether a file of a snapshot folder is part of the snapshot (tantivy's
/// lock files are not: readers may create them).
fn is_snapshot_file(relative: &str) -> bool {
    relative != "manifest.json" && !relative.rsplit('/').next().unwrap_or_default().starts_with(".tantivy-")
}

/// The sha256 of every file of a snapshot folder, by relative path.
fn checksums(dir: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            if is_snapshot_file(&rel) {
                out.insert(rel, sha256_file(&p)?);
            }
        }
    }
    Ok(out)
}

/// Loads the declared correspondence tables, with target codes made
/// canonical; targets that are not codes of the target system are counted
/// in the target's report and left out.
fn load_maps(
    paths: &Paths,
    sources: &SourcesFile,
    systems: &[CodeSystem],
    summaries: &mut [SystemSummary],
) -> Result<Vec<ConceptMap>> {
    let mut maps = Vec::new();
    for decl in &sources.mappings {
        let Some(si) = crate::model::named(systems, &decl.target) else {
            bail!("mapping {}: target system {:?} is not declared", decl.id, decl.target);
        };
        let target = &systems[si];
        let path = paths.root.join(&decl.path);
        let mut map = ConceptMap::load(decl.loader, &path, &decl.id, &decl.title, &decl.source, &target.id)?;
        map.notice = decl.notice.clone();
        // Source codes of a served system must be its codes: a typo in a
        // curated file is reported, not silently never shown.
        if let Some(source) = crate::model::named(systems, &decl.source).map(|s| &systems[s]) {
            let missing: Vec<&str> = map
                .elements
                .values()
                .map(|e| e.code.as_str())
                .filter(|c| source.syntax.canonical(c).and_then(|c| source.find(&c).map(|_| ())).is_none())
                .collect();
            if !missing.is_empty() {
                bail!(
                    "mapping {}: {} source codes are not codes of {}: {}; fix {}",
                    decl.id,
                    missing.len(),
                    source.id,
                    missing.iter().take(10).copied().collect::<Vec<_>>().join(", "),
                    decl.path
                );
            }
        }
        let mut unknown = 0;
        for e in map.elements.values_mut() {
            e.targets.retain_mut(|t| match target.syntax.canonical(&t.code).filter(|c| target.find(c).is_some()) {
                Some(c) => {
                    t.code = c;
                    true
                }
                None => {
                    unknown += 1;
                    false
                }
            });
        }
        if unknown > 0 {
            summaries[si]
                .report
                .notes
                .insert(format!("mapping {}: targets not in {} (left out)", decl.id, target.id), unknown);
        }
        eprintln!("  mapping {}: {} source codes to {}", decl.id, map.elements.len(), target.id);
        maps.push(map);
    }
    Ok(maps)
}

fn describe_notes(report: &LoadReport) -> String {
    report.notes.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join("; ")
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), value)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Records `id` as the snapshot in service in `index/CURRENT` (atomically).
/// Called once the snapshot is open (and, for a server, swapped in), so
/// that the disk never names a snapshot that is not the one served.
///
/// Any number of processes and threads may mark at once (a server, CLI
/// commands, tests): see [`crate::paths::replace_file`]. Nothing is
/// written when `CURRENT` already names `id`.
pub fn mark_current(paths: &Paths, id: &str) -> Result<()> {
    let current = paths.index.join("CURRENT");
    if std::fs::read_to_string(&current).is_ok_and(|c| c.trim() == id) {
        return Ok(());
    }
    crate::paths::replace_file(&current, format!("{id}\n").as_bytes())
}

/// Removes `.build-*` folders left by builds that crashed (the index lock is
/// held, so none is in progress).
fn remove_stale_builds(index: &Path) -> Result<()> {
    for e in std::fs::read_dir(index)? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with(".build-") {
            std::fs::remove_dir_all(e.path()).with_context(|| format!("cannot remove {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// Removes snapshots other than the ones to `keep` (the new one and the one
/// served until now, which a running server may still read).
fn remove_old_snapshots(index: &Path, keep: &[&str]) -> Result<()> {
    for e in std::fs::read_dir(index)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_snapshot = name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if is_snapshot && !keep.contains(&name.as_str()) {
            std::fs::remove_dir_all(e.path())
                .with_context(|| format!("cannot remove old snapshot {}", e.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two CLI commands started together each mark the snapshot they opened;
    /// a shared temporary name made one of them fail.
    #[test]
    fn many_processes_and_threads_can_mark_the_current_snapshot_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        std::fs::create_dir_all(&paths.index).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let paths = &paths;
                s.spawn(move || {
                    for i in 0..200 {
                        // Alternating ids, so that most calls do write.
                        let id = format!("{:016x}", (t + i) % 2);
                        mark_current(paths, &id).unwrap();
                    }
                });
            }
        });
        let current = std::fs::read_to_string(paths.index.join("CURRENT")).unwrap();
        assert!(["0000000000000000\n", "0000000000000001\n"].contains(&current.as_str()), "{current:?}");
        let left: Vec<_> = std::fs::read_dir(&paths.index).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["CURRENT"], "no temporary file is left behind");
    }
}
