//! An opened snapshot: every system and concept in memory, the code fst, the
//! text index, and the hierarchy links derived at load time.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use fst::{IntoStreamer, Streamer};

use super::{FORMAT, Manifest, TextIndex};
use crate::model::{CodeSystem, Concept};

/// The file of a snapshot's folder that remembers the sha256 of its files
/// as last verified, by size and modification time
/// ([`crate::digest::DigestCache`]); it is not part of the snapshot.
pub const VERIFIED: &str = ".verified.json";

/// A concept's place in a snapshot: its ordinal (index over all systems, in
/// system then code order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConceptRef(pub u32);

/// Derived, per concept: where it is and who its relatives are.
struct Node {
    system: u16,
    index: u32,
    /// Length in bytes of the display.
    display_len: u32,
    /// The display is flagged by ATIH (`***`).
    flagged: bool,
    /// The concept's level is one codes are recorded at.
    codable: bool,
    /// Where, in `Snapshot::firsts`, the first term and the number of terms
    /// of the display and of each designation are.
    firsts: std::ops::Range<u32>,
}

/// Every stem of every label and designation: an fst from stem to id (ids
/// follow the sorted order, so a prefix is a contiguous id range) and, per
/// id, the sorted ordinals of the concepts using it.
pub struct Vocabulary {
    pub fst: fst::Map<Vec<u8>>,
    pub terms: Vec<Box<str>>,
    pub postings: super::labels::Postings,
    /// Per system, its ordinals and, built on first use, the fst of the
    /// stems its labels use (same ids): a typo-tolerant walk within one
    /// system visits only its own words (NAF uses a tenth of the
    /// vocabulary).
    by_system: Vec<(std::ops::Range<u32>, SystemWords)>,
    /// Answers of [`Vocabulary::fuzzy`].
    fuzzy_memo: std::sync::Mutex<FuzzyMemo>,
}

/// The fst of the stems one system uses, built on first use.
type SystemWords = std::sync::OnceLock<fst::Map<Vec<u8>>>;

/// Typo-tolerant expansions kept: (stem, distance, prefix, system or
/// `u32::MAX` for all) → vocabulary ids, and how many ids and key bytes
/// they hold in all.
#[derive(Default)]
struct FuzzyMemo {
    answers: std::collections::HashMap<FuzzyKey, std::sync::Arc<[u32]>>,
    weight: usize,
}

/// (stem, distance, prefix, system or `u32::MAX` for all).
type FuzzyKey = (Box<str>, u8, bool, u32);

/// Ids and key bytes [`Vocabulary::fuzzy`] keeps at most (about 16 MB,
/// whatever the words asked).
const FUZZY_MEMO: usize = 4 << 20;

impl Vocabulary {
    pub fn id(&self, stem: &str) -> Option<u32> {
        self.fst.get(stem).map(|v| v as u32)
    }

    /// Ids of the stems starting with `prefix`, as a range.
    pub fn prefix_range(&self, prefix: &str) -> std::ops::Range<u32> {
        let lo = self.terms.partition_point(|t| t.as_ref() < prefix);
        let hi = lo + self.terms[lo..].partition_point(|t| t.starts_with(prefix));
        lo as u32..hi as u32
    }

