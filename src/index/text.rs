//! The tantivy side of a snapshot: one document per concept, whose `terms`
//! field holds the analysed stems ([`crate::text::analyze`]) of its display
//! and designations, with its ordinal (`ord`, fast field) and system
//! (`system`, raw term) for filtering.
//!
//! Tantivy finds candidates (exact, prefix and fuzzy term matches through
//! its fst term dictionary); ranking is done by [`crate::search`].

use std::path::Path;

use anyhow::{Context, Result};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{DocId, Index, IndexReader, Score, SegmentReader, Term, doc};

use crate::model::CodeSystem;

/// A term of a query, as the candidate generator needs it.
#[derive(Clone, Debug)]
pub struct QueryTerm {
    pub stem: String,
    /// Also match indexed terms starting with `stem` (the word being typed).
    pub prefix: bool,
    /// Edit distance allowed (0 = none).
    pub fuzzy: u8,
}

/// The opened tantivy index of a snapshot.
pub struct TextIndex {
    reader: IndexReader,
    terms: Field,
    system: Field,
}

fn schema() -> (Schema, Field, Field, Field) {
    let mut b = Schema::builder();
    let ord = b.add_u64_field("ord", FAST);
    let system = b.add_text_field("system", STRING);
    let indexing = TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::Basic);
    let terms = b.add_text_field("terms", TextOptions::default().set_indexing_options(indexing));
    (b.build(), ord, system, terms)
}

/// The text indexed for a concept: stems of its display and designations.
pub fn indexed_text(display: &str, designations: impl Iterator<Item = impl AsRef<str>>) -> String {
    let mut out = crate::text::normalize(display);
    for d in designations {
        out.push(' ');
        out.push_str(&crate::text::normalize(d.as_ref()));
    }
    out
}

impl TextIndex {
    /// Writes the index of `systems` into `dir`; concept ordinals follow the
    /// order of systems then concepts.
    pub fn write(dir: &Path, systems: &[CodeSystem]) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let (schema, ord_f, system_f, terms_f) = schema();
        let index = Index::create_in_dir(dir, schema).context("cannot create the text index")?;
        let mut writer = index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 100_000_000)?;
        let mut ord = 0u64;
        for s in systems {
            for c in &s.concepts {
                let text = indexed_text(&c.display, c.designations.iter().map(|d| &d.value));
                writer.add_document(doc!(ord_f => ord, system_f => s.id.as_str(), terms_f => text))?;
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
        let (_, _, system, terms) = schema();
        let reader = index.reader().context("cannot read the text index")?;
        Ok(TextIndex { reader, terms, system })
    }

    /// Ordinals of concepts matching the query terms (all of them when
    /// `all_required`, else at least one), within `systems` if given, at
    /// most `cap` of them, in index order.
    pub fn candidates(
        &self,
        terms: &[QueryTerm],
        systems: Option<&[&str]>,
        all_required: bool,
        cap: usize,
    ) -> Result<Vec<u32>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in terms {
            let term = Term::from_field_text(self.terms, &t.stem);
            let mut options: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Should, Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)))];
            if t.prefix {
                options.push((Occur::Should, Box::new(FuzzyTermQuery::new_prefix(term.clone(), 0, true))));
            }
            if t.fuzzy > 0 {
                options.push((Occur::Should, Box::new(FuzzyTermQuery::new(term.clone(), t.fuzzy, true))));
                if t.prefix {
                    options.push((Occur::Should, Box::new(FuzzyTermQuery::new_prefix(term, t.fuzzy, true))));
                }
            }
            let occur = if all_required { Occur::Must } else { Occur::Should };
            clauses.push((occur, Box::new(BooleanQuery::new(options))));
        }
        if let Some(systems) = systems {
            let filter: Vec<(Occur, Box<dyn Query>)> = systems
                .iter()
                .map(|s| {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(Term::from_field_text(self.system, s), IndexRecordOption::Basic))
                            as Box<dyn Query>,
                    )
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(filter))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        Ok(searcher.search(&query, &OrdCollector { cap })?)
    }
}

/// Collects the `ord` fast field of matching documents, up to a cap,
/// without scoring.
struct OrdCollector {
    cap: usize,
}

struct OrdSegmentCollector {
    ords: Column<u64>,
    out: Vec<u32>,
    cap: usize,
}

impl Collector for OrdCollector {
    type Fruit = Vec<u32>;
    type Child = OrdSegmentCollector;

    fn for_segment(&self, _ord: u32, segment: &SegmentReader) -> tantivy::Result<OrdSegmentCollector> {
        Ok(OrdSegmentCollector { ords: segment.fast_fields().u64("ord")?, out: Vec::new(), cap: self.cap })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u32>>) -> tantivy::Result<Vec<u32>> {
        let mut all: Vec<u32> = fruits.into_iter().flatten().collect();
        all.sort_unstable();
        all.truncate(self.cap);
        Ok(all)
    }
}

impl SegmentCollector for OrdSegmentCollector {
    type Fruit = Vec<u32>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if self.out.len() < self.cap
            && let Some(ord) = self.ords.first(doc)
        {
            self.out.push(ord as u32);
        }
    }

    fn harvest(self) -> Vec<u32> {
        self.out
    }
}
