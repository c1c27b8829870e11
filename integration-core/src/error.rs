//! The core's HTTP error type: every variant becomes an RFC 9457 problem in
//! one place ([`IntoResponse`]).
//!
//! **Layer**: the bottom. Imports nothing of the crate: the layers above
//! convert their own errors into [`ApiError`] (`db` converts its
//! `DbError`, beside that type).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use contracts::Problem;
use contracts::problem::PROBLEM_JSON;

/// Why the core refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the Idempotency-Key header is required")]
    MissingIdempotencyKey,
    #[error("Idempotency-Key {key:?} was first used with a different request body")]
    IdempotencyKeyReused { key: String },
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body does not match the {document} contract: {detail}")]
    InvalidDocument { document: &'static str, detail: String },
    #[error("request body breaks the {schema} contract: {}", .findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    ContractViolations {
        schema: &'static str,
        findings: Vec<contracts::validate::Finding>,
    },
    #[error("{what} {key} is already known with a different payload")]
    Conflict { what: &'static str, key: String },
    #[error("{0}")]
    Refused(Refusal),
    #[error("storage failed: {0}")]
    Storage(String),
}

/// A business rule that refused a document, with the JSON pointer at fault.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub slug: &'static str,
    pub title: &'static str,
    pub pointer: String,
    pub detail: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.title, self.pointer, self.detail)
    }
}

impl ApiError {
    pub fn refused(
        status: u16,
        slug: &'static str,
        title: &'static str,
        pointer: String,
        detail: String,
    ) -> Self {
        ApiError::Refused(Refusal {
            status,
            slug,
            title,
            pointer,
            detail,
        })
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            ApiError::MissingIdempotencyKey => Problem::new(
                400,
                "idempotency-key-missing",
                "Idempotency-Key header is required",
            ),
            ApiError::IdempotencyKeyReused { .. } => Problem::new(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused with a different body",
            ),
            ApiError::MalformedJson(_) => {
                Problem::new(400, "malformed-json", "request body is not valid JSON")
            }
            ApiError::InvalidDocument { .. } => Problem::new(
                422,
                "invalid-document",
                "request body does not match the contract",
            ),
            ApiError::ContractViolations { findings, .. } => {
                let mut p = Problem::new(422, "contract-violation", "request body breaks its contract");
                for f in findings {
                    p = p.with_error(&f.pointer, format!("{} [{}]", f.message, f.rule));
                }
                p
            }
            ApiError::Conflict { .. } => Problem::new(
                409,
                "business-key-conflict",
                "business key reused with a different payload",
            ),
            ApiError::Refused(r) => {
                let problem = Problem::new(r.status, r.slug, r.title).with_detail(&r.detail);
                // An empty pointer would mean "the whole body": say nothing instead.
                return if r.pointer.is_empty() {
                    problem
                } else {
                    problem.with_error(&r.pointer, &r.detail)
                };
            }
            ApiError::Storage(_) => {
                Problem::new(503, "storage-unavailable", "the core could not store the message")
            }
        }
        .with_detail(detail)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Storage(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Storage(e) = &self {
            tracing::error!(error = %e, "storage failure");
        }
        problem_response(self.problem())
    }
}

/// Renders `problem` as an `application/problem+json` response.
pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, axum::Json(problem)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    r
}
