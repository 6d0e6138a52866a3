//! `POST /v1/recode`: a CSV or NDJSON body recoded as it streams in and out.
//!
//! The request body is handed to a blocking worker through a bounded channel
//! (so memory stays flat), the worker runs the same pipeline as `harmonie
//! recode`, and its output flows back through another bounded channel. For
//! CSV the summary comes as the `harmonie-summary` HTTP trailer; for NDJSON
//! as a last line `{"summary": …}`.

use std::io::{BufRead, Read};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body::Frame;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, Problem};
use crate::recode::pipeline::{self, Job, Options, Summary};
use crate::recode::{DEFAULT_THRESHOLD, Recoder};
use crate::table::TableReader;

#[derive(Deserialize, IntoParams)]
/// Query parameters of `POST /v1/recode`.
pub struct RecodeParams {
    /// System id or alias to recode to.
    pub system: String,
    /// Column (CSV) or key (NDJSON) of the old code.
    pub code_col: Option<String>,
    /// Column (CSV) or key (NDJSON) of the label.
    pub label_col: Option<String>,
    /// Other columns or keys, comma-separated, whose text helps settle a
    /// code that splits (an activity description…).
    pub text_col: Option<String>,
    /// Confidence from which `harmonie_code` is filled (default 0.6).
    pub threshold: Option<f32>,
    /// CSV separator (default: detected): `;`, `,` or `tab`.
    pub delimiter: Option<String>,
    /// `true`: answer only the summary as JSON (with the transition report:
    /// rows unchanged, one to one, merged, split and settled, split for
    /// review, per old code), not the rows.
    pub report: Option<bool>,
}

/// The request body as a blocking reader.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(b)) => self.chunk = b,
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// Output of the worker: data, then (CSV) a summary trailer, or the reason
/// the run stopped early (the response is then cut, never ended cleanly).
enum Out {
    Data(Bytes),
    Summary(Summary),
    Abort(String),
}

