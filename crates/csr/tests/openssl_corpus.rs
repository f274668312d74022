//! A corpus of CSRs made by `openssl req` (Debian's openssl) in a temporary directory, one per
//! policy rule plus good ones in every allowed key type, each with the exact verdict expected.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use core::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use const_oid::ObjectIdentifier as Oid;
use lantrust_csr::{Csr, Error, KeyKind, Policy, Violation, validate};

const ID: &str = "device-12cd56";
const SERVER: &str = "lantrust";
const DOMAIN: &str = "example.com";
const GOOD_SAN: &str = "subjectAltName=DNS:device-12cd56.local,DNS:device-12cd56.example.com";

/// Keys generated once per test run.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.pem"))
    }
}

fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run openssl");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Generates every key type once (RSA generation is the slow part).
fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        if !openssl_available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = Keys { dir };
        let gen_ec = |name: &str, curve: &str| {
            run(Command::new("openssl")
                .args(["genpkey", "-algorithm", "EC", "-pkeyopt"])
                .arg(format!("ec_paramgen_curve:{curve}"))
                .arg("-out")
                .arg(keys.path(name)));
        };
        gen_ec("p384", "P-384");
        gen_ec("p521", "P-521");
        gen_ec("p256", "P-256");
        gen_ec("k256", "secp256k1");
        let gen_rsa = |name: &str, alg: &str, bits: &str| {
            run(Command::new("openssl")
                .args(["genpkey", "-algorithm", alg, "-pkeyopt"])
                .arg(format!("rsa_keygen_bits:{bits}"))
                .arg("-out")
                .arg(keys.path(name)));
        };
        gen_rsa("rsa2048", "RSA", "2048");
        gen_rsa("rsa3072", "RSA", "3072");
        gen_rsa("rsapss3072", "RSA-PSS", "3072");
        run(Command::new("openssl")
            .args(["genpkey", "-algorithm", "ED25519", "-out"])
            .arg(keys.path("ed25519")));
        std::fs::write(
            keys.dir.path().join("req.cnf"),
            "[req]\ndistinguished_name=dn\nutf8=yes\nstring_mask=utf8only\n[dn]\n",
        )
        .expect("write config");
        Some(keys)
    })
    .as_ref()
}

/// Runs `openssl req -new` and returns the DER CSR.
fn openssl_req(keys: &Keys, key: &str, subj: &str, exts: &[&str], args: &[&str]) -> Vec<u8> {
    let out = keys
        .dir
        .path()
        .join(format!("csr-{}.der", rand::random::<u64>()));
    let mut cmd = Command::new("openssl");
    cmd.args(["req", "-new", "-config"])
        .arg(keys.dir.path().join("req.cnf"))
        .arg("-key")
        .arg(keys.path(key))
        .args(["-subj", subj, "-outform", "DER", "-out"])
        .arg(&out);
    for e in exts {
        cmd.args(["-addext", e]);
    }
    cmd.args(args);
    run(&mut cmd);
    std::fs::read(&out).expect("read csr")
}

fn policy() -> Policy {
    Policy::new(SERVER, [DOMAIN])
}

macro_rules! need_openssl {
    () => {
        match keys() {
            Some(k) => k,
            None => {
                lantrust_test_support::skip(
                    "openssl not installed (scripts/install-peers installs it)",
                );
                return;
            }
        }
    };
}

fn verdict(der: &[u8], policy: &Policy) -> Vec<Violation> {
    match validate(der, policy) {
        Ok(_) => Vec::new(),
        Err(Error::Rejected(v)) => v.0,
        Err(e) => panic!("CSR did not parse: {e}"),
    }
}

/// Asserts the exact violation list; also checks that each message is non-empty and that
/// PEM input gives the same verdict.
fn expect(der: &[u8], policy: &Policy, expected: &[Violation]) {
    let got = verdict(der, policy);
    assert_eq!(got, expected, "verdict differs");
    for v in &got {
        assert!(v.to_string().len() > 20, "message too short: {v}");
    }
    let pem =
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, der).expect("pem");
    assert_eq!(
        verdict(pem.as_bytes(), policy),
        expected,
        "PEM verdict differs"
    );
}

