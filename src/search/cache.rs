//! A memo of searches: the queries whose words match many concepts (the
//! first letters typed, `lo`, `ca`; frequent words, `autres`) are the
//! costliest and the most shared, since every user of a form types the same
//! starts. Their hits are kept, per snapshot, and served again without
//! searching; so are the answers of short searches as the HTTP API renders
//! them, so that a start typed again costs a lookup.
//!
//! Guarantees:
//! * a cached answer is the answer [`super::search`] gives: the key is the
//!   whole request, and the memo is emptied when the snapshot changes;
//! * only searches of at most [`MAX_QUERY_BYTES`] are kept: hits only of
//!   those that gathered at least [`COSTLY_CANDIDATES`] word candidates,
//!   with at most [`CAPACITY`] hits in all (about 15 MB), and rendered
//!   answers up to [`RENDERED_BYTES`]; the oldest go first, so memory stays
//!   bounded whatever clients send.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;

use super::{Hit, SearchRequest};
use crate::index::Snapshot;
use crate::memo::{Memo, lock};

/// Word candidates from which a search is worth keeping.
pub const COSTLY_CANDIDATES: usize = 200;
/// Longest query kept (bytes): the costly queries are short, and a bound
/// on keys keeps the memo's size a function of [`CAPACITY`].
pub const MAX_QUERY_BYTES: usize = 64;
/// Hits kept at most, over all the searches kept.
pub const CAPACITY: usize = 65_536;
/// Bytes of rendered answers kept at most (keys included).
pub const RENDERED_BYTES: usize = 16 << 20;

/// A request as a key: every field that changes the answer.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    q: String,
    system: Option<usize>,
    limit: usize,
    level: Option<String>,
    leaf: bool,
    level_only: bool,
    no_context: bool,
    unexplained: bool,
    /// Rendered with the explanation of each hit (rendered answers only).
    explain: bool,
}

impl Key {
    fn of(req: &SearchRequest, explain: bool) -> Key {
        Key {
            q: req.q.to_string(),
            system: req.system,
            limit: req.limit,
            level: req.level.map(str::to_string),
            leaf: req.leaf,
            level_only: req.level_only,
            no_context: req.no_context,
            unexplained: req.unexplained,
            explain,
        }
    }

    /// Bytes the key holds, counted in a memo's size.
    fn weight(&self) -> usize {
        std::mem::size_of::<Key>() + self.q.len() + self.level.as_ref().map_or(0, String::len)
    }
}

/// The memo of searches; one per server, shared by its handlers.
pub struct SearchCache {
    /// Hits of costly searches, weighed in hits.
    hits: Mutex<Memo<Key, Arc<Vec<Hit>>>>,
    /// Answers as the caller rendered them, weighed in bytes.
    rendered: Mutex<Memo<Key, Bytes>>,
}

impl Default for SearchCache {
    fn default() -> SearchCache {
        SearchCache { hits: Mutex::new(Memo::new(CAPACITY)), rendered: Mutex::new(Memo::new(RENDERED_BYTES)) }
    }
}

impl SearchCache {
    /// An empty memo.
    pub fn new() -> SearchCache {
        SearchCache::default()
    }

    /// The hits of `req` on `snap`: from the memo, or searched (and kept
    /// when the search was costly).
    pub fn search(&self, snap: &Snapshot, req: &SearchRequest) -> Result<Arc<Vec<Hit>>> {
        if req.q.len() > MAX_QUERY_BYTES {
            return Ok(Arc::new(super::search(snap, req)?));
        }
        let key = Key::of(req, false);
        if let Some(hits) = lock(&self.hits).get(&snap.dir, &key) {
            return Ok(hits);
        }
        let (hits, candidates) = super::search_counting(snap, req)?;
        let hits = Arc::new(hits);
        if candidates >= COSTLY_CANDIDATES {
            let weight = hits.len();
            lock(&self.hits).put(&snap.dir, key, hits.clone(), weight);
        }
        Ok(hits)
    }

    /// The answer to `req` on `snap` as `render` writes its hits (`explain`:
    /// whether `render` explains them): from the memo, or searched, rendered
    /// and kept. Every search of at most [`MAX_QUERY_BYTES`] is kept, with at
    /// most [`RENDERED_BYTES`] in all, since a form's users type the same
    /// starts.
    pub fn rendered(
        &self,
        snap: &Snapshot,
        req: &SearchRequest,
        explain: bool,
        render: impl FnOnce(&[Hit]) -> Result<Bytes>,
    ) -> Result<Bytes> {
        if req.q.len() > MAX_QUERY_BYTES {
            return render(&self.search(snap, req)?);
        }
        let key = Key::of(req, explain);
        if let Some(body) = lock(&self.rendered).get(&snap.dir, &key) {
            return Ok(body);
        }
        let body = render(&self.search(snap, req)?)?;
        let weight = body.len() + key.weight();
        lock(&self.rendered).put(&snap.dir, key, body.clone(), weight);
        Ok(body)
    }

    /// Searches whose hits are kept now.
    pub fn len(&self) -> usize {
        lock(&self.hits).len()
    }

    /// Whether no search is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rendered answers kept now.
    pub fn rendered_len(&self) -> usize {
        lock(&self.rendered).len()
    }
}
