//! Getting a snapshot ready to serve: fetch what the pinned sources lack,
//! build the snapshot of the current inputs, open it. Called by `main` and
//! by a server's reload; the one place where the index meets the network.

use std::time::Instant;

use anyhow::Result;

use crate::fetch;
use crate::index::{Snapshot, build, mark_current};
use crate::paths::Paths;
use crate::sources::SourcesFile;

/// How [`open_current`] may get what it lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepare {
    /// Fetch missing upstream data and build a missing snapshot.
    FetchAndBuild,
    /// Only open what exists.
    OpenOnly,
}

/// Opens the snapshot of the current inputs, fetching and building first
/// when allowed, and marks it current. With [`Prepare::OpenOnly`], opens
/// the snapshot named in `index/CURRENT`.
pub fn open_current(paths: &Paths, prepare: Prepare) -> Result<Snapshot> {
    let snap = prepare_snapshot(paths, prepare)?;
    mark_current(paths, &snap.manifest.id)?;
    Ok(snap)
}

/// [`open_current`] without marking: for a server that marks the snapshot
/// current only once it serves it.
pub fn prepare_snapshot(paths: &Paths, prepare: Prepare) -> Result<Snapshot> {
    let sources = SourcesFile::read_for(paths)?;
    if prepare == Prepare::FetchAndBuild {
        if !fetch::is_complete(paths, &sources) {
            eprintln!("upstream data missing or stale: fetching it first");
            fetch::fetch(paths, &sources, &fetch::FetchOptions::default())?;
        }
        let t = Instant::now();
        let outcome = build(paths, &sources, false)?;
        if outcome.built {
            eprintln!("built snapshot {} in {:.1} s", outcome.id, t.elapsed().as_secs_f64());
        }
        return Snapshot::open(&outcome.dir);
    }
    let current = std::fs::read_to_string(paths.index.join("CURRENT"))
        .map_err(|_| anyhow::anyhow!("no snapshot in {}: run `harmonie build` first", paths.index.display()))?;
    Snapshot::open(&paths.index.join(current.trim()))
}
