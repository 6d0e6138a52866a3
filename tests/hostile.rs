//! What hostile or merely unlucky clients send, over real HTTP and through
//! the real CLI, on the real default data: odd bytes in codes and queries,
//! broken records, late accents, stalled and oversized uploads, half-sent
//! headers, costly FHIR value sets, wrong tokens, overflowing counts,
//! damaged snapshots, reloads slower than the request timeout, shutdown in
//! the middle of a stream. Each case was a crash, a hang, a lost row or a
//! wrong format before; none may come back.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use harmonie::api::ServerConfig;
use serde_json::{Value, json};

/// Inputs that once panicked the code parser (multi-byte characters where
/// it sliced bytes), and their kin.
const ODD: [&str; 10] = ["12é", "107Ç", "1é", "Ã¨", "CCœ", "😀", "M5é", "526é", "10.7é", "\u{0}"];

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(common::serve)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap_or_default();
    Reply { status, headers, body }
}

fn post(addr: SocketAddr, path: &str, ctype: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    let mut req = agent().post(format!("http://{addr}{path}")).header("content-type", ctype);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap_or_default();
    Reply { status, headers, body }
}

/// One raw HTTP/1.1 exchange: writes `request`, reads until the server
/// closes (or `wait` passes); returns what was read.
fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (out, t.elapsed())
}

#[test]
fn odd_bytes_in_codes_and_queries_never_fail_a_route() {
    let addr = server();
    for odd in ODD {
        let e = enc(odd);
        for system in ["naf", "pcs", "cim10", "sst-risques"] {
            for path in [
                format!("/v1/search?q={e}&system={system}"),
                format!("/v1/systems/{system}/concepts/{e}"),
                format!("/v1/systems/{system}/concepts/{e}/descendants"),
                format!("/systemes/{system}/{e}"),
                format!("/?q={e}&system={system}"),
            ] {
                let r = get(addr, &path, &[]);
                assert!(r.status < 500, "{path} → {}: {}", r.status, r.text());
            }
        }
        let r = get(addr, &format!("/v1/search?q={e}"), &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        for path in [
            format!("/fhir/ValueSet/$expand?url={}&filter={e}&count=5", enc("urn:harmonie:cs:cim-10?fhir_vs")),
            format!("/fhir/CodeSystem/$lookup?system=urn:harmonie:cs:naf-2008&code={e}"),
            format!("/fhir/CodeSystem/$validate-code?url=urn:harmonie:cs:pcs-2003&code={e}"),
        ] {
            let r = get(addr, &path, &[]);
            assert!(r.status < 500, "{path} → {}: {}", r.status, r.text());
            assert!(r.header("content-type").starts_with("application/fhir+json"), "{path}");
        }
    }
}

#[test]
fn a_validate_batch_with_odd_and_huge_codes_answers_every_item() {
    let addr = server();
    let long = "9".repeat(50_000);
    let mut items: Vec<Value> = Vec::new();
    for i in 0..10_000 {
        let code = match i % 4 {
            0 => ODD[i / 4 % ODD.len()].to_string(),
            1 => "1071C".to_string(),
            2 if i == 2 => long.clone(),
            _ => format!("M54.{}", i % 10),
        };
        let system = ["naf", "cim10", "sst-risques"][i % 3];
        items.push(json!({"system": system, "code": code}));
    }
    let r = post(addr, "/v1/validate", "application/json", json!({ "items": items }).to_string().as_bytes(), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 10_000);
    assert_eq!(v["results"][0]["status"], "malformed");
    assert_eq!(v["results"][2]["status"], "malformed", "a 50,000-character code is no code");
}

/// `harmonie recode` of `input` (NAF, columns `code_ape` and `activite`) into `out`.
fn recode_cli(input: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    let (input, out) = (input.to_str().unwrap(), out.to_str().unwrap());
    let args = ["recode", input, "--system", "naf", "--code-col", "code_ape", "--label-col", "activite", "-o", out];
    common::harmonie(&common::root(), &args)
}

/// A CSV with every kind of trouble, and the fields each row must keep.
fn troubled_csv() -> (Vec<u8>, Vec<Vec<String>>) {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    bytes.extend_from_slice(b"#id;code_ape;activite\n");
    let mut push = |id: usize, code: &[u8], label: &[u8], code_text: &str, label_text: &str| {
        bytes.extend_from_slice(format!("{id};").as_bytes());
        bytes.extend_from_slice(code);
        bytes.push(b';');
        bytes.extend_from_slice(label);
        bytes.push(b'\n');
        expected.push(vec![id.to_string(), code_text.to_string(), label_text.to_string()]);
    };
    for (i, odd) in ODD.iter().enumerate() {
        push(i, odd.as_bytes(), b"BOULANGERIE", odd, "BOULANGERIE");
    }
    // Many plain rows, so that the first Windows-1252 byte comes after 64 KiB.
    for i in 100..3100 {
        push(i, b"1071C", b"BOULANGERIE PATISSERIE", "1071C", "BOULANGERIE PATISSERIE");
    }
    push(5000, b"4722Z", b"BOUCHERIE \xc9L\xc9GANTE", "4722Z", "BOUCHERIE ÉLÉGANTE");
    // From there the file is Windows-1252: bytes that would be UTF-8 are what it says.
    push(5001, b"5610A", b"CR\xcaPERIE \xc3\xa8", "5610A", "CRÊPERIE Ã¨");
    push(5002, b"\"10\n71C\"", b"\"QUOTED; LABEL\"", "10\n71C", "QUOTED; LABEL");
    push(5003, &b"9".repeat(20_000), b"LONG", &"9".repeat(20_000), "LONG");
    push(5004, b"", &"x ".repeat(5_000).into_bytes(), "", &"x ".repeat(5_000));
    (bytes, expected)
}

fn assert_kept(out: &[u8], expected: &[Vec<String>]) {
    let (header, rows) = common::csv_records(out, b';');
    assert_eq!(&header[..3], ["#id", "code_ape", "activite"]);
    assert_eq!(rows.len(), expected.len(), "every row once");
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(&row[..3], &want[..], "original fields unchanged, in order");
    }
}