/// Recode a CSV (`text/csv`) or NDJSON (`application/x-ndjson`) body: every row back once, in order, enriched.
#[utoipa::path(
    post,
    path = "/v1/recode",
    tag = "batch",
    params(RecodeParams),
    request_body(content(
        (String = "text/csv", example = "code_ape;activite\n1071C;BOULANGERIE\n;COIFFURE\n"),
        (String = "application/x-ndjson", example = "{\"code\":\"141Z\",\"label\":\"ELEVAGE\"}\n")
    )),
    responses(
        (status = 200, description = "the rows with harmonie_code, harmonie_display, harmonie_method, harmonie_confidence, harmonie_candidates, harmonie_review, harmonie_note; CSV with a harmonie-summary trailer, NDJSON with a last summary line. A run that cannot finish (upload broken, stalled or over the size limit) is cut off: the response does not end cleanly, and NDJSON's last line carries the error"),
        (status = 400, description = "unknown column, bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "the declared body is over the recode size limit", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "as many recodes as the server runs at once are running; retry later", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recode(
    State(state): State<AppState>,
    params: Result<Query<RecodeParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(p) = params?;
    let snap = state.snapshot.load_full();
    let system = super::v1::resolve_system(&snap, &p.system)?;
    let ndjson = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("ndjson"));
    let report_only = p.report.unwrap_or(false) && !ndjson;
    let delimiter = p
        .delimiter
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(crate::table::parse_delimiter)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid delimiter", e.to_string()))?;
    let threshold = p.threshold.unwrap_or(DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ApiError::bad_request(
            "invalid parameters",
            format!("threshold doit être entre 0 et 1 / must be between 0 and 1, got {threshold}"),
        ));
    }
    let opts = Options {
        system: snap.systems[system].id.clone(),
        code_col: p.code_col,
        label_col: p.label_col,
        text_cols: p
            .text_col
            .as_deref()
            .map(|t| t.split(',').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect())
            .unwrap_or_default(),
        threshold,
    };
    if opts.code_col.is_none() && opts.label_col.is_none() {
        return Err(ApiError::bad_request("missing parameter", "donner / give code_col, label_col or both"));
    }
    let limit = state.config.max_recode_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    // One permit per running recode: a full server answers 503 rather than
    // queueing threads behind stalled uploads.
    let permit = state.recodes.clone().try_acquire_owned().map_err(|_| super::error::busy("recodes"))?;
    let idle = state.config.idle_timeout;

    // Request body → blocking reader; a stalled or oversized upload ends it with an error.
    let (in_tx, in_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut received = 0u64;
        loop {
            let chunk = match tokio::time::timeout(idle, stream.next()).await {
                Ok(None) => break,
                Ok(Some(chunk)) => chunk.map_err(std::io::Error::other),
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no data received for {} s: the upload stalled", idle.as_secs()),
                )),
            };
            if let Ok(b) = &chunk {
                received += b.len() as u64;
            }
            let chunk = match chunk {
                Ok(_) if received > limit => Err(std::io::Error::other(format!(
                    "the body is over the recode limit of {} MiB: split the file or raise --max-recode-mb",
                    limit / (1024 * 1024)
                ))),
                c => c,
            };
            let stop = chunk.is_err();
            if in_tx.send(chunk).await.is_err() || stop {
                break;
            }
        }
    });
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(16);
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        // Held while rows are read and written; given back before the last
        // frame, so that a client sending its next file right after the
        // answer ends finds it free.
        let permit = Some(permit);
        // A client that stops reading the answer ends the run after `idle`.
        let put = |out: Out| -> anyhow::Result<()> {
            runtime
                .block_on(async { tokio::time::timeout(idle, out_tx.send(out)).await })
                .map_err(|_| anyhow::anyhow!("the client stopped reading for {} s", idle.as_secs()))?
                .map_err(|_| anyhow::anyhow!("client gone"))
        };
        let send = |b: Vec<u8>| put(Out::Data(Bytes::from(b)));
        let reader = ChannelReader { rx: in_rx, chunk: Bytes::new() };
        if ndjson {
            let _ = ready_tx.send(Ok(()));
            let summary = recode_ndjson(&snap, system, &opts, reader, &send);
            drop(permit);
            let line = serde_json::json!({ "summary": summary });
            if send(format!("{line}\n").into_bytes()).is_ok()
                && let Some(e) = summary.error
            {
                let _ = put(Out::Abort(e));
            }
            return;
        }
        let job = TableReader::from_reader(reader, crate::table::CsvOptions::user(delimiter))
            .and_then(|t| Job::new(&snap, t, &opts));
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                drop(permit);
                let _ = ready_tx.send(Err(format!("{e:#}")));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        if report_only {
            let summary = pipeline::to_csv(job, std::io::sink(), |_| {});
            drop(permit);
            match summary.error.clone() {
                None => drop(send(serde_json::to_vec_pretty(&summary).unwrap_or_default())),
                Some(e) => drop(put(Out::Abort(e))),
            }
            return;
        }
        let out = ChannelWriter { send: &send, buf: Vec::new() };
        let summary = pipeline::to_csv(job, out, |_| {});
        drop(permit);
        match summary.error.clone() {
            None => drop(put(Out::Summary(summary))),
            Some(e) => {
                tracing::warn!(error = %e, rows = summary.rows, "recode stopped before the end of its input");
                let _ = put(Out::Abort(e));
            }
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::bad_request("cannot recode", e)),
        Err(_) => return Err(ApiError::internal("the recoding worker stopped")),
    }
    let frames = futures_util::stream::poll_fn(move |cx| out_rx.poll_recv(cx)).map(|out| match out {
        Out::Data(b) => Ok(Frame::data(b)),
        Out::Summary(s) => {
            let mut trailers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&serde_json::to_string(&s).unwrap_or_default()) {
                trailers.insert("harmonie-summary", v);
            }
            Ok(Frame::trailers(trailers))
        }
        Out::Abort(e) => Err(std::io::Error::other(e)),
    });
    let ctype = match (report_only, ndjson) {
        (true, _) => "application/json",
        (false, true) => "application/x-ndjson",
        (false, false) => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, ctype), (header::TRAILER, "harmonie-summary")],
        Body::new(http_body_util::StreamBody::new(frames)),
    )
        .into_response())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "body too large",
        format!(
            "Le fichier dépasse {} Mio / the body is over the recode limit of {} MiB: split the file, or recode it with `harmonie recode`",
            limit / (1024 * 1024),
            limit / (1024 * 1024)
        ),
    )
}

/// Buffers CSV output into chunks for the channel.
struct ChannelWriter<'a, F: Fn(Vec<u8>) -> anyhow::Result<()>> {
    send: &'a F,
    buf: Vec<u8>,
}

impl<F: Fn(Vec<u8>) -> anyhow::Result<()>> std::io::Write for ChannelWriter<'_, F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            (self.send)(std::mem::take(&mut self.buf)).map_err(std::io::Error::other)?;
        }
        Ok(())
    }
}

/// Longest NDJSON line read whole.
const MAX_NDJSON_LINE: usize = 1024 * 1024;

/// Reads one line (with its `\n`) into `buf`, at most [`MAX_NDJSON_LINE`]
/// bytes of it, skipping the rest of a longer line. `None` at the end of
/// the input; `Some(true)` when the line was cut.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    let n = reader.by_ref().take(MAX_NDJSON_LINE as u64).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if n < MAX_NDJSON_LINE || buf.ends_with(b"\n") {
        return Ok(Some(false));
    }
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let m = reader.by_ref().take(64 * 1024).read_until(b'\n', &mut rest)?;
        if m == 0 || rest.ends_with(b"\n") {
            return Ok(Some(true));
        }
    }
}

