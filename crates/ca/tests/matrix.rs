//! Root compatibility matrix (issue 16): which TLS stacks accept each way lantrust can write the
//! root's name constraints ([`NameConstraints`]: critical, non-critical, off).
//!
//! For each profile a P-384 root is generated in-process, with a server leaf issued the way
//! `lantrust-server serve` makes its HTTPS certificate (`<server>.local`, `<server>.<domain>`, the
//! server's IP, 90 days), a device leaf issued the way the ACME server issues one (30 days,
//! `device-12cd56.local`, `device-12cd56.home.arpa`), and a leaf for the public name
//! `www.example.com` built directly with x509-cert and signed with the root key (bypassing
//! lantrust's CSR policy, as an attacker holding a stolen root key would). Then each TLS stack is
//! asked, with its own verifier:
//!
//! - (a) does it load the root as a trust anchor;
//! - (b) does it verify the server and the device chains for each of their names (and refuse the
//!   device chain for a name it does not carry: the control that host names are really checked);
//! - (c) does it refuse the public-name leaf (that is, does it enforce the name constraints; under
//!   `off` every stack must accept it: the control that the refusal is the constraints' doing).
//!
//! The stacks: Mbed TLS and wolfSSL (small C programs in `tests/matrix/`, built with `cc`),
//! GnuTLS (`certtool --verify`), OpenSSL (`openssl verify`), NSS (`certutil` loads the root, a
//! small C program verifies), Go's crypto/x509 (a stdlib-only Go program, built offline),
//! headless Chromium (its own verifier, trust from an NSS database; each leaf served by
//! `openssl s_server` on 127.0.0.1) and rustls-webpki (in-process). A stack whose tool or library is absent is skipped loudly
//! (`scripts/install-peers` installs them all). The matrix is printed as a markdown table (the
//! README's "Which TLS stacks trust the root" shows it), and the test asserts that the default
//! profile is loaded and verified everywhere and enforced wherever the stack implements name
//! constraints, plus the known facts (Mbed TLS cannot load a root with critical constraints:
//! Mbed-TLS/mbedtls#8759).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: processes and files are the point

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;

use core::time::Duration;

use const_oid::db::rfc5280::ID_KP_SERVER_AUTH;
use lantrust_ca::{
    Certificate, DeviceRequest, IssuanceOptions, KeyAlgorithm, MAX_DEVICE_VALIDITY,
    NameConstraints, PrivateKey, Root, RootConfig, SerialNumber, certificate_to_der,
    certificate_to_pem,
};
use lantrust_test_support::chromium::{CHROMIUM, PAGE_TIMEOUT, load_page};
use lantrust_test_support::{Proc, free_port, now, require_programs, temp_dir, wait_for_port};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::der::asn1::{BitString, Ia5String, OctetString};
use x509_cert::der::{Encode, oid::AssociatedOid};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};
use x509_cert::name::Name;
use x509_cert::time::Validity;

/// The ACME server's host name and local domain (as `lantrust-server init --name --domain`).
const SERVER: &str = "router-fdb531";
const DOMAIN: &str = "home.arpa";
/// A device ID as the draft's device policy makes them.
const DEVICE: &str = "device-12cd56";
/// The Internet name a stolen root key would be used for.
const PUBLIC: &str = "www.example.com";

/// The helper programs' sources.
fn helper_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/matrix")
        .join(name)
}

/// One leaf: its certificate alone, the chain file (leaf then root, as a TLS server sends it) and
/// its DER.
struct Leaf {
    pem: PathBuf,
    /// Its private key (PKCS#8 PEM), for a TLS server that presents it.
    key: PathBuf,
    chain: PathBuf,
    der: Vec<u8>,
}

/// One profile's root and leaves, written into `dir`.
struct Material {
    profile: NameConstraints,
    dir: PathBuf,
    root_der: Vec<u8>,
    root_pem: PathBuf,
    server: Leaf,
    /// The server leaf when `init --ip` gave the server an address: the same plus an iPAddress
    /// SAN inside the permitted ranges.
    server_ip: Leaf,
    device: Leaf,
    public: Leaf,
}

