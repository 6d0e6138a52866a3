#![warn(missing_docs)]
//! Harmonie: a terminology server for French occupational-health services
//! (SPST). It loads the nomenclatures they code with (NAF, PCS, CIM-10,
//! CCAM, the tables of occupational diseases, the TEP exposure thesaurus,
//! curated and local thesauri) into an immutable snapshot (an fst of codes, a
//! vocabulary of stems, a tantivy index), and serves as-you-type search,
//! lookup, validation, roll-ups and bulk recoding of legacy files, over a
//! JSON API, a FHIR R4 terminology API and web pages.
//!
//! A snapshot is built from the sources a project declares in
//! `data/sources.toml`, then searched:
//!
//! ```
//! use harmonie::index::{self, Snapshot};
//! use harmonie::paths::Paths;
//! use harmonie::search::{SearchRequest, search};
//! use harmonie::sources::SourcesFile;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir_all(dir.path().join("data"))?;
//! std::fs::write(dir.path().join("data/risques.csv"), "code,parent,label\nHAR-R1,,Risques physiques\nHAR-R11,HAR-R1,Bruit\n")?;
//! std::fs::write(dir.path().join("data/sources.toml"), r#"
//! [[source]]
//! id = "risques"
//! title = "Risques"
//! version = "1"
//! publisher = "example"
//! licence = "example"
//! attribution = "example"
//! url = "urn:harmonie:cs:example"
//! loader = "thesaurus-table"
//! columns = { code = "code", parent = "parent", label = "label" }
//! [[source.file]]
//! role = "main"
//! path = "data/risques.csv"
//! "#)?;
//!
//! let paths = Paths::new(dir.path());
//! let built = index::build(&paths, &SourcesFile::read(&paths.sources)?, false)?;
//! let snap = Snapshot::open(&built.dir)?;
//! let risques = snap.resolve_system("risques")?;
//! let hits = search(&snap, &SearchRequest { q: "bruit", system: Some(risques), limit: 5, ..Default::default() })?;
//! assert_eq!(snap.concept(hits[0].concept).code, "HAR-R11");
//! let noise = snap.lookup(risques, "HAR-R11").expect("a code of the system");
//! assert_eq!(snap.concept(noise).display, "Bruit");
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! # Architecture
//!
//! Dependencies point one way, as data flows ([`layers::LAYERS`], checked by
//! a test):
//!
//! | layer | modules |
//! |---|---|
//! | foundations | [`clock`], [`codes`], [`digest`], [`jobs`], [`memory`], [`paths`], [`table`], [`text`] |
//! | model | [`model`] (with [`model::map`], [`model::fhir`]) |
//! | words | [`lexicon`], [`priors`] |
//! | loading | [`sources`] |
//! | fetching, building | [`fetch`], [`index`] |
//! | engines | [`search`], [`validate`], [`rollup`] |
//! | uses | [`recode`], [`eval`], [`prepare`] |
//! | protocols | [`fhir`], then [`api`] |
//! | the binary | `main.rs` |
//!
//! ARCHITECTURE.md gives each module's duties and the invariants they keep.

pub mod api;
pub mod clock;
pub mod codes;
pub mod digest;
pub mod eval;
pub mod fetch;
pub mod fhir;
pub mod index;
pub mod jobs;
pub mod layers;
pub mod lexicon;
pub mod memo;
pub mod memory;
pub mod model;
pub mod paths;
pub mod prepare;
pub mod priors;
pub mod recode;
pub mod rollup;
pub mod search;
pub mod sources;
pub mod table;
pub mod text;
pub mod validate;
