//! Recoding throughput on generated files of 1 million rows (code-only,
//! label-only, mixed) and of 200,000 distinct labels, and peak memory. Run
//! with `cargo bench --bench recode`; `HARMONIE_BENCH_ROWS` sets the number
//! of rows (the distinct file has a fifth of them), `HARMONIE_BENCH_KINDS`
//! the files (comma-separated among `codes`, `labels`, `mixed`,
//! `distinct`).
//!
//! Codes are real codes in the spellings legacy files use; labels are real
//! labels, upper-cased, some without accents, abbreviated or with a typo,
//! drawn with repeats as in real files. The distinct file holds every label
//! once: real labels with several kinds of noise at once (case, accents,
//! cut words, a typo anywhere, a company word before or after), no two
//! alike once analysed (folded and stemmed), so that no row is answered
//! from a cache of labels.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use harmonie::index::Snapshot;
use harmonie::paths::Paths;
use harmonie::prepare::{Prepare, open_current};
use harmonie::recode::pipeline::{self, Job, Options};
use harmonie::table::TableReader;

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds this process has used (user and system, every thread):
/// the cost of a run, which a busy machine's wall clock blurs.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn spellings(code: &str, rng: &mut Rng) -> String {
    match rng.next() % 4 {
        0 => code.to_string(),
        1 => code.replace('.', ""),
        2 => code.replace('.', "").to_lowercase(),
        _ => format!("{} {}", &code[..code.len() - 1], &code[code.len() - 1..]),
    }
}

fn label_variant(label: &str, rng: &mut Rng) -> String {
    let upper = label.to_uppercase();
    match rng.next() % 4 {
        0 => upper,
        1 => upper.replace(['É', 'È', 'Ê'], "E").replace('À', "A").replace('Ô', "O"),
        2 => upper.split_whitespace().take(4).collect::<Vec<_>>().join(" "),
        _ => {
            let mut chars: Vec<char> = upper.chars().collect();
            if chars.len() > 6 {
                chars.swap(3, 4);
            }
            chars.into_iter().collect()
        }
    }
}

/// Words legacy company files put around an activity.
const AROUND: &[&str] =
    &["", "", "SARL", "ACTIVITE DE", "ENTREPRISE", "ATELIER", "SERVICES", "ET DIVERS", "SAS", "EURL"];

/// A noisy spelling of `label` drawn from many: the set of such spellings
/// is large enough for hundreds of thousands of distinct rows.
fn noisy(label: &str, rng: &mut Rng) -> String {
    let base = if rng.next().is_multiple_of(2) { label.to_uppercase() } else { label.to_lowercase() };
    let base = if rng.next().is_multiple_of(2) {
        base.chars()
            .map(|c| match c {
                'É' | 'È' | 'Ê' => 'E',
                'é' | 'è' | 'ê' => 'e',
                'À' | 'Â' => 'A',
                'à' | 'â' => 'a',
                'Ô' => 'O',
                'ô' => 'o',
                c => c,
            })
            .collect()
    } else {
        base
    };
    let words: Vec<&str> = base.split_whitespace().collect();
    let keep = 2 + (rng.next() as usize) % words.len().max(2);
    let mut chars: Vec<char> = words[..keep.min(words.len())].join(" ").chars().collect();
    if chars.len() > 4 {
        let at = 1 + (rng.next() as usize) % (chars.len() - 2);
        match rng.next() % 3 {
            0 => chars.swap(at, at + 1),
            1 => drop(chars.remove(at)),
            _ => chars.insert(at, chars[at]),
        }
    }
    let text: String = chars.into_iter().collect();
    let (before, after) = (rng.pick(AROUND), rng.pick(AROUND));
    [*before, text.as_str(), *after].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

fn write_file(snap: &Snapshot, path: &PathBuf, rows: usize, kind: &str) {
    let naf = snap.system_index("naf").unwrap();
    let codable: Vec<_> = snap.concepts_of(naf).filter(|&r| snap.is_codable(r)).collect();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "id;code_ape;activite").unwrap();
    if kind == "distinct" {
        let mut seen = std::collections::HashSet::new();
        while seen.len() < rows {
            let label = noisy(&snap.concept(*rng.pick(&codable)).display, &mut rng);
            // Distinct as the engine reads them, not only as bytes.
            if seen.insert(harmonie::text::normalize(&label)) {
                writeln!(w, "{};;\"{}\"", seen.len(), label.replace('"', "")).unwrap();
            }
        }
        return;
    }
    for i in 0..rows {
        let c = snap.concept(*rng.pick(&codable));
        let (code, label) = match kind {
            "codes" => (spellings(&c.code, &mut rng), String::new()),
            "labels" => (String::new(), label_variant(&c.display, &mut rng)),
            _ => (spellings(&c.code, &mut rng), label_variant(&c.display, &mut rng)),
        };
        writeln!(w, "{i};{code};\"{}\"", label.replace('"', "")).unwrap();
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let snap = open_current(&Paths::new(&root), Prepare::FetchAndBuild).expect("fetch and build the default data");
    let rows: usize = std::env::var("HARMONIE_BENCH_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    println!("snapshot loaded; peak RSS {:.0} MB", peak_rss_mb());
    let kinds = std::env::var("HARMONIE_BENCH_KINDS").unwrap_or_else(|_| "codes,labels,mixed,distinct".into());
    for kind in kinds.split(',').map(str::trim) {
        let path = dir.path().join(format!("{kind}.csv"));
        let rows = if kind == "distinct" { rows / 5 } else { rows };
        write_file(&snap, &path, rows, kind);
        let table = TableReader::open(&path, harmonie::table::CsvOptions::user(None)).unwrap();
        let opts = Options {
            system: "naf".into(),
            code_col: Some("code_ape".into()),
            label_col: Some("activite".into()),
            text_cols: Vec::new(),
            threshold: 0.6,
        };
        let job = Job::new(&snap, table, &opts).unwrap();
        let (t, cpu) = (Instant::now(), cpu_secs());
        let summary = pipeline::to_csv(job, std::io::sink(), |_| {});
        assert!(summary.complete(), "{}", summary.describe());
        let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
        assert_eq!(summary.rows as usize, rows);
        println!(
            "{kind:<7} {rows} rows in {secs:.1} s: {:.0} rows/s; CPU {cpu:.1} s, {:.1} µs per row; peak RSS {:.0} MB; {}",
            rows as f64 / secs,
            cpu * 1e6 / rows as f64,
            peak_rss_mb(),
            summary.describe()
        );
        std::fs::remove_file(&path).unwrap();
    }
}