fn write_leaf(dir: &Path, name: &str, cert: &Certificate, key: &PrivateKey, root: &Root) -> Leaf {
    let leaf_pem = certificate_to_pem(cert).unwrap();
    let pem = dir.join(format!("{name}.pem"));
    let key_file = dir.join(format!("{name}-key.pem"));
    std::fs::write(&key_file, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let chain = dir.join(format!("{name}-chain.pem"));
    std::fs::write(&pem, &leaf_pem).unwrap();
    std::fs::write(&chain, leaf_pem + &root.certificate_pem().unwrap()).unwrap();
    Leaf {
        pem,
        key: key_file,
        chain,
        der: certificate_to_der(cert).unwrap(),
    }
}

fn p384() -> PrivateKey {
    PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap()
}

/// An extension with an explicit criticality.
fn extension<T: AssociatedOid + Encode>(critical: bool, value: &T) -> Extension {
    Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().unwrap()).unwrap(),
    }
}

/// A server-authentication leaf for [`PUBLIC`], made with x509-cert alone and signed with the
/// root's key: what an attacker with the stolen key makes, well-formed in every other respect
/// (so that only the name constraints can refuse it).
fn public_leaf(root: &Root, key: &PrivateKey) -> Certificate {
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
    serial[0] = 0x40;
    let extensions = vec![
        extension(
            true,
            &BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        ),
        extension(true, &KeyUsage(KeyUsages::DigitalSignature.into())),
        extension(false, &ExtendedKeyUsage(vec![ID_KP_SERVER_AUTH])),
        extension(
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(root.key_identifier()).unwrap()),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        ),
        extension(
            false,
            &SubjectAltName(vec![GeneralName::DnsName(Ia5String::new(PUBLIC).unwrap())]),
        ),
    ];
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).unwrap(),
        signature: root.private_key().signature_algorithm(),
        issuer: root.subject().clone(),
        validity: Validity::from_now(Duration::from_secs(30 * 86_400)).unwrap(),
        subject: Name::from_str(&format!("CN={PUBLIC}")).unwrap(),
        subject_public_key_info: key.public_key_info(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature = root.private_key().sign(&tbs.to_der().unwrap()).unwrap();
    Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(signature.as_bytes()).unwrap(),
    }
}

/// Generates `profile`'s root and leaves into `base/<profile>`, at the real time (the stacks
/// verify against their own clocks).
fn material(base: &Path, profile: NameConstraints) -> Material {
    let dir = base.join(profile.name());
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = RootConfig::new(SERVER, vec![DOMAIN.into()]);
    config.name_constraints = profile;
    let now = now();
    let mut rng = rand::rngs::OsRng;
    let root = Root::generate(&config, now, &mut rng).unwrap();
    let root_pem = dir.join("root.pem");
    std::fs::write(&root_pem, root.certificate_pem().unwrap()).unwrap();

    // As examples/server's `server_cert`: the server's names (and `init --ip` addresses), 90 days.
    let server_key = p384();
    let server_cert = |ip_addrs: Vec<std::net::IpAddr>| {
        root.issue(
            &DeviceRequest {
                device_id: SERVER.into(),
                dns_names: vec![format!("{SERVER}.local"), format!("{SERVER}.{DOMAIN}")],
                ip_addrs,
                public_key: server_key.public_key_info(),
            },
            &IssuanceOptions {
                validity: MAX_DEVICE_VALIDITY,
                ..Default::default()
            },
            now,
            &mut rand::rngs::OsRng,
        )
        .unwrap()
    };
    let server = server_cert(vec![]);
    let server_ip = server_cert(vec!["192.168.1.1".parse().unwrap()]);
    // As the ACME server issues a device's certificate after its CSR passed the policy.
    let device_key = p384();
    let device = root
        .issue(
            &DeviceRequest {
                device_id: DEVICE.into(),
                dns_names: vec![format!("{DEVICE}.local"), format!("{DEVICE}.{DOMAIN}")],
                ip_addrs: vec![],
                public_key: device_key.public_key_info(),
            },
            &IssuanceOptions::default(),
            now,
            &mut rng,
        )
        .unwrap();
    let public_key = p384();
    let public = public_leaf(&root, &public_key);
    Material {
        profile,
        server: write_leaf(&dir, "server", &server, &server_key, &root),
        server_ip: write_leaf(&dir, "server-ip", &server_ip, &server_key, &root),
        device: write_leaf(&dir, "device", &device, &device_key, &root),
        public: write_leaf(&dir, "public", &public, &public_key, &root),
        root_der: root.certificate_der().to_vec(),
        root_pem,
        dir,
    }
}

