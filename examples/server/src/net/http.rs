//! The HTTP layer of `serve` (RFC 8555 §6.1, §7.1: the ACME resources under `/acme`, plus the
//! root at `/roots.pem`, the CRL at `/crl` and the /admin endpoints): routing, body limits and
//! timeouts, and the conversion between axum's types and the core's [`Request`]/[`Response`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{any, get};
use lantrust_acme::server::RequestKind;
use lantrust_acme::{Method, Problem, ProblemType, Request, Response};

use super::admin::AdminToken;
use super::challenge::{self, Targets};
use super::tls::Peer;
use super::wake::{ApprovalWake, LONG_POLL};
use tracing::Instrument as _;

use crate::service::metrics::{self, METRICS};
use crate::service::{AcmeService, Incoming};
use crate::store::{self, StateDir};

/// Largest request body accepted (a CSR for RSA-4096 with many SANs is a few KiB).
const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
pub(crate) struct App {
    pub(crate) service: Arc<AcmeService>,
    pub(crate) targets: Arc<Targets>,
    pub(crate) origin: String,
    pub(crate) root_pem: String,
    pub(crate) state: StateDir,
    /// The token of the /admin endpoints (`None`: `--no-http-admin`).
    pub(crate) admin_token: Option<AdminToken>,
    /// The web console, served where /admin is (`None`: `--no-http-admin`).
    pub(crate) console: Option<Arc<super::console::Console>>,
    /// Wakes polls held while a device awaits approval (`wake.rs`).
    pub(crate) wake: Arc<ApprovalWake>,
    /// Root rotation: /roots/link.pem and the earlier roots' CRLs.
    pub(crate) rotation: Arc<super::rotation::Published>,
}

/// Which routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routes {
    /// ACME, /roots.pem, /crl and /admin: the one listener of a default `serve`.
    All,
    /// Everything but /admin (`--admin-listen` gives /admin a listener of its own).
    WithoutAdmin,
    /// /admin only: the `--admin-listen` listener.
    AdminOnly,
}

/// The routes of `serve`.
pub(crate) fn router(app: Arc<App>, routes: Routes) -> Router {
    let mut r = Router::new();
    if routes != Routes::AdminOnly {
        r = r
            .route("/roots.pem", get(roots))
            .route("/crl", get(crl))
            .route("/crl/{key_id}", get(super::rotation::crl_of))
            .route("/roots/link.pem", get(super::rotation::links))
            .route("/acme/{*rest}", any(acme));
    }
    if routes != Routes::WithoutAdmin {
        r = r
            .route("/admin", any(admin))
            .route("/admin/{*rest}", any(admin))
            .route("/metrics", any(metrics));
        if let Some(c) = &app.console {
            r = r.merge(super::console::router(c.clone()));
        }
    }
    r.fallback(not_found).with_state(app)
}

async fn not_found() -> HttpResponse {
    (
        StatusCode::NOT_FOUND,
        "not found: the ACME directory is /acme/directory, the root /roots.pem, the CRL /crl\n",
    )
        .into_response()
}

async fn roots(State(app): State<Arc<App>>) -> HttpResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/pem-certificate-chain",
        )],
        app.root_pem.clone(),
    )
        .into_response()
}

