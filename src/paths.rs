//! Where the project's files are, from one root folder.

use std::path::{Path, PathBuf};

/// The folders and files of a Harmonie project (see ARCHITECTURE.md).
#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
    /// `data/sources.toml`
    pub sources: PathBuf,
    /// `data/upstream/`: what `harmonie fetch` extracted (git-ignored).
    pub upstream: PathBuf,
    /// `index/`: built snapshots (git-ignored).
    pub index: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Paths {
        Paths {
            root: root.to_path_buf(),
            sources: root.join("data/sources.toml"),
            upstream: root.join("data/upstream"),
            index: root.join("index"),
        }
    }
}
