//! The draft's device CSR policy (§3.4.3, §4.2) and its verdict.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::BasicConstraints;

use crate::names::{
    check_dns_syntax, ip_from_octets, is_ldh_label, is_local_ip, is_shared_address_space,
};
use crate::oids::{self, Named};
use crate::parse::Csr;
use crate::verify::{self, RSA_MAX_POLICY_BITS, RSA_MIN_BITS};

/// What the server accepts from devices on its network.
///
/// Names are compared case-insensitively; configured domains may be given with or without a
/// trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The device ID the request must be for (the commonName, §3.4.3), when the server knows it
    /// already (a renewal, or an order whose identifiers named it). `None`: the ID is read from
    /// the commonName (or, in [generic client mode](Self::generic_client_compat), from the names).
    pub device_id: Option<String>,
    /// The local ACME server's own name: no device may take it as its leftmost label (§4.2).
    pub server_name: String,
    /// The configured local domains; each device must ask for `<id>.<domain>` (§3.4.3).
    pub domains: Vec<String>,
    /// Whether IP address SANs may appear at all (they must always be link-local, loopback or
    /// private, §4.2).
    pub allow_ip: bool,
    /// Off by default. Accept requests from generic ACME clients (certbot, lego, uacme), which are
    /// not draft-aware: an empty commonName, or one equal to one of the requested names, is
    /// accepted, and the device ID is taken from the leftmost label. Key strength and every name
    /// rule stay enforced.
    pub generic_client_compat: bool,
}

impl Policy {
    /// The draft's policy for a server named `server_name` serving `domains`: IP SANs allowed
    /// (private ones only), device ID read from the commonName, generic client mode off.
    pub fn new<S: Into<String>>(
        server_name: impl Into<String>,
        domains: impl IntoIterator<Item = S>,
    ) -> Self {
        Policy {
            device_id: None,
            server_name: server_name.into(),
            domains: domains.into_iter().map(Into::into).collect(),
            allow_ip: true,
            generic_client_compat: false,
        }
    }

    /// Requires the request to be for `device_id`.
    #[must_use]
    pub fn with_device_id(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// Allows or forbids IP address SANs.
    #[must_use]
    pub fn with_allow_ip(mut self, allow_ip: bool) -> Self {
        self.allow_ip = allow_ip;
        self
    }

    /// Turns generic ACME client compatibility on or off (see the field's documentation).
    #[must_use]
    pub fn with_generic_client_compat(mut self, on: bool) -> Self {
        self.generic_client_compat = on;
        self
    }

    /// Lower-case domains without trailing dot, `local` removed (it is always allowed), deduplicated.
    pub(crate) fn normalized_domains(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in &self.domains {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if !d.is_empty() && d != "local" && !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }
}

/// The kind of an accepted subject key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA on P-384 (secp384r1).
    P384,
    /// ECDSA on P-521 (secp521r1).
    P521,
    /// RSA of `bits` (at least 3072); `pss_only` when the key is an `id-RSASSA-PSS` key.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
        /// The SPKI restricts the key to RSASSA-PSS.
        pss_only: bool,
    },
}

/// A CSR that passed the policy: the plain data the CA certifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedCsr {
    device_id: String,
    dns_names: Vec<String>,
    ip_addrs: Vec<IpAddr>,
    public_key: SubjectPublicKeyInfoOwned,
    key_kind: KeyKind,
}

impl AcceptedCsr {
    /// The device ID (lower case), from the policy, the commonName or, in generic client mode,
    /// the leftmost label.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The requested DNS names, lower case, in request order (`<id>.local` and `<id>.<domain>`).
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// The requested IP addresses, in request order (all link-local, loopback or private).
    pub fn ip_addrs(&self) -> &[IpAddr] {
        &self.ip_addrs
    }

    /// The subject public key to certify.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    /// What kind of key it is (the CA adds keyEncipherment for RSA).
    pub fn key_kind(&self) -> KeyKind {
        self.key_kind
    }
}