/// A stack's verdict on one question: `Ok` or `Err(what it said)`.
type Verdict = Result<(), String>;

/// What one stack answered for one profile.
#[derive(Debug)]
struct Answers {
    /// (a) It loads the root.
    load: Verdict,
    /// (b) The server chain, for each server name.
    server: Verdict,
    /// (b) The device chain, for each device name.
    device: Verdict,
    /// (b′) The server chain with an IP address SAN, for its `.local` name.
    server_ip: Verdict,
    /// Control: the device chain for a name it does not carry (must be `Err`).
    wrong_name: Verdict,
    /// (c) The root-signed public-name leaf (`Err` = refused).
    public: Verdict,
}

/// Known facts about a stack, which the matrix must confirm.
struct Facts {
    /// It enforces name constraints (so refuses the public leaf under a constrained root).
    name_constraints: bool,
    /// It refuses a leaf with an iPAddress SAN under a constrained root, permitted range or not.
    ip_san_refused: bool,
}

/// One TLS stack under test.
trait Stack {
    /// The stack's name and version, as it reports it.
    fn label(&self) -> String;
    /// What is known about the stack (the facts the matrix checks it against).
    fn facts(&self) -> Facts {
        Facts {
            name_constraints: true,
            ip_san_refused: false,
        }
    }
    /// Prepares `m` for the stack (e.g. an NSS database) and loads the root.
    fn load(&self, m: &Material) -> Verdict;
    /// Verifies `leaf` (sent as its chain) under `m`'s root for `host`.
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict;
}

