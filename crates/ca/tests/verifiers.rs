//! Roots, device certificates and CRLs checked by independent verifiers: the openssl CLI and
//! rustls-webpki (ring backend, no RustCrypto), including name-constraint enforcement.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use core::time::Duration;

use lantrust_ca::{
    CrlReason, DeviceRequest, Error, IssuanceOptions, KeyAlgorithm, PrivateKey, RevokedCertificate,
    Root, RootConfig, certificate_to_der, certificate_to_pem, crl_to_pem,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// 2026-11-23T00:00:00Z.
const NOW: Duration = Duration::from_secs(1_795_392_000);
const DOMAIN: &str = "home.arpa";

fn openssl_available() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        lantrust_test_support::skip("openssl not installed");
    }
    ok
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `openssl verify -x509_strict` of `cert` against `dir/root.pem` at 1795400000 (2.2 hours after
/// [`NOW`]), with the `extra` options.
fn openssl_verify(dir: &Path, extra: &[&str], cert: &str) -> (bool, String) {
    let mut args = vec![
        "verify",
        "-x509_strict",
        "-attime",
        "1795400000",
        "-CAfile",
        "root.pem",
    ];
    args.extend_from_slice(extra);
    args.push(cert);
    openssl(dir, &args)
}

/// A fresh RSA-3072 key that openssl generates into `dir/file`, read back.
fn openssl_rsa3072(dir: &Path, file: &str) -> PrivateKey {
    let (ok, out) = openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
            file,
        ],
    );
    assert!(ok, "{out}");
    PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lantrust-ca-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(alg: KeyAlgorithm) -> RootConfig {
    let mut c = RootConfig::new("router-fdb531", vec![DOMAIN.into()]);
    c.algorithm = alg;
    c.ip_addrs = vec!["192.168.1.1".parse().unwrap()];
    c
}

fn root(alg: KeyAlgorithm) -> &'static Root {
    static P384: OnceLock<Root> = OnceLock::new();
    static P521: OnceLock<Root> = OnceLock::new();
    static RSA: OnceLock<Root> = OnceLock::new();
    let cell = match alg {
        KeyAlgorithm::P384 => &P384,
        KeyAlgorithm::P521 => &P521,
        _ => &RSA,
    };
    cell.get_or_init(|| match alg {
        // RSA generation takes a minute in debug builds: let openssl make the fresh key (fast,
        // and real-world key material), falling back to our generator without openssl.
        KeyAlgorithm::Rsa3072 if openssl_available() => {
            let dir = tempdir("rsa-root-key");
            let key = openssl_rsa3072(&dir, "k.pem");
            std::fs::remove_dir_all(&dir).ok();
            Root::generate_with_key(&config(alg), key, NOW, &mut rand::rngs::OsRng).unwrap()
        }
        _ => Root::generate(&config(alg), NOW, &mut rand::rngs::OsRng).unwrap(),
    })
}

/// Every root algorithm.
const ALGORITHMS: [KeyAlgorithm; 3] = [
    KeyAlgorithm::P384,
    KeyAlgorithm::P521,
    KeyAlgorithm::Rsa3072,
];

/// A fresh directory `tag` holding the `alg` root as `root.pem`, for openssl.
fn root_in_dir(alg: KeyAlgorithm, tag: &str) -> (PathBuf, &'static Root) {
    let dir = tempdir(tag);
    let root = root(alg);
    write_pem(&dir, "root.pem", &root.certificate_pem().unwrap());
    (dir, root)
}

fn device_request(id: &str, key: &PrivateKey) -> DeviceRequest {
    DeviceRequest {
        device_id: id.into(),
        dns_names: vec![format!("{id}.local"), format!("{id}.{DOMAIN}")],
        ip_addrs: vec!["192.168.1.42".parse().unwrap(), "fd00::42".parse().unwrap()],
        public_key: key.public_key_info(),
    }
}

/// `req` issued by `root` at [`NOW`] with the default options.
fn issue(root: &Root, req: &DeviceRequest) -> x509_cert::Certificate {
    root.issue(
        req,
        &IssuanceOptions::default(),
        NOW,
        &mut rand::rngs::OsRng,
    )
    .unwrap()
}

fn device_key() -> PrivateKey {
    PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap()
}