/// One rule of the policy that a CSR breaks. The `Display` text says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    // --- Key and signature (§3.4.3) ---
    /// Signed with a hash weaker than SHA-256.
    WeakHash {
        /// The hash used.
        hash: &'static str,
    },
    /// A signature algorithm we do not know (or do not accept).
    UnsupportedSignatureAlgorithm {
        /// Its OID.
        algorithm: ObjectIdentifier,
    },
    /// RSA key shorter than 3072 bits.
    RsaKeyTooSmall {
        /// The modulus size.
        bits: usize,
    },
    /// RSA key longer than 8192 bits (the CA issues for 3072–8192).
    RsaKeyTooLarge {
        /// The modulus size.
        bits: usize,
    },
    /// An EC key on a curve other than P-384 or P-521 (P-256 included).
    CurveNotAllowed {
        /// The named curve's OID.
        curve: ObjectIdentifier,
    },
    /// A key that is neither RSA nor ECDSA (Ed25519, DSA, …).
    KeyAlgorithmNotAllowed {
        /// The key algorithm's OID.
        algorithm: ObjectIdentifier,
    },
    /// The public key does not decode.
    InvalidPublicKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The self-signature does not verify: the request was altered or signed with another key.
    BadSignature,
    /// The self-signature cannot be checked.
    UnverifiableSignature {
        /// Why.
        reason: &'static str,
    },

    // --- Subject (§3.4.3) ---
    /// No (or an empty) commonName.
    MissingCommonName,
    /// More than one commonName.
    MultipleCommonNames,
    /// The commonName is not the device ID.
    CommonNameMismatch {
        /// The device ID (or, in generic client mode, what would have been accepted).
        expected: String,
        /// The commonName found.
        found: String,
    },
    /// The commonName cannot be a device ID (it must be one DNS label).
    InvalidDeviceId {
        /// The commonName found.
        found: String,
    },
    /// The device ID cannot be determined (generic client mode, no commonName and no DNS name).
    UnknownDeviceId,

    // --- Names (§3.4.3, §4.2) ---
    /// No subjectAltName extension was requested.
    MissingSan,
    /// A name the draft requires is missing (`<id>.local`, `<id>.<domain>`).
    MissingName {
        /// The missing name.
        name: String,
    },
    /// A DNS name outside `.local` and the configured domains.
    SuffixNotAllowed {
        /// The name.
        name: String,
    },
    /// A DNS name whose leftmost label is the server's name or `localhost`.
    ReservedLeftmostLabel {
        /// The name.
        name: String,
        /// The reserved label.
        label: String,
    },
    /// `localhost` or a name under `.localhost`.
    LocalhostName {
        /// The name.
        name: String,
    },
    /// A well-formed, allowed-suffix name that is not `<id>.local` or `<id>.<domain>`.
    NameNotForDevice {
        /// The name.
        name: String,
        /// The device ID it should have been for.
        device_id: String,
    },
    /// A wildcard name.
    Wildcard {
        /// The name.
        name: String,
    },
    /// An empty label (`a..local`, a trailing dot, or an empty name).
    EmptyLabel {
        /// The name.
        name: String,
    },
    /// A label over 63 octets.
    LabelTooLong {
        /// The name.
        name: String,
        /// The first oversize label's length.
        len: usize,
    },
    /// A name over 253 octets.
    NameTooLong {
        /// The name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// A label with characters other than ASCII letters, digits and inner hyphens (U-labels
    /// included: send the A-label).
    NotLdh {
        /// The name (non-UTF-8 bytes replaced).
        name: String,
    },
    /// An `xn--` label that is not a valid A-label (bad punycode, not round-tripping, or
    /// decoding to something IDNA forbids).
    InvalidALabel {
        /// The name.
        name: String,
        /// The offending label.
        label: String,
    },
    /// An A-label whose Unicode form mixes scripts (a homograph risk, UTS #39).
    MixedScriptLabel {
        /// The name.
        name: String,
        /// The A-label.
        label: String,
        /// Its Unicode form.
        unicode: String,
    },
    /// The same SAN twice.
    DuplicateSan {
        /// The repeated value.
        value: String,
    },
    /// A SAN of a kind other than dNSName and iPAddress.
    UnsupportedSanKind {
        /// The GeneralName kind (`rfc822Name`, `uniformResourceIdentifier`, …).
        kind: &'static str,
    },
    /// An IP SAN while the server allows none.
    IpNotAllowed {
        /// The address.
        ip: IpAddr,
    },
    /// An IP SAN that is not link-local, loopback or private.
    IpNotPrivate {
        /// The address.
        ip: IpAddr,
    },
    /// An iPAddress SAN that is not 4 or 16 octets.
    MalformedIp {
        /// Its length.
        len: usize,
    },

    // --- Extension requests ---
    /// basicConstraints with cA TRUE.
    CaRequested,
    /// A critical extension we do not know.
    UnknownCriticalExtension {
        /// Its OID.
        oid: ObjectIdentifier,
    },
    /// The same extension twice.
    DuplicateExtension {
        /// Its OID.
        oid: ObjectIdentifier,
    },
    /// An extension (or the extensionRequest attribute) whose value does not decode.
    MalformedExtension {
        /// Its OID.
        oid: ObjectIdentifier,
    },

    // --- This build ---
    /// Something the draft allows that this build of lantrust-csr leaves out (a device build has
    /// P-384 only), so it cannot be checked and is refused rather than accepted unchecked.
    NotBuilt {
        /// What cannot be checked (`"P-521 keys"`, `"RSA keys"`, `"IDNA A-labels"`).
        what: &'static str,
        /// The lantrust-csr Cargo feature that adds it.
        feature: &'static str,
    },
}

