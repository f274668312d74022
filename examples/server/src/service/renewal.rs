//! Why a certificate should be renewed before its usual window (RFC 9773 renewalInfo): the
//! reasons the server core cannot see by itself. The core pulls a revoked certificate's window
//! forward on its own; these add a root rotation (the certificate's authorityKeyIdentifier is
//! not the current root's key, draft §4.11) and a change of the device's approval (§3.4.4).

use lantrust_acme::server::{
    AccountRecord, CertIdParts, CertificateRecord, OrderRecord, RequestKind,
};
use lantrust_acme::{Order, RenewalInfo, Request, Response};
use lantrust_ca::Root;

use crate::store;

/// "Renew now" if `cert` was not signed by `root`, the root the server issues from now: its
/// certID's keyIdentifier (RFC 9773 §4.1, the AKI) names another key, so it chains to a root
/// that was rotated out, and its device should move to the new one.
pub(crate) fn root_reason(root: &Root, cert: &CertificateRecord) -> Option<String> {
    let id = lantrust_acme::cert_id(&cert.leaf_der).ok()?;
    let parts = CertIdParts::parse(&id)?;
    if parts.key_identifier == root.key_identifier() {
        return None;
    }
    tracing::info!(cert = %cert.id, cert_id = %id, "renewalInfo: renew now, the certificate was signed by a previous root");
    Some("the certificate was signed by a previous root".into())
}

/// "Renew now" if the approval of the certificate's device no longer stands for the key that
/// holds it (revoked, refused, or moved to another key by a reset). A database error is logged
/// and leaves the usual window: renewalInfo is advice, and the usual window is safe advice.
pub(crate) fn approval_reason(
    db: &store::Db,
    order: &OrderRecord,
    account: &AccountRecord,
) -> Option<String> {
    let device = order
        .identifiers
        .first()
        .map(lantrust_acme::server::device_id)?;
    match store::renew_early_reason(db, &device, &account.thumbprint) {
        Ok(Some(why)) => {
            tracing::info!(device = %device, order = %order.id, "renewalInfo: renew now, {why}");
            Some(why.into())
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), device = %device, "renewalInfo: reading the approval failed");
            None
        }
    }
}

/// Tell the operator what ARI decided: the window a renewalInfo request was answered with, and
/// which certificate a new order replaces (RFC 9773 §5).
pub(crate) fn log_answer(kind: RequestKind, req: &Request, resp: &Response) {
    match kind {
        RequestKind::RenewalInfo if resp.status == 200 => {
            if let Ok(info) = lantrust_acme::from_json::<RenewalInfo>(&resp.body) {
                let cert_id = req.url.rsplit('/').next().unwrap_or_default();
                tracing::info!(
                    cert_id,
                    start = %info.suggested_window.start,
                    end = %info.suggested_window.end,
                    retry_after = resp.header("retry-after").unwrap_or_default(),
                    "renewalInfo answered"
                );
            }
        }
        RequestKind::NewOrder if resp.status == 201 => {
            if let Ok(order) = lantrust_acme::from_json::<Order>(&resp.body)
                && let Some(replaces) = &order.replaces
            {
                tracing::info!(
                    replaces = %replaces,
                    order = resp.header("location").unwrap_or_default(),
                    "new order replaces a certificate (RFC 9773)"
                );
            }
        }
        _ => {}
    }
}

/// The subject CN of a certificate issued for `csr_der`: the device ID (draft §3.4.3: "The
/// commonName MUST be the device ID"), except for a generic client's CSR (generic-client mode,
/// whose CSR's CN is empty or one of its names). A generic client such as certbot renews every
/// name of the certificate *including its CN*; a bare device ID is not a name the network issues
/// (newOrder refuses it), so with it `certbot renew` could never succeed, ARI's suggestion or
/// not. Such a certificate's CN is its first DNS name instead.
pub(crate) fn subject_cn(
    policy: &lantrust_csr::Policy,
    csr_der: &[u8],
    accepted: &lantrust_csr::AcceptedCsr,
) -> String {
    let id = accepted.device_id();
    if !policy.generic_client_compat || csr_names_device_id(csr_der, id) {
        return id.to_string();
    }
    accepted
        .dns_names()
        .first()
        .cloned()
        .unwrap_or_else(|| id.to_string())
}

