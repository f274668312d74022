//! Renewal information (RFC 9773): the `renewalInfo` resource (§4.1, §4.2), which tells each
//! certificate's client when to renew, and the `replaces` field of newOrder (§5).
//!
//! The suggested window spreads renewals: it lies in the last third of the certificate's
//! lifetime, at an offset derived from the certificate's certID, so a fleet enrolled at once
//! does not renew at once. It is pulled forward — a window that ends now, so that any time a
//! client picks inside it has passed (§4.2: renew immediately) — once the certificate is revoked
//! or a hook ([`Issuer::renew_early`], [`ApprovalPolicy::renew_early`]) names a reason: a root
//! rotation, a device re-approved for another key.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::b64;
use crate::objects::*;
use crate::time::rfc3339;

/// The parts of an RFC 9773 §4.1 certID: the AKI keyIdentifier and the serial number's DER
/// content bytes, both decoded from base64url.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertIdParts {
    /// The keyIdentifier of the certificate's authorityKeyIdentifier extension.
    pub key_identifier: Vec<u8>,
    /// The DER content bytes of the certificate's serial number (with any leading zero).
    pub serial: Vec<u8>,
}

impl CertIdParts {
    /// Parse `aki "." serial` (unpadded base64url each, §4.1). `None` when the text is not a
    /// certID: no dot, an empty or non-base64url part, padding.
    #[must_use]
    pub fn parse(cert_id: &str) -> Option<Self> {
        let (aki, serial) = cert_id.split_once('.')?;
        if aki.is_empty() || serial.is_empty() {
            return None;
        }
        let key_identifier = b64::decode(aki, "certID").ok()?;
        let serial = b64::decode(serial, "certID").ok()?;
        // Only the canonical encoding names a certificate (one certID per certificate).
        if b64::encode(&key_identifier) != aki || b64::encode(&serial) != serial_text(cert_id) {
            return None;
        }
        Some(CertIdParts {
            key_identifier,
            serial,
        })
    }
}

fn serial_text(cert_id: &str) -> &str {
    cert_id.split_once('.').map_or("", |(_, s)| s)
}

/// The window in which a certificate valid from `not_before` to `not_after` (since the Unix
/// epoch) should be renewed when nothing calls for haste: one ninth of the lifetime long, starting
/// between 6/9 and 7/9 of it, at an offset fixed by `seed` (the certID), so it always ends by 8/9
/// of the lifetime, leaving the last ninth for retries. Returns `(start, end)`, `end > start`.
#[must_use]
pub fn spread_window(
    not_before: Duration,
    not_after: Duration,
    seed: &[u8],
) -> (Duration, Duration) {
    use sha2::Digest;
    let life = not_after.saturating_sub(not_before);
    let ninth = life / 9;
    let h = sha2::Sha256::digest(seed);
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(h.iter()) {
        *dst = *src;
    }
    let fraction = u64::from_be_bytes(b) % 1_000_000;
    let offset_ms = ninth.as_millis().saturating_mul(u128::from(fraction)) / 1_000_000;
    let offset = Duration::from_millis(u64::try_from(offset_ms).unwrap_or(u64::MAX));
    let start = not_before
        .saturating_add(ninth.saturating_mul(6))
        .saturating_add(offset);
    let end = start
        .saturating_add(ninth)
        .max(start + Duration::from_secs(1));
    (
        whole_seconds(start),
        whole_seconds(end).max(whole_seconds(start) + Duration::from_secs(1)),
    )
}

