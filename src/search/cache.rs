//! A memo of costly searches: the queries whose words match many concepts
//! (the first letters typed, `lo`, `ca`; frequent words, `autres`) are the
//! costliest and the most shared, since every user of a form types the same
//! starts. Their hits are kept, per snapshot, and served again without
//! searching.
//!
//! Guarantees:
//! * a cached answer is the answer [`super::search`] gives: the key is the
//!   whole request, and the memo is emptied when the snapshot changes;
//! * only searches of at most [`MAX_QUERY_BYTES`] that gathered at least
//!   [`COSTLY_CANDIDATES`] word candidates are kept, with at most [`CAPACITY`] hits in all (the oldest
//!   searches go first), so memory stays bounded (about 15 MB) whatever
//!   clients send.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::{Hit, SearchRequest};
use crate::index::Snapshot;

/// Word candidates from which a search is worth keeping.
pub const COSTLY_CANDIDATES: usize = 200;
/// Longest query kept (bytes): the costly queries are short, and a bound
/// on keys keeps the memo's size a function of [`CAPACITY`].
pub const MAX_QUERY_BYTES: usize = 64;
/// Hits kept at most, over all the searches kept.
pub const CAPACITY: usize = 65_536;

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
}

impl Key {
    fn of(req: &SearchRequest) -> Key {
        Key {
            q: req.q.to_string(),
            system: req.system,
            limit: req.limit,
            level: req.level.map(str::to_string),
            leaf: req.leaf,
            level_only: req.level_only,
            no_context: req.no_context,
        }
    }
}

#[derive(Default)]
struct Memo {
    /// The snapshot the hits belong to (its folder).
    snapshot: std::path::PathBuf,
    hits: HashMap<Key, Arc<Vec<Hit>>>,
    /// Keys in insertion order, for eviction.
    order: VecDeque<Key>,
    /// Hits kept, over all searches.
    size: usize,
}

/// The memo of costly searches; one per server, shared by its handlers.
#[derive(Default)]
pub struct SearchCache {
    memo: Mutex<Memo>,
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
        let key = Key::of(req);
        if let Some(hits) = self.get(snap, &key) {
            return Ok(hits);
        }
        let (hits, candidates) = super::search_counting(snap, req)?;
        let hits = Arc::new(hits);
        if candidates >= COSTLY_CANDIDATES {
            self.put(snap, key, hits.clone());
        }
        Ok(hits)
    }

    /// Searches kept now.
    pub fn len(&self) -> usize {
        self.lock().hits.len()
    }

    /// Whether no search is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memo> {
        // A panic while holding the lock leaves a consistent map: keep it.
        self.memo.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, snap: &Snapshot, key: &Key) -> Option<Arc<Vec<Hit>>> {
        let memo = self.lock();
        if memo.snapshot != snap.dir {
            return None;
        }
        memo.hits.get(key).cloned()
    }

    fn put(&self, snap: &Snapshot, key: Key, hits: Arc<Vec<Hit>>) {
        let mut memo = self.lock();
        if memo.snapshot != snap.dir {
            *memo = Memo { snapshot: snap.dir.clone(), ..Memo::default() };
        }
        memo.size += hits.len();
        match memo.hits.insert(key.clone(), hits) {
            Some(old) => memo.size -= old.len(),
            None => memo.order.push_back(key),
        }
        while memo.size > CAPACITY {
            let Some(old) = memo.order.pop_front() else { break };
            if let Some(hits) = memo.hits.remove(&old) {
                memo.size -= hits.len();
            }
        }
    }
}
