//! A whole table through the [`Recoder`]: streamed in batches (memory stays
//! flat), two workers per batch, rows written back in input order, each
//! input row exactly once.
//!
//! Guarantees: every record the reader gives comes out once, in order, with
//! its original fields unchanged (a field missing from a short record is
//! added empty; extra fields are kept in `harmonie_note`); a row whose
//! recoding fails in any way, even by a bug, comes out as method `none`
//! with the reason. A run that cannot read or write to the end stops with
//! [`Summary::error`] set, so that no caller can mistake it for a complete
//! run.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{Method, Outcome, Recoder, Transition};
use crate::index::Snapshot;
use crate::table::{Row, TableReader};

/// Columns added to every row.
pub const COLUMNS: [&str; 7] = [
    "harmonie_code",
    "harmonie_display",
    "harmonie_method",
    "harmonie_confidence",
    "harmonie_candidates",
    "harmonie_review",
    "harmonie_note",
];

/// Rows read before the workers decide them.
const BATCH: usize = 4096;
/// Rows a worker takes at a time from a batch: small enough that neither
/// worker waits long for the other at the end of a batch (a row may cost
/// 1 µs or 100 µs), large enough that taking them costs nothing.
const CHUNK: usize = 64;

/// What to recode.
#[derive(Clone, Debug)]
pub struct Options {
    /// System id or alias.
    pub system: String,
    /// Column of the old code.
    pub code_col: Option<String>,
    /// Column of the label.
    pub label_col: Option<String>,
    /// Other columns whose text helps settle a split code (an activity
    /// description…).
    pub text_cols: Vec<String>,
    /// Confidence from which `harmonie_code` is filled.
    pub threshold: f32,
}

/// Counts of a run.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Rows read and written (see [`to_csv`] for what "written" means when
    /// the output fails).
    pub rows: u64,
    /// Rows per method.
    pub by_method: BTreeMap<String, u64>,
    /// Rows to review by hand.
    pub review: u64,
    /// Rows that did not fit the header (kept, method `none` unless recoded).
    pub malformed: u64,
    /// Encoding the input was read in.
    pub encoding: String,
    /// Separator of the input.
    pub delimiter: String,
    /// Rows whose recoding failed (kept, method `none`, the reason in
    /// `harmonie_note`).
    #[serde(default)]
    pub failed: u64,
    /// Transition report: rows per way a correspondence table moved their
    /// code (`unchanged`, `one_to_one`, `merged`, `split_settled`,
    /// `split_review`, `no_correspondence`), for runs that cross versions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transition: BTreeMap<String, u64>,
    /// Per old code: rows per way it moved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transition_by_code: BTreeMap<String, BTreeMap<String, u64>>,
    /// Why the run stopped before the end of the input, if it did: the rows
    /// counted are the rows written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Summary {
    /// Whether every input record was read and written.
    pub fn complete(&self) -> bool {
        self.error.is_none()
    }

    /// One line for humans.
    pub fn describe(&self) -> String {
        let methods: Vec<String> = self.by_method.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let methods = if methods.is_empty() { "no rows".to_string() } else { methods.join(", ") };
        let mut line = format!(
            "{} rows read ({}; separator {}): {methods}; {} for review; {} malformed",
            self.rows, self.encoding, self.delimiter, self.review, self.malformed
        );
        if self.failed > 0 {
            line.push_str(&format!("; {} failed (kept, see harmonie_note)", self.failed));
        }
        if let Some(e) = &self.error {
            line.push_str(&format!("; INCOMPLETE, stopped after {} rows: {e}", self.rows));
        }
        line
    }
}

/// The counts of a run as rows are decided: the one place rows are counted
/// (CSV, spreadsheets and NDJSON alike), without allocating per row, and
/// written into the [`Summary`] by [`Tally::fill`].
#[derive(Default)]
pub struct Tally {
    methods: [u64; Method::ALL.len()],
    review: u64,
    transitions: [u64; Transition::ALL.len()],
    /// Per old code as the table spells it: rows per transition.
    by_code: HashMap<String, [u64; Transition::ALL.len()]>,
}

