//! Real FHIR clients against the server over HTTP: Python `fhirpy`
//! (`$lookup`, `$expand` with a filter, `$validate-code`) and npm
//! `@medplum/core` (`valueSetExpand`, the call of its autocomplete).
//!
//! The clients are installed by the test itself, at the versions pinned in
//! `tests/clients/` (requirements.txt, package.json), into
//! `target/fhir-clients/` with the ordinary package clients (`pip`, `npm`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn clients_dir() -> PathBuf {
    common::root().join("target/fhir-clients")
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start {:?}: {e}", cmd.get_program()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// The Python of a virtual environment with fhirpy installed.
fn python() -> PathBuf {
    let venv = clients_dir().join("venv");
    let py = venv.join("bin/python");
    let marker = venv.join(".installed");
    let wanted = std::fs::read_to_string(common::root().join("tests/clients/requirements.txt")).unwrap();
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv (install Python 3 with venv)");
        run(
            Command::new(&py)
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(common::root().join("tests/clients/requirements.txt")),
            "pip install fhirpy",
        );
        std::fs::write(&marker, wanted).unwrap();
    }
    py
}

/// The folder holding node_modules/@medplum/core.
fn node_prefix() -> PathBuf {
    let dir = clients_dir().join("node");
    let manifest = std::fs::read_to_string(common::root().join("tests/clients/package.json")).unwrap();
    let marker = dir.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(manifest.as_str()) {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), &manifest).unwrap();
        run(
            Command::new("npm")
                .args(["install", "--no-package-lock", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir),
            "npm install @medplum/core (install Node.js with npm)",
        );
        std::fs::write(&marker, manifest).unwrap();
    }
    dir
}

fn cim10_url() -> String {
    let snap = common::snapshot();
    let i = snap.system_index("cim-10").expect("cim-10 is served");
    snap.systems[i].url.clone()
}

fn script(name: &str) -> PathBuf {
    common::root().join("tests/clients").join(name)
}

#[test]
fn fhirpy_lookup_expand_validate() {
    let py = python();
    let addr = common::serve();
    let out = run(
        Command::new(py).arg(script("fhirpy_check.py")).arg(format!("http://{addr}/fhir")).arg(cim10_url()),
        "fhirpy against /fhir",
    );
    println!("{out}");
    assert!(out.contains("M54.5"), "{out}");
}

#[test]
fn medplum_value_set_expand() {
    let prefix = node_prefix();
    let addr = common::serve();
    let core: &Path = &prefix.join("node_modules/@medplum/core");
    let out = run(
        Command::new("node")
            .arg(script("medplum_check.mjs"))
            .arg(format!("http://{addr}/"))
            .arg(cim10_url())
            .env("HARMONIE_MEDPLUM", core),
        "@medplum/core against /fhir",
    );
    println!("{out}");
    assert!(out.contains("M54.5"), "{out}");
}
