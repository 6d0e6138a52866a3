//! The built-in systems in FHIR form, converted once per snapshot, and the
//! answers of light GET operations (a `$lookup`, a `$validate-code`), kept
//! per snapshot as they were sent.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::registry::Builtins;
use crate::index::Snapshot;
use crate::memo::{Memo, lock};

/// Bytes of answers kept at most, keys included.
pub const ANSWER_BYTES: usize = 16 << 20;
/// Longest request key kept (operation, query, languages, date): a bound
/// on keys keeps the memo's size a function of [`ANSWER_BYTES`].
pub const MAX_KEY_BYTES: usize = 2048;

/// The built-in systems in FHIR form, rebuilt when the snapshot changes.
///
/// The lock is held only to find or create the slot of a snapshot, never
/// while a system is converted: the first requests after a reload wait on
/// that slot's [`OnceLock`] (on blocking threads), the others go on.
pub struct Cache {
    /// The snapshot id and its slot.
    current: Mutex<Option<(String, Slot)>>,
    /// Answers of light GET operations by request key, as sent.
    answers: Mutex<Memo<String, Bytes>>,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache { current: Mutex::default(), answers: Mutex::new(Memo::new(ANSWER_BYTES)) }
    }
}

/// The builtins of one snapshot, built once by the first request needing them.
type Slot = Arc<OnceLock<Arc<Builtins>>>;

impl Cache {
    /// The builtins of `snap`, built on first use.
    pub fn builtins(&self, snap: &Snapshot) -> Arc<Builtins> {
        let slot = {
            let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match cur.as_ref().filter(|(id, _)| *id == snap.manifest.id) {
                Some((_, slot)) => slot.clone(),
                None => {
                    let slot = Arc::new(OnceLock::new());
                    *cur = Some((snap.manifest.id.clone(), slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| Arc::new(Builtins::new(snap))).clone()
    }

    /// Whether the builtins of `snap` are built already (so that a request
    /// using them does no conversion).
    pub fn is_ready(&self, snap: &Snapshot) -> bool {
        let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        cur.as_ref().is_some_and(|(id, slot)| *id == snap.manifest.id && slot.get().is_some())
    }

    /// The answer kept for the request `key` on `snap`.
    pub fn answer(&self, snap: &Snapshot, key: &str) -> Option<Bytes> {
        lock(&self.answers).get(&snap.dir, key)
    }

    /// Keeps `body` as the answer to the request `key` on `snap`: a
    /// request's answer must depend on the snapshot and its key only.
    pub fn keep(&self, snap: &Snapshot, key: String, body: Bytes) {
        if key.len() <= MAX_KEY_BYTES {
            let weight = key.len() + body.len();
            lock(&self.answers).put(&snap.dir, key, body, weight);
        }
    }

    /// Forgets the builtins and the answers (after a reload), so that the
    /// old snapshot's are freed now rather than at the next FHIR request.
    pub fn clear(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *lock(&self.answers) = Memo::new(ANSWER_BYTES);
    }
}