async fn crl(State(app): State<Arc<App>>) -> HttpResponse {
    let service = app.service.clone();
    let now = store::now();
    let r = tokio::task::spawn_blocking(move || service.crl(now)).await;
    match r {
        Ok(Ok(der)) => (
            [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
            der,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "CRL generation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response(),
    }
}

/// The service's refusal made outside the core, as an HTTP response. Called on the async task,
/// as before the split: it only takes the core's lock for a nonce.
fn refusal(app: &App, p: Problem, now: Duration) -> HttpResponse {
    to_http(app.service.refusal(&p, now), false)
}

/// Numbers the ACME requests for their spans (`request_id`), from 1 at each start.
static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// One ACME request in its own span (`request_id`, `kind`, `peer`, and `device` once a hook
/// learns it), timed for the latency histogram of `/metrics`.
async fn acme(
    State(app): State<Arc<App>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    peer: axum::Extension<Peer>,
    body: Body,
) -> HttpResponse {
    let at = Instant::now();
    let kind = match method {
        HttpMethod::GET => Some(Method::Get),
        HttpMethod::HEAD => Some(Method::Head),
        HttpMethod::POST => Some(Method::Post),
        _ => None,
    }
    .map_or(RequestKind::Unknown, |m| {
        app.service
            .request_kind(m, &format!("{}{}", app.origin, uri.path()))
    });
    let span = tracing::info_span!(
        "request",
        request_id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed),
        kind = metrics::kind_label(kind),
        peer = %peer.0.0,
        device = tracing::field::Empty,
    );
    let r = handle_acme(app, method, uri, headers, peer, body, at)
        .instrument(span)
        .await;
    METRICS.observe(kind, at.elapsed());
    r
}

async fn handle_acme(
    app: Arc<App>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    axum::Extension(Peer(peer)): axum::Extension<Peer>,
    body: Body,
    at: Instant,
) -> HttpResponse {
    // The clock, read once for this request.
    let now = store::now();
    let m = match method {
        HttpMethod::GET => Method::Get,
        HttpMethod::HEAD => Method::Head,
        HttpMethod::POST => Method::Post,
        _ => {
            let p = Problem::new(
                ProblemType::Malformed,
                405,
                "method not allowed: ACME uses GET, HEAD and POST",
            );
            return refusal(&app, p, now);
        }
    };
    let url = format!("{}{}", app.origin, uri.path());
    let kind = app.service.request_kind(m, &url);
    // Admission that must not wait for the body (a newAccount flood costs no body reads).
    // A token bucket behind a mutex: cheap enough for the async task.
    if let Err(refused) = app.service.before_body(kind, peer, at, now) {
        return to_http(refused, false);
    }
    let body_timeout = Duration::from_secs(app.service.admission().limits().body_timeout);
    let body = match tokio::time::timeout(body_timeout, read_body(body)).await {
        Ok(Ok(b)) => b,
        Err(_) => {
            let p = Problem::new(
                ProblemType::Malformed,
                408,
                format!(
                    "the request body did not arrive within {} s; send the whole request at once",
                    body_timeout.as_secs()
                ),
            );
            tracing::info!(%peer, "request body timed out");
            let mut r = refusal(&app, p, now);
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            return r;
        }
        Ok(Err(size)) => {
            let p = Problem::new(
                ProblemType::Malformed,
                413,
                format!("the request body ({size}) is larger than {MAX_BODY} bytes"),
            );
            return refusal(&app, p, now);
        }
    };
    let req = Request {
        method: m,
        url,
        headers: headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body,
    };
    // A poll of a resource awaiting approval may be held (`hold`): listen for decisions from
    // before it is handled, so that none made meanwhile is missed.
    let decisions = matches!(
        kind,
        RequestKind::Authz | RequestKind::Order | RequestKind::Challenge
    )
    .then(|| app.wake.subscribe());
    let poll_url = req.url.clone();
    let service = app.service.clone();
    let incoming = Incoming { req, peer, now };
    let span = tracing::Span::current();
    let outcome =
        match tokio::task::spawn_blocking(move || span.in_scope(|| service.handle(incoming))).await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "request handler panicked");
                let p = Problem::new(ProblemType::ServerInternal, 500, "internal error");
                return to_http(
                    Response {
                        status: 500,
                        headers: vec![("Content-Type".into(), "application/problem+json".into())],
                        body: lantrust_acme::to_json(&p),
                    },
                    false,
                );
            }
        };
    let mut response = outcome.response;
    let mut unflushed = outcome.unflushed;
    let mut running = Vec::new();
    for v in outcome.validations {
        let task = tokio::spawn(
            challenge::validate(app.service.clone(), app.targets.clone(), v.clone())
                .in_current_span(),
        );
        running.push((v, task));
    }
    // Time to certificate: the challenge POST that started a validation waits for it (at
    // most INLINE_VALIDATION), then answers with the outcome, so a device already approved
    // (or renewing) goes on at once instead of polling; a slower validation goes on in the
    // background and the client polls, told to wait 1 s.
    if kind == RequestKind::Challenge
        && response.status == 200
        && let Some((v, _)) = running.first()
    {
        let v = v.clone();
        let deadline = tokio::time::Instant::now() + challenge::INLINE_VALIDATION;
        let mut finished = true;
        for (_, task) in &mut running {
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                finished = false;
                break;
            }
        }
        if finished {
            let service = app.service.clone();
            let answered = response.clone();
            let now = store::now();
            // challenge_answer flushes the database before it returns.
            match tokio::task::spawn_blocking(move || service.challenge_answer(&v, answered, now))
                .await
            {
                Ok(r) => {
                    response = r;
                    unflushed = false;
                }
                Err(e) => tracing::error!(error = %e, "rendering a challenge panicked"),
            }
        }
    }
    // The `processing` answer of a validation still running: on disk before it leaves.
    // Only a poll is held: the challenge POST that started a validation answers with its
    // outcome (and the human Retry-After while approval is pending) and is not held further.
    let held = running.is_empty() && response.status == 200;
    if unflushed {
        let service = app.service.clone();
        let answered = response.clone();
        match tokio::task::spawn_blocking(move || service.make_durable(answered)).await {
            Ok(r) => response = r,
            Err(e) => {
                tracing::error!(error = %e, "flushing the database panicked");
                let p = Problem::new(ProblemType::ServerInternal, 500, "internal error");
                return refusal(&app, p, store::now());
            }
        }
    }
    if held && let Some(decisions) = decisions {
        response = hold(&app, &poll_url, peer.ip(), response, decisions).await;
    }
    to_http(response, m == Method::Head)
}