    /// Ids of the stems within `distance` edits of `stem` (with `prefix`,
    /// starting within `distance` edits of it) among the stems used within
    /// `scope` (ordinal ranges, one per system searched); a stem used only
    /// outside `scope` may be among them (its postings hold nothing
    /// within it). Answers are kept (at most [`FUZZY_MEMO`] ids and key
    /// bytes, then the memo starts again): the words of a file or of a form
    /// come back.
    pub(crate) fn fuzzy(
        &self,
        stem: &str,
        distance: u8,
        prefix: bool,
        scope: &[std::ops::Range<u32>],
    ) -> std::sync::Arc<[u32]> {
        let own = match scope {
            [one] => self.by_system.iter().position(|(range, _)| range == one),
            _ => None,
        };
        let key = (Box::<str>::from(stem), distance, prefix, own.map_or(u32::MAX, |s| s as u32));
        let memo = || self.fuzzy_memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ids) = memo().answers.get(&key) {
            return ids.clone();
        }
        let fst = match own {
            Some(s) => {
                let (range, built) = &self.by_system[s];
                built.get_or_init(|| self.fst_within(range))
            }
            None => &self.fst,
        };
        let mut ids = Vec::new();
        super::fuzzy::each_within(fst, stem, distance, prefix, |_, id| {
            ids.push(id as u32);
            true
        });
        let ids: std::sync::Arc<[u32]> = ids.into();
        let mut memo = memo();
        let weight = ids.len() + key.0.len();
        if memo.weight + weight > FUZZY_MEMO {
            memo.answers.clear();
            memo.weight = 0;
        }
        if memo.answers.insert(key, ids.clone()).is_none() {
            memo.weight += weight;
        }
        ids
    }

    /// The fst of the stems some concept within `range` uses.
    fn fst_within(&self, range: &std::ops::Range<u32>) -> fst::Map<Vec<u8>> {
        let mut builder = fst::MapBuilder::memory();
        for (id, term) in self.terms.iter().enumerate() {
            if !self.postings.within(id as u32, range).is_empty() {
                // Terms are sorted and distinct: insertion cannot fail.
                builder.insert(term.as_bytes(), id as u64).expect("sorted distinct stems");
            }
        }
        fst::Map::new(builder.into_inner().expect("an fst in memory")).expect("a valid fst")
    }
}

/// An immutable, loaded snapshot.
///
/// Guarantees: ordinals are dense (`0..len`); a concept's parent and
/// children are in the same system; [`Snapshot::lookup`] accepts any
/// spelling the system's [`crate::codes::CodeSyntax`] accepts.
pub struct Snapshot {
    /// The snapshot's folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Every system with its concepts, in `sources.toml` order.
    pub systems: Vec<CodeSystem>,
    offsets: Vec<u32>,
    nodes: Vec<Node>,
    /// The stem ids of every label, every concept's parent and children.
    labels: super::labels::LabelTable,
    /// What the free-text fallback weighs labels with, derived on its first
    /// use (10–20 ms, which a snapshot opened for a lookup need not pay).
    bm25: std::sync::OnceLock<super::bm25::Bm25>,
    /// The first term and the number of terms of each label of each concept
    /// (see `Node::firsts`), contiguous so that ranking many candidates reads
    /// memory in order.
    firsts: Vec<(u32, u32)>,
    codes: fst::Map<Vec<u8>>,
    /// The tantivy index, opened on first use: the reference the BM25
    /// fallback is checked against ([`Snapshot::text`]).
    text: std::sync::OnceLock<TextIndex>,
    pub(crate) vocab: Vocabulary,
    /// Correspondence tables, targets canonical and present in their system.
    pub maps: Vec<crate::model::map::ConceptMap>,
    /// Lexicon expansions, indexed by their first stem.
    pub(crate) expansions: std::collections::HashMap<String, Vec<crate::lexicon::Expansion>>,
    /// Context priors, resolved against the systems and the vocabulary.
    pub priors: Vec<LoadedPrior>,
}

/// A context prior ([`crate::priors`]) ready for ranking.
pub struct LoadedPrior {
    /// The prior as written.
    pub prior: crate::priors::Prior,
    /// Per system index: whether the prior applies to it.
    pub systems: Vec<bool>,
    /// The vocabulary ids of its label words.
    label_ids: Vec<u32>,
    /// Per ordinal, a bit: whether the prior selects the concept (a system
    /// it covers, and a code prefix or a label word of the prior), computed
    /// on first use so that ranking then asks in constant time
    /// ([`Snapshot::prior_selects`]).
    selects: std::sync::OnceLock<Vec<u64>>,
}

fn code_key(system: &str, code: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(system.len() + 1 + code.len());
    k.extend_from_slice(system.as_bytes());
    k.push(0);
    k.extend_from_slice(code.as_bytes());
    k
}

