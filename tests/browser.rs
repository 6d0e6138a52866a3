//! The web pages and `<harmonie-autocomplete>` in a real browser: Debian's
//! headless Chromium, driven by playwright-core (pinned in
//! `tests/browser/package.json`, installed by the test into
//! `target/browser/node`). The checks themselves are in
//! `tests/browser/e2e.mjs`; screenshots, the recoded file and the
//! keystroke-to-suggestions timings are written to `target/browser/`.
//!
//! Chromium is not installed by default: `apt-get install chromium` (what
//! `.ci/run` does), or point `HARMONIE_CHROMIUM` at another Chromium.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn chromium() -> PathBuf {
    let path = std::env::var_os("HARMONIE_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    assert!(
        path.exists(),
        "Chromium not found at {}: install it (apt-get install chromium) or set HARMONIE_CHROMIUM",
        path.display()
    );
    path
}

/// A free loopback port (bound, then released for the browser test's page server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn pages_and_component_in_chromium() {
    let browser = chromium();
    let node = common::npm_install(
        &common::root().join("tests/browser/package.json"),
        &common::root().join("target/browser/node"),
    );
    let (vendor, foreign) = (free_port(), free_port());
    let addr = common::serve_with(|c| c.cors_origins = vec![format!("http://127.0.0.1:{vendor}")]);
    let out_dir = common::root().join("target/browser");
    let recoded = out_dir.join("recoded.csv");
    // Nothing left from an earlier run: the files checked below are this run's.
    if let Ok(entries) = std::fs::read_dir(&out_dir) {
        for e in entries.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "png" || x == "csv")) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let input = common::root().join("tests/fixtures/legacy_naf_cp1252.csv");

    let out = Command::new("node")
        .arg(common::root().join("tests/browser/e2e.mjs"))
        .env("HARMONIE_URL", format!("http://{addr}"))
        .env("VENDOR_PORT", vendor.to_string())
        .env("FOREIGN_PORT", foreign.to_string())
        .env("CHROMIUM", &browser)
        .env("OUT_DIR", &out_dir)
        .env("RECODE_INPUT", &input)
        .env("PLAYWRIGHT", node.join("node_modules/playwright-core"))
        .output()
        .expect("node (install Node.js)");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(out.status.success(), "browser checks failed:\n{report}");

    for shot in ["search.png", "concept.png", "search-360.png"] {
        let len = std::fs::metadata(out_dir.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "screenshot {shot} missing or empty ({len} bytes)");
    }

    // The file downloaded from the recode page has every input row, in order.
    let ids = |bytes: &[u8]| -> Vec<String> {
        let mut rdr = csv::ReaderBuilder::new().delimiter(b';').flexible(true).from_reader(bytes);
        let id = rdr.byte_headers().unwrap().iter().position(|h| h == b"id").expect("an id column");
        rdr.byte_records().map(|r| String::from_utf8_lossy(&r.unwrap()[id]).into_owned()).collect()
    };
    let sent = ids(&std::fs::read(&input).unwrap());
    let got = ids(&std::fs::read(&recoded).expect("the recoded file was downloaded"));
    assert_eq!(sent.len(), 61, "the fixture has 61 rows (one with a quoted line break)");
    assert_eq!(got, sent, "the recoded file must have every row, in order");
    let text = std::fs::read_to_string(&recoded).unwrap();
    assert!(text.lines().next().unwrap().contains("harmonie_code"), "{text}");
}