impl Tally {
    /// Counts one decided row: its method, review flag and, when its code
    /// was already current or moved through a correspondence table, its
    /// transition under its old code.
    pub fn count(&mut self, o: &Outcome, old_code: &str) {
        self.methods[o.method as usize] += 1;
        self.review += u64::from(o.review);
        let transition = o
            .transition
            .or_else(|| matches!(o.method, Method::Exact | Method::Respelled).then_some(Transition::Unchanged));
        if let Some(t) = transition {
            let t = t as usize;
            self.transitions[t] += 1;
            // Under the old code as the table spells it, whatever the row's spelling.
            let old = o.source_code.as_deref().unwrap_or(old_code.trim());
            match self.by_code.get_mut(old) {
                Some(ways) => ways[t] += 1,
                None => {
                    let mut ways = [0; Transition::ALL.len()];
                    ways[t] = 1;
                    self.by_code.insert(old.to_string(), ways);
                }
            }
        }
    }

    /// Writes the counts into `summary` (its methods, review and transitions).
    pub fn fill(&self, summary: &mut Summary) {
        let named = |counts: &[u64], name: &dyn Fn(usize) -> &'static str| -> BTreeMap<String, u64> {
            counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (name(i).to_string(), *n)).collect()
        };
        summary.by_method = named(&self.methods, &|i| Method::ALL[i].as_str());
        summary.review = self.review;
        summary.transition = named(&self.transitions, &|i| Transition::ALL[i].as_str());
        summary.transition_by_code = self
            .by_code
            .iter()
            .map(|(code, ways)| (code.clone(), named(ways, &|i| Transition::ALL[i].as_str())))
            .collect();
    }
}