/// Whether the CSR's subject has `CN=<device_id>` (a draft-aware client).
fn csr_names_device_id(csr_der: &[u8], device_id: &str) -> bool {
    use der::Decode;
    let Ok(req) = x509_cert::request::CertReq::from_der(csr_der) else {
        return false;
    };
    let cn = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    req.info
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .any(|atv| {
            atv.oid == cn
                && [
                    atv.value
                        .decode_as::<der::asn1::Utf8StringRef<'_>>()
                        .map(|s| s.to_string()),
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.to_string()),
                ]
                .into_iter()
                .flatten()
                .any(|v| v.eq_ignore_ascii_case(device_id))
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lantrust_ca::{DeviceRequest, IssuanceOptions, Root, RootConfig};
    use rand::rngs::OsRng;

    use super::*;
    use crate::store::{Config, StateDir};

    const NOW: Duration = Duration::from_secs(1_780_000_000);

    fn root() -> Root {
        Root::generate(
            &RootConfig::new("router", vec!["home.arpa".into()]),
            NOW,
            &mut OsRng,
        )
        .unwrap()
    }

    /// A lantrust device's CSR for `id`, accepted under the network's policy.
    fn accepted(id: &str, policy: &lantrust_csr::Policy) -> (Vec<u8>, lantrust_csr::AcceptedCsr) {
        let built = lantrust_csr::CsrBuilder::new(id.to_string(), vec!["home.arpa".to_string()])
            .build(&mut OsRng)
            .unwrap();
        let (_, der) = built.into_parts();
        let ok = lantrust_csr::validate(&der, policy).unwrap();
        (der, ok)
    }

    #[test]
    fn a_certificate_of_a_rotated_out_root_is_renewed_now() {
        let (old, new) = (root(), root());
        let policy = lantrust_csr::Policy::new("router", vec!["home.arpa".to_string()]);
        let (_, ok) = accepted("cam-1", &policy);
        let cert = old
            .issue(
                &DeviceRequest {
                    device_id: "cam-1".into(),
                    dns_names: ok.dns_names().to_vec(),
                    ip_addrs: vec![],
                    public_key: ok.public_key().clone(),
                },
                &IssuanceOptions::default(),
                NOW,
                &mut OsRng,
            )
            .unwrap();
        let record = CertificateRecord {
            id: "c1".into(),
            account_id: "a1".into(),
            order_id: "o1".into(),
            pem_chain: String::new(),
            alternates: vec![],
            leaf_der: lantrust_ca::certificate_to_der(&cert).unwrap(),
            revoked: None,
        };
        assert_eq!(root_reason(&old, &record), None);
        assert!(
            root_reason(&new, &record)
                .unwrap()
                .contains("previous root")
        );
    }

    #[test]
    fn a_reset_or_withdrawn_approval_pulls_the_window_forward() {
        let dir = tempfile::tempdir().unwrap();
        let st = StateDir::new(dir.path());
        let config = Config {
            name: "router".into(),
            domains: vec!["home.arpa".into()],
            ips: vec![],
        };
        store::create_db(&st.db(), &config, NOW).unwrap();
        let conn = st.open().unwrap();
        let reason =
            |device: &str, key: &str| store::renew_early_reason(&conn, device, key).unwrap();
        // No approval row (auto-approved network): the usual window.
        assert_eq!(reason("cam-1", "T1"), None);
        conn.execute(
            "INSERT INTO approvals (device_id, state, account) VALUES ('cam-1', 'approved', 'T1'),
             ('cam-2', 'revoked', 'T1'), ('cam-3', 'denied', NULL), ('cam-4', 'approved', NULL)",
            &[],
        )
        .unwrap();
        assert_eq!(reason("cam-1", "T1"), None, "still bound to this key");
        assert!(
            reason("cam-1", "T2")
                .unwrap()
                .contains("another account key")
        );
        assert!(reason("cam-2", "T1").unwrap().contains("revoked"));
        assert!(reason("cam-3", "T1").unwrap().contains("refused"));
        assert_eq!(
            reason("cam-4", "T9"),
            None,
            "pre-approved for the first key"
        );
    }

    #[test]
    fn a_draft_device_keeps_its_device_id_as_common_name() {
        let strict = lantrust_csr::Policy::new("router", vec!["home.arpa".to_string()]);
        let generic = strict.clone().with_generic_client_compat(true);
        let (der, ok) = accepted("cam-1", &strict);
        assert_eq!(subject_cn(&strict, &der, &ok), "cam-1");
        let ok = lantrust_csr::validate(&der, &generic).unwrap();
        assert_eq!(subject_cn(&generic, &der, &ok), "cam-1");
    }
}
