//! Fingerprints the code that shapes a snapshot (loaders, analysis, index
//! layout) so that a snapshot built by other code is rebuilt, not reused.

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
    for dir in ["src/sources", "src/index"] {
        visit(Path::new(dir), &mut files);
        println!("cargo:rerun-if-changed={dir}");
    }
    for f in ["src/text.rs", "src/codes.rs", "src/model.rs"] {
        files.push(f.into());
        println!("cargo:rerun-if-changed={f}");
    }
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=HARMONIE_SNAPSHOT_CODE={:016x}", h.finish());
}