const FIX_KEY: &str = "generate a fresh P-384 (preferred) or P-521 ECDSA key, or RSA of 3072+ bits";

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Violation as V;
        match self {
            V::WeakHash { hash } => write!(
                f,
                "the CSR is signed with {hash}; draft-sweet-iot-acme §3.4.3 requires SHA-256, SHA-384 or SHA-512 (SHA-384 for P-384, SHA-512 for P-521)"
            ),
            V::UnsupportedSignatureAlgorithm { algorithm } => write!(
                f,
                "signature algorithm {} is not accepted; sign with ECDSA or RSA (PKCS#1 v1.5 or PSS) and SHA-256/384/512",
                Named(algorithm)
            ),
            V::RsaKeyTooSmall { bits } => write!(
                f,
                "the RSA key has {bits} bits; §3.4.3 requires at least {RSA_MIN_BITS}: {FIX_KEY}"
            ),
            V::RsaKeyTooLarge { bits } => write!(
                f,
                "the RSA key has {bits} bits; this CA issues for RSA keys of {RSA_MIN_BITS} to {RSA_MAX_POLICY_BITS} bits: {FIX_KEY}"
            ),
            V::CurveNotAllowed { curve } if *curve == oids::SECP256R1 => write!(
                f,
                "the key is on P-256 (secp256r1), which draft-sweet-iot-acme §3.4.3 does not allow; use P-384 (secp384r1) or P-521 (secp521r1) (e.g. lego --key-type ec384, certbot --elliptic-curve secp384r1)"
            ),
            V::CurveNotAllowed { curve } => write!(
                f,
                "the EC key is on curve {}, which §3.4.3 does not allow; {FIX_KEY}",
                Named(curve)
            ),
            V::KeyAlgorithmNotAllowed { algorithm } => write!(
                f,
                "key algorithm {} is not allowed by §3.4.3; {FIX_KEY}",
                Named(algorithm)
            ),
            V::InvalidPublicKey { reason } => {
                write!(f, "the public key is invalid: {reason}; {FIX_KEY}")
            }
            V::BadSignature => f.write_str(
                "the CSR's self-signature does not verify: sign the CertificationRequestInfo with the private key of the public key it contains, and do not modify the request afterwards",
            ),
            V::UnverifiableSignature { reason } => {
                write!(f, "the CSR's self-signature cannot be checked: {reason}")
            }
            V::MissingCommonName => f.write_str(
                "the subject has no commonName; §3.4.3 requires CN = the device ID (e.g. CN=device-12cd56)",
            ),
            V::MultipleCommonNames => {
                f.write_str("the subject has more than one commonName; put exactly one, the device ID")
            }
            V::CommonNameMismatch { expected, found } => write!(
                f,
                "the commonName is {found:?} but must be the device ID {expected:?} (§3.4.3)"
            ),
            V::InvalidDeviceId { found } => write!(
                f,
                "the commonName {found:?} cannot be a device ID: use one DNS label of letters, digits and inner hyphens, at most 63 characters"
            ),
            V::UnknownDeviceId => f.write_str(
                "the device ID cannot be determined: put it in the commonName, or request <device-id>.local",
            ),
            V::MissingSan => f.write_str(
                "the CSR requests no subjectAltName extension; add DNS:<device-id>.local and DNS:<device-id>.<domain> for each local domain (§3.4.3)",
            ),
            V::MissingName { name } => write!(
                f,
                "the subjectAltName lacks DNS:{name}, which §3.4.3 requires"
            ),
            V::SuffixNotAllowed { name } => write!(
                f,
                "DNS name {name:?} is not under .local or a configured local domain (§4.2); remove it"
            ),
            V::ReservedLeftmostLabel { name, label } => write!(
                f,
                "DNS name {name:?} starts with {label:?}, which is reserved (the ACME server's own name or localhost, §4.2); use the device ID"
            ),
            V::LocalhostName { name } => write!(
                f,
                "DNS name {name:?} is localhost, which §3.4.3 forbids; remove it"
            ),
            V::NameNotForDevice { name, device_id } => write!(
                f,
                "DNS name {name:?} is not {device_id}.local or {device_id}.<local domain>; a device may only request its own names"
            ),
            V::Wildcard { name } => {
                write!(f, "DNS name {name:?} is a wildcard; request exact names only")
            }
            V::EmptyLabel { name } => write!(
                f,
                "DNS name {name:?} has an empty label (leading, trailing or double dot)"
            ),
            V::LabelTooLong { name, len } => write!(
                f,
                "DNS name {name:?} has a {len}-character label; labels are at most 63 characters"
            ),
            V::NameTooLong { name, len } => write!(
                f,
                "DNS name {name:?} is {len} characters long; names are at most 253 characters"
            ),
            V::NotLdh { name } => write!(
                f,
                "DNS name {name:?} has characters other than ASCII letters, digits and inner hyphens; internationalized names must be sent as A-labels (xn--…)"
            ),
            V::InvalidALabel { name, label } => write!(
                f,
                "DNS name {name:?} has label {label:?}, which is not a valid IDNA A-label (its punycode does not decode to a valid U-label); encode the name with IDNA 2008 / UTS #46"
            ),
            V::MixedScriptLabel {
                name,
                label,
                unicode,
            } => write!(
                f,
                "DNS name {name:?} has label {label:?} ({unicode:?}) that mixes scripts, a homograph risk; use a single script"
            ),
            V::DuplicateSan { value } => {
                write!(f, "subjectAltName {value} appears more than once; list it once")
            }
            V::UnsupportedSanKind { kind } => write!(
                f,
                "the subjectAltName contains a {kind}; only DNS names and IP addresses are allowed"
            ),
            V::IpNotAllowed { ip } => write!(
                f,
                "IP address {ip} is requested but this server does not certify IP addresses; remove it"
            ),
            V::IpNotPrivate { ip } if is_shared_address_space(*ip) => write!(
                f,
                "IP address {ip} is in 100.64.0.0/10, carrier-grade NAT shared space (RFC 6598), not a private network; §4.2 allows only link-local, loopback and private addresses"
            ),
            V::IpNotPrivate { ip } => write!(
                f,
                "IP address {ip} is not link-local, loopback or private (10/8, 172.16/12, 192.168/16, 169.254/16, 127/8, fc00::/7, fe80::/10, ::1), as §4.2 requires"
            ),
            V::MalformedIp { len } => write!(
                f,
                "an iPAddress subjectAltName has {len} bytes; it must be 4 (IPv4) or 16 (IPv6)"
            ),
            V::CaRequested => f.write_str(
                "the CSR asks for basicConstraints cA=TRUE; a device certificate cannot be a CA, remove the extension",
            ),
            V::UnknownCriticalExtension { oid } => write!(
                f,
                "the CSR requests critical extension {oid}, which this server does not know; remove it or mark it non-critical"
            ),
            V::DuplicateExtension { oid } => write!(
                f,
                "extension {} is requested more than once; request it once",
                Named(oid)
            ),
            V::MalformedExtension { oid } => write!(
                f,
                "the requested {} does not decode as DER; re-encode it",
                Named(oid)
            ),
            V::NotBuilt { what, feature } => write!(
                f,
                "{what} cannot be checked by this build of lantrust-csr (built without its `{feature}` feature), so the request is refused; use a P-384 key and ASCII names, or a server built with `{feature}`"
            ),
        }
    }
}

