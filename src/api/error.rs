//! API errors, turned into `application/problem+json` responses in one
//! place: [`ApiError`] for handlers, [`problem_responses`] for the errors
//! axum and the layers answer themselves, [`panic_response`] for panics.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

const PROBLEM: &str = "application/problem+json";

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
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
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, title, detail: detail.into() }
    }

    pub fn bad_request(title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, title, detail)
    }

    pub fn not_found(title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, title, detail)
    }

    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", detail)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "request failed");
        ApiError::internal(format!("Erreur interne / internal error: {e:#}"))
    }
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
        problem(self.status, self.title, &self.detail)
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

/// Rewrites the error responses that are not problem+json yet (axum's
/// rejections, 404/405, the timeout and body-limit layers) into problems,
/// keeping their status and their message as detail.
pub async fn problem_responses(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    // Problems, FHIR OperationOutcomes and web pages are answered as they are.
    let answered = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        [PROBLEM, crate::fhir::outcome::FHIR_JSON, "text/html"].iter().any(|t| v.as_bytes().starts_with(t.as_bytes()))
    });
    if !(status.is_client_error() || status.is_server_error()) || answered {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (title, advice) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method not allowed", "see GET /openapi.json for the methods of each route"),
        StatusCode::REQUEST_TIMEOUT => ("request timeout", "the request took too long; send a smaller batch or retry"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body too large", "send a smaller body or split the batch"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported media type", "send Content-Type: application/json"),
        StatusCode::NOT_FOUND => ("not found", "see GET /openapi.json"),
        s if s.is_server_error() => ("internal error", "retry or report it"),
        _ => ("invalid request", "fix the request body or parameters"),
    };
    let detail = if body.trim().is_empty() { advice.to_string() } else { format!("{}: {advice}", body.trim()) };
    problem(status, title, &detail)
}