fn dns(name: &str) -> String {
    name.to_owned()
}

// ---------------------------------------------------------------- good requests

fn good(key: &str, args: &[&str]) -> Vec<u8> {
    let keys = keys().expect("keys");
    openssl_req(keys, key, &format!("/CN={ID}"), &[GOOD_SAN], args)
}

#[test]
fn good_p384_sha384() {
    need_openssl!();
    let der = good("p384", &["-sha384"]);
    let ok = validate(&der, &policy()).expect("accepted");
    assert_eq!(ok.device_id(), ID);
    assert_eq!(
        ok.dns_names(),
        ["device-12cd56.local", "device-12cd56.example.com"]
    );
    assert!(ok.ip_addrs().is_empty());
    assert_eq!(ok.key_kind(), KeyKind::P384);
    // The SPKI handed to the CA is the one in the CSR.
    let csr = Csr::parse(&der).expect("parse");
    assert_eq!(ok.public_key(), csr.public_key());
    // With the device ID known in advance, too.
    validate(&der, &policy().with_device_id(ID)).expect("accepted with device id");
}

#[test]
fn good_p384_sha256_and_sha512() {
    need_openssl!();
    expect(&good("p384", &["-sha256"]), &policy(), &[]);
    expect(&good("p384", &["-sha512"]), &policy(), &[]);
}

#[test]
fn good_p521_sha512() {
    need_openssl!();
    let der = good("p521", &["-sha512"]);
    let ok = validate(&der, &policy()).expect("accepted");
    assert_eq!(ok.key_kind(), KeyKind::P521);
    expect(&good("p521", &["-sha256"]), &policy(), &[]);
}

#[test]
fn good_rsa3072_pkcs1_and_pss() {
    need_openssl!();
    for digest in ["-sha256", "-sha384", "-sha512"] {
        let der = good("rsa3072", &[digest]);
        let ok = validate(&der, &policy()).expect("accepted");
        assert_eq!(
            ok.key_kind(),
            KeyKind::Rsa {
                bits: 3072,
                pss_only: false
            }
        );
        // PSS padding with an rsaEncryption key, salt = digest length and the maximum (350
        // octets for SHA-256 on RSA-3072, more than a u8 holds).
        for salt in ["digest", "max"] {
            let der = good(
                "rsa3072",
                &[
                    digest,
                    "-sigopt",
                    "rsa_padding_mode:pss",
                    "-sigopt",
                    &format!("rsa_pss_saltlen:{salt}"),
                ],
            );
            expect(&der, &policy(), &[]);
        }
    }
}

#[test]
fn good_rsa_pss_key() {
    need_openssl!();
    let der = good("rsapss3072", &["-sha384"]);
    let ok = validate(&der, &policy()).expect("accepted");
    assert_eq!(
        ok.key_kind(),
        KeyKind::Rsa {
            bits: 3072,
            pss_only: true
        }
    );
}

#[test]
fn good_private_ips() {
    need_openssl!();
    let keys = keys().unwrap();
    let der = openssl_req(
        keys,
        "p384",
        &format!("/CN={ID}"),
        &[&format!(
            "{GOOD_SAN},IP:192.168.1.20,IP:10.1.2.3,IP:172.31.0.1,IP:169.254.7.7,IP:127.0.0.1,\
             IP:fe80::1,IP:fd12:3456::1,IP:::1,IP:::ffff:10.0.0.1"
        )],
        &["-sha384"],
    );
    let ok = validate(&der, &policy()).expect("accepted");
    let ips: Vec<String> = ok.ip_addrs().iter().map(IpAddr::to_string).collect();
    assert_eq!(
        ips,
        [
            "192.168.1.20",
            "10.1.2.3",
            "172.31.0.1",
            "169.254.7.7",
            "127.0.0.1",
            "fe80::1",
            "fd12:3456::1",
            "::1",
            "::ffff:10.0.0.1"
        ]
    );
}