#[test]
fn recoding_keeps_every_row_and_field_whatever_the_bytes_cli_and_http() {
    common::snapshot();
    let (bytes, expected) = troubled_csv();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, &bytes).unwrap();
    let out = dir.path().join("out.csv");
    let run = recode_cli(&input, &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("Windows-1252 from line"), "{stderr}");
    assert_kept(&std::fs::read(&out).unwrap(), &expected);

    let r = post(server(), "/v1/recode?system=naf&code_col=code_ape&label_col=activite", "text/csv", &bytes, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_kept(&r.body, &expected);
}

#[test]
fn a_spreadsheet_with_odd_cells_is_recoded_whole() {
    common::snapshot();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let input = common::root().join("tests/fixtures/hostile_codes.xlsx");
    let run = recode_cli(&input, &out);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let (header, rows) = common::csv_records(&std::fs::read(&out).unwrap(), b',');
    assert_eq!(&header[..3], ["#id", "code_ape", "activite"]);
    let long = "x ".repeat(2000);
    let nines = "9".repeat(100);
    let expected: [[&str; 3]; 10] = [
        ["1", "1071C", "BOULANGERIE"],
        ["2", "12é", "BOUCHERIE ÉLÉGANTE"],
        ["3", "107Ç", ""],
        ["4", "Ã¨", "Ã© mojibake"],
        ["5", "😀", "CRÊPERIE"],
        ["6", &nines, "CODE TROP LONG"],
        ["7", "1071", "CODE NUMÉRIQUE"],
        ["8", "true", "BOOLÉEN"],
        ["9", "", ""],
        ["10", "4722Z", &long],
    ];
    assert_eq!(rows.len(), expected.len(), "every row once");
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(&row[..3], &want[..], "cells as the spreadsheet holds them, in order");
    }
    assert_eq!(rows[0][3], "10.71C");
}