/// Applies every rule. `Ok` only when no rule is broken.
pub(crate) fn judge(csr: &Csr, policy: &Policy) -> Result<AcceptedCsr, Vec<Violation>> {
    let mut out = Vec::new();
    let req = csr.cert_req();

    // Key and signature.
    let key_rejected_before = out.len();
    let (kind, key) = verify::classify_key(&req.info.public_key, &mut out);
    let key_rejected = out.len() > key_rejected_before;
    verify::check_signature(
        &req.algorithm,
        &req.signature,
        csr.info_der(),
        key.as_ref(),
        key_rejected,
        &mut out,
    );

    // Extension requests (collect SANs on the way).
    let ext = extensions(csr, &mut out);

    // Subject and device ID.
    let common_names = common_names(csr);
    let device_id = device_id(policy, &common_names, &ext.dns, &mut out);

    // Names.
    check_names(policy, device_id.as_deref(), &ext, &mut out);

    match (out.is_empty(), device_id, kind) {
        (true, Some(device_id), Some(key_kind)) => Ok(AcceptedCsr {
            device_id,
            dns_names: ext.dns.into_iter().map(|(_, n)| n).collect(),
            ip_addrs: ext.ips,
            public_key: req.info.public_key.clone(),
            key_kind,
        }),
        (true, _, _) => {
            // Unreachable in practice (a missing ID or key kind is always reported), but never
            // accept without both.
            out.push(Violation::UnknownDeviceId);
            Err(out)
        }
        (false, _, _) => Err(out),
    }
}

