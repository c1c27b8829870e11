//! An optional bearer-token requirement for a simulated party, so a caller
//! (and `crossdock certify`) can prove its authentication handling: a
//! request without `Authorization: Bearer <token>`, or with another token,
//! is refused with 401 problem+json before the party's logic runs. The
//! control API (`/_control/…`) stays open, as it is the harness's own.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use contracts::Problem;

use crate::{CONTROL_PREFIX, problem_response};

/// Whether `authorization` carries exactly `Bearer <token>` (scheme
/// case-insensitive, RFC 6750).
pub fn bearer_matches(authorization: Option<&HeaderValue>, token: &str) -> bool {
    let Some(value) = authorization.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let presented = parts.next().unwrap_or_default().trim();
    scheme.eq_ignore_ascii_case("bearer") && !presented.is_empty() && presented == token
}

async fn check(State(token): State<std::sync::Arc<str>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(CONTROL_PREFIX)
        || bearer_matches(req.headers().get(header::AUTHORIZATION), &token)
    {
        return next.run(req).await;
    }
    let detail = if req.headers().contains_key(header::AUTHORIZATION) {
        "the bearer token is not accepted"
    } else {
        "an Authorization: Bearer header is required"
    };
    let mut r =
        problem_response(Problem::new(401, "unauthorized", "authentication required").with_detail(detail));
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Wraps `app` so every non-control request must carry `Bearer <token>`;
/// `None` leaves it open.
pub fn require_bearer(app: Router, token: Option<&str>) -> Router {
    match token {
        None => app,
        Some(token) => app.layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::<str>::from(token),
            check,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert!(bearer_matches(Some(&v("Bearer s3cret")), "s3cret"));
        assert!(bearer_matches(Some(&v("bearer s3cret")), "s3cret"));
        assert!(!bearer_matches(Some(&v("Bearer other")), "s3cret"));
        assert!(!bearer_matches(Some(&v("Basic s3cret")), "s3cret"));
        assert!(!bearer_matches(Some(&v("Bearer ")), ""));
        assert!(!bearer_matches(None, "s3cret"));
    }
}
