//! Checksums: the hex sha256 that pins upstream files, official data and
//! the files of a snapshot.

use std::path::Path;

use anyhow::{Context, Result};
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