fn ask(stack: &dyn Stack, m: &Material) -> Answers {
    let load = stack.load(m);
    let all = |leaf: &Leaf, hosts: &[String]| -> Verdict {
        for host in hosts {
            stack
                .verify(m, leaf, host)
                .map_err(|e| format!("{host}: {e}"))?;
        }
        Ok(())
    };
    Answers {
        load,
        server: all(
            &m.server,
            &[format!("{SERVER}.local"), format!("{SERVER}.{DOMAIN}")],
        ),
        device: all(
            &m.device,
            &[format!("{DEVICE}.local"), format!("{DEVICE}.{DOMAIN}")],
        ),
        server_ip: stack.verify(m, &m.server_ip, &format!("{SERVER}.local")),
        wrong_name: stack.verify(m, &m.device, "device-99aa00.local"),
        public: stack.verify(m, &m.public, PUBLIC),
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}; stdout: {}; stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The verdict of one of the helper programs in `tests/matrix/`, which print one line:
/// `OK`/`LOADED` (exit 0), `REJECTED: why` (exit 1) or `LOAD-FAILED: why` (exit 3). Anything else
/// is a broken harness, not an answer.
fn helper_verdict(cmd: &mut Command) -> Verdict {
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or("").trim().to_string();
    match (out.status.code(), line.as_str()) {
        (Some(0), "OK" | "LOADED") => Ok(()),
        (Some(1), l) if l.starts_with("REJECTED: ") => Err(l["REJECTED: ".len()..].to_string()),
        (Some(3), l) if l.starts_with("LOAD-FAILED: ") => Err(l.to_string()),
        _ => panic!("{cmd:?} gave no verdict: {}", text(&out)),
    }
}

/// What a helper program prints for `--version`: its library's name and version.
fn helper_version(exe: &Path) -> String {
    let out = run(Command::new(exe).arg("--version"));
    assert!(
        out.status.success(),
        "{} --version: {}",
        exe.display(),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds `source` (in `tests/matrix/`) with `cc` into `dir`, with `flags`. `None` after a loud
/// `SKIPPED` when the compiler or the library's header (`header`, from Debian `package`) is absent.
fn build_c(
    dir: &Path,
    source: &str,
    header: &str,
    package: &str,
    flags: &[&str],
) -> Option<PathBuf> {
    let what = format!("root compatibility matrix, {package} ({source})");
    if !require_programs(&["cc"], &what) {
        return None;
    }
    if !Path::new(header).exists() {
        lantrust_test_support::skip(format_args!(
            "{what}: {header} is missing: Debian {package} is not installed (scripts/install-peers installs it)"
        ));
        return None;
    }
    let exe = dir.join(source.trim_end_matches(".c"));
    let out = run(Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&exe)
        .arg(helper_source(source))
        .args(flags));
    assert!(out.status.success(), "cc {source}: {}", text(&out));
    Some(exe)
}

/// Mbed TLS: a C program over `mbedtls_x509_crt_parse_file` and `mbedtls_x509_crt_verify`.
struct MbedTls(PathBuf);

impl Stack for MbedTls {
    fn label(&self) -> String {
        helper_version(&self.0)
    }
    fn facts(&self) -> Facts {
        // No nameConstraints support at all (Mbed-TLS/mbedtls#8759): a critical one makes the
        // root unparsable, a non-critical one is skipped.
        Facts {
            name_constraints: false,
            ip_san_refused: false,
        }
    }
    fn load(&self, m: &Material) -> Verdict {
        helper_verdict(Command::new(&self.0).arg(&m.root_pem))
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        helper_verdict(
            Command::new(&self.0)
                .arg(&m.root_pem)
                .arg(&leaf.chain)
                .arg(host),
        )
    }
}

/// wolfSSL: a C program over its certificate manager and `wolfSSL_X509_check_host`.
struct WolfSsl(PathBuf);

impl Stack for WolfSsl {
    fn facts(&self) -> Facts {
        // Seen with Debian's wolfSSL 5.5.4: every leaf that carries an iPAddress SAN is refused
        // under a root with name constraints, "Name Constraint error (-198)", even an address
        // inside a permitted range and even when the constraints name DNS subtrees only.
        Facts {
            name_constraints: true,
            ip_san_refused: true,
        }
    }
    fn label(&self) -> String {
        helper_version(&self.0)
    }
    fn load(&self, m: &Material) -> Verdict {
        helper_verdict(Command::new(&self.0).arg(&m.root_pem))
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        // The certificate manager verifies one certificate against the loaded anchors.
        helper_verdict(
            Command::new(&self.0)
                .arg(&m.root_pem)
                .arg(&leaf.pem)
                .arg(host),
        )
    }
}

/// NSS: `certutil` imports the root into a fresh database (trusted for TLS servers), a C program
/// verifies with `CERT_VerifyCertificateNow` and `CERT_VerifyCertName`.
struct Nss(PathBuf);

impl Nss {
    fn db(m: &Material) -> String {
        format!("sql:{}", m.dir.join("nssdb").display())
    }
}

/// Makes a fresh NSS database in `dir` and imports the root into it, trusted to identify TLS
/// servers (`certutil -t C,,`, what `lantrust-client export --nss` does); `Ok` when NSS parsed it
/// and lists it as trusted.
fn nss_import(dir: &Path, root_pem: &Path) -> Verdict {
    std::fs::create_dir_all(dir).unwrap();
    let db = format!("sql:{}", dir.display());
    let out = run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
    assert!(out.status.success(), "certutil -N: {}", text(&out));
    let out = run(Command::new("certutil")
        .args([
            "-A",
            "-d",
            &db,
            "-n",
            "lantrust-root",
            "-t",
            "C,,",
            "-a",
            "-i",
        ])
        .arg(root_pem));
    if !out.status.success() {
        return Err(text(&out));
    }
    let out = run(Command::new("certutil").args(["-L", "-d", &db]));
    let listing = String::from_utf8_lossy(&out.stdout);
    match listing.lines().find(|l| l.starts_with("lantrust-root")) {
        Some(l) if l.contains("C,,") => Ok(()),
        _ => Err(format!("the root is not listed as trusted: {}", text(&out))),
    }
}

impl Stack for Nss {
    fn label(&self) -> String {
        helper_version(&self.0)
    }
    fn load(&self, m: &Material) -> Verdict {
        nss_import(&m.dir.join("nssdb"), &m.root_pem)
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        helper_verdict(
            Command::new(&self.0)
                .arg(Self::db(m))
                .arg(&leaf.pem)
                .arg(host),
        )
    }
}

/// Go's crypto/x509: a stdlib-only program built offline with `go build`.
struct Go(PathBuf);

impl Go {
    fn build(dir: &Path) -> Option<Self> {
        if !require_programs(&["go"], "root compatibility matrix, Go crypto/x509") {
            return None;
        }
        let exe = dir.join("x509verify");
        let out = run(Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&exe)
            .arg(helper_source("x509verify.go"))
            .current_dir(dir)
            // Offline and with the installed toolchain only: the program needs nothing but the
            // standard library.
            .env("GOPROXY", "off")
            .env("GOCACHE", dir.join("go-cache"))
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GO111MODULE", "off"));
        assert!(out.status.success(), "go build: {}", text(&out));
        Some(Self(exe))
    }
}

impl Stack for Go {
    fn label(&self) -> String {
        helper_version(&self.0)
    }
    fn load(&self, m: &Material) -> Verdict {
        helper_verdict(Command::new(&self.0).arg(&m.root_pem))
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        helper_verdict(
            Command::new(&self.0)
                .arg(&m.root_pem)
                .arg(&leaf.chain)
                .arg(host),
        )
    }
}

/// OpenSSL: `openssl verify` with the root as the only trust anchor.
struct OpenSsl;

impl Stack for OpenSsl {
    fn label(&self) -> String {
        let out = run(Command::new("openssl").arg("version"));
        let v = String::from_utf8_lossy(&out.stdout);
        v.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }
    fn load(&self, m: &Material) -> Verdict {
        // The root verifies as its own trust anchor: parsed, self-signature and extensions
        // checked (an unhandled critical extension fails here).
        let out = run(Command::new("openssl")
            .args(["verify", "-x509_strict", "-CAfile"])
            .arg(&m.root_pem)
            .arg(&m.root_pem));
        if out.status.success() {
            Ok(())
        } else {
            Err(text(&out))
        }
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        let out = run(Command::new("openssl")
            .args(["verify", "-x509_strict", "-purpose", "sslserver"])
            .args(["-verify_hostname", host, "-CAfile"])
            .arg(&m.root_pem)
            .arg(&leaf.pem));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.trim_end().ends_with(": OK") {
            Ok(())
        } else {
            let said = String::from_utf8_lossy(&out.stderr);
            Err(said
                .lines()
                .find(|l| l.starts_with("error "))
                .unwrap_or(&said)
                .trim()
                .to_string())
        }
    }
}

/// GnuTLS: `certtool`.
struct GnuTls;

impl Stack for GnuTls {
    fn label(&self) -> String {
        let out = run(Command::new("certtool").arg("--version"));
        let v = String::from_utf8_lossy(&out.stdout);
        let v = v.lines().next().unwrap_or("").trim();
        format!("GnuTLS {}", v.trim_start_matches("certtool ").trim())
    }
    fn load(&self, m: &Material) -> Verdict {
        let out = run(Command::new("certtool")
            .args(["--certificate-info", "--infile"])
            .arg(&m.root_pem));
        if out.status.success() {
            Ok(())
        } else {
            Err(text(&out))
        }
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        let out = run(Command::new("certtool")
            .args(["--verify", "--load-ca-certificate"])
            .arg(&m.root_pem)
            .arg("--infile")
            .arg(&leaf.chain)
            .args(["--verify-hostname", host])
            .args(["--verify-purpose", "1.3.6.1.5.5.7.3.1"]));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let verdict = stdout
            .lines()
            .find(|l| l.starts_with("Chain verification output:"))
            .unwrap_or_else(|| panic!("certtool gave no verdict: {}", text(&out)));
        if out.status.success() && verdict.contains("Verified. The certificate is trusted.") {
            Ok(())
        } else {
            Err(verdict["Chain verification output:".len()..]
                .trim()
                .to_string())
        }
    }
}

/// rustls-webpki, in-process (the verifier of rustls, so of lantrust's own clients).
struct Webpki;

impl Stack for Webpki {
    fn label(&self) -> String {
        "rustls-webpki 0.103".into()
    }
    fn load(&self, m: &Material) -> Verdict {
        let der = CertificateDer::from(m.root_der.clone());
        webpki::anchor_from_trusted_cert(&der)
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        let root = CertificateDer::from(m.root_der.clone());
        let anchor = webpki::anchor_from_trusted_cert(&root).map_err(|e| format!("{e:?}"))?;
        let der = CertificateDer::from(leaf.der.clone());
        let ee = webpki::EndEntityCert::try_from(&der).map_err(|e| format!("{e:?}"))?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            UnixTime::since_unix_epoch(now()),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| format!("{e:?}"))?;
        ee.verify_is_valid_for_subject_name(&ServerName::try_from(host).unwrap())
            .map_err(|e| format!("{e:?}"))
    }
}

/// Headless Chromium (Debian's `chromium`), whose built-in verifier takes its trust anchors from
/// the user's NSS database (`$HOME/.pki/nssdb`) on Linux: the root is imported there, each leaf is
/// served by `openssl s_server` on 127.0.0.1, and the page must be shown.
struct Chromium;

impl Chromium {
    fn home(m: &Material) -> PathBuf {
        m.dir.join("chromium-home")
    }
}

impl Stack for Chromium {
    fn label(&self) -> String {
        let out = run(Command::new(CHROMIUM).arg("--version"));
        let v = String::from_utf8_lossy(&out.stdout);
        let v = v.split_whitespace().nth(1).unwrap_or("?");
        format!("Chromium {v}")
    }
    fn load(&self, m: &Material) -> Verdict {
        nss_import(&Self::home(m).join(".pki/nssdb"), &m.root_pem)
    }
    fn verify(&self, m: &Material, leaf: &Leaf, host: &str) -> Verdict {
        let port = free_port();
        let _server = Proc::spawn(
            Command::new("openssl")
                .args(["s_server", "-quiet", "-www"])
                .args(["-accept", &format!("127.0.0.1:{port}"), "-cert"])
                .arg(&leaf.pem)
                .arg("-key")
                .arg(&leaf.key)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(port);
        let url = format!("https://{host}:{port}/");
        let page = load_page(&Self::home(m), &[host], &url);
        assert!(
            page.finished,
            "chromium did not load {url} within {PAGE_TIMEOUT:?}\n{}",
            page.log
        );
        if page.dom.contains("s_server") {
            Ok(())
        } else {
            // "Page load failed: net::ERR_…", or the error page's code.
            Err(page.failure().to_string())
        }
    }
}

/// Every stack that is installed (the others are skipped loudly).
fn stacks(build: &Path) -> Vec<Box<dyn Stack>> {
    let mut out: Vec<Box<dyn Stack>> = Vec::new();
    if let Some(exe) = build_c(
        build,
        "mbedtls.c",
        "/usr/include/mbedtls/x509_crt.h",
        "libmbedtls-dev",
        &["-lmbedx509", "-lmbedcrypto"],
    ) {
        out.push(Box::new(MbedTls(exe)));
    }
    if let Some(exe) = build_c(
        build,
        "wolfssl.c",
        "/usr/include/wolfssl/ssl.h",
        "libwolfssl-dev",
        &["-lwolfssl"],
    ) {
        out.push(Box::new(WolfSsl(exe)));
    }
    if require_programs(&["certtool"], "root compatibility matrix, GnuTLS") {
        out.push(Box::new(GnuTls));
    }
    if require_programs(&["openssl"], "root compatibility matrix, OpenSSL") {
        out.push(Box::new(OpenSsl));
    }
    if require_programs(&["certutil"], "root compatibility matrix, NSS") {
        let flags = [
            "-I/usr/include/nss",
            "-I/usr/include/nspr",
            "-lnss3",
            "-lnssutil3",
            "-lsmime3",
            "-lnspr4",
        ];
        if let Some(exe) = build_c(
            build,
            "nss.c",
            "/usr/include/nss/cert.h",
            "libnss3-dev",
            &flags,
        ) {
            out.push(Box::new(Nss(exe)));
        }
    }
    if let Some(go) = Go::build(build) {
        out.push(Box::new(go));
    }
    if Path::new(CHROMIUM).exists() {
        if require_programs(
            &["certutil", "openssl"],
            "root compatibility matrix, Chromium",
        ) {
            out.push(Box::new(Chromium));
        }
    } else {
        lantrust_test_support::skip(format_args!(
            "root compatibility matrix, Chromium: {CHROMIUM} is missing (scripts/install-peers installs Debian chromium)"
        ));
    }
    out.push(Box::new(Webpki));
    out
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// One cell of the table: (a) loads, (b) verifies the server and device chains, (b′) the server
/// chain with an IP address SAN, (c) refuses the public name.
fn cell(a: &Answers) -> String {
    if a.load.is_err() {
        return "✗ – – –".into();
    }
    format!(
        "{} {} {} {}",
        mark(a.load.is_ok()),
        mark(a.server.is_ok() && a.device.is_ok()),
        mark(a.server_ip.is_ok()),
        mark(a.public.is_err())
    )
}

/// The legend above the table.
const LEGEND: &str = "Each cell: (a) loads the root · (b) verifies the server and device chains for \
                      their names · (b′) verifies the server chain with an IP address SAN \
                      (`init --ip`) · (c) refuses a root-signed leaf for www.example.com; – where the root does \
                      not load.";

#[test]
fn root_compatibility_matrix() {
    let base = temp_dir("ca-matrix");
    let build = base.path().join("bin");
    std::fs::create_dir_all(&build).unwrap();
    let stacks = stacks(&build);
    let materials: Vec<Material> = NameConstraints::ALL
        .into_iter()
        .map(|p| material(base.path(), p))
        .collect();

    let mut rows = Vec::new();
    for stack in &stacks {
        let answers: Vec<Answers> = materials.iter().map(|m| ask(stack.as_ref(), m)).collect();
        rows.push((stack.label(), stack.facts(), answers));
    }

    // The table, for the test output and the README.
    let default = NameConstraints::default();
    let mut table = String::from("| TLS stack |");
    for m in &materials {
        let mark = if m.profile == default {
            " (default)"
        } else {
            ""
        };
        write!(table, " `{}`{mark} |", m.profile).unwrap();
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(materials.len()));
    for (label, _, answers) in &rows {
        write!(table, "\n| {label} |").unwrap();
        for a in answers {
            write!(table, " {} |", cell(a)).unwrap();
        }
    }
    println!("\nRoot compatibility matrix. {LEGEND}\n\n{table}\n");
    for (label, _, answers) in &rows {
        for (m, a) in materials.iter().zip(answers) {
            println!("{label} / {}: {a:?}", m.profile);
        }
    }

    let mut failures = Vec::new();
    for (label, facts, answers) in &rows {
        for (m, a) in materials.iter().zip(answers) {
            let at = format!("{label}, name constraints {}", m.profile);
            let constrained = m.profile != NameConstraints::Off;
            // Host names are really checked, in every stack and profile.
            if a.wrong_name.is_ok() {
                failures.push(format!(
                    "{at}: accepted the device chain for a name it lacks"
                ));
            }
            // Known fact: a stack without name-constraint support cannot load a root whose
            // constraints are critical (RFC 5280 §4.2: an unrecognised critical extension);
            // every other stack loads every profile.
            let loads = facts.name_constraints || m.profile != NameConstraints::Critical;
            if a.load.is_ok() != loads {
                failures.push(format!(
                    "{at}: loads the root: {:?} (expected: {loads})",
                    a.load
                ));
            }
            if a.load.is_err() {
                continue;
            }
            // A loaded root verifies its server's and devices' chains.
            if a.server.is_err() || a.device.is_err() {
                failures.push(format!(
                    "{at}: chains: server {:?}, device {:?}",
                    a.server, a.device
                ));
            }
            let ip_ok = !(facts.ip_san_refused && constrained);
            if a.server_ip.is_ok() != ip_ok {
                failures.push(format!(
                    "{at}: server chain with an IP SAN: {:?} (expected accepted: {ip_ok})",
                    a.server_ip
                ));
            }
            // (c): refused exactly where the stack enforces constraints and the root has them.
            // Under `off` every stack accepts the attacker's leaf: the refusals elsewhere are
            // the constraints' doing, not a flaw in the leaf.
            let refused = facts.name_constraints && constrained;
            if a.public.is_err() != refused {
                failures.push(format!(
                    "{at}: {PUBLIC}: {:?} (expected refused: {refused})",
                    a.public
                ));
            }
        }
        // The default: loadable and verified everywhere, enforced wherever the stack can.
        let (m, a) = materials
            .iter()
            .zip(answers)
            .find(|(m, _)| m.profile == default)
            .unwrap();
        assert_eq!(m.profile, default);
        if a.load.is_err() || a.server.is_err() || a.device.is_err() {
            failures.push(format!(
                "{label}: the default ({default}) is not usable: {a:?}"
            ));
        }
        if facts.name_constraints && a.public.is_ok() {
            failures.push(format!(
                "{label}: the default ({default}) lets {PUBLIC} through"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "the matrix differs from the known facts (if a stack's new version behaves otherwise, update its facts and the README's table):\n{}\n{table}",
        failures.join("\n")
    );
}
