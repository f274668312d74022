//! The network owner's web console under `/admin/` (issue 18): sign in with the console
//! password, see every device waiting for approval with the evidence to decide (draft §3.4.4:
//! IP, MAC and its vendor, the key and its fingerprint, the key-change warning), approve, deny,
//! revoke, and check the network root's fingerprint (§3.5: trust on first use made checkable).
//!
//! Routes (the bearer-token JSON API keeps `/admin/pending` and `/admin/devices`):
//! - `GET /admin/`, `GET|POST /admin/login`, `POST /admin/logout`;
//! - `GET /admin/ui/pending|devices|root` (pages), `GET /admin/ui/pending/list` (the list the
//!   pending page polls), `POST /admin/ui/decide|revoke` (forms, CSRF-checked);
//! - `GET /admin/ui/root.pem|root-qr.svg`, `GET /admin/ui/static/console.{js,css}`.
//!
//! Only requests under /admin reach it: the ACME path pays nothing for it.

// A refusal is a finished response, the natural error value of a handler's helpers.
#![allow(clippy::result_large_err)]

mod auth;
mod notify;
mod oui;
mod pages;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;

use self::auth::{COOKIE, KNOWN_COOKIE, LOGIN_COOKIE, LoginLimiter, Sessions};
pub(crate) use self::auth::{PasswdArgs, passwd, read_password, set_password};
pub(crate) use self::notify::{check_url as check_notify_url, spawn_watcher};
use self::oui::OuiDb;
use self::pages::{PendingView, RootFacts};
use super::tls::Peer;
use crate::store::{self, ApprovalState, Decision, StateDir};

/// The Content-Security-Policy of every console response: nothing but this origin's script,
/// style and images; no framing, no form posts elsewhere.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const JS: &str = include_str!("console.js");
const CSS: &str = include_str!("console.css");

/// The console's state: sessions, the login limit, the OUI list, the root's facts.
pub(crate) struct Console {
    state: StateDir,
    sessions: Sessions,
    limiter: LoginLimiter,
    oui: OuiDb,
    root_pem: String,
    root: RootFacts,
    qr_svg: String,
    /// Wakes ACME polls held for an approval as soon as the owner decides here (`wake.rs`).
    wake: Option<Arc<super::wake::ApprovalWake>>,
}

impl Console {
    /// The console of the network whose state is `state` and whose root is `root`.
    pub(crate) fn new(state: StateDir, root: &lantrust_ca::Root, root_pem: String) -> Self {
        use der::{Decode as _, Encode as _};
        use sha2::Digest as _;
        // The trust anchor clients pin: the root, or in subordinate mode the company root that
        // /roots.pem serves (not the issuing sub-CA).
        let anchor = lantrust_ca::certificates_from_pem(&root_pem)
            .ok()
            .and_then(|v| {
                v.first()
                    .and_then(|c| lantrust_ca::certificate_to_der(c).ok())
            })
            .unwrap_or_else(|| root.certificate_der().to_vec());
        let der = anchor.as_slice();
        let cert_sha256 = sha2::Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let spki_sha256 = x509_cert::Certificate::from_der(der)
            .ok()
            .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der().ok())
            .map(|d| {
                sha2::Sha256::digest(d)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .unwrap_or_default();
        let qr_svg = qrcode::QrCode::new(format!("SHA256:{cert_sha256}"))
            .map(|c| {
                c.render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(264, 264)
                    .build()
            })
            .unwrap_or_default();
        Console {
            state,
            sessions: Sessions::default(),
            limiter: LoginLimiter::default(),
            oui: OuiDb::debian(),
            root_pem,
            root: RootFacts {
                subject: root.subject().to_string(),
                cert_sha256,
                spki_sha256,
            },
            qr_svg,
            wake: None,
        }
    }

    /// Wake polls held for an approval (`wake.rs`) when a decision or revocation is made here,
    /// instead of leaving it to the database watcher's next look.
    pub(crate) fn with_wake(mut self, wake: Arc<super::wake::ApprovalWake>) -> Self {
        self.wake = Some(wake);
        self
    }

    fn decided(&self) {
        if let Some(w) = &self.wake {
            w.notify();
        }
    }
}

/// The console's routes (merged into the /admin listener's router).
pub(crate) fn router<S>(console: Arc<Console>) -> Router<S> {
    Router::new()
        .route("/admin/", get(index))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/ui/pending", get(pending_page))
        .route("/admin/ui/pending/list", get(pending_list))
        .route("/admin/ui/devices", get(devices_page))
        .route("/admin/ui/root", get(root_page))
        .route("/admin/ui/root.pem", get(root_pem))
        .route("/admin/ui/root-qr.svg", get(root_qr))
        .route("/admin/ui/decide", post(decide))
        .route("/admin/ui/revoke", post(revoke))
        .route("/admin/ui/static/console.js", get(js))
        .route("/admin/ui/static/console.css", get(css))
        .route("/admin/ui/{*rest}", axum::routing::any(ui_not_found))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

/// The headers every console response carries (CSP, no framing, no sniffing, no referrer, no
/// caching).
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

fn html(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        m.into_string(),
    )
        .into_response()
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, pages::message(title, text))
}

