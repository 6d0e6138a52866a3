//! API errors, turned into `application/problem+json` responses in one place.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Short, stable title of the problem type.
    pub title: &'static str,
    /// What went wrong and what to do, in French and English.
    pub detail: String,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
}

impl ApiError {
    pub fn bad_request(title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, title, detail: detail.into() }
    }

    pub fn not_found(title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, title, detail: detail.into() }
    }

    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, title: "internal error", detail: detail.into() }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "request failed");
        ApiError::internal(format!("Erreur interne / internal error: {e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let slug = self.title.replace(' ', "-");
        let body = Problem {
            kind: format!("urn:harmonie:problem:{slug}"),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], json).into_response()
    }
}
