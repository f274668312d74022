//! The HTTP admin endpoints (the §3.4.4 approval interface over HTTPS), for administrators
//! without local access to the state directory. Every request needs
//! `Authorization: Bearer <token>` with the token `init` wrote to `STATE/admin-token`; anything
//! else gets 401 with `WWW-Authenticate` (RFC 6750 §3) before any path is looked at.
//!
//! - `GET /admin/pending`: requests waiting for approval (as `pending --json`)
//! - `GET /admin/devices`: every device and certificate (as `list --json`)
//! - `POST /admin/devices/{id}/approve|deny|revoke`: a decision (as `approve|deny|revoke --json`);
//!   `approve` and `deny` take `/account/{thumbprint}` (as `--account`), `approve` also
//!   `/revoke-old` (as `--revoke-old`), e.g. `POST /admin/devices/cam-1/approve/account/T/revoke-old`
//! - `GET /metrics`: the Prometheus exposition (`service/metrics.rs`), same token

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::service::metrics::{METRICS, Refusal as Refused};
use crate::store::{self, ApprovalState, Decision, StateDir};

/// The admin token, compared in constant time.
pub(crate) struct AdminToken(zeroize::Zeroizing<String>);

impl AdminToken {
    pub(crate) fn new(token: zeroize::Zeroizing<String>) -> Self {
        AdminToken(token)
    }

    /// Whether `presented` is the token. Constant time in the token's content (the length is
    /// fixed by `init` and not secret).
    fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        core::hint::black_box(diff) == 0
    }
}

impl core::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AdminToken([secret elided])")
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("{v}\n"),
    )
        .into_response()
}

fn unauthorized(why: &str, invalid: bool) -> Response {
    let challenge = if invalid {
        "Bearer realm=\"lantrust-admin\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"lantrust-admin\""
    };
    let mut r = json_response(StatusCode::UNAUTHORIZED, &json!({ "error": why }));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// Why a request is not authorised: the message, and whether a token was presented (RFC 6750
/// §3.1 `invalid_token`).
type Refusal = (&'static str, bool);

/// Check the bearer token.
fn authorize(token: &AdminToken, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(h) = headers.get(header::AUTHORIZATION) else {
        return Err((
            "the admin endpoints need `Authorization: Bearer TOKEN` with the token from STATE/admin-token",
            false,
        ));
    };
    let h = h.to_str().unwrap_or("");
    let presented = match h.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => {
            return Err((
                "only the Bearer scheme is accepted: `Authorization: Bearer TOKEN`",
                true,
            ));
        }
    };
    if token.matches(presented) {
        Ok(())
    } else {
        Err(("wrong admin token (it is in STATE/admin-token)", true))
    }
}

/// `GET /metrics`: the Prometheus text exposition (format 0.0.4), behind the admin token like
/// /admin (counts of refusals and pending requests are for the operator, not the LAN).
pub(crate) async fn metrics(
    state: StateDir,
    token: &AdminToken,
    method: Method,
    headers: &HeaderMap,
    crl_signed: Option<Duration>,
) -> Response {
    if let Err((why, invalid)) = authorize(token, headers) {
        METRICS.refused(Refused::Unauthorized);
        tracing::warn!(path = "/metrics", "metrics request refused: {why}");
        return unauthorized(why, invalid);
    }
    if method != Method::GET {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({ "error": "GET /metrics" }),
        );
    }
    let now = store::now();
    match tokio::task::spawn_blocking(move || METRICS.render(&state, now, crl_signed)).await {
        Ok(Ok(body)) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "reading the metrics failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": format!("{e:#}") }),
            )
        }
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": "internal error" }),
        ),
    }
}

