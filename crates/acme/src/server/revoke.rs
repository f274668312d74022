//! Certificate revocation (RFC 8555 §7.6): by the issuing account or by the certificate's key.

use alloc::boxed::Box;
use alloc::string::ToString;
use core::time::Duration;

use super::*;
use crate::b64;
use crate::http::Response;
use crate::jose::{Jwk, PublicKey};
use crate::objects::*;

impl<S: Store, P: ApprovalPolicy, I: Issuer> Server<S, P, I> {
    pub(super) fn revoke(&mut self, v: Verified, now: Duration) -> Handled {
        let r: Revocation = parse_payload(&v.payload)?;
        let der =
            b64::decode(&r.certificate, "certificate").map_err(|e| malformed(e.to_string()))?;
        // RFC 5280 §5.3.1 codes a subscriber may use (no certificateHold, removeFromCRL, unused 7).
        if let Some(code) = r.reason
            && !matches!(code, 0 | 1 | 3 | 4 | 5 | 9)
        {
            return Err(problem(
                ProblemType::BadRevocationReason,
                400,
                "allowed reasons: 0, 1, 3, 4, 5, 9",
            ));
        }
        let mut cert = self.store.certificate_by_der(&der)?.ok_or_else(|| {
            problem(
                ProblemType::Malformed,
                404,
                "this server did not issue that certificate",
            )
        })?;
        let authorized = match (&v.account, &v.jwk) {
            (Some(account), _) => account.id == cert.account_id,
            (None, Some((jwk, _))) => cert_public_jwk(&der).as_ref() == Some(jwk),
            (None, None) => false,
        };
        if !authorized {
            return Err(problem(
                ProblemType::Unauthorized,
                403,
                "only the issuing account or the certificate's key may revoke it",
            ));
        }
        if cert.revoked.is_some() {
            return Err(problem(
                ProblemType::AlreadyRevoked,
                400,
                "the certificate is already revoked",
            ));
        }
        cert.revoked = Some(r.reason);
        self.store.put_certificate(cert.clone(), now)?;
        self.issuer.revoked(&cert, now);
        Ok(Response {
            status: 200,
            ..Default::default()
        })
    }
}

/// The JWK of a certificate's subject public key (for revocation by certificate key, §7.6).
pub(super) fn cert_public_jwk(cert_der: &[u8]) -> Option<Jwk> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert_der).ok()?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bits = spki.subject_public_key.as_bytes()?;
    let alg = spki.algorithm.oid.to_string();
    if alg == "1.2.840.10045.2.1" {
        let curve: der::asn1::ObjectIdentifier =
            spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
        let key = match curve.to_string().as_str() {
            "1.2.840.10045.3.1.7" => {
                PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(bits).ok()?)
            }
            "1.3.132.0.34" => {
                PublicKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(bits).ok()?)
            }
            "1.3.132.0.35" => PublicKey::P521(Box::new(
                ecdsa::VerifyingKey::<p521::NistP521>::from_sec1_bytes(bits).ok()?,
            )),
            _ => return None,
        };
        Some(key.to_jwk())
    } else if alg == "1.2.840.113549.1.1.1" {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let k = rsa::RsaPublicKey::from_pkcs1_der(bits).ok()?;
        Some(PublicKey::Rsa(Box::new(k)).to_jwk())
    } else {
        None
    }
}