/// NDJSON: one JSON object per line, answered with the same object plus the
/// `harmonie_*` keys. A line that is not a JSON object (or not even text)
/// comes back as `{"line", "raw", harmonie_*}` with method `none` and the
/// reason (a line over 1 MiB is kept cut, as such a row); from the first line that is not UTF-8, lines are read as
/// Windows-1252 ([`crate::table::Decoder`]). Every non-empty
/// line gives exactly one output line, in order; an input or output error
/// stops the run with [`Summary::error`] set.
pub fn recode_ndjson(
    snap: &crate::index::Snapshot,
    system: usize,
    opts: &Options,
    reader: impl Read,
    send: &dyn Fn(Vec<u8>) -> anyhow::Result<()>,
) -> Summary {
    let mut recoder = Recoder::new(snap, system, opts.threshold);
    let mut summary = Summary { encoding: "UTF-8".into(), delimiter: "ndjson".into(), ..Summary::default() };
    let mut tally = pipeline::Tally::default();
    let mut out = Vec::new();
    let mut reader = std::io::BufReader::new(reader);
    let mut bytes = Vec::new();
    let mut decoder = crate::table::Decoder::default();
    for i in 1u64.. {
        bytes.clear();
        // A line is read up to MAX_NDJSON_LINE bytes; the rest of a longer
        // one is skipped, and the line kept as a malformed row.
        let too_long = match read_line(&mut reader, &mut bytes) {
            Ok(None) => break,
            Ok(Some(too_long)) => too_long,
            Err(e) => {
                summary.error = Some(format!("cannot read the input after {} rows: {e}", summary.rows));
                break;
            }
        };
        let line = decoder.decode(&bytes, i);
        // Only lines of JSON whitespace are not records.
        if line.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            continue;
        }
        let parsed = if too_long {
            Err(format!("line {i}: longer than {} MiB, kept cut", MAX_NDJSON_LINE / (1024 * 1024)))
        } else {
            serde_json::from_str::<serde_json::Value>(&line).map_err(|e| format!("line {i}: invalid JSON: {e}"))
        };
        let (mut obj, problem) = match parsed {
            Ok(serde_json::Value::Object(o)) => (o, None),
            other => {
                let why = match other {
                    Err(why) => why,
                    Ok(_) => format!("line {i}: not a JSON object"),
                };
                let mut o = serde_json::Map::new();
                o.insert("line".into(), i.into());
                o.insert("raw".into(), line.trim_end_matches(['\r', '\n']).into());
                (o, Some(why))
            }
        };
        let text = |key: &Option<String>| {
            key.as_ref()
                .and_then(|k| obj.get(k))
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .unwrap_or_default()
        };
        let outcome = match problem {
            Some(why) => {
                summary.malformed += 1;
                std::sync::Arc::new(Recoder::none(why))
            }
            None => {
                let more: Vec<String> = opts.text_cols.iter().map(|k| text(&Some(k.clone()))).collect();
                let (o, failed) =
                    pipeline::recode_one(&mut recoder, &text(&opts.code_col), &text(&opts.label_col), &more.join(" "));
                summary.failed += u64::from(failed);
                o
            }
        };
        tally.count(&outcome, &text(&opts.code_col));
        let candidates: Vec<serde_json::Value> =
            outcome.candidates.iter().take(3).map(|(c, s)| serde_json::json!({"code": c, "score": s})).collect();
        obj.insert("harmonie_code".into(), outcome.code.clone().into());
        obj.insert("harmonie_display".into(), outcome.display.clone().into());
        obj.insert("harmonie_method".into(), outcome.method.as_str().into());
        obj.insert("harmonie_confidence".into(), outcome.confidence.into());
        obj.insert("harmonie_candidates".into(), candidates.into());
        obj.insert("harmonie_review".into(), outcome.review.into());
        obj.insert("harmonie_note".into(), outcome.note.clone().into());
        if let Err(e) = serde_json::to_writer(&mut out, &obj) {
            summary.error = Some(format!("cannot write row {}: {e}", summary.rows + 1));
            break;
        }
        out.push(b'\n');
        summary.rows += 1;
        if out.len() >= 64 * 1024
            && let Err(e) = send(std::mem::take(&mut out))
        {
            summary.error = Some(format!("cannot write the output: {e:#}"));
            break;
        }
    }
    tally.fill(&mut summary);
    summary.encoding = decoder.describe();
    if !out.is_empty()
        && let Err(e) = send(out)
    {
        summary.error.get_or_insert(format!("cannot write the output: {e:#}"));
    }
    summary
}