#[test]
fn good_several_domains_and_mixed_case() {
    need_openssl!();
    let keys = keys().unwrap();
    let der = openssl_req(
        keys,
        "p384",
        "/O=Acme Devices/CN=Device-12CD56",
        &[
            "subjectAltName=DNS:Device-12cd56.LOCAL,DNS:device-12cd56.example.com,DNS:device-12cd56.home.arpa",
        ],
        &["-sha384"],
    );
    let policy = Policy::new(SERVER, ["example.com", "home.arpa."]);
    let ok = validate(&der, &policy).expect("accepted");
    assert_eq!(ok.device_id(), ID);
    assert_eq!(
        ok.dns_names(),
        [
            "device-12cd56.local",
            "device-12cd56.example.com",
            "device-12cd56.home.arpa"
        ]
    );
}

#[test]
fn good_a_label() {
    need_openssl!();
    // "gerät" as A-label: the device ID itself is an IDN.
    let keys = keys().unwrap();
    let der = openssl_req(
        keys,
        "p384",
        "/CN=xn--gert-7qa",
        &["subjectAltName=DNS:xn--gert-7qa.local,DNS:xn--gert-7qa.example.com"],
        &["-sha384"],
    );
    expect(&der, &policy(), &[]);
}

// ---------------------------------------------------------------- key and signature

#[test]
fn weak_hashes() {
    need_openssl!();
    expect(
        &good("p384", &["-sha1"]),
        &policy(),
        &[Violation::WeakHash { hash: "SHA-1" }],
    );
    expect(
        &good("p384", &["-sha224"]),
        &policy(),
        &[Violation::WeakHash { hash: "SHA-224" }],
    );
    expect(
        &good("rsa3072", &["-sha1"]),
        &policy(),
        &[Violation::WeakHash { hash: "SHA-1" }],
    );
    // PSS with SHA-1 inside the parameters.
    expect(
        &good("rsa3072", &["-sha1", "-sigopt", "rsa_padding_mode:pss"]),
        &policy(),
        &[Violation::WeakHash { hash: "SHA-1" }],
    );
}

#[test]
fn rsa_2048_is_too_small() {
    need_openssl!();
    expect(
        &good("rsa2048", &["-sha256"]),
        &policy(),
        &[Violation::RsaKeyTooSmall { bits: 2048 }],
    );
}

#[test]
fn p256_is_refused_with_a_clear_message() {
    need_openssl!();
    let der = good("p256", &["-sha256"]);
    let p256 = Oid::new_unwrap("1.2.840.10045.3.1.7");
    expect(
        &der,
        &policy(),
        &[Violation::CurveNotAllowed { curve: p256 }],
    );
    let msg = verdict(&der, &policy())[0].to_string();
    assert!(msg.contains("P-256") && msg.contains("P-384"), "{msg}");
}

#[test]
fn other_curves_and_key_types() {
    need_openssl!();
    expect(
        &good("k256", &["-sha256"]),
        &policy(),
        &[Violation::CurveNotAllowed {
            curve: Oid::new_unwrap("1.3.132.0.10"),
        }],
    );
    expect(
        &good("ed25519", &[]),
        &policy(),
        &[Violation::KeyAlgorithmNotAllowed {
            algorithm: Oid::new_unwrap("1.3.101.112"),
        }],
    );
}

/// Flips one bit of the last byte of the signature BIT STRING.
fn corrupt_signature(der: &[u8]) -> Vec<u8> {
    let mut bad = der.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    bad
}

#[test]
fn bad_signatures() {
    need_openssl!();
    for (key, digest) in [
        ("p384", "-sha384"),
        ("p521", "-sha512"),
        ("rsa3072", "-sha256"),
        ("rsapss3072", "-sha256"),
    ] {
        expect(
            &corrupt_signature(&good(key, &[digest])),
            &policy(),
            &[Violation::BadSignature],
        );
    }
    // A P-256 request with a bad signature gets both verdicts: the key is weak and the
    // signature does not verify.
    expect(
        &corrupt_signature(&good("p256", &["-sha256"])),
        &policy(),
        &[
            Violation::CurveNotAllowed {
                curve: Oid::new_unwrap("1.2.840.10045.3.1.7"),
            },
            Violation::BadSignature,
        ],
    );
}