#[test]
fn ndjson_recoding_keeps_every_line_whatever_it_holds() {
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"code\":\"1071C\",\"label\":\"BOULANGERIE\"}\n");
    body.extend_from_slice(b"{\"code\":\"12\xe9\",\"label\":\"BOUCHERIE \xc9L\xc9GANTE\"}\n");
    body.extend_from_slice(b"{\"raw\":\"x\",\"code\":\"4722Z\",\"label\":\"BOUCHERIE\"}\n");
    body.extend_from_slice(b"not json \xff\n");
    body.extend_from_slice(b"[1,2]\n");
    body.extend_from_slice("{\"code\":\"😀\",\"label\":\"Ã¨\"}\n".as_bytes());
    body.extend_from_slice(b"   \t\r\n\xa0\n");
    // A 2 MiB line is kept, cut, as a malformed row; the next line is read.
    body.extend_from_slice(format!("{{\"code\":\"{}\"}}\n", "9".repeat(2 << 20)).as_bytes());
    body.extend_from_slice(b"{\"code\":\"4722Z\"}\n");
    let r = post(server(), "/v1/recode?system=naf&code_col=code&label_col=label", "application/x-ndjson", &body, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let lines: Vec<Value> = r.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10, "nine rows and the summary (a blank line is none)");
    assert_eq!(lines[0]["harmonie_code"], "10.71C");
    assert_eq!(lines[1]["label"], "BOUCHERIE ÉLÉGANTE", "Windows-1252 bytes read as such");
    assert_eq!(lines[2]["raw"], "x");
    assert_eq!(lines[2]["harmonie_code"], "47.22Z", "a key named raw is just a key");
    assert_eq!(lines[3]["raw"], "not json ÿ");
    assert_eq!(lines[3]["harmonie_method"], "none");
    assert_eq!(lines[4]["line"], 5);
    assert_eq!(lines[6]["raw"], "\u{a0}", "a non-breaking space is not blank: kept");
    assert!(lines[7]["harmonie_note"].as_str().unwrap().contains("longer than 1 MiB"));
    assert_eq!(lines[7]["raw"].as_str().unwrap().len(), 1 << 20);
    assert_eq!(lines[8]["harmonie_code"], "47.22Z");
    let summary = &lines[9]["summary"];
    assert_eq!(summary["rows"], 9);
    assert_eq!(summary["malformed"], 4);
    assert!(summary.get("error").is_none());
}

#[test]
fn oversized_stalled_and_excess_uploads_are_refused_and_free_their_threads() {
    let mut config = ServerConfig::new(common::paths());
    config.max_recode_bytes = 100_000;
    config.max_recodes = 2;
    // The idle timeout is long enough that a loaded machine still sees the
    // stalled uploads hold their permits before they are dropped.
    config.idle_timeout = Duration::from_secs(10);
    config.header_timeout = Duration::from_secs(1);
    let addr = common::serve_routes(common::snapshot(), config, axum::Router::new());
    let path = "/v1/recode?system=naf&code_col=code";

    // Declared too large: 413 before anything is read (so the body is not
    // even sent here; a client still sending would find the connection closed).
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 180005\r\nConnection: close\r\n\r\n"
    );
    let (got, _) = raw(addr, head.as_bytes(), Duration::from_secs(20));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");

    // Too large without a declared length (chunked): the answer is cut off,
    // never a clean 200 with fewer rows.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = "1071C\n".repeat(5_000);
    let _ = write!(s, "{:x}\r\ncode\n\r\n", 5);
    for _ in 0..10 {
        if write!(s, "{:x}\r\n{chunk}\r\n", chunk.len()).is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{}", &text[..text.len().min(300)]);
    assert!(!text.ends_with("0\r\n\r\n"), "the cut-off answer must not end as a complete chunked body");

    // Two stalled uploads hold the two recode permits; a third recode is
    // refused at once with 503; once the stalls time out, recoding works.
    // A stalled upload answered at once was refused (a recode above still
    // held its permit on a loaded machine): it is sent again.
    let hold = || loop {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 1000\r\n\r\ncode\n10")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        match s.read(&mut [0u8; 16]) {
            Ok(n) if n > 0 => std::thread::sleep(Duration::from_millis(200)),
            _ => return s,
        }
    };
    let stalled: Vec<TcpStream> = (0..2).map(|_| hold()).collect();
    let t = Instant::now();
    let r = loop {
        let r = post(addr, path, "text/csv", b"code\n1071C\n", &[]);
        if r.status == 503 {
            break r;
        }
        assert!(t.elapsed() < Duration::from_secs(9), "no 503 while both permits are held: {}", r.status);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!r.header("retry-after").is_empty());
    let t = Instant::now();
    loop {
        let r = post(addr, path, "text/csv", b"code\n1071C\n", &[]);
        if r.status == 200 {
            assert!(r.text().contains("10.71C"));
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(40), "stalled uploads never released their permits");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stalled);

    // A client that never finishes its headers is disconnected.
    let (got, _) = raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", Duration::from_secs(20));
    let text = String::from_utf8_lossy(&got);
    assert!(!text.contains("\"ok\""), "the request was never complete: {text}");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut buf = [0u8; 16];
    let t = Instant::now();
    let closed = match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => buf.starts_with(b"HTTP/1.1 408"),
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    };
    assert!(closed && t.elapsed() < Duration::from_secs(15), "the half-open connection was left open");
}

