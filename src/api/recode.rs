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
pub struct RecodeParams {
    /// System id or alias to recode to.
    pub system: String,
    /// Column (CSV) or key (NDJSON) of the old code.
    pub code_col: Option<String>,
    /// Column (CSV) or key (NDJSON) of the label.
    pub label_col: Option<String>,
    /// Confidence from which `harmonie_code` is filled (default 0.6).
    pub threshold: Option<f32>,
    /// CSV separator (default: detected): `;`, `,` or `tab`.
    pub delimiter: Option<String>,
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

/// Output of the worker: data, then (CSV) a summary trailer.
enum Out {
    Data(Bytes),
    Summary(Summary),
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
        (status = 200, description = "the rows with harmonie_code, harmonie_display, harmonie_method, harmonie_confidence, harmonie_candidates, harmonie_review, harmonie_note; CSV with a harmonie-summary trailer, NDJSON with a last summary line"),
        (status = 400, description = "unknown column, bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown system", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recode(
    State(state): State<AppState>,
    params: Result<Query<RecodeParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request("invalid parameters", e.body_text()))?;
    let snap = state.snapshot.load_full();
    let system = super::v1::resolve_system(&snap, &p.system)?;
    let ndjson = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("ndjson"));
    let delimiter = p
        .delimiter
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(crate::table::parse_delimiter)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid delimiter", e.to_string()))?;
    let opts = Options {
        system: snap.systems[system].id.clone(),
        code_col: p.code_col,
        label_col: p.label_col,
        threshold: p.threshold.unwrap_or(DEFAULT_THRESHOLD),
    };
    if opts.code_col.is_none() && opts.label_col.is_none() {
        return Err(ApiError::bad_request("missing parameter", "donner / give code_col, label_col or both"));
    }

    // Request body → blocking reader.
    let (in_tx, in_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            if in_tx.send(chunk.map_err(std::io::Error::other)).await.is_err() {
                break;
            }
        }
    });
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(16);
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
    tokio::task::spawn_blocking(move || {
        let reader = ChannelReader { rx: in_rx, chunk: Bytes::new() };
        let send =
            |b: Vec<u8>| out_tx.blocking_send(Out::Data(Bytes::from(b))).map_err(|_| anyhow::anyhow!("client gone"));
        if ndjson {
            let _ = ready_tx.send(Ok(()));
            let summary = recode_ndjson(&snap, system, &opts, reader, &send);
            let line = serde_json::json!({ "summary": summary.unwrap_or_default() });
            let _ = send(format!("{line}\n").into_bytes());
            return;
        }
        let job = TableReader::from_reader(reader, delimiter).and_then(|t| Job::new(&snap, t, &opts));
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("{e:#}")));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        let out = ChannelWriter { send: &send, buf: Vec::new() };
        if let Ok(summary) = pipeline::to_csv(job, out, |_| {}) {
            let _ = out_tx.blocking_send(Out::Summary(summary));
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::bad_request("cannot recode", e)),
        Err(_) => return Err(ApiError::internal("the recoding worker stopped")),
    }
    let frames = futures_util::stream::poll_fn(move |cx| out_rx.poll_recv(cx)).map(|out| {
        Ok::<_, std::convert::Infallible>(match out {
            Out::Data(b) => Frame::data(b),
            Out::Summary(s) => {
                let mut trailers = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&serde_json::to_string(&s).unwrap_or_default()) {
                    trailers.insert("harmonie-summary", v);
                }
                Frame::trailers(trailers)
            }
        })
    });
    let ctype = if ndjson { "application/x-ndjson" } else { "text/csv; charset=utf-8" };
    Ok((
        [(header::CONTENT_TYPE, ctype), (header::TRAILER, "harmonie-summary")],
        Body::new(http_body_util::StreamBody::new(frames)),
    )
        .into_response())
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

/// NDJSON: one JSON object per line, answered with the same object plus the
/// `harmonie_*` keys; a line that is not a JSON object comes back with its
/// line number and the reason, as method `none`.
fn recode_ndjson(
    snap: &crate::index::Snapshot,
    system: usize,
    opts: &Options,
    reader: ChannelReader,
    send: &dyn Fn(Vec<u8>) -> anyhow::Result<()>,
) -> anyhow::Result<Summary> {
    let mut recoder = Recoder::new(snap, system, opts.threshold);
    let mut summary = Summary { encoding: "UTF-8".into(), delimiter: "ndjson".into(), ..Summary::default() };
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(reader).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        summary.rows += 1;
        let mut obj = match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(o)) => o,
            other => {
                summary.malformed += 1;
                let why = match other {
                    Err(e) => format!("line {}: invalid JSON: {e}", i + 1),
                    Ok(_) => format!("line {}: not a JSON object", i + 1),
                };
                let mut o = serde_json::Map::new();
                o.insert("line".into(), (i + 1).into());
                o.insert("raw".into(), line.clone().into());
                o.insert("harmonie_note".into(), why.into());
                o
            }
        };
        let text = |key: &Option<String>| {
            key.as_ref()
                .and_then(|k| obj.get(k))
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .unwrap_or_default()
        };
        let outcome = if obj.contains_key("raw") && obj.len() == 3 {
            crate::recode::Outcome {
                code: None,
                display: None,
                method: crate::recode::Method::None,
                confidence: 0.0,
                candidates: vec![],
                review: true,
                note: obj["harmonie_note"].as_str().unwrap_or_default().to_string(),
            }
        } else {
            recoder.recode(&text(&opts.code_col), &text(&opts.label_col))
        };
        *summary.by_method.entry(outcome.method.as_str().to_string()).or_default() += 1;
        summary.review += u64::from(outcome.review);
        let candidates: Vec<serde_json::Value> =
            outcome.candidates.iter().take(3).map(|(c, s)| serde_json::json!({"code": c, "score": s})).collect();
        obj.insert("harmonie_code".into(), outcome.code.clone().into());
        obj.insert("harmonie_display".into(), outcome.display.clone().into());
        obj.insert("harmonie_method".into(), outcome.method.as_str().into());
        obj.insert("harmonie_confidence".into(), outcome.confidence.into());
        obj.insert("harmonie_candidates".into(), candidates.into());
        obj.insert("harmonie_review".into(), outcome.review.into());
        obj.insert("harmonie_note".into(), outcome.note.clone().into());
        serde_json::to_writer(&mut out, &obj)?;
        out.push(b'\n');
        if out.len() >= 64 * 1024 {
            send(std::mem::take(&mut out))?;
        }
    }
    if !out.is_empty() {
        send(out)?;
    }
    Ok(summary)
}
