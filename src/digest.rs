//! Checksums: the hex sha256 that pins upstream files, official data and
//! the files of a snapshot, and the cache that spares re-reading inputs
//! unchanged since they were hashed ([`DigestCache`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(sha256_hex(&bytes))
}

/// The sha256 of files remembered by path, size and modification time, so
/// that a file unchanged since it was last hashed is not read again (as
/// `make` and `git` trust a file's stat).
///
/// Guarantees: an entry is used only when the file's size and modification
/// time (to the nanosecond) are those recorded; a file modified less than
/// [`DigestCache::SETTLE`] before it was hashed is not remembered, so a
/// change within the same clock tick is never missed; a missing or damaged
/// cache file is an empty cache.
#[derive(Debug)]
pub struct DigestCache {
    file: PathBuf,
    entries: BTreeMap<String, Stamp>,
    changed: bool,
}

/// What a file was when it was hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    modified_ns: u128,
    sha256: String,
}

impl DigestCache {
    /// How old a file's modification must be for its hash to be remembered.
    pub const SETTLE: Duration = Duration::from_secs(2);

    /// The cache kept in `file` (empty when there is none).
    pub fn open(file: &Path) -> DigestCache {
        let entries = std::fs::read(file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        DigestCache { file: file.to_path_buf(), entries, changed: false }
    }

    /// Hex sha256 of `path`, read only when it changed since last hashed.
    pub fn sha256(&mut self, path: &Path) -> Result<String> {
        self.hash(path, |_| Ok(None)).map(|(sha256, _)| sha256)
    }

    /// The bytes of `path` and their hex sha256, hashed only when the file
    /// changed since last hashed.
    pub fn read(&mut self, path: &Path) -> Result<(Vec<u8>, String)> {
        let (sha256, bytes) = self.hash(path, |p| Ok(Some(std::fs::read(p)?)))?;
        Ok((bytes.unwrap_or_default(), sha256))
    }

    /// The sha256 of `path` (from the cache when its stamp matches), and
    /// what `read` gave, read after the file's stamp was taken.
    fn hash(
        &mut self,
        path: &Path,
        read: impl FnOnce(&Path) -> std::io::Result<Option<Vec<u8>>>,
    ) -> Result<(String, Option<Vec<u8>>)> {
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let modified = meta.modified().ok();
        let modified_ns = modified
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let bytes = read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let key = path.to_string_lossy().into_owned();
        if let Some(s) = self.entries.get(&key)
            && s.len == meta.len()
            && s.modified_ns == modified_ns
            && modified_ns != 0
        {
            return Ok((s.sha256.clone(), bytes));
        }
        let sha256 = match &bytes {
            Some(b) => sha256_hex(b),
            None => sha256_file(path)?,
        };
        let settled =
            modified.and_then(|m| SystemTime::now().duration_since(m).ok()).is_some_and(|age| age >= Self::SETTLE);
        if settled {
            self.entries.insert(key, Stamp { len: meta.len(), modified_ns, sha256: sha256.clone() });
            self.changed = true;
        }
        Ok((sha256, bytes))
    }

    /// Writes the cache back if it learnt something (atomically; a cache
    /// that cannot be written only costs the next run a re-read).
    pub fn save(&self) {
        if !self.changed {
            return;
        }
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(bytes) = serde_json::to_vec(&self.entries) {
            let _ = crate::paths::replace_file(&self.file, &bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_hash_is_used_only_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (file, cache) = (dir.path().join("a.csv"), dir.path().join("cache.json"));
        std::fs::write(&file, "one").unwrap();
        // Settled: modified long ago.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        let mut c = DigestCache::open(&cache);
        assert_eq!(c.sha256(&file).unwrap(), sha256_hex(b"one"));
        c.save();
        // Remembered: a read gives the bytes and the remembered hash, even
        // one that no longer matches a file kept at the same stamp.
        let mut c = DigestCache::open(&cache);
        c.entries.values_mut().for_each(|s| s.sha256 = "remembered".into());
        assert_eq!(c.read(&file).unwrap(), (b"one".to_vec(), "remembered".to_string()));
        // Same size, new content and time: read again.
        std::fs::write(&file, "two").unwrap();
        let mut c = DigestCache::open(&cache);
        assert_eq!(c.sha256(&file).unwrap(), sha256_hex(b"two"));
        // A file just written is not remembered (it may change in the same tick).
        assert!(!c.changed);
        // A damaged cache is an empty cache.
        std::fs::write(&cache, "{not json").unwrap();
        assert_eq!(DigestCache::open(&cache).sha256(&file).unwrap(), sha256_hex(b"two"));
    }
}