/// The window of a certificate to renew now (§4.2: a window in the past means "renew
/// immediately"): from its notBefore (or a minute ago, if that is later than now) to now.
#[must_use]
pub fn renew_now_window(not_before: Duration, now: Duration) -> (Duration, Duration) {
    let end = whole_seconds(now);
    let start = whole_seconds(not_before).min(end.saturating_sub(Duration::from_secs(60)));
    (start, end)
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// The validity of a DER certificate: (notBefore, notAfter) since the Unix epoch.
fn validity(leaf_der: &[u8]) -> Option<(Duration, Duration)> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(leaf_der).ok()?;
    let v = &cert.tbs_certificate.validity;
    Some((
        v.not_before.to_unix_duration(),
        v.not_after.to_unix_duration(),
    ))
}

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    /// The certificate `cert_id` names, if this server issued it: looked up by serial, then its
    /// own certID compared in full (the AKI names the root that signed it).
    fn certificate_by_cert_id(
        &self,
        parts: &CertIdParts,
    ) -> Result<Option<CertificateRecord>, Refusal> {
        let Some(cert) = self.store.certificate_by_serial(&parts.serial)? else {
            return Ok(None);
        };
        let own = cert_id(&cert.leaf_der)
            .ok()
            .and_then(|c| CertIdParts::parse(&c));
        Ok((own.as_ref() == Some(parts)).then_some(cert))
    }

    /// `GET {renewalInfo}/{certID}` (RFC 9773 §4.1, unauthenticated): the RenewalInfo object
    /// (§4.2) with `Retry-After` (§4.3).
    pub(super) fn renewal_info(&mut self, cert_id_text: &str, now: Duration) -> Handled {
        let parts = CertIdParts::parse(cert_id_text).ok_or_else(|| {
            malformed("not a certID: base64url(AKI keyIdentifier) \".\" base64url(serial) (RFC 9773 §4.1)")
        })?;
        let cert = self.certificate_by_cert_id(&parts)?.ok_or_else(|| {
            problem(
                ProblemType::Malformed,
                404,
                "no certificate with this certID",
            )
        })?;
        let (not_before, not_after) = validity(&cert.leaf_der).ok_or_else(|| {
            problem(
                ProblemType::ServerInternal,
                500,
                "a stored certificate does not parse",
            )
        })?;
        let hurry = if cert.revoked.is_some() {
            Some("the certificate is revoked".to_string())
        } else {
            let early_by_issuer = self.issuer.renew_early(&cert, now);
            match early_by_issuer {
                Some(r) => Some(r),
                None => {
                    let order = self.store.order(&cert.order_id)?;
                    let account = self.store.account(&cert.account_id)?;
                    match (order, account) {
                        (Some(o), Some(a)) => self.policy.renew_early(&cert, &o, &a, now),
                        _ => None,
                    }
                }
            }
        };
        let (start, end) = match &hurry {
            Some(_) => renew_now_window(not_before, now),
            None => spread_window(not_before, not_after, cert_id_text.as_bytes()),
        };
        let info = RenewalInfo {
            suggested_window: SuggestedWindow {
                start: rfc3339(start),
                end: rfc3339(end),
            },
            explanation_url: self.cfg.renewal_explanation_url.clone(),
        };
        let mut r = json_response(200, &info);
        // §4.3: poll again after Retry-After; a short-lived certificate is asked about at
        // least a dozen times in its life, so a window pulled forward is seen in time (the
        // header itself is at least 1 s).
        let life = not_after.saturating_sub(not_before);
        let every = self.cfg.renewal_retry_after.min(life / 12);
        r.headers.push(retry_after_header(every));
        Ok(r)
    }

    /// RFC 9773 §5: a newOrder's `replaces` must name a certificate of the same account that
    /// shares an identifier with the order and that no other order (not `invalid`) replaces yet;
    /// the last failure is `alreadyReplaced` (409), the others `malformed` (400).
    pub(super) fn check_replaces(
        &self,
        account: &AccountRecord,
        identifiers: &[Identifier],
        replaces: &str,
    ) -> Result<(), Refusal> {
        let parts = CertIdParts::parse(replaces)
            .ok_or_else(|| malformed("`replaces` is not a certID (RFC 9773 §4.1)"))?;
        let cert = self
            .certificate_by_cert_id(&parts)?
            .ok_or_else(|| malformed("`replaces` names no certificate this server issued"))?;
        if cert.account_id != account.id {
            return Err(malformed(
                "`replaces` names a certificate of another account (RFC 9773 §5)",
            ));
        }
        let old = self
            .store
            .order(&cert.order_id)?
            .map(|o| o.identifiers)
            .unwrap_or_default();
        let norm = |i: &Identifier| (i.kind.clone(), i.value.to_ascii_lowercase());
        if !identifiers
            .iter()
            .any(|i| old.iter().any(|o| norm(o) == norm(i)))
        {
            return Err(malformed(
                "`replaces` names a certificate that shares no identifier with this order (RFC 9773 §5)",
            ));
        }
        // Newest first: a replacement is usually the account's latest order.
        for id in account.orders.iter().rev() {
            let Some(o) = self.store.order(id)? else {
                continue;
            };
            if o.replaces.as_deref() == Some(replaces) && o.status != OrderStatus::Invalid {
                return Err(problem(
                    ProblemType::AlreadyReplaced,
                    409,
                    alloc::format!(
                        "the certificate is already replaced by order {} (RFC 9773 §5)",
                        self.url(&alloc::format!("order/{}", o.id))
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_id_parts_parse_the_rfc_example_and_refuse_others() {
        // RFC 9773 §4.1's example.
        let p = CertIdParts::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(
            p.key_identifier,
            [
                0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
                0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4
            ]
        );
        assert_eq!(p.serial, [0x00, 0x87, 0x65, 0x43, 0x21]);
        for bad in [
            "",
            ".",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",
            ".AIdlQyE",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE=",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdl+yE",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.x",
        ] {
            assert!(CertIdParts::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn spread_windows_lie_in_the_last_third_and_differ_by_certificate() {
        let nb = Duration::from_secs(1_800_000_000);
        let na = nb + Duration::from_secs(90 * 86_400);
        let mut starts = alloc::collections::BTreeSet::new();
        for n in 0..50u32 {
            let seed = alloc::format!("aki.serial{n}");
            let (s, e) = spread_window(nb, na, seed.as_bytes());
            assert!(s >= nb + Duration::from_secs(60 * 86_400), "{s:?}");
            assert!(e <= nb + Duration::from_secs(80 * 86_400), "{e:?}");
            assert_eq!(e - s, Duration::from_secs(10 * 86_400));
            // Deterministic: the same certificate always gets the same window.
            assert_eq!(spread_window(nb, na, seed.as_bytes()), (s, e));
            starts.insert(s);
        }
        assert!(starts.len() > 40, "windows are not spread: {starts:?}");
    }

    #[test]
    fn renew_now_windows_end_now() {
        let nb = Duration::from_secs(1_800_000_000);
        let now = nb + Duration::from_secs(3600);
        assert_eq!(renew_now_window(nb, now), (nb, now));
        // Clock before notBefore: still a valid, past window.
        let (s, e) = renew_now_window(nb, nb - Duration::from_secs(5));
        assert!(s < e && e == nb - Duration::from_secs(5));
    }
}
