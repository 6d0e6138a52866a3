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

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::{Method, Outcome, Recoder};
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

const BATCH: usize = 4096;

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
    /// Rows read and written.
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
    /// Counts one decided row: its method, review flag and, when its code
    /// was already current or moved through a correspondence table, its
    /// transition under its old code. The one place rows are counted (CSV,
    /// spreadsheets and NDJSON alike).
    pub fn count(&mut self, o: &Outcome, old_code: &str) {
        /// Adds one under `key`, allocating only for a key not seen yet.
        fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
            match map.get_mut(key) {
                Some(n) => *n += 1,
                None => drop(map.insert(key.to_string(), 1)),
            }
        }
        bump(&mut self.by_method, o.method.as_str());
        self.review += u64::from(o.review);
        let transition = o.transition.or_else(|| {
            matches!(o.method, crate::recode::Method::Exact | crate::recode::Method::Respelled)
                .then_some(crate::recode::Transition::Unchanged)
        });
        if let Some(t) = transition {
            bump(&mut self.transition, t.as_str());
            // Under the old code as the table spells it, whatever the row's spelling.
            let old = o.source_code.as_deref().unwrap_or(old_code.trim());
            match self.transition_by_code.get_mut(old) {
                Some(ways) => bump(ways, t.as_str()),
                None => {
                    drop(self.transition_by_code.insert(old.to_string(), BTreeMap::from([(t.as_str().to_string(), 1)])))
                }
            }
        }
    }

    /// Whether every input record was read and written.
    pub fn complete(&self) -> bool {
        self.error.is_none()
    }

    /// One line for humans.
    pub fn describe(&self) -> String {
        let methods: Vec<String> = self.by_method.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let mut line = format!(
            "{} rows read ({}; separator {}): {}; {} for review; {} malformed",
            self.rows,
            self.encoding,
            self.delimiter,
            methods.join(", "),
            self.review,
            self.malformed
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

/// The values of the added columns for an outcome.
pub fn columns(o: &Outcome) -> [String; 7] {
    let candidates: Vec<String> = o.candidates.iter().take(3).map(|(c, s)| format!("{c}:{s:.2}")).collect();
    [
        o.code.clone().unwrap_or_default(),
        o.display.clone().unwrap_or_default(),
        o.method.as_str().to_string(),
        format!("{:.2}", o.confidence),
        candidates.join("|"),
        o.review.to_string(),
        o.note.clone(),
    ]
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

    /// Recodes every row, handing each (input row, its output fields) to
    /// `emit` in input order, and calling `progress` after each batch. An
    /// input or output error ends the run with [`Summary::error`] set.
    pub fn run(
        mut self,
        mut emit: impl FnMut(&Row, Vec<String>) -> Result<()>,
        mut progress: impl FnMut(u64),
    ) -> Summary {
        let width = self.table.header().len();
        let mut summary = Summary {
            delimiter: match self.table.delimiter {
                b'\t' => "tab".into(),
                d => (d as char).to_string(),
            },
            ..Summary::default()
        };
        let (snap, system, threshold, code_col, label_col) =
            (self.snap, self.system, self.threshold, self.code, self.label);
        let text_cols = self.text.clone();
        let mut workers = [Recoder::new(snap, system, threshold), Recoder::new(snap, system, threshold)];
        let mut batch: Vec<Row> = Vec::with_capacity(BATCH);
        loop {
            batch.clear();
            let mut end = false;
            let mut read_error = None;
            while batch.len() < BATCH {
                match self.table.next_row() {
                    None => {
                        end = true;
                        break;
                    }
                    Some(Ok(row)) => batch.push(row),
                    // The reader cannot go on (I/O): what was read is written, then the run stops.
                    Some(Err(e)) => {
                        read_error = Some(format!("{e:#}"));
                        end = true;
                        break;
                    }
                }
            }
            let half = batch.len().div_ceil(2);
            let (left, right) = batch.split_at(half);
            let decide = |w: &mut Recoder, rows: &[Row]| -> Vec<(Outcome, bool)> {
                rows.iter()
                    .map(|row| {
                        let get = |c: Option<usize>| {
                            c.and_then(|i| row.fields.get(i)).map(String::as_str).unwrap_or_default()
                        };
                        let text: Vec<&str> = text_cols.iter().map(|&c| get(Some(c))).collect();
                        recode_one(w, get(code_col), get(label_col), &text.join(" "))
                    })
                    .collect()
            };
            let [w1, w2] = &mut workers;
            let (a, b) = std::thread::scope(|s| {
                let h = s.spawn(|| decide(w2, right));
                let a = decide(w1, left);
                // `recode_one` catches panics, so the worker cannot panic.
                (a, h.join().unwrap_or_default())
            });
            let outcomes = a.into_iter().chain(b);
            for (row, (mut o, failed)) in batch.iter().zip(outcomes) {
                let mut fields = row.fields.clone();
                if let Some(problem) = &row.problem {
                    summary.malformed += 1;
                    o.review = true;
                    let extra = if fields.len() > width { fields.split_off(width) } else { Vec::new() };
                    o.note = if extra.is_empty() {
                        format!("{problem}{}{}", if o.note.is_empty() { "" } else { "; " }, o.note)
                    } else {
                        format!("{problem}; extra fields kept here: {}", extra.join(" | "))
                    };
                }
                fields.resize(width.max(fields.len()), String::new());
                summary.failed += u64::from(failed);
                let old = code_col.and_then(|c| row.fields.get(c)).map(String::as_str).unwrap_or_default();
                summary.count(&o, old);
                fields.extend(columns(&o));
                if let Err(e) = emit(row, fields) {
                    summary.error = Some(format!("cannot write row {}: {e:#}", summary.rows + 1));
                    break;
                }
                summary.rows += 1;
            }
            progress(summary.rows);
            if summary.error.is_none() {
                summary.error = read_error.map(|e| format!("cannot read the input after {} rows: {e}", summary.rows));
            }
            if end || summary.error.is_some() {
                summary.encoding = self.table.describe_encoding();
                return summary;
            }
        }
    }
}

/// Recodes one row; a panic (a bug) gives a row of method `none` with the
/// reason, flagged `true`, rather than losing the row or the run.
pub fn recode_one(w: &mut Recoder, code: &str, label: &str, text: &str) -> (Outcome, bool) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.recode_with_text(code, label, text))) {
        Ok(o) => (o, false),
        Err(_) => {
            (Recoder::none("internal error while recoding this row (logged); the row is kept as it was".into()), true)
        }
    }
}