/// Writes the fst of `<system>\0<code>` → ordinal.
pub(super) fn write_codes(path: &Path, systems: &[CodeSystem]) -> Result<()> {
    let mut keys: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut ord = 0u64;
    for s in systems {
        for c in &s.concepts {
            keys.push((code_key(&s.id, &c.code), ord));
            ord += 1;
        }
    }
    keys.sort();
    let file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let mut b = fst::MapBuilder::new(file)?;
    for (k, v) in keys {
        b.insert(k, v)?;
    }
    b.finish()?;
    Ok(())
}

/// Concepts per file of `concepts/`: files small enough to share among
/// cores when a snapshot is opened.
pub const CHUNK: usize = 8192;

/// The name of chunk `k` of the concepts of system `s`; names sort as the
/// concepts go.
fn chunk_name(s: usize, k: usize) -> String {
    format!("concepts/{s:03}-{k:04}.bin")
}

/// The system of a chunk's file name, or `None` for another file.
fn chunk_system(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("concepts/")?.strip_suffix(".bin")?;
    let (s, k) = rest.split_once('-')?;
    k.parse::<usize>().ok()?;
    s.parse().ok()
}

/// Writes `systems.json` (the systems, without their concepts) and their
/// concepts in files of [`CHUNK`] under `concepts/`.
pub(super) fn write_systems(dir: &Path, systems: &[CodeSystem]) -> Result<()> {
    let headers: Vec<CodeSystem> = systems.iter().map(|s| CodeSystem { concepts: Vec::new(), ..s.clone() }).collect();
    super::write_json(&dir.join("systems.json"), &headers)?;
    std::fs::create_dir_all(dir.join("concepts"))?;
    for (s, system) in systems.iter().enumerate() {
        for (k, chunk) in system.concepts.chunks(CHUNK).enumerate() {
            let name = chunk_name(s, k);
            std::fs::write(dir.join(&name), super::store::encode(chunk))
                .with_context(|| format!("cannot write {name}"))?;
        }
    }
    Ok(())
}