/// What the extensionRequest attribute carried.
#[derive(Default)]
struct Requested {
    /// Whether a subjectAltName extension was present.
    san_present: bool,
    /// dNSName SANs: raw bytes and the lower-case text form.
    dns: Vec<(Vec<u8>, String)>,
    /// iPAddress SANs that decoded.
    ips: Vec<IpAddr>,
    /// iPAddress SANs raw (for duplicates and range checks).
    ip_raw: Vec<Vec<u8>>,
}

fn extensions(csr: &Csr, out: &mut Vec<Violation>) -> Requested {
    let mut req = Requested::default();
    let mut seen: Vec<ObjectIdentifier> = Vec::new();
    let mut reported_dup: Vec<ObjectIdentifier> = Vec::new();
    for attr in csr.cert_req().info.attributes.iter() {
        if attr.oid != oids::EXTENSION_REQUEST {
            continue;
        }
        for value in attr.values.iter() {
            let Ok(exts) = value.decode_as::<Vec<Extension>>() else {
                out.push(Violation::MalformedExtension {
                    oid: oids::EXTENSION_REQUEST,
                });
                continue;
            };
            for ext in exts {
                if seen.contains(&ext.extn_id) {
                    if !reported_dup.contains(&ext.extn_id) {
                        reported_dup.push(ext.extn_id);
                        out.push(Violation::DuplicateExtension { oid: ext.extn_id });
                    }
                    continue;
                }
                seen.push(ext.extn_id);
                let value = ext.extn_value.as_bytes();
                match ext.extn_id {
                    oids::SUBJECT_ALT_NAME => {
                        req.san_present = true;
                        if parse_san(value, &mut req, out).is_err() {
                            out.push(Violation::MalformedExtension { oid: ext.extn_id });
                        }
                    }
                    oids::BASIC_CONSTRAINTS => match BasicConstraints::from_der(value) {
                        Ok(bc) if bc.ca => out.push(Violation::CaRequested),
                        Ok(_) => {}
                        Err(_) => out.push(Violation::MalformedExtension { oid: ext.extn_id }),
                    },
                    // Known and harmless: the CA sets its own key usages and identifiers.
                    oids::KEY_USAGE | oids::EXT_KEY_USAGE | oids::SUBJECT_KEY_IDENTIFIER => {}
                    other if ext.critical => {
                        out.push(Violation::UnknownCriticalExtension { oid: other })
                    }
                    // Unknown non-critical requests are ignored: the CA never copies them.
                    _ => {}
                }
            }
        }
    }
    req
}