/// Appends `x` with two decimals, as `format!("{x:.2}")` writes it (the
/// exact value rounded half to even), without its cost: for a finite `x`
/// of 0 to 10^9, `x * 100` in f64 is exact enough that rounding it gives
/// the same digits, ties (odd eighths) included.
fn push_2_decimals(buf: &mut String, x: f32) {
    use std::fmt::Write as _;
    if !(x.is_sign_positive() && x < 1e9) {
        let _ = write!(buf, "{x:.2}");
        return;
    }
    let hundredths = (f64::from(x) * 100.0).round_ties_even() as u64;
    let mut digits = [0u8; 24];
    let mut at = digits.len();
    let mut n = hundredths;
    while at == digits.len() || n > 0 || at > digits.len() - 3 {
        if at == digits.len() - 2 {
            at -= 1;
            digits[at] = b'.';
        }
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Writes the values of the added columns for an outcome as fields of the
/// current record of `w` (`buf` is scratch space).
fn write_columns(w: &mut csv::Writer<impl Write>, o: &Outcome, buf: &mut String) -> csv::Result<()> {
    w.write_field(o.code.as_deref().unwrap_or_default())?;
    w.write_field(o.display.as_deref().unwrap_or_default())?;
    w.write_field(o.method.as_str())?;
    buf.clear();
    push_2_decimals(buf, o.confidence);
    w.write_field(buf.as_str())?;
    buf.clear();
    for (i, (c, s)) in o.candidates.iter().take(3).enumerate() {
        if i > 0 {
            buf.push('|');
        }
        buf.push_str(c);
        buf.push(':');
        push_2_decimals(buf, *s);
    }
    w.write_field(buf.as_str())?;
    w.write_field(if o.review { "true" } else { "false" })?;
    w.write_field(&o.note)
}

/// A table set up for recoding: where the code and label are.
pub struct Job<'a> {
    snap: &'a Snapshot,
    system: usize,
    threshold: f32,
    code: Option<usize>,
    label: Option<usize>,
    text: Vec<usize>,
    /// The input.
    pub table: TableReader,
}

impl<'a> Job<'a> {
    /// A job recoding `table` with `opts`; fails when a column or the system is unknown.
    pub fn new(snap: &'a Snapshot, table: TableReader, opts: &Options) -> Result<Job<'a>> {
        let system = snap.resolve_system(&opts.system)?;
        let code = opts.code_col.as_deref().map(|c| table.column(c)).transpose().context("code column")?;
        let label = opts.label_col.as_deref().map(|c| table.column(c)).transpose().context("label column")?;
        if code.is_none() && label.is_none() {
            bail!("give the column of codes (--code-col), of labels (--label-col), or both");
        }
        if !(0.0..=1.0).contains(&opts.threshold) {
            bail!("the threshold must be between 0 and 1, got {}", opts.threshold);
        }
        let text = opts.text_cols.iter().map(|c| table.column(c).context("text column")).collect::<Result<_>>()?;
        Ok(Job { snap, system, threshold: opts.threshold, code, label, text, table })
    }

    /// The output header: the input's, then [`COLUMNS`].
    pub fn header(&self) -> Vec<String> {
        self.table.header().iter().cloned().chain(COLUMNS.iter().map(|c| c.to_string())).collect()
    }

    /// Recodes every row into CSV on `out` (the input's separator, UTF-8):
    /// the header, then each batch of rows in input order. The two workers
    /// take the chunks of a batch in turn, deciding and writing each into
    /// their own buffer; this thread reads the input, writes the chunks out
    /// in order and counts the rows written. `progress` is called after
    /// each batch. An input or output error ends the run with
    /// [`Summary::error`] set.
    fn run(mut self, mut out: impl Write, mut progress: impl FnMut(u64)) -> Summary {
        let width = self.table.header().len();
        let delimiter = self.table.delimiter;
        let mut summary = Summary {
            delimiter: match delimiter {
                b'\t' => "tab".into(),
                d => (d as char).to_string(),
            },
            ..Summary::default()
        };
        let job = Decide { width, delimiter, code: self.code, label: self.label, text: self.text.clone() };
        let header = job.csv(Vec::new(), |csv| {
            let _ = csv.write_record(self.header());
        });
        if let Err(e) = out.write_all(&header) {
            summary.error = Some(format!("cannot write the header: {e}"));
            summary.encoding = self.table.describe_encoding();
            return summary;
        }
        let worker = || Worker {
            recoder: Recoder::new(self.snap, self.system, self.threshold),
            bytes: Vec::new(),
            scratch: String::new(),
            decided: Vec::new(),
            chunks: Vec::new(),
        };
        let mut tally = Tally::default();
        // The second worker runs on one thread for the whole run (what its
        // thread keeps for searches is kept): each batch, it is sent the
        // rows and its worker, and sends the worker back when no chunk is
        // left.
        std::thread::scope(|s| {
            let (go, batches) = std::sync::mpsc::channel::<Shift>();
            let (back, decided) = std::sync::mpsc::channel::<Worker>();
            let job = &job;
            let helper_thread = s.spawn(move || {
                for Shift { rows, filled, next, mut worker } in batches {
                    job.chunks(&mut worker, &rows[..filled], &next);
                    drop(rows);
                    if back.send(worker).is_err() {
                        break;
                    }
                }
            });
            let (mut own, mut helper) = (worker(), Some(worker()));
            // Rows of the batch, kept from one batch to the next so that their
            // fields' memory is reused.
            let mut rows: Vec<Row> = Vec::with_capacity(BATCH);
            loop {
                let Batch { filled, end, read_error } = read_batch(&mut self.table, &mut rows);
                let shared = Arc::new(std::mem::take(&mut rows));
                let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let other = helper.take().expect("the helper's worker is back");
                let sent = go.send(Shift { rows: shared.clone(), filled, next: next.clone(), worker: other });
                job.chunks(&mut own, &shared[..filled], &next);
                let Some(other) = sent.ok().and_then(|()| decided.recv().ok()) else {
                    // The helper ended: a panic outside a row's decision.
                    // Joined here, it is this run's error, not the caller's panic.
                    let _ = helper_thread.join();
                    summary.error = Some(format!(
                        "internal error: a recoding worker stopped after {} rows; the output ends there: recode the file again",
                        summary.rows
                    ));
                    return summary;
                };
                rows = Arc::try_unwrap(shared).unwrap_or_else(|shared| shared.to_vec());
                let batch = &rows[..filled];
                let workers = [&own, &other];
                // Each chunk from the worker that took it, in order.
                let mut taken = [0, 0];
                for (c, rows) in batch.chunks(CHUNK).enumerate() {
                    let k = usize::from(workers[0].chunks.get(taken[0]).is_none_or(|d| d.chunk != c));
                    let (w, done) = (workers[k], &workers[k].chunks[taken[k]]);
                    debug_assert_eq!(done.chunk, c, "every chunk decided once");
                    taken[k] += 1;
                    if let Err(e) = out.write_all(&w.bytes[done.bytes.clone()]) {
                        summary.error = Some(format!(
                            "cannot write rows {} to {} (the output ends within them): {e:#}",
                            summary.rows + 1,
                            summary.rows + rows.len() as u64
                        ));
                        break;
                    }
                    for (row, (o, failed)) in rows.iter().zip(&w.decided[done.decided.clone()]) {
                        let old = self.code.and_then(|c| row.fields.get(c)).map(String::as_str).unwrap_or_default();
                        tally.count(o, old);
                        summary.failed += u64::from(*failed);
                        summary.malformed += u64::from(row.problem.is_some());
                    }
                    summary.rows += rows.len() as u64;
                }
                helper = Some(other);
                progress(summary.rows);
                if summary.error.is_none() {
                    summary.error =
                        read_error.map(|e| format!("cannot read the input after {} rows: {e}", summary.rows));
                }
                if end || summary.error.is_some() {
                    if let Err(e) = out.flush()
                        && summary.error.is_none()
                    {
                        summary.error = Some(format!("cannot write the output: {e}"));
                    }
                    summary.encoding = self.table.describe_encoding();
                    tally.fill(&mut summary);
                    return summary;
                }
            }
        })
    }
}

/// What reading a batch gave: rows filled, whether the input ended (or
/// cannot be read further), and the read error, if any.
struct Batch {
    filled: usize,
    end: bool,
    read_error: Option<String>,
}

/// Reads up to [`BATCH`] rows into `rows` (reusing the rows' buffers from
/// the last batch). A read error ends the input: what was read is written,
/// then the run stops.
fn read_batch(table: &mut TableReader, rows: &mut Vec<Row>) -> Batch {
    let mut filled = 0;
    while filled < BATCH {
        if filled == rows.len() {
            rows.push(Row::default());
        }
        match table.read_row(&mut rows[filled]) {
            None => return Batch { filled, end: true, read_error: None },
            Some(Ok(())) => filled += 1,
            Some(Err(e)) => return Batch { filled, end: true, read_error: Some(format!("{e:#}")) },
        }
    }
    Batch { filled, end: false, read_error: None }
}

/// A batch for the helper worker: the rows (the first `filled`), the next
/// chunk to take, and its worker.
struct Shift<'a> {
    rows: Arc<Vec<Row>>,
    filled: usize,
    next: Arc<std::sync::atomic::AtomicUsize>,
    worker: Worker<'a>,
}

/// Where a job's columns are and how its output is written: what its
/// workers need to decide and write a row.
struct Decide {
    width: usize,
    delimiter: u8,
    code: Option<usize>,
    label: Option<usize>,
    text: Vec<usize>,
}

/// One worker of a run: its recoder, and the chunks of the batch it took,
/// as CSV and as outcomes (each with whether its recoding failed).
struct Worker<'a> {
    recoder: Recoder<'a>,
    bytes: Vec<u8>,
    scratch: String,
    decided: Vec<(Arc<Outcome>, bool)>,
    chunks: Vec<Chunk>,
}