/// The signed-in session of a request: (session ID, its CSRF token); marks it used.
fn session(c: &Console, headers: &HeaderMap) -> Option<(String, String)> {
    session_with(c, headers, true)
}

fn session_with(c: &Console, headers: &HeaderMap, refresh: bool) -> Option<(String, String)> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let id = auth::cookie_value(cookies, COOKIE)?;
    let now = Instant::now();
    let csrf = if refresh {
        c.sessions.touch(id, now)?
    } else {
        c.sessions.peek(id, now)?
    };
    Some((id.to_string(), csrf))
}

fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

async fn index(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    match session(&c, &headers) {
        Some(_) => Redirect::to("/admin/ui/pending").into_response(),
        None => to_login(),
    }
}

async fn ui_not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not found", "No such console page.")
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

/// Whether a password is set; an unreadable or exposed hash file counts as none (logged).
fn password_hash(c: &Console) -> Option<String> {
    match auth::stored_hash(&c.state) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "console password unusable");
            None
        }
    }
}

fn login_form(c: &Console, status: StatusCode, error: Option<&str>) -> Response {
    let dir = c.state.dir.display().to_string();
    if password_hash(c).is_none() {
        return html(StatusCode::FORBIDDEN, pages::login(None, &dir, error));
    }
    // Login CSRF: a random token in a cookie and in the form (double submit), so no other site
    // can sign a browser into the console.
    let token = auth::random_token();
    let mut r = html(status, pages::login(Some(&token), &dir, error));
    if let Ok(v) = HeaderValue::from_str(&auth::cookie(LOGIN_COOKIE, &token)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if session(&c, &headers).is_some() {
        return Redirect::to("/admin/ui/pending").into_response();
    }
    login_form(&c, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    password: String,
    csrf: String,
}

async fn login(
    State(c): State<Arc<Console>>,
    axum::Extension(Peer(peer)): axum::Extension<Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let ip: IpAddr = peer.ip();
    let now = Instant::now();
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    let known = cookies.and_then(|h| auth::cookie_value(h, KNOWN_COOKIE));
    if let Err(held) = c.limiter.check(ip, known, now) {
        tracing::warn!(%peer, ?held, "console login refused: rate limit");
        let secs = held.wait().as_secs().max(1);
        let text = match held {
            auth::Held::Source(_) => {
                format!("Too many failed sign-ins from this address; try again in {secs} s.")
            }
            auth::Held::Everyone { worst, .. } => format!(
                "Sign-in is paused for {secs} s: too many failed sign-ins from the network{}. \
                 A browser that signed in here before is not held back.",
                worst
                    .map(|w| format!(", most from {w}"))
                    .unwrap_or_default()
            ),
        };
        let mut r = message(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", &text);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let cookie_token = cookies.and_then(|h| auth::cookie_value(h, LOGIN_COOKIE));
    if !cookie_token.is_some_and(|t| auth::csrf_ok(t, Some(&f.csrf))) {
        tracing::warn!(%peer, "console login refused: CSRF token mismatch");
        return message(
            StatusCode::FORBIDDEN,
            "Refused",
            "The sign-in form expired or came from elsewhere; reload the sign-in page.",
        );
    }
    let Some(hash) = password_hash(&c) else {
        return login_form(&c, StatusCode::FORBIDDEN, None);
    };
    let password = zeroize::Zeroizing::new(f.password);
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    if !ok {
        c.limiter.failed(ip, now);
        tracing::warn!(%peer, "console login refused: wrong password");
        return login_form(&c, StatusCode::UNAUTHORIZED, Some("Wrong password."));
    }
    let (id, _) = c.sessions.create(now);
    let known = c.limiter.signed_in(known, now);
    tracing::info!(%peer, "console: signed in");
    let mut r = Redirect::to("/admin/ui/pending").into_response();
    for v in [
        auth::cookie(COOKIE, &id),
        auth::cookie_clear(LOGIN_COOKIE),
        auth::cookie_kept(KNOWN_COOKIE, &known, auth::KNOWN_MAX_AGE),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The session of a form POST whose CSRF token checks out, or the refusal.
fn checked(c: &Console, headers: &HeaderMap, csrf: &str) -> Result<String, Response> {
    let Some((id, expected)) = session(c, headers) else {
        return Err(message(
            StatusCode::UNAUTHORIZED,
            "Signed out",
            "Your session ended; sign in again.",
        ));
    };
    if !auth::csrf_ok(&expected, Some(csrf)) {
        tracing::warn!("console: form refused, CSRF token mismatch");
        return Err(message(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form did not come from this console (CSRF token mismatch).",
        ));
    }
    Ok(id)
}

async fn logout(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let id = match checked(&c, &headers, &f.csrf) {
        Ok(id) => id,
        Err(r) => return r,
    };
    c.sessions.remove(&id);
    let mut r = to_login();
    if let Ok(v) = HeaderValue::from_str(&auth::cookie_clear(COOKIE)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Run `f` on a database connection off the async threads.
async fn with_db<T: Send + 'static>(
    st: &StateDir,
    f: impl FnOnce(&store::Db) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let st = st.clone();
    let r = tokio::task::spawn_blocking(move || {
        let db = st.open()?;
        f(&db)
    })
    .await;
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "console: database request failed");
            Err(message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                &format!("{e:#}"),
            ))
        }
        Err(_) => Err(message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            "internal error",
        )),
    }
}

/// The waiting requests with their vendor and key type.
async fn pending_views(c: &Arc<Console>) -> Result<Vec<PendingView>, Response> {
    let c2 = c.clone();
    with_db(&c.state, move |conn| {
        let rows = store::pending_requests(conn)?;
        rows.into_iter()
            .map(|row| {
                let vendor = row
                    .requester
                    .mac
                    .as_deref()
                    .map(|m| c2.oui.lookup(m).label());
                let key_type = store::account_key_type(conn, &row.requester.account)?;
                Ok(PendingView {
                    row,
                    vendor,
                    key_type,
                })
            })
            .collect()
    })
    .await
}

async fn pending_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((_, csrf)) = session(&c, &headers) else {
        return to_login();
    };
    match pending_views(&c).await {
        Ok(v) => html(StatusCode::OK, pages::pending(&csrf, &v)),
        Err(r) => r,
    }
}

async fn pending_list(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    // Polled every second: an open tab must not keep the session alive by itself.
    let Some((_, csrf)) = session_with(&c, &headers, false) else {
        return (StatusCode::UNAUTHORIZED, "signed out\n").into_response();
    };
    match pending_views(&c).await {
        Ok(v) => {
            let mut r = html(StatusCode::OK, pages::pending_list(&csrf, &v));
            if let Ok(n) = HeaderValue::from_str(&v.len().to_string()) {
                r.headers_mut().insert("x-pending-count", n);
            }
            r
        }
        Err(r) => r,
    }
}

async fn devices_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((_, csrf)) = session(&c, &headers) else {
        return to_login();
    };
    match with_db(&c.state, |conn| {
        Ok((store::approvals(conn, false)?, store::certificates(conn)?))
    })
    .await
    {
        Ok((d, certs)) => html(
            StatusCode::OK,
            pages::devices(&csrf, &d, &certs, store::now().as_secs()),
        ),
        Err(r) => r,
    }
}