#[test]
fn costly_fhir_value_sets_are_refused_and_health_stays_up() {
    let addr = server();
    let cim = "urn:harmonie:cs:cim-10";
    // 300 includes of the whole of CIM-10.
    let includes: Vec<Value> = (0..300).map(|_| json!({"system": cim})).collect();
    let vs = json!({"resourceType": "ValueSet", "url": "urn:test:many", "compose": {"include": includes}});
    let params = json!({"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": vs}, {"name": "count", "valueInteger": 10}]});
    // Each level imports the next one twice: 2^40 without sharing.
    let mut contained = Vec::new();
    for level in 0..40 {
        let next = format!("urn:test:level{}", level + 1);
        let compose = if level == 39 {
            json!({"include": [{"system": cim, "concept": [{"code": "M54.5"}]}]})
        } else {
            json!({"include": [{"valueSet": [next.clone()]}, {"valueSet": [next]}]})
        };
        contained
            .push(json!({"resourceType": "ValueSet", "url": format!("urn:test:level{level}"), "compose": compose}));
    }
    let mut p2 = vec![json!({"name": "url", "valueUri": "urn:test:level0"})];
    for vs in contained {
        p2.push(json!({"name": "tx-resource", "resource": vs}));
    }
    let params2 = json!({"resourceType": "Parameters", "parameter": p2});

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heavy: Vec<_> = (0..4)
        .map(|i| {
            let body = if i % 2 == 0 { params.to_string() } else { params2.to_string() };
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = post(addr, "/fhir/ValueSet/$expand", "application/fhir+json", body.as_bytes(), &[]);
                    assert!(r.header("content-type").starts_with("application/fhir+json"), "{}", r.text());
                    statuses.push(r.status);
                }
                statuses
            })
        })
        .collect();
    for _ in 0..20 {
        let r = get(addr, "/healthz", &[]);
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses: Vec<u16> = heavy.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s < 500 || *s == 503), "{statuses:?}");
    let r = post(addr, "/fhir/ValueSet/$expand", "application/fhir+json", params.to_string().as_bytes(), &[]);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("too-costly"));
    let r = post(addr, "/fhir/ValueSet/$expand", "application/fhir+json", params2.to_string().as_bytes(), &[]);
    assert!(r.status == 200 || r.status == 422, "{}: {}", r.status, r.text());

    // Paging parameters at their limits do not overflow.
    let url = enc("urn:harmonie:cs:cim-10?fhir_vs");
    let max = i64::MAX;
    let r = get(addr, &format!("/fhir/ValueSet/$expand?url={url}&filter=lomb&offset={max}&count={max}"), &[]);
    assert!(r.status < 500, "{}", r.text());

    // A batch over the cap is refused whole, as an OperationOutcome.
    let entries: Vec<Value> = (0..1001)
        .map(|_| json!({"request": {"method": "GET", "url": format!("CodeSystem/$lookup?system={cim}&code=M54.5")}}))
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": entries});
    let r = post(addr, "/fhir", "application/fhir+json", bundle.to_string().as_bytes(), &[]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
}