/// A chunk of a batch a worker decided: which one, and where its rows are
/// in the worker's `bytes` and `decided`.
struct Chunk {
    chunk: usize,
    bytes: std::ops::Range<usize>,
    decided: std::ops::Range<usize>,
}

impl Decide {
    /// `bytes` with the CSV records `write` adds (in memory: nothing can
    /// fail).
    fn csv(&self, bytes: Vec<u8>, write: impl FnOnce(&mut csv::Writer<Vec<u8>>)) -> Vec<u8> {
        let mut csv = csv::WriterBuilder::new().delimiter(self.delimiter).flexible(true).from_writer(bytes);
        write(&mut csv);
        match csv.into_inner() {
            Ok(bytes) => bytes,
            Err(e) => e.into_inner().get_ref().clone(),
        }
    }

    /// Takes the chunks of `batch` not yet taken (`next` is the first),
    /// one at a time, and decides and writes their rows, recoded, into the
    /// worker's bytes, until none is left.
    fn chunks(&self, w: &mut Worker, batch: &[Row], next: &std::sync::atomic::AtomicUsize) {
        w.decided.clear();
        w.chunks.clear();
        let mut bytes = std::mem::take(&mut w.bytes);
        bytes.clear();
        let (scratch, decided, chunks, recoder) = (&mut w.scratch, &mut w.decided, &mut w.chunks, &mut w.recoder);
        w.bytes = self.csv(bytes, |csv| {
            loop {
                let chunk = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(rows) = batch.chunks(CHUNK).nth(chunk) else { break };
                // Writing into memory cannot fail.
                let _ = csv.flush();
                let (start, first) = (csv.get_ref().len(), decided.len());
                decided.extend(rows.iter().map(|row| self.row(csv, recoder, scratch, row)));
                let _ = csv.flush();
                chunks.push(Chunk { chunk, bytes: start..csv.get_ref().len(), decided: first..decided.len() });
            }
        });
    }

