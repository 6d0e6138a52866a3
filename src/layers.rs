//! The direction of dependencies, checked: each top-level module may use
//! only modules of lower layers (data flows up this list). A `use` of a
//! higher or same-layer module fails `layers::tests`, which reads `src/`.
//! ARCHITECTURE.md draws the same graph.

/// The layers, lowest first: a module may use the modules of the layers
/// before its own, never its own layer's or a later one.
pub const LAYERS: &[&[&str]] = &[
    &["paths"],
    &["clock", "codes", "digest", "jobs", "memo", "memory", "table", "text"],
    &["model"],
    &["lexicon", "priors"],
    &["sources"],
    &["fetch", "index"],
    &["rollup", "search", "validate"],
    &["eval", "prepare", "recode"],
    &["fhir"],
    &["api"],
];

/// The layer of top-level module `name`, if it is listed.
pub fn layer_of(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&name))
}

/// The top-level modules named by `crate::…` paths in `source` (test code
/// after the first `#[cfg(test)]` left out).
pub fn crate_uses(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c}`: every first segment of the group.
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.push(name);
            }
        } else {
            out.push(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
        }
    }
    out.retain(|n| !n.is_empty());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every `.rs` file under `dir` with its top-level module name.
    fn files(dir: &Path, top: Option<&str>, out: &mut Vec<(String, std::path::PathBuf)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                files(&p, Some(top.unwrap_or(&stem)), out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((top.unwrap_or(&stem).to_string(), p));
            }
        }
    }

    #[test]
    fn dependencies_point_one_way_down_the_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, None, &mut all);
        let mut wrong = Vec::new();
        for (top, path) in &all {
            if ["lib", "main", "build", "layers"].contains(&top.as_str()) {
                continue;
            }
            let Some(mine) = layer_of(top) else {
                wrong.push(format!("{}: module `{top}` is in no layer of src/layers.rs", path.display()));
                continue;
            };
            for used in crate_uses(&std::fs::read_to_string(path).unwrap()) {
                if used == *top || used == "self" {
                    continue;
                }
                match layer_of(&used) {
                    Some(l) if l < mine => {}
                    _ => wrong.push(format!("{}: `{top}` uses `crate::{used}`, which is not below it", path.display())),
                }
            }
        }
        assert!(wrong.is_empty(), "dependencies against the layers:\n{}", wrong.join("\n"));
    }

    #[test]
    fn uses_are_read_from_paths_and_groups() {
        let src = "use crate::{model::Concept, text};\nfn f() { crate::index::x(); }\n#[cfg(test)]\nuse crate::api;";
        assert_eq!(crate_uses(src), ["index", "model", "text"]);
        assert!(layer_of("model") > layer_of("paths"));
        assert!(layer_of("api") > layer_of("fhir"));
    }
}