#[test]
fn errors_come_in_the_callers_format_with_security_headers() {
    let addr = server();
    // Under /fhir: OperationOutcome, whatever layer answered.
    let r = agent().delete(format!("http://{addr}/fhir/CodeSystem/$lookup")).call().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/fhir+json"));
    let r = get(addr, "/fhir/Patient/1", &[]);
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
    // A browser gets pages; an API client problems.
    let r = agent().delete(format!("http://{addr}/systemes")).header("accept", "text/html").call().unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let r = post(addr, "/v1/validate", "application/json", b"{", &[]);
    assert_eq!(r.status, 400);
    assert!(r.header("content-type").starts_with("application/problem+json"));
    for h in ["x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy"] {
        assert!(!r.header(h).is_empty(), "{h} missing");
    }
    let r = get(addr, "/", &[("accept", "text/html")]);
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    // Metrics do not turn any method a client invents into a label.
    let (_, _) =
        raw(addr, b"FOOBARBAZ /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", Duration::from_secs(5));
    let r = get(addr, "/metrics", &[]);
    assert!(!r.text().contains("FOOBARBAZ"));
    // Parameters that are not numbers.
    let r = post(addr, "/v1/recode?system=naf&code_col=code&threshold=NaN", "text/csv", b"code\n1071C\n", &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    // An empty upload, or one of only a byte order mark and blank lines.
    for body in [&b""[..], b"\xef\xbb\xbf\n\r\n"] {
        let r = post(addr, "/v1/recode?system=naf&code_col=code", "text/csv", body, &[]);
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("the input is empty"), "{}", r.text());
    }
    // Counts that would overflow.
    let body = json!({"system": "naf", "level": "section", "items": [{"code": "10.71C", "count": u64::MAX}, {"code": "10.71C", "count": 1}]});
    let r = post(addr, "/v1/rollup", "application/json", body.to_string().as_bytes(), &[]);
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn wrong_tokens_get_www_authenticate_and_cors_star_works() {
    let mut config = ServerConfig::new(common::paths());
    config.admin_token = Some("s3cret".into());
    config.cors_origins = vec!["*".into()];
    assert!(harmonie::api::check_cors_origins(&config.cors_origins).is_ok());
    assert!(harmonie::api::check_cors_origins(&["not an origin".into()]).is_err());
    let addr = common::serve_routes(common::snapshot(), config, axum::Router::new());
    let t = Instant::now();
    let r1 = post(addr, "/admin/reload", "application/json", b"", &[("authorization", "Bearer nope")]);
    let r2 = post(addr, "/admin/reload", "application/json", b"", &[("authorization", "Bearer nope2")]);
    assert_eq!((r1.status, r2.status), (401, 401));
    assert!(r1.header("www-authenticate").starts_with("Bearer"));
    assert!(t.elapsed() >= Duration::from_millis(500), "wrong tokens are answered slowly");
    let r = get(addr, "/v1/systems", &[("origin", "https://any.example")]);
    assert_eq!(r.header("access-control-allow-origin"), "*");
}

#[test]
fn damaged_snapshots_are_refused_with_a_rebuild_hint() {
    let snap = common::snapshot();
    let copy = |name: &str| {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("snap");
        copy_dir(&snap.dir, &to);
        let path = to.join(name);
        (dir, to, path)
    };
    // A label changed in the file of concepts that holds it.
    let holder = std::fs::read_dir(snap.dir.join("concepts"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| find(&std::fs::read(p).unwrap(), b"Lombalgie basse").is_some())
        .expect("a file of concepts holds the label");
    let name = format!("concepts/{}", holder.file_name().unwrap().to_string_lossy());
    let (_d, dir, path) = copy(&name);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = find(&bytes, b"Lombalgie basse").unwrap();
    bytes[at..at + 15].copy_from_slice(b"Lombalgie haute");
    std::fs::write(&path, &bytes).unwrap();
    let e = format!("{:#}", harmonie::index::Snapshot::open(&dir).err().expect("refused"));
    assert!(e.contains(&name) && e.contains("checksum") && e.contains("harmonie build --force"), "{e}");
    // Files damaged with their checksums updated, as by a careless repair,
    // are still refused by their readers, never with a panic: the file of
    // concepts cut short, a byte of invalid UTF-8 in it, and the label
    // table with a parent past the end.
    let damaged = |name: &str, damage: &dyn Fn(&mut Vec<u8>)| {
        let (d, dir, path) = copy(name);
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let manifest_path = dir.join("manifest.json");
        let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
        manifest["files"][name] = harmonie::digest::sha256_hex(&bytes).into();
        std::fs::write(&manifest_path, manifest.to_string()).unwrap();
        let opened = std::panic::catch_unwind(|| harmonie::index::Snapshot::open(&dir).err().map(|e| format!("{e:#}")));
        drop(d);
        opened.expect("no panic").expect("refused")
    };
    let e = damaged(&name, &|b| b.truncate(b.len() - 3));
    assert!(e.contains(&name) && e.contains("corrupt") && e.contains("harmonie build --force"), "{e}");
    let e = damaged(&name, &|b| b[at] = 0xff);
    assert!(e.contains(&name) && e.contains("corrupt"), "{e}");
    let e = damaged("labels.bin", &|b| b[..4].copy_from_slice(&u32::MAX.wrapping_sub(1).to_le_bytes()));
    assert!(e.contains("labels.bin") && e.contains("corrupt"), "{e}");
    // A system's title changed in systems.json.
    let (_d, dir, path) = copy("systems.json");
    let text = std::fs::read_to_string(&path).unwrap().replacen("\"title\":\"", "\"title\":\"X", 1);
    std::fs::write(&path, text).unwrap();
    let e = format!("{:#}", harmonie::index::Snapshot::open(&dir).err().expect("refused"));
    assert!(e.contains("systems.json") && e.contains("checksum"), "{e}");
    // A bit flipped in the code fst, and in every file of the text index.
    let (_d, dir, path) = copy("codes.fst");
    flip(&path);
    let e = format!("{:#}", harmonie::index::Snapshot::open(&dir).err().expect("refused"));
    assert!(e.contains("codes.fst"), "{e}");
    for f in std::fs::read_dir(snap.dir.join("text")).unwrap() {
        let name = format!("text/{}", f.unwrap().file_name().to_string_lossy());
        if name.contains(".tantivy-") {
            continue;
        }
        let (_d, dir, path) = copy(&name);
        flip(&path);
        let opened = std::panic::catch_unwind(|| harmonie::index::Snapshot::open(&dir));
        assert!(matches!(opened, Ok(Err(_))), "{name}: refused with an error, no panic");
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn flip(path: &std::path::Path) {
    let mut b = std::fs::read(path).unwrap();
    if b.is_empty() {
        b.push(0);
    } else {
        let i = b.len() / 2;
        b[i] ^= 0x10;
    }
    std::fs::write(path, b).unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_reload_slower_than_the_request_timeout_still_lands_whole() {
    let project = common::scratch_project();
    let paths = harmonie::paths::Paths::new(project.path());
    let first = Arc::new(harmonie::prepare::open_current(&paths, harmonie::prepare::Prepare::FetchAndBuild).unwrap());
    // Change an input so that the reload must build (seconds), with a 300 ms request timeout.
    let lexicon = project.path().join("data/curated/lexicon.tsv");
    let mut text = std::fs::read_to_string(&lexicon).unwrap();
    text.push('\n');
    std::fs::write(&lexicon, text).unwrap();
    let mut config = ServerConfig::new(paths.clone());
    config.admin_token = Some("t".into());
    // Far shorter than any build, so that the answer is always 202.
    config.request_timeout = Duration::from_millis(300);
    let addr = common::serve_routes(first.clone(), config, axum::Router::new());
    let auth = [("authorization", "Bearer t")];
    let r = post(addr, "/admin/reload", "application/json", b"", &auth);
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.header("location"), "/admin/reload");
    let t = Instant::now();
    let state = loop {
        let r = get(addr, "/admin/reload", &auth);
        let v = r.json();
        if v["state"] != "running" {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "the reload never ended");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(state["state"], "done", "{state}");
    let served = get(addr, "/healthz", &[]).json()["snapshot"].as_str().unwrap().to_string();
    assert_ne!(served, first.manifest.id);
    assert_eq!(state["result"]["snapshot"], served.as_str());
    let current = std::fs::read_to_string(project.path().join("index/CURRENT")).unwrap();
    assert_eq!(current.trim(), served, "index/CURRENT names the snapshot served");
}

#[test]
fn shutdown_lets_a_streaming_recode_finish() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, handle) =
        common::serve_until(common::snapshot(), ServerConfig::new(common::paths()), axum::Router::new(), async move {
            let _ = rx.await;
        });
    let rows = 200_000;
    let mut body = String::from("code;label\n");
    for i in 0..rows {
        body.push_str(if i % 2 == 0 { "1071C;BOULANGERIE\n" } else { "4722Z;BOUCHERIE\n" });
    }
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut writer = s.try_clone().unwrap();
    let head = format!(
        "POST /v1/recode?system=naf&code_col=code&label_col=label HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let sender = std::thread::spawn(move || {
        writer.write_all(head.as_bytes()).unwrap();
        writer.write_all(body.as_bytes()).unwrap();
    });
    // The answer has started streaming: now ask the server to stop.
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    tx.send(()).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    sender.join().unwrap();
    let split = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers") + 4;
    let csv = dechunk(&rest[split..]);
    assert_eq!(csv.iter().filter(|&&b| b == b'\n').count(), rows + 1, "every row despite the shutdown");
    handle.join().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "the server no longer accepts connections");
}

/// The payload of a chunked HTTP/1.1 body; panics unless it ends with the
/// last chunk (a body cut off is not complete).
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

mod properties {
    use harmonie::recode::pipeline::{Job, Options};
    use harmonie::table::{CsvOptions, TableReader};
    use proptest::prelude::*;

    /// How many records the csv crate itself sees in `bytes` (the header
    /// included): the reference the table reader must match.
    fn reference_records(bytes: &[u8], delimiter: u8) -> usize {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(bytes);
        r.byte_records().count()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Any bytes: one output row per input record, in order, the
        /// original fields unchanged, the run complete.
        #[test]
        fn any_bytes_recode_to_every_row(
            rows in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        proptest::collection::vec(any::<u8>(), 0..12),
                        Just(b"1071C".to_vec()),
                        Just("12é".as_bytes().to_vec()),
                        Just(b"\xc9L\xc9GANTE".to_vec()),
                    ],
                    1..4,
                ),
                0..40,
            )
        ) {
            let mut bytes = b"code;label\n".to_vec();
            for row in &rows {
                bytes.extend_from_slice(&row.join(&b';'));
                bytes.push(b'\n');
            }
            let snap = super::common::snapshot();
            let table = TableReader::from_reader(std::io::Cursor::new(bytes.clone()), CsvOptions::user(Some(b';'))).unwrap();
            let reader_rows: Vec<_> = TableReader::from_reader(std::io::Cursor::new(bytes.clone()), CsvOptions::user(Some(b';')))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            prop_assert_eq!(reader_rows.len() + 1, reference_records(&bytes, b';'));
            let opts = Options { system: "naf".into(), code_col: Some("code".into()), label_col: Some("label".into()), text_cols: Vec::new(), threshold: 0.6 };
            let job = Job::new(&snap, table, &opts).unwrap();
            let mut bytes_out = Vec::new();
            let summary = harmonie::recode::pipeline::to_csv(job, &mut bytes_out, |_| {});
            prop_assert!(summary.complete());
            prop_assert_eq!(summary.rows as usize, reader_rows.len());
            // The output, read back by the one reader: the input's fields then ours.
            let out: Vec<_> = TableReader::from_reader(std::io::Cursor::new(bytes_out), CsvOptions::user(Some(b';')))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            prop_assert_eq!(out.len(), reader_rows.len());
            for (written, read) in out.iter().zip(&reader_rows) {
                let (fields, note) = (&written.fields[..2], &written.fields[8]);
                prop_assert!(written.problem.is_none(), "{:?}", written.problem);
                let input = &read.fields;
                // As many fields as the header, the input's first; extra ones in the note.
                let n = input.len().min(2);
                prop_assert_eq!(&fields[..n], &input[..n]);
                prop_assert!(fields[n..].iter().all(String::is_empty));
                for extra in input.iter().skip(2) {
                    prop_assert!(note.contains(extra.as_str()), "extra field {:?} kept in {:?}", extra, note);
                }
                let replaced = |f: &String| f.contains('\u{FFFD}');
                prop_assert!(!fields.iter().any(replaced) || input.iter().any(replaced), "no byte replaced");
            }
        }

        /// The query analyser and search take any text.
        #[test]
        fn any_text_searches(q in "\\PC{0,40}") {
            let snap = super::common::snapshot();
            let req = harmonie::search::SearchRequest { q: &q, limit: 5, ..Default::default() };
            prop_assert!(harmonie::search::search(&snap, &req).is_ok());
        }
    }
}
