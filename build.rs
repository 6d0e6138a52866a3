//! Fingerprints the code so that a snapshot built by other code is rebuilt,
//! not reused. All of `src/` is hashed: code that shapes a snapshot sits in
//! many modules (loaders, analysis, index layout, correspondence tables,
//! the lexicon, the table reader, FHIR code system conversion), and a list
//! of them drifts; a rebuild after an unrelated change costs seconds.

use std::hash::{Hash, Hasher};
use std::path::Path;

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            visit(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

fn main() {
    let mut files = Vec::new();
    visit(Path::new("src"), &mut files);
    println!("cargo:rerun-if-changed=src");
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=HARMONIE_SNAPSHOT_CODE={:016x}", h.finish());
}