#[test]
fn tampered_name_breaks_the_signature_and_the_names() {
    need_openssl!();
    let der = good("p384", &["-sha384"]);
    // Replace "device-12cd56.local" by "device-12cd57.local" inside the signed part.
    let needle = b"device-12cd56.local";
    let pos = der.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut bad = der;
    bad[pos + 12] = b'7';
    expect(
        &bad,
        &policy(),
        &[
            Violation::BadSignature,
            Violation::MissingName {
                name: dns("device-12cd56.local"),
            },
            Violation::NameNotForDevice {
                name: dns("device-12cd57.local"),
                device_id: ID.into(),
            },
        ],
    );
}

// ---------------------------------------------------------------- subject

#[test]
fn common_name_rules() {
    need_openssl!();
    let keys = keys().unwrap();
    let req = |subj: &str| openssl_req(keys, "p384", subj, &[GOOD_SAN], &["-sha384"]);
    // Missing.
    expect(&req("/O=Acme"), &policy(), &[Violation::MissingCommonName]);
    // Not the device ID the server expects.
    expect(
        &req("/CN=other-device"),
        &policy().with_device_id(ID),
        &[Violation::CommonNameMismatch {
            expected: ID.into(),
            found: "other-device".into(),
        }],
    );
    // The CN is the ID, but the names are someone else's.
    expect(
        &req("/CN=other-device"),
        &policy(),
        &[
            Violation::MissingName {
                name: dns("other-device.local"),
            },
            Violation::MissingName {
                name: dns("other-device.example.com"),
            },
            Violation::NameNotForDevice {
                name: dns("device-12cd56.local"),
                device_id: "other-device".into(),
            },
            Violation::NameNotForDevice {
                name: dns("device-12cd56.example.com"),
                device_id: "other-device".into(),
            },
        ],
    );
    // Not a label.
    expect(
        &req("/CN=My Device"),
        &policy(),
        &[Violation::InvalidDeviceId {
            found: "My Device".into(),
        }],
    );
    // Two CNs.
    expect(
        &req(&format!("/CN={ID}/CN=second")),
        &policy(),
        &[Violation::MultipleCommonNames],
    );
}

#[test]
fn generic_client_mode() {
    need_openssl!();
    let keys = keys().unwrap();
    let compat = policy().with_generic_client_compat(true);
    // certbot: empty subject.
    let certbot = openssl_req(keys, "p384", "/", &[GOOD_SAN], &["-sha384"]);
    expect(&certbot, &policy(), &[Violation::MissingCommonName]);
    let ok = validate(&certbot, &compat).expect("certbot-style accepted");
    assert_eq!(ok.device_id(), ID);
    // lego: the first DNS name as CN.
    let lego = openssl_req(
        keys,
        "p384",
        "/CN=device-12cd56.local",
        &[GOOD_SAN],
        &["-sha384"],
    );
    expect(
        &lego,
        &policy(),
        &[Violation::InvalidDeviceId {
            found: "device-12cd56.local".into(),
        }],
    );
    assert_eq!(validate(&lego, &compat).expect("lego").device_id(), ID);
    // The draft's own form passes in generic mode too, and a known device ID is still enforced.
    let draft = good("p384", &["-sha384"]);
    assert_eq!(
        validate(&draft, &compat).expect("draft form").device_id(),
        ID
    );
    expect(
        &draft,
        &compat.clone().with_device_id("device-99"),
        &[
            Violation::CommonNameMismatch {
                expected: "device-99".into(),
                found: ID.into(),
            },
            Violation::MissingName {
                name: dns("device-99.local"),
            },
            Violation::MissingName {
                name: dns("device-99.example.com"),
            },
            Violation::NameNotForDevice {
                name: dns("device-12cd56.local"),
                device_id: "device-99".into(),
            },
            Violation::NameNotForDevice {
                name: dns("device-12cd56.example.com"),
                device_id: "device-99".into(),
            },
        ],
    );
    // A CN that is none of the names is still refused.
    let other = openssl_req(keys, "p384", "/CN=printer.local", &[GOOD_SAN], &["-sha384"]);
    expect(
        &other,
        &compat,
        &[Violation::CommonNameMismatch {
            expected: format!("{ID} (or empty, or one of the requested DNS names)"),
            found: "printer.local".into(),
        }],
    );
    // Key strength stays enforced.
    let weak = openssl_req(keys, "p256", "/", &[GOOD_SAN], &["-sha256"]);
    expect(
        &weak,
        &compat,
        &[Violation::CurveNotAllowed {
            curve: Oid::new_unwrap("1.2.840.10045.3.1.7"),
        }],
    );
    // So do name rules: names for two different devices.
    let two = openssl_req(
        keys,
        "p384",
        "/",
        &[&format!("{GOOD_SAN},DNS:printer.local")],
        &["-sha384"],
    );
    expect(
        &two,
        &compat,
        &[Violation::NameNotForDevice {
            name: dns("printer.local"),
            device_id: ID.into(),
        }],
    );
}

