//! The control API every simulator serves under `/_control`: readiness,
//! and faults set or cleared at runtime. Control exchanges are not recorded.
//!
//! - `GET /_control/ready` → `{"ready": true}`
//! - `GET /_control/faults` → `[{"id": 1, "rule": {...}}]`
//! - `POST /_control/faults` with a fault rule → 201 `{"id": n}`, or 422
//! - `DELETE /_control/faults/{id}` → 204, or 404
//! - `DELETE /_control/faults` → 204 (all cleared)
//! - `GET /_control/state` (served by each simulator) → what it holds

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::json;

use contracts::Problem;

use crate::faults::{FaultRule, FaultSet};
use crate::problem_response;

async fn ready() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"ready": true}))
}

async fn list(State(faults): State<Arc<FaultSet>>) -> axum::Json<serde_json::Value> {
    let rules: Vec<_> = faults
        .list()
        .into_iter()
        .map(|(id, rule)| json!({"id": id, "rule": rule}))
        .collect();
    axum::Json(json!(rules))
}

async fn add(State(faults): State<Arc<FaultSet>>, body: Bytes) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(rule) => rule,
        Err(e) => {
            return problem_response(
                Problem::new(422, "invalid-fault", "not a fault rule").with_detail(e.to_string()),
            );
        }
    };
    match faults.add(rule) {
        Ok(id) => (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response(),
        Err(e) => problem_response(Problem::new(422, "invalid-fault", "invalid fault rule").with_detail(e)),
    }
}

async fn remove(State(faults): State<Arc<FaultSet>>, Path(id): Path<u64>) -> Response {
    if faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem_response(
            Problem::new(404, "no-such-fault", "no such fault").with_detail(format!("no rule {id}")),
        )
    }
}

async fn clear(State(faults): State<Arc<FaultSet>>) -> StatusCode {
    faults.clear();
    StatusCode::NO_CONTENT
}

/// The control routes over `faults`, to merge into a simulator's router.
pub fn routes(faults: Arc<FaultSet>) -> Router {
    Router::new()
        .route("/_control/ready", get(ready))
        .route("/_control/faults", get(list).post(add).delete(clear))
        .route("/_control/faults/{id}", delete(remove))
        .with_state(faults)
}
