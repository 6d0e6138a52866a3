//! The built-in systems in FHIR form, converted once per snapshot.

use std::sync::{Arc, Mutex, OnceLock};

use super::registry::Builtins;
use crate::index::Snapshot;

/// The built-in systems in FHIR form, rebuilt when the snapshot changes.
///
/// The lock is held only to find or create the slot of a snapshot, never
/// while a system is converted: the first requests after a reload wait on
/// that slot's [`OnceLock`] (on blocking threads), the others go on.
#[derive(Default)]
pub struct Cache {
    /// The snapshot id and its slot.
    current: Mutex<Option<(String, Slot)>>,
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

    /// Forgets the builtins (after a reload), so that the old snapshot's are
    /// freed now rather than at the next FHIR request.
    pub fn clear(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