fn write_pem(dir: &Path, name: &str, pem: &str) -> String {
    std::fs::write(dir.join(name), pem).unwrap();
    name.into()
}

#[test]
fn openssl_verifies_every_root_algorithm_and_its_device_certificates() {
    if !openssl_available() {
        return;
    }
    for alg in ALGORITHMS {
        let (dir, root) = root_in_dir(alg, alg.name());
        let (ok, out) = openssl(
            &dir,
            &["verify", "-x509_strict", "-CAfile", "root.pem", "root.pem"],
        );
        assert!(ok, "{alg} root: {out}");

        // What openssl sees in the root.
        let (ok, text) = openssl(&dir, &["x509", "-in", "root.pem", "-noout", "-text"]);
        assert!(ok, "{text}");
        let sig = match alg {
            KeyAlgorithm::P384 => "ecdsa-with-SHA384",
            KeyAlgorithm::P521 => "ecdsa-with-SHA512",
            _ => "sha256WithRSAEncryption",
        };
        assert!(text.contains(sig), "{text}");
        assert!(
            text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"),
            "{text}"
        );
        assert!(
            text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"),
            "{text}"
        );
        // Non-critical by default, so that Mbed TLS can load the root (tests/matrix.rs).
        assert!(
            text.contains("X509v3 Name Constraints: \n                Permitted:"),
            "{text}"
        );
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        assert!(text.contains("DNS:local"), "{text}");
        assert!(text.contains(&format!("DNS:{DOMAIN}")), "{text}");
        assert!(text.contains("IP:10.0.0.0/255.0.0.0"), "{text}");
        assert!(
            text.contains("IP:FC00:0:0:0:0:0:0:0/FE00:0:0:0:0:0:0:0"),
            "{text}"
        );
        assert!(
            text.contains(
                "DNS:router-fdb531.local, DNS:router-fdb531.home.arpa, IP Address:192.168.1.1"
            ),
            "{text}"
        );
        assert!(
            text.contains("Subject: O = lantrust, CN = home.arpa Local Root CA"),
            "{text}"
        );
        assert!(
            text.contains("Not Before: Nov 22 23:55:00 2026 GMT"),
            "{text}"
        );
        assert!(
            text.contains("Not After : Nov 22 23:54:59 2036 GMT"),
            "{text}"
        );

        let key = device_key();
        let cert = issue(root, &device_request("thermostat-42", &key));
        write_pem(&dir, "device.pem", &certificate_to_pem(&cert).unwrap());
        for check in [
            &["-verify_hostname", "thermostat-42.local"][..],
            &["-verify_hostname", "thermostat-42.home.arpa"][..],
            &["-verify_ip", "192.168.1.42"][..],
            &["-verify_ip", "fd00::42"][..],
        ] {
            let mut extra = vec!["-purpose", "sslserver"];
            extra.extend_from_slice(check);
            let (ok, out) = openssl_verify(&dir, &extra, "device.pem");
            assert!(
                ok && out.contains("device.pem: OK"),
                "{alg} {check:?}: {out}"
            );
        }
        // A name not in the certificate fails.
        let (ok, out) = openssl(
            &dir,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-attime",
                "1795400000",
                "-verify_hostname",
                "other.local",
                "device.pem",
            ],
        );
        assert!(!ok, "{out}");

        let (ok, text) = openssl(&dir, &["x509", "-in", "device.pem", "-noout", "-text"]);
        assert!(ok);
        assert!(text.contains("Subject: CN = thermostat-42"), "{text}");
        assert!(
            text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"),
            "{text}"
        );
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        assert!(
            text.contains("Not Before: Nov 22 23:55:00 2026 GMT"),
            "{text}"
        );
        assert!(
            text.contains("Not After : Dec 22 23:54:59 2026 GMT"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn openssl_enforces_the_name_constraints() {
    if !openssl_available() {
        return;
    }
    let (dir, root) = root_in_dir(KeyAlgorithm::P384, "nc");
    let key = device_key();
    for (names, ips) in [
        (vec!["www.example.com".to_string()], vec![]),
        (
            vec!["evil.local".to_string()],
            vec!["8.8.8.8".parse().unwrap()],
        ),
    ] {
        let req = DeviceRequest {
            device_id: "evil".into(),
            dns_names: names,
            ip_addrs: ips,
            public_key: key.public_key_info(),
        };
        let cert = issue(root, &req);
        write_pem(&dir, "evil.pem", &certificate_to_pem(&cert).unwrap());
        let (ok, out) = openssl_verify(&dir, &[], "evil.pem");
        assert!(!ok && out.contains("permitted subtree violation"), "{out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// rustls-webpki's verdict on `cert_der` under `root` alone, for server authentication at `at`
/// (since the Unix epoch), checking `revocation` and the subject `name` when given.
fn webpki_verify(
    root: &Root,
    cert_der: &[u8],
    at: Duration,
    revocation: Option<webpki::RevocationOptions<'_>>,
    name: Option<&str>,
) -> Result<(), webpki::Error> {
    let root_der = CertificateDer::from(root.certificate_der().to_vec());
    let anchor = webpki::anchor_from_trusted_cert(&root_der)?;
    let cert_der = CertificateDer::from(cert_der.to_vec());
    let ee = webpki::EndEntityCert::try_from(&cert_der)?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &[],
        UnixTime::since_unix_epoch(at),
        webpki::KeyUsage::server_auth(),
        revocation,
        None,
    )?;
    match name {
        Some(name) => ee.verify_is_valid_for_subject_name(&ServerName::try_from(name).unwrap()),
        None => Ok(()),
    }
}

/// [`webpki_verify`] an hour after [`NOW`] for `name`.
fn webpki_check(root: &Root, cert_der: &[u8], name: &str) -> Result<(), webpki::Error> {
    webpki_verify(
        root,
        cert_der,
        NOW + Duration::from_secs(3600),
        None,
        Some(name),
    )
}

#[test]
fn webpki_validates_local_names_and_rejects_public_ones() {
    // ring (webpki's backend) has no P-521, so the P-384 and RSA roots are checked here.
    for alg in [KeyAlgorithm::P384, KeyAlgorithm::Rsa3072] {
        let root = root(alg);
        let key = device_key();
        let cert = root
            .issue(
                &device_request("cam-7", &key),
                &IssuanceOptions {
                    client_auth: true,
                    ..Default::default()
                },
                NOW,
                &mut rand::rngs::OsRng,
            )
            .unwrap();
        let der = certificate_to_der(&cert).unwrap();
        for name in ["cam-7.local", "cam-7.home.arpa", "192.168.1.42", "fd00::42"] {
            webpki_check(root, &der, name).unwrap_or_else(|e| panic!("{alg} {name}: {e:?}"));
        }
        assert!(matches!(
            webpki_check(root, &der, "cam-8.local"),
            Err(webpki::Error::CertNotValidForName(_))
        ));

        // A certificate for an Internet name, issued straight through the API: the root's name
        // constraints make every verifier refuse it.
        let public = DeviceRequest {
            device_id: "www".into(),
            dns_names: vec!["www.example.com".into()],
            ip_addrs: vec![],
            public_key: key.public_key_info(),
        };
        let cert = issue(root, &public);
        let der = certificate_to_der(&cert).unwrap();
        assert_eq!(
            webpki_check(root, &der, "www.example.com"),
            Err(webpki::Error::NameConstraintViolation),
            "{alg}"
        );
        // And a public IP address.
        let public_ip = DeviceRequest {
            device_id: "dns".into(),
            dns_names: vec![],
            ip_addrs: vec!["8.8.8.8".parse().unwrap()],
            public_key: key.public_key_info(),
        };
        let cert = issue(root, &public_ip);
        let der = certificate_to_der(&cert).unwrap();
        assert_eq!(
            webpki_check(root, &der, "8.8.8.8"),
            Err(webpki::Error::NameConstraintViolation)
        );
    }
}

#[test]
fn webpki_rejects_expired_and_not_yet_valid_certificates() {
    let root = root(KeyAlgorithm::P384);
    let key = device_key();
    let cert = issue(root, &device_request("d", &key));
    let der = certificate_to_der(&cert).unwrap();
    let at = |secs: u64| webpki_verify(root, &der, Duration::from_secs(secs), None, None);
    // Backdated five minutes for clock skew; 30 days in all.
    assert!(at(NOW.as_secs() - 299).is_ok());
    assert!(matches!(
        at(NOW.as_secs() - 301),
        Err(webpki::Error::CertNotValidYet { .. })
    ));
    assert!(at(NOW.as_secs() - 300 + 30 * 86_400 - 1).is_ok());
    assert!(matches!(
        at(NOW.as_secs() - 300 + 30 * 86_400 + 1),
        Err(webpki::Error::CertExpired { .. })
    ));
}

#[test]
fn crl_verifies_with_openssl_and_revokes() {
    if !openssl_available() {
        return;
    }
    for alg in ALGORITHMS {
        let (dir, root) = root_in_dir(alg, &format!("crl-{}", alg.name()));
        let key = device_key();
        let revoked_cert = issue(root, &device_request("lost", &key));
        let good_cert = issue(root, &device_request("kept", &key));
        write_pem(
            &dir,
            "revoked.pem",
            &certificate_to_pem(&revoked_cert).unwrap(),
        );
        write_pem(&dir, "good.pem", &certificate_to_pem(&good_cert).unwrap());
        let other = issue(root, &device_request("old", &key));

        let crl = root
            .crl(
                &[
                    RevokedCertificate {
                        serial: revoked_cert.tbs_certificate.serial_number.clone(),
                        revoked_at: NOW + Duration::from_secs(60),
                        reason: CrlReason::KeyCompromise,
                    },
                    RevokedCertificate {
                        serial: other.tbs_certificate.serial_number.clone(),
                        revoked_at: NOW + Duration::from_secs(60),
                        reason: CrlReason::Unspecified,
                    },
                ],
                7,
                NOW + Duration::from_secs(120),
                Duration::from_secs(7 * 86_400),
            )
            .unwrap();
        write_pem(&dir, "crl.pem", &crl_to_pem(&crl).unwrap());
        let (ok, out) = openssl(
            &dir,
            &[
                "crl", "-in", "crl.pem", "-CAfile", "root.pem", "-noout", "-verify",
            ],
        );
        assert!(ok && out.contains("verify OK"), "{alg}: {out}");
        let (ok, text) = openssl(&dir, &["crl", "-in", "crl.pem", "-noout", "-text"]);
        assert!(ok, "{text}");
        assert!(text.contains("Version 2 (0x1)"), "{text}");
        assert!(
            text.contains("X509v3 CRL Number: \n                7"),
            "{text}"
        );
        assert!(text.contains("Key Compromise"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        assert_eq!(text.matches("Serial Number:").count(), 2, "{text}");
        assert_eq!(
            text.matches("CRL Reason Code").count(),
            1,
            "unspecified must be omitted: {text}"
        );

        let verify =
            |cert: &str| openssl_verify(&dir, &["-crl_check", "-CRLfile", "crl.pem"], cert);
        let (ok, out) = verify("revoked.pem");
        assert!(!ok && out.contains("certificate revoked"), "{alg}: {out}");
        let (ok, out) = verify("good.pem");
        assert!(ok, "{alg}: {out}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn empty_crl_has_no_revoked_list() {
    let root = root(KeyAlgorithm::P384);
    let crl = root.crl(&[], 1, NOW, Duration::from_secs(86_400)).unwrap();
    assert!(crl.tbs_cert_list.revoked_certificates.is_none());
    let der = crl.to_der().unwrap();
    let back = lantrust_ca::crl_from_der(&der).unwrap();
    assert_eq!(back, crl);
    let pem = crl_to_pem(&crl).unwrap();
    assert_eq!(lantrust_ca::crl_from_pem(&pem).unwrap(), crl);
    // The CRL signature verifies under the root key.
    root.private_key()
        .public_key()
        .verify(
            &crl.signature_algorithm,
            &crl.tbs_cert_list.to_der().unwrap(),
            crl.signature.raw_bytes(),
        )
        .unwrap();
}

#[test]
fn rsa_device_keys_get_key_encipherment_and_weak_keys_are_refused() {
    if !openssl_available() {
        return;
    }
    let (dir, root) = root_in_dir(KeyAlgorithm::P384, "devkeys");
    // Device keys made by openssl, as a real device would.
    let rsa = openssl_rsa3072(&dir, "rsa.pem");
    let cert = issue(root, &device_request("printer", &rsa));
    write_pem(&dir, "printer.pem", &certificate_to_pem(&cert).unwrap());
    let (ok, text) = openssl(&dir, &["x509", "-in", "printer.pem", "-noout", "-text"]);
    assert!(ok);
    assert!(
        text.contains("Digital Signature, Key Encipherment"),
        "{text}"
    );
    let (ok, out) = openssl_verify(&dir, &["-verify_hostname", "printer.local"], "printer.pem");
    assert!(ok, "{out}");

    for args in [
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "weak.pem",
        ][..],
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "weak.pem",
        ][..],
    ] {
        let (ok, out) = openssl(&dir, args);
        assert!(ok, "{out}");
        let (ok, out) = openssl(
            &dir,
            &[
                "pkey", "-in", "weak.pem", "-pubout", "-outform", "DER", "-out", "weak.der",
            ],
        );
        assert!(ok, "{out}");
        let spki: SubjectPublicKeyInfoOwned =
            Decode::from_der(&std::fs::read(dir.join("weak.der")).unwrap()).unwrap();
        let req = DeviceRequest {
            public_key: spki,
            ..device_request("weak", &rsa)
        };
        let err = root
            .issue(
                &req,
                &IssuanceOptions::default(),
                NOW,
                &mut rand::rngs::OsRng,
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Key(lantrust_keys::Error::UnsupportedAlgorithm { .. })
                    | Error::DeviceRsaSize { bits: 2048 }
            ),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn webpki_honours_the_crl() {
    let root = root(KeyAlgorithm::P384);
    let key = device_key();
    let lost = issue(root, &device_request("lost", &key));
    let kept = issue(root, &device_request("kept", &key));
    let crl = root
        .crl(
            &[RevokedCertificate {
                serial: lost.tbs_certificate.serial_number.clone(),
                revoked_at: NOW,
                reason: CrlReason::Superseded,
            }],
            1,
            NOW,
            Duration::from_secs(86_400),
        )
        .unwrap();
    let crl_der = crl.to_der().unwrap();
    let parsed = webpki::BorrowedCertRevocationList::from_der(&crl_der).unwrap();
    let crls = [&webpki::CertRevocationList::from(parsed)];
    let check = |cert: &x509_cert::Certificate| {
        let options = webpki::RevocationOptionsBuilder::new(&crls)
            .unwrap()
            .build();
        webpki_verify(
            root,
            &certificate_to_der(cert).unwrap(),
            NOW + Duration::from_secs(60),
            Some(options),
            None,
        )
    };
    assert_eq!(check(&lost), Err(webpki::Error::CertRevoked));
    assert_eq!(check(&kept), Ok(()));
}

/// Draft §4.5/§4.7: revocation must reach relying parties, so device certificates name where the
/// CRL is (RFC 5280 §4.2.1.13). openssl reads the extension back, and a certificate carrying it
/// still verifies (the extension is non-critical), with and without the CRL it points to.
#[test]
fn crl_distribution_point_is_carried_and_openssl_reads_it() {
    if !openssl_available() {
        return;
    }
    let (dir, root) = root_in_dir(KeyAlgorithm::P384, "cdp");
    let key = device_key();
    let url = "http://router-fdb531.local/crl";
    let opts = IssuanceOptions {
        crl_distribution_point: Some(url.into()),
        ..Default::default()
    };
    let cert = root
        .issue(
            &device_request("cam-1", &key),
            &opts,
            NOW,
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    let file = write_pem(&dir, "cdp.pem", &certificate_to_pem(&cert).unwrap());
    let (ok, text) = openssl(
        &dir,
        &[
            "x509",
            "-in",
            &file,
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains(&format!("URI:{url}")), "{text}");
    let (ok, text) = openssl_verify(&dir, &[], &file);
    assert!(ok, "{text}");
    // No extension without the option.
    let plain = issue(root, &device_request("cam-2", &key));
    let ext = plain
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .any(|e| e.extn_id.to_string() == "2.5.29.31");
    assert!(!ext);
    // Only absolute http(s) URLs.
    for bad in [
        "ftp://x/crl",
        "http:///crl",
        "http://a b/crl",
        "/crl",
        "http://é/crl",
    ] {
        let opts = IssuanceOptions {
            crl_distribution_point: Some(bad.into()),
            ..Default::default()
        };
        assert!(
            matches!(
                root.issue(
                    &device_request("cam-3", &key),
                    &opts,
                    NOW,
                    &mut rand::rngs::OsRng
                ),
                Err(Error::InvalidName { .. })
            ),
            "{bad}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
