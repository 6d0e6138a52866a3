//! FHIR errors and issues: every failure of a `/fhir` route answers an
//! `OperationOutcome` with the HTTP status that fits, mapped here only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::messages::MessageId;

/// The media type of every `/fhir` answer.
pub const FHIR_JSON: &str = "application/fhir+json";

/// How serious an issue is (`OperationOutcome.issue.severity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The request or the code is wrong.
    Error,
    /// Worth knowing; the answer stands.
    Warning,
    /// For information only.
    Information,
}

impl Severity {
    /// Its FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// One `OperationOutcome.issue`.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// How serious the issue is.
    pub severity: Severity,
    /// FHIR issue type (`code-invalid`, `not-found`, `invalid`, …).
    pub code: &'static str,
    /// Code of the terminology issue type (`not-in-vs`, `invalid-code`, …).
    pub tx: Option<&'static str>,
    /// Stable identifier of the message, as terminology servers report it.
    pub message_id: Option<MessageId>,
    /// What went wrong and what to do.
    pub text: String,
    /// FHIRPath of the input element concerned.
    pub expression: Option<String>,
    /// Whether the deprecated `location` repeats `expression` (kept for the
    /// clients that read it; tx.fhir.org leaves it out of the issues about
    /// a code its system does not have).
    pub location: bool,
}

impl Issue {
    /// An error of FHIR issue type `code`.
    pub fn error(code: &'static str, text: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            tx: None,
            message_id: None,
            text: text.into(),
            expression: None,
            location: true,
        }
    }
    /// With the terminology issue type `tx`.
    pub fn tx(mut self, tx: &'static str) -> Issue {
        self.tx = Some(tx);
        self
    }
    /// With the message id `id`.
    pub fn id(mut self, id: MessageId) -> Issue {
        self.message_id = Some(id);
        self
    }
    /// At the FHIRPath `expression` of the input.
    pub fn at(mut self, expression: impl Into<String>) -> Issue {
        self.expression = Some(expression.into());
        self
    }
    /// Without the deprecated `location`.
    pub fn no_location(mut self) -> Issue {
        self.location = false;
        self
    }
    /// With `severity` instead of error.
    pub fn severity(mut self, severity: Severity) -> Issue {
        self.severity = severity;
        self
    }

    /// The issue as FHIR JSON.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"severity": self.severity.as_str(), "code": self.code});
        if let Some(id) = self.message_id {
            v["extension"] = json!([{
                "url": "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id",
                "valueString": id.as_str()
            }]);
        }
        let mut details = json!({"text": self.text});
        if let Some(tx) = self.tx {
            details["coding"] = json!([{"system": "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type", "code": tx}]);
        }
        v["details"] = details;
        if let Some(e) = &self.expression {
            if self.location {
                v["location"] = json!([e]);
            }
            v["expression"] = json!([e]);
        }
        v
    }
}

/// An `OperationOutcome` listing `issues`.
pub fn outcome(issues: &[Issue]) -> Value {
    json!({"resourceType": "OperationOutcome", "issue": issues.iter().map(Issue::to_json).collect::<Vec<_>>()})
}

/// A failed FHIR request.
#[derive(Debug)]
pub struct FhirError {
    /// HTTP status answered.
    pub status: StatusCode,
    /// The issues, the first the main one.
    pub issues: Vec<Issue>,
}

impl FhirError {
    /// A failure answered `status` with one issue.
    pub fn new(status: StatusCode, issue: Issue) -> FhirError {
        FhirError { status, issues: vec![issue] }
    }
    /// 400: the request itself is wrong.
    pub fn invalid(text: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::BAD_REQUEST, Issue::error("invalid", text))
    }
    /// 404: a resource the request names does not exist.
    pub fn not_found(text: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::NOT_FOUND, Issue::error("not-found", text))
    }
    /// 422: understood, but cannot be processed (unknown system, bad filter…).
    pub fn unprocessable(issue: Issue) -> FhirError {
        FhirError::new(StatusCode::UNPROCESSABLE_ENTITY, issue)
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        fhir_json(self.status, outcome(&self.issues))
    }
}

/// A FHIR JSON answer.
pub fn fhir_json(status: StatusCode, body: Value) -> Response {
    fhir_bytes(status, body.to_string().into())
}

/// A FHIR JSON response of `body`, already serialised.
pub fn fhir_bytes(status: StatusCode, body: axum::body::Bytes) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, FHIR_JSON)], body).into_response()
}

impl FhirError {
    /// With the message id `id` on each of its issues.
    pub fn with_id(mut self, id: MessageId) -> FhirError {
        for i in &mut self.issues {
            i.message_id = Some(id);
        }
        self
    }
    /// With the terminology issue type `tx` on each of its issues.
    pub fn with_tx(mut self, tx: &'static str) -> FhirError {
        for i in &mut self.issues {
            i.tx = Some(tx);
        }
        self
    }
}