impl Snapshot {
    /// Opens the snapshot in `dir`, checking every file against the sha256
    /// the manifest lists: a snapshot changed or damaged on disk is refused
    /// with what to do, never served. A file whose size and modification
    /// time are those it had when last verified ([`VERIFIED`]) is trusted
    /// without being hashed again, as `make` trusts a file's stat.
    pub fn open(dir: &Path) -> Result<Snapshot> {
        let rebuild = "rebuild it with `harmonie build --force`";
        let manifest_bytes = std::fs::read(dir.join("manifest.json"))
            .with_context(|| format!("snapshot {}: cannot read manifest.json; {rebuild}", dir.display()))?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .with_context(|| format!("snapshot {}: corrupt manifest.json; {rebuild}", dir.display()))?;
        if manifest.format != FORMAT {
            bail!(
                "snapshot {} has format {}, this harmonie reads {FORMAT}: run `harmonie build`",
                dir.display(),
                manifest.format
            );
        }
        let check = |name: &str, sha256: &str| -> Result<()> {
            match manifest.files.get(name) {
                Some(sum) if *sum == sha256 => Ok(()),
                Some(_) => bail!(
                    "snapshot {}: {name} does not match its checksum (changed or damaged); {rebuild}",
                    dir.display()
                ),
                None => bail!("snapshot {}: {name} is not listed in the manifest; {rebuild}", dir.display()),
            }
        };
        // Files unchanged since they were last verified are not hashed again.
        let verified = std::sync::Mutex::new(crate::digest::DigestCache::open(&dir.join(VERIFIED)));
        let verified_cache = || verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let read = |name: &str| -> Result<Vec<u8>> {
            let (bytes, sha256) = verified_cache()
                .read(&dir.join(name))
                .with_context(|| format!("snapshot {}: cannot read {name}; {rebuild}", dir.display()))?;
            check(name, &sha256)?;
            Ok(bytes)
        };
        // Every listed file exists and matches, the text index's included.
        for name in manifest.files.keys() {
            if !dir.join(name).is_file() {
                bail!("snapshot {}: {name} is missing; {rebuild}", dir.display());
            }
            if name.starts_with("text/") {
                let sha256 = verified_cache()
                    .sha256(&dir.join(name))
                    .with_context(|| format!("snapshot {}: cannot read {name}; {rebuild}", dir.display()))?;
                check(name, &sha256)?;
            }
        }
        let mut systems: Vec<CodeSystem> =
            serde_json::from_slice(&read("systems.json")?).context("corrupt systems.json")?;
        let sizes: Vec<u32> = manifest.systems.iter().map(|s| s.concept_count as u32).collect();
        if sizes.len() != systems.len() {
            bail!("snapshot {}: the manifest and systems.json list different systems; {rebuild}", dir.display());
        }
        // The concepts are parsed in chunks on every core while this thread
        // reads the rest.
        let chunks: Vec<(usize, &str)> =
            manifest.files.keys().filter_map(|name| Some((chunk_system(name)?, name.as_str()))).collect();
        if chunks.iter().any(|&(s, _)| s >= systems.len()) {
            bail!("snapshot {}: a concept file names a system that is not listed; {rebuild}", dir.display());
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let parse_chunks = || -> Result<Vec<(usize, Vec<Concept>)>> {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(_, name)) = chunks.get(i) else { return Ok(out) };
                let concepts = super::store::decode(&read(name)?)
                    .with_context(|| format!("snapshot {}: corrupt {name}; {rebuild}", dir.display()))?;
                out.push((i, concepts));
            }
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len()).max(1);
        let (parsed, rest) = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers).map(|_| scope.spawn(parse_chunks)).collect();
            let rest = (|| -> Result<_> {
                let codes = fst::Map::new(read("codes.fst")?).context("corrupt codes.fst")?;
                let expansion_list: Vec<crate::lexicon::Expansion> =
                    serde_json::from_slice(&read("lexicon.json")?).context("corrupt lexicon.json")?;
                // The vocabulary, analysed at build.
                let vocab_fst = fst::Map::new(read("vocab.fst")?).context("corrupt vocab.fst")?;
                let mut terms: Vec<Box<str>> = Vec::with_capacity(vocab_fst.len());
                let mut stream = vocab_fst.stream();
                while let Some((t, _)) = fst::Streamer::next(&mut stream) {
                    terms.push(String::from_utf8_lossy(t).into());
                }
                let maps: Vec<crate::model::map::ConceptMap> =
                    serde_json::from_slice(&read("maps.json")?).context("corrupt maps.json")?;
                // Every label's stem ids and every parent, derived at build.
                let labels = super::labels::LabelTable::read(&read("labels.bin")?, &sizes, terms.len() as u32)
                    .with_context(|| format!("snapshot {}: corrupt labels.bin; {rebuild}", dir.display()))?;
                let postings = super::labels::Postings::of(&labels, terms.len() as u32);
                Ok((codes, expansion_list, vocab_fst, terms, maps, labels, postings))
            })();
            let mut parsed = Vec::new();
            for h in handles {
                match h.join() {
                    Ok(chunk) => parsed.push(chunk),
                    Err(_) => {
                        parsed.push(Err(anyhow::anyhow!("snapshot {}: a concept file cannot be read", dir.display())))
                    }
                }
            }
            (parsed, rest)
        });
        let (codes, expansion_list, vocab_fst, terms, maps, labels, postings) = rest?;
        let mut parsed: Vec<(usize, Vec<Concept>)> =
            parsed.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
        // Chunks in the manifest's order: by system, then by chunk number.
        parsed.sort_unstable_by_key(|&(i, _)| i);
        for (s, &n) in systems.iter_mut().zip(&sizes) {
            s.concepts.reserve_exact(n as usize);
        }
        for (i, concepts) in parsed {
            systems[chunks[i].0].concepts.extend(concepts);
        }
        if let Some(s) = systems.iter().zip(&sizes).position(|(s, &n)| s.concepts.len() != n as usize) {
            bail!(
                "snapshot {}: system {} has {} concepts, its manifest says {}; {rebuild}",
                dir.display(),
                systems[s].id,
                systems[s].concepts.len(),
                sizes[s]
            );
        }
        let mut expansions: std::collections::HashMap<String, Vec<crate::lexicon::Expansion>> = Default::default();
        for e in expansion_list {
            expansions.entry(e.term[0].clone()).or_default().push(e);
        }

        let mut offsets = Vec::with_capacity(systems.len());
        let mut nodes = Vec::with_capacity(labels.len());
        let mut firsts: Vec<(u32, u32)> = Vec::with_capacity(labels.len() * 2);
        for (si, s) in systems.iter().enumerate() {
            offsets.push(nodes.len() as u32);
            for (ci, c) in s.concepts.iter().enumerate() {
                let ord = nodes.len() as u32;
                let start = firsts.len() as u32;
                firsts.extend(labels.all(ord).filter_map(|l| Some((*l.first()?, l.len() as u32))));
                nodes.push(Node {
                    system: si as u16,
                    index: ci as u32,
                    display_len: c.display.len() as u32,
                    flagged: c.display.starts_with("***"),
                    codable: c.level >= s.codable_from,
                    firsts: start..firsts.len() as u32,
                });
            }
        }
        let by_system = (0..systems.len())
            .map(|s| (offsets[s]..offsets[s] + systems[s].concepts.len() as u32, std::sync::OnceLock::new()))
            .collect();
        let vocab = Vocabulary { terms, fst: vocab_fst, postings, by_system, fuzzy_memo: Default::default() };
        if codes.len() != nodes.len() {
            bail!(
                "snapshot {}: codes.fst has {} codes for {} concepts; rebuild it",
                dir.display(),
                codes.len(),
                nodes.len()
            );
        }
        let prior_list: Vec<crate::priors::Prior> =
            serde_json::from_slice(&read("priors.json")?).context("corrupt priors.json")?;
        let priors = prior_list
            .into_iter()
            .map(|prior| LoadedPrior {
                systems: systems.iter().map(|s| prior.covers(s)).collect(),
                label_ids: prior.label_words.iter().filter_map(|w| vocab.id(w)).collect(),
                selects: std::sync::OnceLock::new(),
                prior,
            })
            .collect();
        verified_cache().save();
        Ok(Snapshot {
            dir: dir.to_path_buf(),
            manifest,
            systems,
            offsets,
            nodes,
            labels,
            bm25: std::sync::OnceLock::new(),
            firsts,
            codes,
            text: std::sync::OnceLock::new(),
            vocab,
            expansions,
            maps,
            priors,
        })
    }

    /// Whether prior `i` selects concept `r` (see [`LoadedPrior`]).
    pub(crate) fn prior_selects(&self, i: usize, r: ConceptRef) -> bool {
        let p = &self.priors[i];
        let selects = p.selects.get_or_init(|| {
            let mut bits = vec![0u64; self.nodes.len().div_ceil(64)];
            let mut set = |ord: u32| bits[ord as usize / 64] |= 1 << (ord % 64);
            for (system, s) in self.systems.iter().enumerate().filter(|&(system, _)| p.systems[system]) {
                let range = self.ordinals_of(system);
                // Concepts are in code order: a code prefix is a run of them.
                for prefix in &p.prior.codes {
                    let from = s.concepts.partition_point(|c| c.code.as_str() < prefix.as_str());
                    let to = from + s.concepts[from..].partition_point(|c| c.code.starts_with(prefix.as_str()));
                    (range.start + from as u32..range.start + to as u32).for_each(&mut set);
                }
                for &id in &p.label_ids {
                    for &ord in self.vocab.postings.within(id, &range) {
                        if self.labels.display(ord).contains(&id) {
                            set(ord);
                        }
                    }
                }
            }
            bits
        });
        selects[r.0 as usize / 64] & (1 << (r.0 % 64)) != 0
    }

    /// The snapshot's tantivy index, opened on first use (its files were
    /// checked against the manifest when the snapshot was opened).
    pub(crate) fn text(&self) -> Result<&TextIndex> {
        if let Some(text) = self.text.get() {
            return Ok(text);
        }
        let dir = self.dir.join("text");
        let opened = std::panic::catch_unwind(|| TextIndex::open(&dir))
            .map_err(|_| anyhow::anyhow!("the text index of snapshot {} cannot be opened", self.dir.display()))??;
        Ok(self.text.get_or_init(|| opened))
    }

    /// The `n` concepts within `scope` (ordinal ranges, one per system)
    /// that best match any of `slots` (each a list of alternative stem
    /// ids) by BM25, best first ([`super::bm25::Bm25::best`]); `filtered`:
    /// the scope is a choice among the systems rather than all of them.
    pub(crate) fn bm25_best(
        &self,
        slots: &[Vec<u32>],
        scope: &[std::ops::Range<u32>],
        filtered: bool,
        n: usize,
    ) -> super::bm25::Ranked {
        let bm25 = self.bm25.get_or_init(|| super::bm25::Bm25::of(&self.labels, self.vocab.terms.len() as u32));
        bm25.best(&self.vocab.postings, slots, scope, filtered, n)
    }

    /// Number of concepts over all systems.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the snapshot holds no concept.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The system of concept `r`.
    pub fn system_of(&self, r: ConceptRef) -> &CodeSystem {
        &self.systems[usize::from(self.nodes[r.0 as usize].system)]
    }

    /// The index of the system of concept `r`.
    pub fn system_index_of(&self, r: ConceptRef) -> usize {
        usize::from(self.nodes[r.0 as usize].system)
    }

    /// Concept `r`.
    pub fn concept(&self, r: ConceptRef) -> &Concept {
        let n = &self.nodes[r.0 as usize];
        &self.systems[usize::from(n.system)].concepts[n.index as usize]
    }

    /// Level name of a concept.
    pub fn level_name(&self, r: ConceptRef) -> &str {
        &self.system_of(r).levels[usize::from(self.concept(r).level)]
    }

    /// The parent of `r`, if any.
    pub fn parent(&self, r: ConceptRef) -> Option<ConceptRef> {
        self.labels.parents[r.0 as usize].map(ConceptRef)
    }

    /// The children of `r`, in code order.
    pub fn children(&self, r: ConceptRef) -> impl Iterator<Item = ConceptRef> + '_ {
        self.labels.children(r.0).iter().map(|&c| ConceptRef(c))
    }

    /// Whether `r` has no children.
    pub fn is_leaf(&self, r: ConceptRef) -> bool {
        self.labels.children(r.0).is_empty()
    }

    /// Ancestors from the root (section, chapter…) down to the parent.
    pub fn ancestors(&self, r: ConceptRef) -> Vec<ConceptRef> {
        let mut out = Vec::new();
        let mut cur = self.parent(r);
        while let Some(p) = cur {
            out.push(p);
            cur = self.parent(p);
        }
        out.reverse();
        out
    }

    /// Vocabulary ids of the display of a concept.
    pub(crate) fn label_terms(&self, r: ConceptRef) -> &[u32] {
        self.labels.display(r.0)
    }

    /// The first vocabulary id and the number of terms of the display and
    /// of each designation.
    pub(crate) fn first_terms(&self, r: ConceptRef) -> &[(u32, u32)] {
        let n = &self.nodes[r.0 as usize];
        &self.firsts[n.firsts.start as usize..n.firsts.end as usize]
    }

    /// Length in bytes of a concept's display, and whether ATIH flags it
    /// (`***`), without reading the concept.
    pub(crate) fn display_shape(&self, r: ConceptRef) -> (usize, bool) {
        let n = &self.nodes[r.0 as usize];
        (n.display_len as usize, n.flagged)
    }

    /// Vocabulary ids of each designation of a concept.
    pub(crate) fn designation_terms(&self, r: ConceptRef) -> impl ExactSizeIterator<Item = &[u32]> + Clone {
        self.labels.designations(r.0)
    }

    /// Range of ordinals of a system's concepts.
    pub fn ordinals_of(&self, system: usize) -> std::ops::Range<u32> {
        let start = self.offsets[system];
        start..start + self.systems[system].concepts.len() as u32
    }

    /// Whether a concept is at a level people record (see
    /// [`CodeSystem::codable_from`]).
    pub fn is_codable(&self, r: ConceptRef) -> bool {
        self.nodes[r.0 as usize].codable
    }

    /// The concept with this canonical code.
    pub fn get(&self, system: usize, canonical: &str) -> Option<ConceptRef> {
        self.codes.get(code_key(&self.systems[system].id, canonical)).map(|o| ConceptRef(o as u32))
    }

    /// The concept a code stands for, in any spelling the system accepts
    /// (`1071c`, `M545`, `526A`). PCS 2003 categories of the 24-position
    /// level may be asked by their plain digits when no 42-position category
    /// has them.
    pub fn lookup(&self, system: usize, code: &str) -> Option<ConceptRef> {
        let syntax = self.systems[system].syntax;
        let canonical = syntax.canonical(code)?;
        self.get(system, &canonical).or_else(|| match syntax {
            crate::codes::CodeSyntax::Pcs if canonical.len() == 2 => self.get(system, &format!("N2-{canonical}")),
            // Codes of local thesauri are often typed in another case.
            crate::codes::CodeSyntax::Plain => self.get(system, &canonical.to_uppercase()),
            _ => None,
        })
    }

    /// Concepts whose canonical code starts with `prefix` and that `keep`
    /// accepts, in code order, at most `limit`.
    pub fn codes_with_prefix(
        &self,
        system: usize,
        prefix: &str,
        limit: usize,
        keep: impl Fn(ConceptRef) -> bool,
    ) -> Vec<ConceptRef> {
        let key = code_key(&self.systems[system].id, prefix);
        let automaton = fst::automaton::Str::new(std::str::from_utf8(&key).unwrap_or_default());
        let automaton = fst::Automaton::starts_with(automaton);
        let mut stream = self.codes.search(automaton).into_stream();
        let mut out = Vec::new();
        while let Some((_, ord)) = stream.next() {
            let r = ConceptRef(ord as u32);
            if !keep(r) {
                continue;
            }
            out.push(r);
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    /// Concepts of `system` whose canonical code is one keystroke (an edit or
    /// a transposition) away from `code`, in code order, at most `limit`.
    pub fn near_codes(&self, system: usize, code: &str, limit: usize) -> Vec<ConceptRef> {
        // The automaton grows with the input: a long "code" is no code.
        if code.chars().nth(crate::codes::MAX_CODE_CHARS).is_some() {
            return Vec::new();
        }
        let prefix = code_key(&self.systems[system].id, "");
        let key = code_key(&self.systems[system].id, code);
        let Ok(key) = std::str::from_utf8(&key) else { return Vec::new() };
        let mut out = Vec::new();
        super::fuzzy::each_within(&self.codes, key, 1, false, |k, ord| {
            if k.starts_with(&prefix) && k != key.as_bytes() {
                out.push(ConceptRef(ord as u32));
            }
            out.len() < limit
        });
        out
    }

    /// Every concept beneath `r` (children, their children…), depth first in
    /// code order.
    pub fn descendants(&self, r: ConceptRef) -> Vec<ConceptRef> {
        let mut out = Vec::new();
        let mut stack: Vec<ConceptRef> = self.children(r).collect();
        stack.reverse();
        while let Some(c) = stack.pop() {
            out.push(c);
            let first = stack.len();
            stack.extend(self.children(c));
            stack[first..].reverse();
        }
        out
    }

    /// The concepts a code or a range of codes stands for: a code in any
    /// spelling (a CIM-10 block such as `M50-M54` is a concept), or a range
    /// `FROM-TO` of codes at the same level (`M40-M43`, `10.71A-10.72Z`),
    /// which gives every concept of that level between them.
    pub fn resolve_set(&self, system: usize, spec: &str) -> Option<Vec<ConceptRef>> {
        if let Some(r) = self.lookup(system, spec) {
            return Some(vec![r]);
        }
        let (from, to) = spec.split_once('-')?;
        let (from, to) = (self.lookup(system, from)?, self.lookup(system, to)?);
        let level = self.concept(from).level;
        if self.concept(to).level != level || to < from {
            return None;
        }
        Some((from.0..=to.0).map(ConceptRef).filter(|&r| self.concept(r).level == level).collect())
    }

    /// All concepts of a system, in code order.
    pub fn concepts_of(&self, system: usize) -> impl Iterator<Item = ConceptRef> {
        let start = self.offsets[system];
        (start..start + self.systems[system].concepts.len() as u32).map(ConceptRef)
    }
}
