//! API errors, turned into `application/problem+json` responses in one
//! place: [`ApiError`] for handlers, [`in_callers_format`] for the errors
//! axum and the layers answer themselves, [`panic_response`] for panics.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

const PROBLEM: &str = "application/problem+json";

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status answered.
    pub status: StatusCode,
    /// Short, stable title of the problem type.
    pub title: &'static str,
    /// What went wrong and what to do, in French and English.
    pub detail: String,
}

/// The problem+json body (RFC 9457).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:harmonie:problem:<title>`
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable title of the problem type.
    pub title: String,
    /// HTTP status, repeated in the body.
    pub status: u16,
    /// What went wrong and what to do, in French and English.
    pub detail: String,
}

impl ApiError {
    /// An error with `status`, `title` and `detail`.
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, title, detail: detail.into() }
    }

    /// 400: the request is wrong; `detail` says how to fix it.
    pub fn bad_request(title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, title, detail)
    }

    /// 404: what the request names does not exist.
    pub fn not_found(title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, title, detail)
    }

    /// 500 with a `detail` that carries no internal text.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", detail)
    }
}

/// An internal failure is logged in full; the client gets no internal text
/// (file paths, panic messages), only what to do.
impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "request failed");
        ApiError::internal("Erreur interne / internal error: the request failed and was logged; retry or report it")
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::bad_request(
            "invalid parameters",
            format!("Paramètres invalides / invalid parameters: {}", e.body_text()),
        )
    }
}

impl From<crate::index::UnknownSystem> for ApiError {
    fn from(e: crate::index::UnknownSystem) -> ApiError {
        ApiError::not_found("unknown system", e.to_string())
    }
}

impl From<crate::index::UnknownLevel> for ApiError {
    fn from(e: crate::index::UnknownLevel) -> ApiError {
        ApiError::bad_request("unknown level", e.to_string())
    }
}

impl From<crate::jobs::JobError> for ApiError {
    fn from(e: crate::jobs::JobError) -> ApiError {
        match e {
            crate::jobs::JobError::Busy => busy("requests"),
            crate::jobs::JobError::Failed => ApiError::internal(
                "Erreur interne / internal error: the request failed and was logged; retry or report it",
            ),
        }
    }
}

/// 503: the server runs as many `what` as it allows; the client should
/// retry (the response carries `Retry-After`).
pub fn busy(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!(
            "Serveur occupé, réessayer / server busy: as many {what} as allowed are running; retry in a few seconds"
        ),
    )
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = Problem {
        kind: format!("urn:harmonie:problem:{}", title.replace(' ', "-")),
        title: title.to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, PROBLEM)], json).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = problem(self.status, self.title, &self.detail);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("2"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"harmonie-admin\""),
            );
        }
        resp
    }
}

/// Unknown routes: a problem, or a page for a browser (`Accept: text/html`).
pub async fn not_found(headers: axum::http::HeaderMap) -> Response {
    let browser = headers.get(header::ACCEPT).is_some_and(|a| a.to_str().is_ok_and(|a| a.contains("text/html")));
    if browser {
        return super::web::not_found_page();
    }
    ApiError::not_found(
        "no such route",
        "Route inconnue / unknown route: see GET /openapi.json for the routes of the API",
    )
    .into_response()
}

/// A panic in a handler: logged, answered 500, and the server goes on.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = what, "a handler panicked");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        "Erreur interne / internal error: the request failed and was logged; the server keeps serving, retry or report it",
    )
}

/// Who asked: the FHIR API, a browser, or an API client. Each gets its
/// errors in its own format.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    Fhir,
    Browser,
    Api,
}

pub(super) fn audience(req: &Request) -> Audience {
    let path = req.uri().path();
    if path == "/fhir" || path.starts_with("/fhir/") {
        return Audience::Fhir;
    }
    let html = req.headers().get(header::ACCEPT).is_some_and(|a| a.to_str().is_ok_and(|a| a.contains("text/html")));
    let api =
        ["/v1/", "/admin/", "/healthz", "/readyz", "/metrics", "/openapi.json"].iter().any(|p| path.starts_with(p));
    if html && !api { Audience::Browser } else { Audience::Api }
}

/// Rewrites the error responses that are not in the caller's format yet
/// (axum's rejections, 404/405, the timeout and body-limit layers, caught
/// panics): problem+json for the API, an `OperationOutcome` under `/fhir`,
/// a French page for a browser; status kept, message as detail.
pub(super) async fn in_callers_format(who: Audience, resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let ctype = resp.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    let is = |t: &str| ctype.starts_with(t.as_bytes());
    let answered = match who {
        Audience::Fhir => is(crate::fhir::outcome::FHIR_JSON),
        Audience::Browser => is("text/html") || is(crate::fhir::outcome::FHIR_JSON),
        Audience::Api => is(PROBLEM) || is("text/html") || is(crate::fhir::outcome::FHIR_JSON),
    };
    if answered {
        return resp;
    }
    let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
    // A problem already written keeps its detail; other bodies are the message.
    let message = if is(PROBLEM) {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or_default()
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    let (title, advice) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method not allowed", "see GET /openapi.json for the methods of each route"),
        StatusCode::REQUEST_TIMEOUT => ("request timeout", "the request took too long; send a smaller batch or retry"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body too large", "send a smaller body or split the batch"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported media type", "send Content-Type: application/json"),
        StatusCode::NOT_FOUND => ("not found", "see GET /openapi.json"),
        StatusCode::SERVICE_UNAVAILABLE => ("busy", "retry in a few seconds"),
        s if s.is_server_error() => ("internal error", "retry or report it"),
        _ => ("invalid request", "fix the request body or parameters"),
    };
    // Server errors never pass internal text on (it is in the log).
    let detail = if message.trim().is_empty() || (status.is_server_error() && !is(PROBLEM)) {
        advice.to_string()
    } else if is(PROBLEM) {
        message.trim().to_string()
    } else {
        format!("{}: {advice}", message.trim())
    };
    let mut out = match who {
        Audience::Fhir => {
            let code = match status {
                StatusCode::NOT_FOUND => "not-found",
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::UNSUPPORTED_MEDIA_TYPE => "not-supported",
                StatusCode::REQUEST_TIMEOUT => "timeout",
                StatusCode::PAYLOAD_TOO_LARGE => "too-costly",
                StatusCode::SERVICE_UNAVAILABLE => "transient",
                s if s.is_server_error() => "exception",
                _ => "invalid",
            };
            crate::fhir::outcome::FhirError::new(status, crate::fhir::outcome::Issue::error(code, detail))
                .into_response()
        }
        Audience::Browser => super::web::error_page(status, &detail),
        Audience::Api => problem(status, title, &detail),
    };
    if let Some(v) = retry_after {
        out.headers_mut().insert(header::RETRY_AFTER, v);
    }
    out
}