// ---------------------------------------------------------------- names

fn san_case(extra: &str) -> Vec<u8> {
    let keys = keys().unwrap();
    openssl_req(
        keys,
        "p384",
        &format!("/CN={ID}"),
        &[&format!("{GOOD_SAN},{extra}")],
        &["-sha384"],
    )
}

#[test]
fn san_missing_or_incomplete() {
    need_openssl!();
    let keys = keys().unwrap();
    let none = openssl_req(keys, "p384", &format!("/CN={ID}"), &[], &["-sha384"]);
    expect(
        &none,
        &policy(),
        &[
            Violation::MissingSan,
            Violation::MissingName {
                name: dns("device-12cd56.local"),
            },
            Violation::MissingName {
                name: dns("device-12cd56.example.com"),
            },
        ],
    );
    let no_local = openssl_req(
        keys,
        "p384",
        &format!("/CN={ID}"),
        &["subjectAltName=DNS:device-12cd56.example.com"],
        &["-sha384"],
    );
    expect(
        &no_local,
        &policy(),
        &[Violation::MissingName {
            name: dns("device-12cd56.local"),
        }],
    );
    // Second configured domain missing.
    expect(
        &good("p384", &["-sha384"]),
        &Policy::new(SERVER, ["example.com", "home.arpa"]),
        &[Violation::MissingName {
            name: dns("device-12cd56.home.arpa"),
        }],
    );
}

#[test]
fn suffix_and_reserved_labels() {
    need_openssl!();
    expect(
        &san_case("DNS:device-12cd56.example.org"),
        &policy(),
        &[Violation::SuffixNotAllowed {
            name: dns("device-12cd56.example.org"),
        }],
    );
    // The domain apex is not under the domain.
    expect(
        &san_case("DNS:example.com"),
        &policy(),
        &[Violation::SuffixNotAllowed {
            name: dns("example.com"),
        }],
    );
    expect(
        &san_case("DNS:lantrust.local"),
        &policy(),
        &[Violation::ReservedLeftmostLabel {
            name: dns("lantrust.local"),
            label: "lantrust".into(),
        }],
    );
    expect(
        &san_case("DNS:localhost.example.com"),
        &policy(),
        &[Violation::ReservedLeftmostLabel {
            name: dns("localhost.example.com"),
            label: "localhost".into(),
        }],
    );
    expect(
        &san_case("DNS:localhost"),
        &policy(),
        &[Violation::LocalhostName {
            name: dns("localhost"),
        }],
    );
    // A device may only request its own names.
    expect(
        &san_case("DNS:printer.example.com"),
        &policy(),
        &[Violation::NameNotForDevice {
            name: dns("printer.example.com"),
            device_id: ID.into(),
        }],
    );
}

