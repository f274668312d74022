//! Object identifiers this crate recognises (RFC 5912, RFC 8017, RFC 5480, RFC 8410).

use const_oid::ObjectIdentifier as Oid;

// Public key algorithms (RFC 5480 §2.1.1, RFC 8017 Appendix C, RFC 8410 §3).
pub(crate) const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
pub(crate) const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
pub(crate) const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
pub(crate) const ED448: Oid = Oid::new_unwrap("1.3.101.113");
pub(crate) const DSA: Oid = Oid::new_unwrap("1.2.840.10040.4.1");

// Named curves (RFC 5480 §2.1.1.1).
pub(crate) const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
pub(crate) const SECP521R1: Oid = Oid::new_unwrap("1.3.132.0.35");
pub(crate) const SECP256K1: Oid = Oid::new_unwrap("1.3.132.0.10");
pub(crate) const SECP224R1: Oid = Oid::new_unwrap("1.3.132.0.33");
pub(crate) const SECP192R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.1");

// Signature algorithms (RFC 5758 §3.2, RFC 8017 Appendix C, RFC 3279).
pub(crate) const ECDSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
pub(crate) const ECDSA_WITH_SHA224: Oid = Oid::new_unwrap("1.2.840.10045.4.3.1");
pub(crate) const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
pub(crate) const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
pub(crate) const MD2_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.2");
pub(crate) const MD5_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.4");
pub(crate) const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
pub(crate) const SHA224_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.14");
pub(crate) const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub(crate) const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
pub(crate) const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
pub(crate) const DSA_WITH_SHA1: Oid = Oid::new_unwrap("1.2.840.10040.4.3");

// Hash and mask generation functions (RFC 8017 Appendix B).
pub(crate) const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
pub(crate) const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
pub(crate) const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
pub(crate) const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
pub(crate) const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
pub(crate) const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");

// Names, attributes and extensions (RFC 5280 §4.2.1, RFC 2985 §5.4.2).
pub(crate) const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
pub(crate) const EXTENSION_REQUEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.14");
pub(crate) const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
pub(crate) const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
pub(crate) const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
pub(crate) const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
pub(crate) const SUBJECT_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.14");

/// Human names for the OIDs a vendor is likely to meet in a message. A table rather than a
/// `match`: the match compiled to ~8 KiB of comparisons, linked into every device build through
/// the error messages.
const NAMES: [(Oid, &str); 37] = [
    (EC_PUBLIC_KEY, "id-ecPublicKey"),
    (RSA_ENCRYPTION, "rsaEncryption"),
    (RSASSA_PSS, "RSASSA-PSS"),
    (ED25519, "Ed25519"),
    (ED448, "Ed448"),
    (DSA, "DSA"),
    (SECP256R1, "P-256 (secp256r1)"),
    (SECP384R1, "P-384 (secp384r1)"),
    (SECP521R1, "P-521 (secp521r1)"),
    (SECP256K1, "secp256k1"),
    (SECP224R1, "P-224 (secp224r1)"),
    (SECP192R1, "P-192 (secp192r1)"),
    (ECDSA_WITH_SHA1, "ecdsa-with-SHA1"),
    (ECDSA_WITH_SHA224, "ecdsa-with-SHA224"),
    (ECDSA_WITH_SHA256, "ecdsa-with-SHA256"),
    (ECDSA_WITH_SHA384, "ecdsa-with-SHA384"),
    (ECDSA_WITH_SHA512, "ecdsa-with-SHA512"),
    (MD2_WITH_RSA, "md2WithRSAEncryption"),
    (MD5_WITH_RSA, "md5WithRSAEncryption"),
    (SHA1_WITH_RSA, "sha1WithRSAEncryption"),
    (SHA224_WITH_RSA, "sha224WithRSAEncryption"),
    (SHA256_WITH_RSA, "sha256WithRSAEncryption"),
    (SHA384_WITH_RSA, "sha384WithRSAEncryption"),
    (SHA512_WITH_RSA, "sha512WithRSAEncryption"),
    (DSA_WITH_SHA1, "dsa-with-SHA1"),
    (SHA1, "SHA-1"),
    (SHA224, "SHA-224"),
    (SHA256, "SHA-256"),
    (SHA384, "SHA-384"),
    (SHA512, "SHA-512"),
    (MGF1, "MGF1"),
    (SUBJECT_ALT_NAME, "subjectAltName"),
    (BASIC_CONSTRAINTS, "basicConstraints"),
    (KEY_USAGE, "keyUsage"),
    (EXT_KEY_USAGE, "extKeyUsage"),
    (SUBJECT_KEY_IDENTIFIER, "subjectKeyIdentifier"),
    (EXTENSION_REQUEST, "extensionRequest"),
];

/// A human name for the OIDs a vendor is likely to meet in a message, else `None`.
pub(crate) fn name(oid: &Oid) -> Option<&'static str> {
    NAMES.iter().find(|(o, _)| o == oid).map(|(_, n)| *n)
}

/// Displays an OID as `name (dotted)` when we know its name, else dotted.
pub(crate) struct Named<'a>(pub(crate) &'a Oid);

impl core::fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match name(self.0) {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