/// Serve one admin request.
pub(crate) async fn handle(
    state: StateDir,
    token: &AdminToken,
    method: Method,
    path: &str,
    headers: &HeaderMap,
) -> Response {
    if let Err((why, invalid)) = authorize(token, headers) {
        METRICS.refused(Refused::Unauthorized);
        tracing::warn!(path, "admin request refused: {why}");
        return unauthorized(why, invalid);
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let op: Op = match (method.clone(), parts.as_slice()) {
        (Method::GET, ["admin", "pending"]) => Op::List(true),
        (Method::GET, ["admin", "devices"]) => Op::List(false),
        (Method::POST, ["admin", "devices", id, action, rest @ ..]) => {
            let bad = |e: anyhow::Error| {
                json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({ "error": format!("{e:#}") }),
                )
            };
            let id = match crate::admin::check_id(id) {
                Ok(id) => id,
                Err(e) => return bad(e),
            };
            // Options as path segments: `/account/THUMBPRINT` and `/revoke-old`.
            let (mut account, mut revoke_old, mut it) = (None, false, rest.iter());
            while let Some(seg) = it.next() {
                match (*seg, it.clone().next()) {
                    ("account", Some(t)) => {
                        match crate::admin::check_thumbprint(t) {
                            Ok(t) => account = Some(t),
                            Err(e) => return bad(e),
                        }
                        it.next();
                    }
                    ("revoke-old", _) => revoke_old = true,
                    _ => return not_found(),
                }
            }
            let decide = |state| {
                Op::Decide(
                    id.clone(),
                    Decision {
                        state,
                        account: account.clone(),
                        revoke_old,
                    },
                )
            };
            match *action {
                "approve" => decide(ApprovalState::Approved),
                "deny" if !revoke_old => decide(ApprovalState::Denied),
                "revoke" if rest.is_empty() => Op::Revoke(id),
                _ => return not_found(),
            }
        }
        (_, ["admin", "pending"] | ["admin", "devices"] | ["admin", "devices", _, _, ..]) => {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({ "error": "GET /admin/pending and /admin/devices; POST /admin/devices/ID/approve|deny|revoke" }),
            );
        }
        _ => return not_found(),
    };
    let now = store::now();
    let r = tokio::task::spawn_blocking(move || run(&state, op, now)).await;
    match r {
        Ok(Ok(v)) => json_response(StatusCode::OK, &v),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "admin request failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": format!("{e:#}") }),
            )
        }
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": "internal error" }),
        ),
    }
}

fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({ "error": "no such admin endpoint: GET /admin/pending, GET /admin/devices, POST /admin/devices/ID/approve|deny|revoke" }),
    )
}

enum Op {
    List(bool),
    Decide(String, Decision),
    Revoke(String),
}

fn run(st: &StateDir, op: Op, now: Duration) -> anyhow::Result<Value> {
    let conn = st.open()?;
    Ok(match op {
        Op::List(true) => serde_json::to_value(store::pending_requests(&conn)?)?,
        Op::List(false) => json!({
            "devices": store::approvals(&conn, false)?,
            "certificates": store::certificates(&conn)?,
        }),
        Op::Decide(id, decision) => {
            let done = store::decide_with(&conn, &id, &decision, now)?;
            tracing::info!(device = %id, decision = decision.state.as_str(), account = ?done.account, "decided over the admin endpoint");
            let mut v = serde_json::to_value(&done)?;
            v["device_id"] = Value::String(id);
            v
        }
        Op::Revoke(id) => {
            let n = store::revoke_device(&conn, &id, now)?;
            tracing::info!(device = %id, certificates = n, "revoked over the admin endpoint");
            json!({ "device_id": id, "state": "revoked", "certificates_revoked": n })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok() -> AdminToken {
        AdminToken::new(zeroize::Zeroizing::new("00ff".repeat(16)))
    }

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn bearer_token_checks() {
        let t = tok();
        let good = format!("Bearer {}", "00ff".repeat(16));
        assert!(authorize(&t, &headers(Some(&good))).is_ok());
        assert!(authorize(&t, &headers(Some(&good.replace("Bearer", "bearer")))).is_ok());
        for bad in [
            None,
            Some("Bearer "),
            Some("Bearer 00ff"),
            Some("Basic YWRtaW46YWRtaW4="),
            Some(&*format!("Bearer {}", "00fe".repeat(16))),
            Some(&*format!("Bearer {}0", "00ff".repeat(16))),
        ] {
            let (why, invalid) = authorize(&t, &headers(bad)).unwrap_err();
            assert_eq!(invalid, bad.is_some(), "{bad:?}");
            let r = unauthorized(why, invalid);
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
            let www = r.headers().get(header::WWW_AUTHENTICATE).unwrap();
            assert!(www.to_str().unwrap().starts_with("Bearer realm="));
        }
        assert!(!format!("{t:?}").contains("00ff"));
    }
}