#[test]
fn name_syntax() {
    need_openssl!();
    expect(
        &san_case("DNS:*.example.com"),
        &policy(),
        &[Violation::Wildcard {
            name: dns("*.example.com"),
        }],
    );
    expect(
        &san_case("DNS:device-12cd56..local"),
        &policy(),
        &[Violation::EmptyLabel {
            name: dns("device-12cd56..local"),
        }],
    );
    let long_label = format!("{}.local", "a".repeat(64));
    expect(
        &san_case(&format!("DNS:{long_label}")),
        &policy(),
        &[Violation::LabelTooLong {
            name: long_label,
            len: 64,
        }],
    );
    let label = "b".repeat(63);
    let long_name = format!("{label}.{label}.{label}.{label}.local");
    expect(
        &san_case(&format!("DNS:{long_name}")),
        &policy(),
        &[Violation::NameTooLong {
            name: long_name,
            len: 261,
        }],
    );
    expect(
        &san_case("DNS:dev_ice.local"),
        &policy(),
        &[Violation::NotLdh {
            name: dns("dev_ice.local"),
        }],
    );
    expect(
        &san_case("DNS:-device.local"),
        &policy(),
        &[Violation::NotLdh {
            name: dns("-device.local"),
        }],
    );
}

#[test]
fn idna_labels() {
    need_openssl!();
    // Punycode that does not decode.
    expect(
        &san_case("DNS:xn--zz.local"),
        &policy(),
        &[Violation::InvalidALabel {
            name: dns("xn--zz.local"),
            label: "xn--zz".into(),
        }],
    );
    // Punycode of "Ä": decodes, but IDNA maps it to "ä" (xn--4ca), so it is not the A-label
    // of any valid U-label.
    expect(
        &san_case("DNS:xn--7ba.local"),
        &policy(),
        &[Violation::InvalidALabel {
            name: dns("xn--7ba.local"),
            label: "xn--7ba".into(),
        }],
    );
    // "xn--" + punycode of pure ASCII ends in a hyphen: not LDH to begin with.
    expect(
        &san_case("DNS:xn--abc-.local"),
        &policy(),
        &[Violation::NotLdh {
            name: dns("xn--abc-.local"),
        }],
    );
    // Cyrillic "а" + Latin "pple": the textbook homograph.
    expect(
        &san_case("DNS:xn--pple-43d.local"),
        &policy(),
        &[Violation::MixedScriptLabel {
            name: dns("xn--pple-43d.local"),
            label: "xn--pple-43d".into(),
            unicode: "аpple".into(),
        }],
    );
}

#[test]
fn duplicates_and_other_san_kinds() {
    need_openssl!();
    expect(
        &san_case("DNS:DEVICE-12cd56.local"),
        &policy(),
        &[Violation::DuplicateSan {
            value: "DNS:device-12cd56.local".into(),
        }],
    );
    expect(
        &san_case("IP:192.168.1.2,IP:192.168.1.2"),
        &policy(),
        &[Violation::DuplicateSan {
            value: "IP:192.168.1.2".into(),
        }],
    );
    expect(
        &san_case("email:admin@example.com,URI:https://device-12cd56.local/,RID:1.2.3.4"),
        &policy(),
        &[
            Violation::UnsupportedSanKind {
                kind: "rfc822Name (e-mail address)",
            },
            Violation::UnsupportedSanKind {
                kind: "uniformResourceIdentifier",
            },
            Violation::UnsupportedSanKind {
                kind: "registeredID",
            },
        ],
    );
}

