#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

use alloc::string::{String, ToString};
use core::fmt::Display;
use core::time::Duration;

use lantrust_acme::client::{ChallengeToServe, Client, ClientConfig, Event, Operation};
use lantrust_acme::jose::{AccountKey, Algorithm};
use lantrust_acme::{Identifier, Request, Response, https_contacts};
use lantrust_csr::{CsrBuilder, PrivateKey};
use rand_core::CryptoRngCore;

/// What the device provides: one HTTP exchange at a time, a challenge responder and a clock.
pub trait Device {
    /// Why an exchange failed (shown in [`Error::Transport`]).
    type Error: Display;

    /// Sends `request` to the ACME server (HTTPS, pinned to the network root) and returns its
    /// answer.
    fn send(&mut self, request: &Request) -> Result<Response, Self::Error>;

    /// Starts answering these challenges (the http-01 body at `/.well-known/acme-challenge/`,
    /// RFC 8555 §8.3); called before the client tells the server they are ready.
    fn serve_challenges(&mut self, challenges: &[ChallengeToServe]);

    /// The time since the Unix epoch.
    fn now(&mut self) -> Duration;

    /// Waits until the clock reads `until` (the server asked the client to poll later,
    /// RFC 8555 §7.5.1; on a device waiting for approval this can be hours).
    fn sleep_until(&mut self, until: Duration);
}

/// A finished enrollment.
#[derive(Debug)]
pub struct Enrolled {
    /// The device's new private key (P-384, generated for this request only: draft §4.11).
    pub key: PrivateKey,
    /// The account key (keep it to renew and revoke).
    pub account_key: AccountKey,
    /// The certificate chain, leaf first, as the server sent it (PEM).
    pub chain_pem: String,
    /// The account URL.
    pub account_url: String,
}

/// Why an enrollment failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The device's key or CSR could not be made (a device ID or domain the policy refuses).
    #[error("cannot make the CSR: {0}")]
    Csr(#[from] lantrust_csr::Error),
    /// The account key could not be generated, or the ACME exchange failed (the server's
    /// problem document, or a protocol violation).
    #[error("ACME: {0}")]
    Acme(#[from] lantrust_acme::Error),
    /// The device could not deliver a request.
    #[error("transport error: {0}")]
    Transport(String),
    /// The certificate returned is not for the key that signed the CSR.
    #[error("the server's certificate does not certify our key: {0}")]
    WrongCertificate(&'static str),
    /// The client neither finished nor had anything to send or wait for (a bug in the client
    /// core; never seen).
    #[error("the ACME client stalled")]
    Stalled,
}

/// Enrolls `device_id` (names `<id>.local` and `<id>.<domain>` for each of `domains`) with the
/// ACME server whose directory is `directory_url`: new account, order, http-01 challenges, the
/// network owner's approval (polling as the server asks), finalize with a CSR from a fresh P-384
/// key, and the certificate, whose leaf must certify that key.
pub fn enroll(
    device: &mut impl Device,
    rng: &mut impl CryptoRngCore,
    directory_url: &str,
    device_id: &str,
    domains: &[&str],
) -> Result<Enrolled, Error> {
    let account_key = AccountKey::generate(Algorithm::Es384, rng)?;
    let builder = CsrBuilder::new(device_id, domains.iter().copied());
    let names = builder.dns_names();
    let (key, csr_der) = builder.build(rng)?.into_parts();

    let mut cfg = ClientConfig::new(directory_url);
    // Draft §3.4.2: an IoT device's contact is its own https: URI.
    cfg.contact = https_contacts(names.iter().map(String::as_str));
    let op = Operation::Issue {
        identifiers: names.iter().map(|n| Identifier::dns(n)).collect(),
        csr_der,
        replaces: None,
    };
    let mut client = Client::new(cfg, account_key, op);
    let mut chain = None;
    loop {
        let mut progressed = false;
        if let Some(request) = client.poll_request() {
            let response = device
                .send(&request)
                .map_err(|e| Error::Transport(e.to_string()))?;
            let now = device.now();
            client.handle_response(response, now);
            progressed = true;
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::ServeChallenges(list) => {
                    device.serve_challenges(&list);
                    client.challenges_ready();
                }
                Event::Certificate(c) => chain = Some(c.pem),
                Event::Failed(e) => return Err(e.into()),
                _ => {}
            }
            progressed = true;
        }
        if client.is_done() {
            break;
        }
        if let Some(until) = client.poll_timeout() {
            device.sleep_until(until);
            let now = device.now();
            client.handle_timeout(now);
            progressed = true;
        }
        if !progressed {
            return Err(Error::Stalled);
        }
    }
    let chain_pem = chain.ok_or(Error::Stalled)?;
    check_leaf(&chain_pem, &key)?;
    let account_url = client.account_url().unwrap_or_default().to_string();
    let account_key = client.into_account_key();
    Ok(Enrolled {
        key,
        account_key,
        chain_pem,
        account_url,
    })
}

/// The leaf (first certificate) must carry the public key of the CSR's key: a device must never
/// install a certificate for someone else's key.
///
/// Only the leaf is decoded (RFC 8555 §7.4.2: the chain is leaf first), from its DER: decoding the
/// PEM chain straight into certificates would link a second copy of the X.509 decoder for the
/// PEM reader (~20 KiB).
fn check_leaf(chain_pem: &str, key: &PrivateKey) -> Result<(), Error> {
    const END: &str = "-----END CERTIFICATE-----";
    let leaf_pem = chain_pem
        .find(END)
        .and_then(|end| chain_pem.get(..end.saturating_add(END.len())))
        .ok_or(Error::WrongCertificate("the chain is empty"))?;
    let (label, der) = der::pem::decode_vec(leaf_pem.as_bytes())
        .map_err(|_| Error::WrongCertificate("the chain is not PEM certificates"))?;
    if label != "CERTIFICATE" {
        return Err(Error::WrongCertificate("the chain is not PEM certificates"));
    }
    let leaf = <x509_cert::Certificate as der::Decode>::from_der(&der)
        .map_err(|_| Error::WrongCertificate("the leaf is not a DER certificate"))?;
    if leaf.tbs_certificate.subject_public_key_info != key.public_key_info() {
        return Err(Error::WrongCertificate("the leaf's public key is not ours"));
    }
    Ok(())
}