/// GeneralNames (RFC 5280 §4.2.1.6), read tag by tag so a bad name is judged rather than making
/// the whole extension undecodable.
fn parse_san(value: &[u8], req: &mut Requested, out: &mut Vec<Violation>) -> der::Result<()> {
    let mut reader = SliceReader::new(value)?;
    reader.sequence(|r| {
        while !r.is_finished() {
            let name = AnyRef::decode(r)?;
            let kind = match name.tag() {
                Tag::ContextSpecific {
                    number,
                    constructed: false,
                } if number == TagNumber::N2 => {
                    let raw = name.value();
                    let text = String::from_utf8_lossy(raw).to_ascii_lowercase();
                    req.dns.push((raw.to_vec(), text));
                    continue;
                }
                Tag::ContextSpecific {
                    number,
                    constructed: false,
                } if number == TagNumber::N7 => {
                    let raw = name.value();
                    match ip_from_octets(raw) {
                        Some(ip) => req.ips.push(ip),
                        None => out.push(Violation::MalformedIp { len: raw.len() }),
                    }
                    req.ip_raw.push(raw.to_vec());
                    continue;
                }
                Tag::ContextSpecific { number, .. } => match number.value() {
                    0 => "otherName",
                    1 => "rfc822Name (e-mail address)",
                    3 => "x400Address",
                    4 => "directoryName",
                    5 => "ediPartyName",
                    6 => "uniformResourceIdentifier",
                    8 => "registeredID",
                    _ => "GeneralName of unknown kind",
                },
                _ => {
                    return Err(der::Error::from(der::ErrorKind::TagUnexpected {
                        expected: None,
                        actual: name.tag(),
                    }));
                }
            };
            out.push(Violation::UnsupportedSanKind { kind });
        }
        Ok(())
    })?;
    reader.finish(())
}

/// The subject's commonName values as text (UTF8String, PrintableString, IA5String, or BMPString).
fn common_names(csr: &Csr) -> Vec<String> {
    let mut cns = Vec::new();
    for rdn in csr.cert_req().info.subject.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid != oids::COMMON_NAME {
                continue;
            }
            let bytes = atv.value.value();
            let text = match atv.value.tag() {
                Tag::BmpString => {
                    let units = bytes.chunks(2).map(|c| {
                        u16::from_be_bytes([
                            c.first().copied().unwrap_or(0),
                            c.get(1).copied().unwrap_or(0),
                        ])
                    });
                    char::decode_utf16(units)
                        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                        .collect()
                }
                _ => String::from_utf8_lossy(bytes).into_owned(),
            };
            cns.push(text);
        }
    }
    cns
}