#[test]
fn ip_rules() {
    need_openssl!();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    expect(
        &san_case("IP:8.8.8.8,IP:100.64.1.1,IP:2001:db8::1,IP:::ffff:8.8.4.4,IP:0.0.0.0"),
        &policy(),
        &[
            Violation::IpNotPrivate { ip: ip("8.8.8.8") },
            Violation::IpNotPrivate {
                ip: ip("100.64.1.1"),
            },
            Violation::IpNotPrivate {
                ip: ip("2001:db8::1"),
            },
            Violation::IpNotPrivate {
                ip: ip("::ffff:8.8.4.4"),
            },
            Violation::IpNotPrivate { ip: ip("0.0.0.0") },
        ],
    );
    let cgnat = Violation::IpNotPrivate {
        ip: ip("100.64.1.1"),
    }
    .to_string();
    assert!(cgnat.contains("RFC 6598"), "{cgnat}");
    expect(
        &san_case("IP:192.168.1.2"),
        &policy().with_allow_ip(false),
        &[Violation::IpNotAllowed {
            ip: ip("192.168.1.2"),
        }],
    );
}

// ---------------------------------------------------------------- extensions

#[test]
fn extension_requests() {
    need_openssl!();
    let keys = keys().unwrap();
    let req = |ext: &str| {
        openssl_req(
            keys,
            "p384",
            &format!("/CN={ID}"),
            &[GOOD_SAN, ext],
            &["-sha384"],
        )
    };
    expect(
        &req("basicConstraints=critical,CA:TRUE"),
        &policy(),
        &[Violation::CaRequested],
    );
    // cA FALSE and the usual usages are fine.
    expect(&req("basicConstraints=CA:FALSE"), &policy(), &[]);
    expect(&req("keyUsage=critical,digitalSignature"), &policy(), &[]);
    expect(
        &req("extendedKeyUsage=serverAuth,clientAuth"),
        &policy(),
        &[],
    );
    // Unknown: refused when critical, ignored otherwise.
    expect(
        &req("1.2.3.4=critical,DER:05:00"),
        &policy(),
        &[Violation::UnknownCriticalExtension {
            oid: Oid::new_unwrap("1.2.3.4"),
        }],
    );
    expect(&req("1.2.3.4=DER:05:00"), &policy(), &[]);
}

// ---------------------------------------------------------------- all at once

#[test]
fn every_violation_is_reported_not_just_the_first() {
    need_openssl!();
    let keys = keys().unwrap();
    let der = openssl_req(
        keys,
        "rsa2048",
        "/O=Rogue",
        &[
            "subjectAltName=DNS:*.example.com,DNS:lantrust.local,IP:8.8.8.8,email:x@example.com",
            "basicConstraints=critical,CA:TRUE",
        ],
        &["-sha1"],
    );
    let got = verdict(&der, &policy().with_device_id(ID));
    assert_eq!(
        got,
        [
            Violation::RsaKeyTooSmall { bits: 2048 },
            Violation::WeakHash { hash: "SHA-1" },
            Violation::UnsupportedSanKind {
                kind: "rfc822Name (e-mail address)"
            },
            Violation::CaRequested,
            Violation::MissingCommonName,
            Violation::MissingName {
                name: dns("device-12cd56.local")
            },
            Violation::MissingName {
                name: dns("device-12cd56.example.com")
            },
            Violation::Wildcard {
                name: dns("*.example.com")
            },
            Violation::ReservedLeftmostLabel {
                name: dns("lantrust.local"),
                label: "lantrust".into()
            },
            Violation::IpNotPrivate {
                ip: "8.8.8.8".parse().unwrap()
            },
        ]
    );
    // The error's Display lists them all.
    let err = validate(&der, &policy().with_device_id(ID)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("10 problems"), "{text}");
    assert!(text.contains("(10) IP address 8.8.8.8"), "{text}");
}

// ---------------------------------------------------------------- parse errors

#[test]
fn parse_errors_carry_offsets() {
    need_openssl!();
    let der = good("p384", &["-sha384"]);
    let truncated = &der[..der.len() - 10];
    match Csr::parse(truncated) {
        Err(Error::Der { offset, .. }) => assert!(offset.0.is_some()),
        other => panic!("expected DER error, got {other:?}"),
    }
    let key_pem = std::fs::read(keys().unwrap().path("p384")).unwrap();
    assert!(matches!(Csr::parse(&key_pem), Err(Error::PemLabel { .. })));
    assert!(matches!(
        Csr::parse(
            b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n"
        ),
        Err(Error::Pem(_))
    ));
}
