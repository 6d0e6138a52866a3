//! Harmonie: a terminology server for French occupational-health services.
//!
//! See ARCHITECTURE.md for the map of modules and the invariants they keep.

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