    /// Decides one row and writes it, recoded, into `csv`; its outcome,
    /// and whether its recoding failed.
    fn row(
        &self,
        csv: &mut csv::Writer<Vec<u8>>,
        recoder: &mut Recoder,
        scratch: &mut String,
        row: &Row,
    ) -> (Arc<Outcome>, bool) {
        let get = |c: Option<usize>| c.and_then(|i| row.fields.get(i)).map(String::as_str).unwrap_or_default();
        let text: Vec<&str> = self.text.iter().map(|&c| get(Some(c))).collect();
        let (shared, failed) = recode_one(recoder, get(self.code), get(self.label), &text.join(" "));
        let (fields, o) = match &row.problem {
            None => (std::borrow::Cow::Borrowed(&row.fields[..]), shared),
            // A record that does not fit: flagged, its missing fields
            // added empty, its extra fields kept in the note.
            Some(problem) => {
                let (mut fields, mut o) = (row.fields.clone(), Outcome::clone(&shared));
                o.review = true;
                let extra = if fields.len() > self.width { fields.split_off(self.width) } else { Vec::new() };
                o.note = if extra.is_empty() {
                    format!("{problem}{}{}", if o.note.is_empty() { "" } else { "; " }, o.note)
                } else {
                    format!("{problem}; extra fields kept here: {}", extra.join(" | "))
                };
                fields.resize(self.width, String::new());
                (std::borrow::Cow::Owned(fields), Arc::new(o))
            }
        };
        // Writing into memory cannot fail.
        for field in fields.iter() {
            let _ = csv.write_field(field);
        }
        let _ = write_columns(csv, &o, scratch);
        let _ = csv.write_record(None::<&[u8]>);
        (o, failed)
    }
}

/// Recodes one row; a panic (a bug) gives a row of method `none` with the
/// reason, flagged `true`, rather than losing the row or the run.
pub fn recode_one(w: &mut Recoder, code: &str, label: &str, text: &str) -> (Arc<Outcome>, bool) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.recode_shared(code, label, text))) {
        Ok(o) => (o, false),
        Err(_) => {
            let why = "internal error while recoding this row (logged); the row is kept as it was";
            (Arc::new(Recoder::none(why.into())), true)
        }
    }
}

/// Recodes a table into CSV (the input's separator, UTF-8) on `out`: the
/// input's fields, then [`COLUMNS`]. An output that cannot be written sets
/// [`Summary::error`].
///
/// The header, then each chunk of rows, goes to `out` in one `write_all`,
/// and [`Summary::rows`] counts the rows whose `write_all` returned. Give
/// an unbuffered `out` (a `File`, not a `BufWriter` of one) and, when
/// writing fails (a full disk), `rows` is the number of whole rows the
/// output holds (rows go out as they are decided, in chunks of 64 rows).
pub fn to_csv(job: Job, out: impl Write, progress: impl FnMut(u64)) -> Summary {
    job.run(out, progress)
}

/// Counts rows per method, for tests and reports.
pub fn method_of(fields: &[String], header: &[String]) -> Option<Method> {
    let i = header.iter().position(|h| h == "harmonie_method")?;
    Method::ALL.into_iter().find(|m| m.as_str() == fields.get(i).map(String::as_str).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimals_as_format_writes_them() {
        let mut values: Vec<f32> = vec![0.0, 0.005, 0.125, 0.375, 0.625, 0.875, 1.0, 0.995, 2.675, 1e-9, 12345.678];
        values.extend((0..20_000).map(|i| i as f32 / 7919.0));
        values.extend((0..2_000).map(|i| i as f32 / 8.0));
        values.extend([-0.0, -0.004, -1.5, f32::NAN, f32::INFINITY, 3e9, 999_999_999.0]);
        for x in values {
            let mut buf = String::new();
            push_2_decimals(&mut buf, x);
            assert_eq!(buf, format!("{x:.2}"), "{x:e}");
        }
    }
}