/// Recodes a table into CSV (the input's separator, UTF-8) on `out`. An
/// output that cannot be written sets [`Summary::error`].
pub fn to_csv(job: Job, out: impl Write, progress: impl FnMut(u64)) -> Summary {
    let delimiter = job.table.delimiter;
    let mut w = csv::WriterBuilder::new().delimiter(delimiter).flexible(true).from_writer(out);
    if let Err(e) = w.write_record(job.header()) {
        return Summary { error: Some(format!("cannot write the header: {e}")), ..Summary::default() };
    }
    let mut summary = job.run(|_, fields| Ok(w.write_record(&fields)?), progress);
    if let Err(e) = w.flush()
        && summary.error.is_none()
    {
        summary.error = Some(format!("cannot write the output: {e}"));
    }
    summary
}

/// Counts rows per method, for tests and reports.
pub fn method_of(fields: &[String], header: &[String]) -> Option<Method> {
    let i = header.iter().position(|h| h == "harmonie_method")?;
    [
        Method::Exact,
        Method::Respelled,
        Method::Transcoded,
        Method::LabelExact,
        Method::LabelMatch,
        Method::Fuzzy,
        Method::Ambiguous,
        Method::None,
    ]
    .into_iter()
    .find(|m| m.as_str() == fields.get(i).map(String::as_str).unwrap_or_default())
}