async fn root_page(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    let Some((_, csrf)) = session(&c, &headers) else {
        return to_login();
    };
    html(StatusCode::OK, pages::root(&csrf, &c.root))
}

async fn root_pem(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if session(&c, &headers).is_none() {
        return to_login();
    }
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lantrust-root.pem\"",
            ),
        ],
        c.root_pem.clone(),
    )
        .into_response()
}

async fn root_qr(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if session(&c, &headers).is_none() {
        return (StatusCode::UNAUTHORIZED, "signed out\n").into_response();
    }
    ([(header::CONTENT_TYPE, "image/svg+xml")], c.qr_svg.clone()).into_response()
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    device: String,
    account: String,
    action: String,
    #[serde(default)]
    revoke_old: Option<String>,
}

async fn decide(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<DecideForm>,
) -> Response {
    if let Err(r) = checked(&c, &headers, &f.csrf) {
        return r;
    }
    let bad = |e: anyhow::Error| message(StatusCode::BAD_REQUEST, "Refused", &format!("{e:#}"));
    let device = match crate::admin::check_id(&f.device) {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    let account = match crate::admin::check_thumbprint(&f.account) {
        Ok(a) => a,
        Err(e) => return bad(e),
    };
    let state = match f.action.as_str() {
        "approve" => ApprovalState::Approved,
        "deny" => ApprovalState::Denied,
        _ => return bad(anyhow::anyhow!("unknown action {:?}", f.action)),
    };
    let revoke_old = f.revoke_old.as_deref() == Some("on");
    let now = store::now();
    let r = with_db(&c.state, move |conn| {
        // Decide on exactly the request shown: that key for that ID, still waiting.
        let row = store::pending_requests(conn)?
            .into_iter()
            .find(|p| p.device_id == device && p.requester.account == account)
            .ok_or_else(|| {
                anyhow::anyhow!("{device} has no waiting request from that key (decided already?)")
            })?;
        // A first request's denial refuses the ID (so the device stops waiting); a key change's
        // refuses only the new key, and the approved device keeps its ID.
        let account = match (state, row.kind.as_str()) {
            (ApprovalState::Denied, "first_request") => None,
            _ => Some(account),
        };
        let d = Decision {
            state,
            account,
            revoke_old: revoke_old && state == ApprovalState::Approved,
        };
        let done = store::decide_with(conn, &device, &d, now)?;
        tracing::info!(device = %device, decision = state.as_str(), account = ?done.account, "decided in the console");
        Ok(())
    })
    .await;
    match r {
        Ok(()) => {
            c.decided();
            Redirect::to("/admin/ui/pending").into_response()
        }
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
    device: String,
}

async fn revoke(
    State(c): State<Arc<Console>>,
    headers: HeaderMap,
    Form(f): Form<RevokeForm>,
) -> Response {
    if let Err(r) = checked(&c, &headers, &f.csrf) {
        return r;
    }
    let device = match crate::admin::check_id(&f.device) {
        Ok(d) => d,
        Err(e) => return message(StatusCode::BAD_REQUEST, "Refused", &format!("{e:#}")),
    };
    let now = store::now();
    let r = with_db(&c.state, move |conn| {
        let n = store::revoke_device(conn, &device, now)?;
        tracing::info!(device = %device, certificates = n, "revoked in the console");
        Ok(())
    })
    .await;
    match r {
        Ok(()) => Redirect::to("/admin/ui/devices").into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    /// A console over a fresh state directory with a password set.
    fn console(dir: &std::path::Path) -> Arc<Console> {
        let st = StateDir::new(dir);
        let cfg = lantrust_ca::RootConfig::new("lantrust".to_string(), vec!["home.arpa".into()]);
        let root = lantrust_ca::Root::generate(&cfg, store::now(), &mut rand::rngs::OsRng).unwrap();
        let config = store::Config {
            name: "lantrust".into(),
            domains: vec!["home.arpa".into()],
            ips: Vec::new(),
        };
        store::create_db(&st.db(), &config, store::now()).unwrap();
        set_password(&st, "a long enough password").unwrap();
        let pem = root.certificate_pem().unwrap();
        Arc::new(Console::new(st, &root, pem))
    }

    /// Every console route, signed in or not, GET or POST, answers with the CSP and its
    /// companion headers (errors and redirects included).
    #[tokio::test]
    async fn every_console_response_carries_the_csp() {
        let dir = tempfile::tempdir().unwrap();
        let c = console(dir.path());
        let (session, csrf) = c.sessions.create(Instant::now());
        let app: Router = router(c);
        let gets = [
            "/admin/",
            "/admin/login",
            "/admin/ui/pending",
            "/admin/ui/pending/list",
            "/admin/ui/devices",
            "/admin/ui/root",
            "/admin/ui/root.pem",
            "/admin/ui/root-qr.svg",
            "/admin/ui/static/console.js",
            "/admin/ui/static/console.css",
            "/admin/ui/nope",
        ];
        let posts = [
            ("/admin/login", "csrf=x&password=y".to_string()),
            (
                "/admin/ui/decide",
                "csrf=bad&device=d&account=a&action=approve".into(),
            ),
            ("/admin/ui/revoke", format!("csrf={csrf}&device=nobody")),
            ("/admin/ui/revoke", "garbage".into()),
            // Last: it ends the session.
            ("/admin/logout", format!("csrf={csrf}")),
        ];
        let mut seen = Vec::new();
        for signed_in in [true, false] {
            let cookie = if signed_in {
                format!("{COOKIE}={session}")
            } else {
                String::new()
            };
            let reqs = gets
                .iter()
                .map(|p| {
                    Request::get(*p)
                        .header(header::COOKIE, &cookie)
                        .body(Body::empty())
                        .unwrap()
                })
                .chain(posts.iter().map(|(p, b)| {
                    Request::post(*p)
                        .header(header::COOKIE, &cookie)
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(Body::from(b.clone()))
                        .unwrap()
                }));
            for mut req in reqs {
                req.extensions_mut()
                    .insert(Peer("192.168.1.5:40000".parse().unwrap()));
                let what = format!("{} {} signed_in={signed_in}", req.method(), req.uri());
                let r = app.clone().oneshot(req).await.unwrap();
                let h = r.headers();
                assert_eq!(
                    h.get(header::CONTENT_SECURITY_POLICY).unwrap(),
                    CSP,
                    "{what}"
                );
                assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY", "{what}");
                assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
                assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
                seen.push((what, r.status().as_u16()));
            }
        }
        // The answers are the real ones, not a blanket error: pages signed in, redirects
        // signed out, 403 for a bad CSRF token.
        let status = |w: &str| seen.iter().find(|(s, _)| s == w).unwrap().1;
        assert_eq!(status("GET /admin/ui/pending signed_in=true"), 200);
        assert_eq!(status("GET /admin/ui/pending signed_in=false"), 303);
        assert_eq!(status("POST /admin/ui/decide signed_in=true"), 403);
        assert_eq!(status("POST /admin/ui/decide signed_in=false"), 401);
        assert_eq!(status("POST /admin/login signed_in=true"), 403);
        assert_eq!(status("POST /admin/ui/revoke signed_in=true"), 303);
        assert_eq!(status("POST /admin/logout signed_in=true"), 303);
        assert!(CSP.contains("frame-ancestors 'none'") && CSP.contains("script-src 'self'"));
    }
}
