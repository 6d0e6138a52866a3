//! Where the project's files are, from one root folder.

use std::path::{Path, PathBuf};

/// The folders and files of a Harmonie project (see ARCHITECTURE.md).
#[derive(Clone, Debug)]
pub struct Paths {
    /// The project folder.
    pub root: PathBuf,
    /// `data/sources.toml`
    pub sources: PathBuf,
    /// `data/upstream/`: what `harmonie fetch` extracted (git-ignored).
    pub upstream: PathBuf,
    /// `index/`: built snapshots (git-ignored).
    pub index: PathBuf,
    /// `index/.digests.json`: the sha256 of input files by size and time
    /// (`digest::DigestCache`).
    pub digests: PathBuf,
    /// `--canonical-base`: replaces the `canonical_base` of
    /// `data/sources.toml` when the sources are read for this project.
    pub canonical_base: Option<String>,
}

impl Paths {
    /// The folders of the project at `root`.
    pub fn new(root: &Path) -> Paths {
        Paths {
            root: root.to_path_buf(),
            sources: root.join("data/sources.toml"),
            upstream: root.join("data/upstream"),
            index: root.join("index"),
            digests: root.join("index/.digests.json"),
            canonical_base: None,
        }
    }
}

impl Paths {
    /// Takes an exclusive lock on `<dir>/.lock`, waiting for other Harmonie
    /// processes (a build, a fetch, a test) working on the same folder. The
    /// lock is released when the returned file is dropped.
    pub fn lock(dir: &Path) -> anyhow::Result<std::fs::File> {
        use anyhow::Context;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }
}

/// Replaces the file at `path` with `bytes` atomically: readers see the old
/// file or the new one, never a part. Any number of processes and threads
/// may replace the same file at once (each writes its own temporary file
/// beside it, and the last rename wins); no temporary file is left behind.
pub fn replace_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.part-{}-{n}", std::process::id()));
    let written = std::fs::write(&tmp, bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Whether writing to `out` (a file, or standard output when `None`) would
/// write onto the file at `input`: the same path, another name or link for
/// it, or standard output redirected to it (`>` or `>>`). A command that
/// streams `input` into `out` must refuse then: it would destroy the rows
/// it has not read yet, or read its own output until the disk is full.
pub fn writes_onto(input: &Path, out: Option<&Path>) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        // Only a regular file can be overwritten so (a terminal or
        // /dev/null may well be both what is read and what is written).
        let Some(read) = std::fs::metadata(input).ok().filter(|m| m.is_file()) else { return false };
        let written = match out {
            Some(path) => std::fs::metadata(path),
            None => std::io::stdout().as_fd().try_clone_to_owned().map(std::fs::File::from).and_then(|f| f.metadata()),
        };
        written.is_ok_and(|w| w.dev() == read.dev() && w.ino() == read.ino())
    }
    #[cfg(not(unix))]
    {
        let canonical = |p: &Path| std::fs::canonicalize(p).ok();
        out.is_some_and(|out| canonical(out).is_some_and(|o| Some(o) == canonical(input)))
    }
}
