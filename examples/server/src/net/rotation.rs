//! The HTTP side of planned root rotation (`rotate-root`, issue 15): the link certificates at
//! `/roots/link.pem` and each root's CRL at `/crl/<key id>` (RFC 5280 §5: a CRL is signed by
//! the CA that issued the certificates it covers, so an earlier root keeps signing the CRL of
//! its certificates after a rotation).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};

use super::http::App;
use crate::rotate::{PreviousCrls, Roots, hex};
use crate::store::{self, StateDir};

/// What `serve` publishes about rotations, from the roots it loaded at start.
pub(crate) struct Published {
    /// The link certificates, PEM, newest first (empty before any rotation).
    links_pem: String,
    /// The current root's key identifier, hex: `/crl/<it>` is `/crl`.
    current_id: String,
    previous: PreviousCrls,
}

impl Published {
    pub(crate) fn new(roots: &Roots, state: StateDir) -> Self {
        Published {
            links_pem: roots.links_pem(),
            current_id: hex(roots.current.key_identifier()),
            previous: PreviousCrls::new(state, roots.previous.clone()),
        }
    }
}

/// `GET /roots/link.pem`: the link certificates (each a newer root certified by the one before
/// it), newest first; 404 before the first rotation.
pub(crate) async fn links(State(app): State<Arc<App>>) -> HttpResponse {
    if app.rotation.links_pem.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            "no link certificate: this network's root was never rotated\n",
        )
            .into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/pem-certificate-chain",
        )],
        app.rotation.links_pem.clone(),
    )
        .into_response()
}

/// `GET /crl/<key id>`: the CRL of the root with that key identifier (hex): the current root's
/// (as `/crl`) or an earlier root's.
pub(crate) async fn crl_of(
    State(app): State<Arc<App>>,
    Path(key_id): Path<String>,
) -> HttpResponse {
    let key_id = key_id.to_ascii_lowercase();
    let now = store::now();
    let result = if key_id == app.rotation.current_id {
        let service = app.service.clone();
        tokio::task::spawn_blocking(move || service.crl(now).map(Some)).await
    } else {
        let Some(id) = unhex(&key_id) else {
            return (StatusCode::NOT_FOUND, "no such CRL\n").into_response();
        };
        let app = app.clone();
        tokio::task::spawn_blocking(move || app.rotation.previous.crl(&id, now)).await
    };
    match result {
        Ok(Ok(Some(der))) => (
            [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
            der,
        )
            .into_response(),
        Ok(Ok(None)) => (
            StatusCode::NOT_FOUND,
            "no root of this network has that key identifier\n",
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "CRL generation failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "CRL unavailable\n").into_response(),
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
