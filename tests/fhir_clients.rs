//! Real FHIR clients against the server over HTTP: Python `fhirpy`
//! (`$lookup`, `$expand` with a filter, `$validate-code`), npm
//! `@medplum/core` (`valueSetExpand`, the call of its autocomplete) and npm
//! `fhir-kit-client` (capability statement, `$lookup`, `$validate-code`
//! with a wrong display and the system's former URN, `$expand`).
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

/// The Python of a virtual environment with fhirpy installed.
fn python() -> PathBuf {
    let venv = clients_dir().join("venv");
    let py = venv.join("bin/python");
    let marker = venv.join(".installed");
    let wanted = std::fs::read_to_string(common::root().join("tests/clients/requirements.txt")).unwrap();
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        common::run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (install Python 3 with venv)",
        );
        common::run(
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
    common::npm_install(&common::root().join("tests/clients/package.json"), &clients_dir().join("node"))
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
    let out = common::run(
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
    let out = common::run(
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

#[test]
fn fhir_kit_client_lookup_validate_expand() {
    let prefix = node_prefix();
    let addr = common::serve();
    let out = common::run(
        Command::new("node")
            .arg(script("fhirkit_check.mjs"))
            .arg(format!("http://{addr}/fhir"))
            .arg(cim10_url())
            .env("HARMONIE_FHIRKIT", prefix.join("node_modules/fhir-kit-client")),
        "fhir-kit-client against /fhir",
    );
    println!("{out}");
    assert!(out.contains("M54.5"), "{out}");
}

fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    ctype: &str,
    body: &str,
) -> (u16, String, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("http://{addr}{path}");
    let mut resp = if method == "GET" {
        agent.get(&url).call().unwrap()
    } else {
        agent.post(&url).header("Content-Type", ctype).send(body).unwrap()
    };
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, ct, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

#[test]
fn metadata_media_types_and_operation_outcomes() {
    let addr = common::serve();
    let cim10 = cim10_url();
    let (s, ct, v) = call(addr, "GET", "/fhir/metadata", "", "");
    assert_eq!((s, v["resourceType"].as_str()), (200, Some("CapabilityStatement")));
    assert!(ct.starts_with("application/fhir+json"), "{ct}");
    let (_, _, v) = call(addr, "GET", "/fhir/metadata?mode=terminology", "", "");
    assert_eq!(v["resourceType"], "TerminologyCapabilities");
    assert!(v["codeSystem"].as_array().unwrap().iter().any(|c| c["uri"] == cim10.as_str()));

    // Both media types are accepted for a POSTed Parameters.
    let body = serde_json::json!({"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": cim10}, {"name": "code", "valueCode": "M54.5"}]})
    .to_string();
    for ctype in ["application/fhir+json", "application/json"] {
        let (s, _, v) = call(addr, "POST", "/fhir/CodeSystem/$lookup", ctype, &body);
        assert_eq!(s, 200, "{ctype}: {v}");
        assert!(v["parameter"].as_array().unwrap().iter().any(|p| p["valueString"] == "Lombalgie basse"), "{v}");
    }
    // A GET is answered as the POST is, again the same once its answer is
    // kept, and an answer is kept per request: another code has its own.
    let (_, _, posted) = call(addr, "POST", "/fhir/CodeSystem/$lookup", "application/fhir+json", &body);
    let lookup =
        |code: &str| call(addr, "GET", &format!("/fhir/CodeSystem/$lookup?system={cim10}&code={code}"), "", "");
    for _ in 0..3 {
        let (s, ct, v) = lookup("M54.5");
        assert_eq!((s, &v), (200, &posted));
        assert!(ct.starts_with("application/fhir+json"), "{ct}");
        let (s, _, other) = lookup("J45.0");
        assert_eq!(s, 200);
        assert!(other["parameter"].as_array().unwrap().iter().any(|p| p["valueCode"] == "J45.0"), "{other}");
        // An error is never kept: an unknown code stays unknown, with its own code in the message.
        let (s, _, v) = lookup("M54.55");
        assert_eq!(s, 404);
        assert!(v["issue"][0]["details"]["text"].as_str().unwrap().contains("M54.55"));
    }
    // Errors are OperationOutcomes with the fitting status.
    let (s, _, v) = call(addr, "POST", "/fhir/CodeSystem/$lookup", "text/csv", "a,b");
    assert_eq!((s, v["resourceType"].as_str()), (415, Some("OperationOutcome")));
    let (s, _, v) = call(addr, "GET", &format!("/fhir/CodeSystem/$lookup?system={cim10}&code=M54.55"), "", "");
    assert_eq!((s, v["resourceType"].as_str()), (404, Some("OperationOutcome")), "{v}");
    assert!(v["issue"][0]["details"]["text"].as_str().unwrap().contains("M54.55"));
    let (s, _, v) = call(addr, "GET", "/fhir/ValueSet/$expand?url=urn:nowhere", "", "");
    assert_eq!((s, v["resourceType"].as_str()), (404, Some("OperationOutcome")));
    let (s, _, v) = call(addr, "GET", &format!("/fhir/ValueSet/$expand?url={cim10}?fhir_vs"), "", "");
    assert_eq!((s, v["issue"][0]["code"].as_str()), (422, Some("too-costly")), "{v}");
    let (s, _, v) = call(addr, "POST", "/fhir/CodeSystem/$lookup", "application/fhir+json", "{not json");
    assert_eq!((s, v["resourceType"].as_str()), (400, Some("OperationOutcome")));

    // Canonical URLs are http(s); the former URNs still find what they named.
    assert!(cim10.starts_with("https://"), "{cim10}");
    let (_, _, v) = call(addr, "GET", "/fhir/CodeSystem?url=urn:harmonie:cs:cim-10", "", "");
    assert_eq!((v["total"].as_u64(), v["entry"][0]["resource"]["url"].as_str()), (Some(1), Some(cim10.as_str())));
    let (_, _, v) = call(
        addr,
        "GET",
        "/fhir/ConceptMap/$translate?url=urn:harmonie:cm:naf2008-naf2025&system=urn:harmonie:cs:naf-2008&code=47.52B",
        "",
        "",
    );
    assert_eq!(v["parameter"][0]["valueBoolean"], true, "{v}");
    assert!(v.to_string().contains("47.52H"), "{v}");

    // Subsumption and the implicit is-a value set on the real hierarchy.
    let (_, _, v) =
        call(addr, "GET", &format!("/fhir/CodeSystem/$subsumes?system={cim10}&codeA=M54&codeB=M54.5"), "", "");
    assert_eq!(v["parameter"][0]["valueCode"], "subsumes");
    let (s, _, v) = call(addr, "GET", &format!("/fhir/ValueSet/$expand?url={cim10}?fhir_vs=isa/M54"), "", "");
    assert_eq!(s, 200, "{v}");
    // The expansion keeps the hierarchy (excludeNested is false by default).
    fn codes(list: &serde_json::Value, out: &mut Vec<String>) {
        for c in list.as_array().into_iter().flatten() {
            out.push(c["code"].as_str().unwrap().to_string());
            codes(&c["contains"], out);
        }
    }
    let mut all = Vec::new();
    codes(&v["expansion"]["contains"], &mut all);
    assert!(all.iter().any(|c| c == "M54") && all.iter().any(|c| c == "M54.5") && !all.iter().any(|c| c == "M53"));
    assert_eq!(v["expansion"]["contains"].as_array().unwrap().len(), 1, "M54 at the top, its codes beneath: {v}");
    let (_, _, v) =
        call(addr, "GET", &format!("/fhir/ValueSet/$expand?url={cim10}?fhir_vs=isa/M54&excludeNested=true"), "", "");
    let flat = v["expansion"]["contains"].as_array().unwrap();
    assert!(flat.len() > 1 && flat.iter().all(|c| c.get("contains").is_none()), "{v}");
}
