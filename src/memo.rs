//! A bounded memo of answers that belong to one version of the data (a
//! snapshot): the search memo, the native lookups and the FHIR answers
//! use it.
//!
//! Guarantees: an answer is only given for the version it was kept for
//! (keeping an answer of another version empties the memo first); the sum
//! of the weights kept stays at most the capacity, the oldest answers
//! going first, whatever keys and values are kept.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::path::{Path, PathBuf};

/// Answers of one data version, weighed, the oldest evicted first.
pub struct Memo<K, V> {
    /// The version the answers belong to (a snapshot's folder).
    version: PathBuf,
    answers: HashMap<K, (V, usize)>,
    /// Keys in insertion order, for eviction.
    order: VecDeque<K>,
    /// The sum of the weights kept.
    size: usize,
    capacity: usize,
}

impl<K: Clone + Eq + Hash, V: Clone> Memo<K, V> {
    /// An empty memo keeping at most `capacity` of weight.
    pub fn new(capacity: usize) -> Memo<K, V> {
        Memo { version: PathBuf::new(), answers: HashMap::new(), order: VecDeque::new(), size: 0, capacity }
    }

    /// The answer kept for `key` in `version`.
    pub fn get<Q>(&self, version: &Path, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.version != version {
            return None;
        }
        self.answers.get(key).map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `key` in `version`, weighing `weight`.
    pub fn put(&mut self, version: &Path, key: K, value: V, weight: usize) {
        if self.version != version {
            *self = Memo { version: version.to_path_buf(), ..Memo::new(self.capacity) };
        }
        self.size += weight;
        match self.answers.insert(key.clone(), (value, weight)) {
            Some((_, old)) => self.size -= old,
            None => self.order.push_back(key),
        }
        while self.size > self.capacity {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((_, weight)) = self.answers.remove(&old) {
                self.size -= weight;
            }
        }
    }

    /// Answers kept now.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether no answer is kept.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

/// Locks a memo; a panic while holding one leaves a consistent map: keep it.
pub fn lock<K, V>(memo: &std::sync::Mutex<Memo<K, V>>) -> std::sync::MutexGuard<'_, Memo<K, V>> {
    memo.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_stay_within_their_version_and_the_capacity() {
        let (a, b) = (Path::new("a"), Path::new("b"));
        let mut m: Memo<u32, &str> = Memo::new(10);
        m.put(a, 1, "one", 4);
        m.put(a, 2, "two", 4);
        assert_eq!((m.get(a, &1), m.get(b, &1)), (Some("one"), None));
        m.put(a, 3, "three", 4);
        assert_eq!((m.get(a, &1), m.get(a, &2), m.get(a, &3)), (None, Some("two"), Some("three")));
        m.put(b, 4, "four", 1);
        assert_eq!((m.len(), m.get(a, &2), m.get(b, &4)), (1, None, Some("four")));
        m.put(b, 5, "too heavy", 11);
        assert!(m.size <= 10 && m.get(b, &5).is_none());
    }
}
