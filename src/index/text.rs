//! The tantivy side of a snapshot: one document per concept, whose `terms`
//! field holds the analysed stems ([`crate::text::analyze`]) of its display
//! and designations and whose `context` field holds those of its ancestors'
//! displays, with its ordinal (`ord`, fast field) and system (`system`, raw
//! term) for filtering.
//!
//! As-you-type matching (exact, prefix, fuzzy, synonym) runs on the
//! snapshot's own vocabulary ([`super::snapshot::Vocabulary`]), and the
//! free-text fallback's BM25 on its postings ([`super::bm25`]); this index
//! is what that BM25 reproduces: opened on first use by the reference
//! search (`search::search_tantivy_fallback`) the tests compare
//! with.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, ReloadPolicy, Searcher, Term, doc};

use super::bm25::CONTEXT_BOOST;
use crate::model::CodeSystem;

/// The opened tantivy index of a snapshot: a snapshot never changes, so
/// one searcher serves every query, with the `ord` column of each segment
/// opened once.
pub struct TextIndex {
    searcher: Searcher,
    ords: Vec<Column<u64>>,
    fields: Fields,
}

#[derive(Clone, Copy)]
struct Fields {
    ord: Field,
    system: Field,
    terms: Field,
    context: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let ord = b.add_u64_field("ord", FAST);
    let system = b.add_text_field("system", STRING);
    let indexing =
        TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::WithFreqs);
    let terms = b.add_text_field("terms", TextOptions::default().set_indexing_options(indexing.clone()));
    let context = b.add_text_field("context", TextOptions::default().set_indexing_options(indexing));
    (b.build(), Fields { ord, system, terms, context })
}

/// The text indexed for a concept: stems of its display and designations.
fn indexed_text<'a>(display: &str, designations: impl Iterator<Item = &'a str>) -> String {
    let mut out = crate::text::normalize(display);
    for d in designations {
        out.push(' ');
        out.push_str(&crate::text::normalize(d));
    }
    out
}

impl TextIndex {
    /// Writes the index of `systems` into `dir`; concept ordinals follow the
    /// order of systems then concepts. Each concept also gets, as `context`,
    /// the stems of its ancestors' displays (a sous-classe `Restauration
    /// traditionnelle` is found by `restaurant` through its classe).
    pub fn write(dir: &Path, systems: &[CodeSystem]) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let (schema, f) = schema();
        let index = Index::create_in_dir(dir, schema).context("cannot create the text index")?;
        let mut writer = index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 100_000_000)?;
        let mut ord = 0u64;
        for s in systems {
            let normalized: HashMap<&str, (String, Option<&str>)> = s
                .concepts
                .iter()
                .map(|c| (c.code.as_str(), (crate::text::normalize(&c.display), c.parent.as_deref())))
                .collect();
            for c in &s.concepts {
                let text = indexed_text(&c.display, c.designations.iter().map(|d| d.value.as_str()));
                let mut context = String::new();
                let mut parent = c.parent.as_deref();
                while let Some((stems, up)) = parent.and_then(|p| normalized.get(p)) {
                    context.push_str(stems);
                    context.push(' ');
                    parent = *up;
                }
                writer.add_document(
                    doc!(f.ord => ord, f.system => s.id.as_str(), f.terms => text, f.context => context),
                )?;
                ord += 1;
            }
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        Ok(())
    }

    pub fn open(dir: &Path) -> Result<TextIndex> {
        let index =
            Index::open_in_dir(dir).with_context(|| format!("cannot open the text index in {}", dir.display()))?;
        let (_, fields) = schema();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .context("cannot read the text index")?;
        let searcher = reader.searcher();
        let ords = searcher
            .segment_readers()
            .iter()
            .map(|segment| segment.fast_fields().u64("ord").context("the text index has no ord column"))
            .collect::<Result<_>>()?;
        Ok(TextIndex { searcher, ords, fields })
    }

    /// The `n` concepts best matching any of the query slots by BM25, within
    /// `systems` if given: each slot is a list of alternative stems, a
    /// concept scores for a slot when it has one of them. Used for long
    /// free text, where no concept has every word.
    pub fn best(&self, slots: &[Vec<String>], systems: Option<&[&str]>, n: usize) -> Result<Vec<(u32, f32)>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for alternatives in slots {
            let mut options: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for stem in alternatives {
                let on = |field| TermQuery::new(Term::from_field_text(field, stem), IndexRecordOption::WithFreqs);
                options.push((Occur::Should, Box::new(on(self.fields.terms))));
                options
                    .push((Occur::Should, Box::new(BoostQuery::new(Box::new(on(self.fields.context)), CONTEXT_BOOST))));
            }
            if !options.is_empty() {
                clauses.push((Occur::Should, Box::new(BooleanQuery::new(options))));
            }
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let mut query: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(clauses)))];
        if let Some(systems) = systems {
            let filter: Vec<(Occur, Box<dyn Query>)> = systems
                .iter()
                .map(|s| {
                    let term = Term::from_field_text(self.fields.system, s);
                    (Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>)
                })
                .collect();
            query.push((Occur::Must, Box::new(BooleanQuery::new(filter))));
        }
        let top = self.searcher.search(&BooleanQuery::new(query), &TopDocs::with_limit(n).order_by_score())?;
        let ords = top.into_iter().filter_map(|(score, addr)| {
            let ord = self.ords.get(addr.segment_ord as usize)?.first(addr.doc_id)?;
            Some((ord as u32, score))
        });
        Ok(ords.collect())
    }
}