/// A poll (RFC 8555 §7.5.1, §7.4) of an authorization, challenge or order that waits for the
/// owner's approval (draft §3.4.4) is held up to [`LONG_POLL`] and answered as soon as a
/// decision was made, with the resource as it is then; `answered` (the answer made when the
/// request was handled) goes out unchanged when nothing waits for approval. A poll held to its
/// deadline is told to come back after 1 s rather than the human `Retry-After`: it has waited
/// already, and its next poll is held again.
async fn hold(
    app: &App,
    url: &str,
    peer: std::net::IpAddr,
    answered: Response,
    mut decisions: tokio::sync::watch::Receiver<u64>,
) -> Response {
    let service = app.service.clone();
    let u = url.to_string();
    let awaiting = tokio::task::spawn_blocking(move || service.awaits_approval(&u))
        .await
        .unwrap_or(false);
    if !awaiting {
        return answered;
    }
    let deadline = tokio::time::Instant::now() + LONG_POLL;
    let mut latest = answered.clone();
    while let Ok(Ok(())) = tokio::time::timeout_at(deadline, decisions.changed()).await {
        decisions.borrow_and_update();
        let service = app.service.clone();
        let (u, a) = (url.to_string(), answered.clone());
        let now = store::now();
        match tokio::task::spawn_blocking(move || service.poll_again(&u, &a, peer, now)).await {
            Ok((r, true)) => latest = r,
            Ok((r, false)) => return r,
            Err(e) => {
                tracing::error!(error = %e, "looking at a held poll again panicked");
                return latest;
            }
        }
    }
    latest
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("retry-after"));
    latest.headers.push(("Retry-After".into(), "1".into()));
    latest
}

/// `/metrics`, where /admin is served and behind its token (see `admin::metrics`).
async fn metrics(
    State(app): State<Arc<App>>,
    method: HttpMethod,
    headers: HeaderMap,
) -> HttpResponse {
    let Some(token) = &app.admin_token else {
        return not_found().await;
    };
    let crl = app.service.crl_signed_at();
    super::admin::metrics(app.state.clone(), token, method, &headers, crl).await
}

/// The HTTP admin endpoints (token-protected; see `admin`).
async fn admin(
    State(app): State<Arc<App>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
) -> HttpResponse {
    let Some(token) = &app.admin_token else {
        return not_found().await;
    };
    let decides = method == HttpMethod::POST;
    let r = super::admin::handle(app.state.clone(), token, method, uri.path(), &headers).await;
    if decides && r.status() == StatusCode::OK {
        // Polls held for a device's approval look again now (`wake.rs`).
        app.wake.notify();
    }
    r
}

fn to_http(r: Response, head: bool) -> HttpResponse {
    let mut b = axum::http::Response::builder()
        .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (n, v) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            b = b.header(n.as_str(), v);
        }
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from(r.body)
    };
    b.body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Read at most [`MAX_BODY`] bytes. A larger body is drained (up to 1 MiB, so that the client
/// finishes sending and reads the 413 problem instead of a reset) and refused.
async fn read_body(body: Body) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    const DRAIN_LIMIT: usize = 1024 * 1024;
    let mut body = body;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err("unreadable".into());
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= MAX_BODY {
                out.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                return Err("more than 1 MiB".into());
            }
        }
    }
    if total > MAX_BODY {
        return Err(format!("{total} bytes"));
    }
    Ok(out)
}