/// Works out the device ID and reports commonName problems (§3.4.3; generic mode per DESIGN.md).
fn device_id(
    policy: &Policy,
    cns: &[String],
    dns: &[(Vec<u8>, String)],
    out: &mut Vec<Violation>,
) -> Option<String> {
    if cns.len() > 1 {
        out.push(Violation::MultipleCommonNames);
    }
    let cn = cns.first().map(|c| c.trim()).filter(|c| !c.is_empty());
    let wanted = policy.device_id.as_ref().map(|d| d.to_ascii_lowercase());

    if !policy.generic_client_compat {
        let Some(cn) = cn else {
            out.push(Violation::MissingCommonName);
            return wanted;
        };
        return match wanted {
            Some(id) => {
                if !cn.eq_ignore_ascii_case(&id) {
                    out.push(Violation::CommonNameMismatch {
                        expected: id.clone(),
                        found: cn.to_owned(),
                    });
                }
                Some(id)
            }
            None if is_ldh_label(cn.as_bytes()) => Some(cn.to_ascii_lowercase()),
            None => {
                out.push(Violation::InvalidDeviceId {
                    found: cn.to_owned(),
                });
                None
            }
        };
    }

    // Generic client mode: empty CN, the device ID, or one of the requested names.
    let leftmost = |name: &str| name.split('.').next().unwrap_or("").to_owned();
    let derived = match cn {
        None => dns.first().map(|(_, n)| leftmost(n)),
        Some(cn) => {
            let cn_l = cn.to_ascii_lowercase();
            if dns.iter().any(|(_, n)| *n == cn_l) {
                Some(leftmost(&cn_l))
            } else if is_ldh_label(cn.as_bytes()) {
                // The draft's own form: CN = device ID.
                if let Some(id) = wanted.as_ref().filter(|id| **id != cn_l) {
                    out.push(Violation::CommonNameMismatch {
                        expected: id.clone(),
                        found: cn.to_owned(),
                    });
                }
                Some(cn_l)
            } else {
                let expected = wanted
                    .clone()
                    .or_else(|| dns.first().map(|(_, n)| leftmost(n)))
                    .unwrap_or_default();
                out.push(Violation::CommonNameMismatch {
                    expected: format!("{expected} (or empty, or one of the requested DNS names)"),
                    found: cn.to_owned(),
                });
                None
            }
        }
    };
    match (wanted, derived) {
        // The names themselves are checked against the wanted ID in `check_names`.
        (Some(id), _) => Some(id),
        (None, Some(id)) if is_ldh_label(id.as_bytes()) => Some(id),
        // A syntactically bad leftmost label is reported on the name itself.
        (None, Some(_)) => None,
        (None, None) => {
            if cn.is_none() {
                out.push(Violation::UnknownDeviceId);
            }
            None
        }
    }
}

fn check_names(
    policy: &Policy,
    device_id: Option<&str>,
    req: &Requested,
    out: &mut Vec<Violation>,
) {
    if !req.san_present {
        out.push(Violation::MissingSan);
    }
    let domains = policy.normalized_domains();

    // Required names, in the draft's order: .local first, then each domain.
    if let Some(id) = device_id {
        let mut required = Vec::with_capacity(domains.len() + 1);
        required.push(format!("{id}.local"));
        required.extend(domains.iter().map(|d| format!("{id}.{d}")));
        for name in required {
            if !req.dns.iter().any(|(_, n)| *n == name) {
                out.push(Violation::MissingName { name });
            }
        }
    }

    // Each DNS name.
    let mut dup_reported: Vec<&str> = Vec::new();
    for (i, (raw, name)) in req.dns.iter().enumerate() {
        if req.dns.iter().take(i).any(|(_, n)| n == name) {
            if !dup_reported.contains(&name.as_str()) {
                dup_reported.push(name);
                out.push(Violation::DuplicateSan {
                    value: format!("DNS:{name}"),
                });
            }
            continue;
        }
        let clean = check_dns_syntax(raw, name, out);
        // §4.2, the rule the ACME server also applies at newOrder.
        crate::scope::name_scope(policy, name, device_id, clean, out);
    }

    // Each IP address.
    for (i, raw) in req.ip_raw.iter().enumerate() {
        if req.ip_raw.iter().take(i).any(|r| r == raw) {
            if let Some(ip) = ip_from_octets(raw) {
                let value = format!("IP:{ip}");
                if !out
                    .iter()
                    .any(|v| matches!(v, Violation::DuplicateSan { value: d } if *d == value))
                {
                    out.push(Violation::DuplicateSan { value });
                }
            }
            continue;
        }
        let Some(ip) = ip_from_octets(raw) else {
            continue; // already reported as MalformedIp
        };
        if !policy.allow_ip {
            out.push(Violation::IpNotAllowed { ip });
        } else if !is_local_ip(ip) {
            out.push(Violation::IpNotPrivate { ip });
        }
    }
}
