//! The `openssl` command line, the independent tool most tests check their output with.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `openssl ARGS` in `dir` and returns its output, whatever the status.
fn openssl_run(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl {args:?}: {e} (install Debian `openssl`; check `have(\"openssl\")` first to skip)")
        })
}

/// Runs `openssl ARGS` in `dir`, returning whether it succeeded and its stdout followed by stderr.
pub fn openssl_output(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = openssl_run(dir, args);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `openssl ARGS` in `dir` and requires success (the panic shows what openssl said).
pub fn openssl(dir: &Path, args: &[&str]) {
    openssl_stdout(dir, args);
}

/// Runs `openssl ARGS` in `dir`, requires success (the panic shows what openssl said) and
/// returns its stdout alone (a public key, a text dump) to compare.
pub fn openssl_stdout(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = openssl_run(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        crate::output_text(&out)
    );
    out.stdout
}

/// Writes a throwaway P-256 CA (`ca.key`, `ca.pem`, `ca.der`) and a leaf for `localhost` and
/// 127.0.0.1 signed by it (`key.pem`, `cert.pem`) into `dir`: HTTPS for a peer such as Pebble,
/// which Debian ships without test certificates (webpki refuses a self-signed CA certificate as a
/// server certificate, hence the two levels).
pub fn localhost_tls(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "1",
        "-subj",
        "/CN=lantrust test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(dir, &ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    openssl(dir, &leaf);
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", ext.display()));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "7",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
    );
    openssl(
        dir,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );
}

/// A self-signed CA made by openssl as a company PKI's root would be (issue 19's enterprise
/// tests): P-384, basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign (both critical), ten
/// years, subject `/O=Example Corp/CN=CN`; written as `NAME.pem` and `NAME-key.pem` in `dir`.
pub fn company_root(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-nodes",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "3650",
            "-subj",
            &format!("/O=Example Corp/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// openssl makes a fresh P-384 key (`NAME-key.pem`) and a certificate request for it
/// (`NAME.csr`, subject `subj`) in `dir`: a CA or a sub-CA of the company PKI asking to be signed.
pub fn p384_request(dir: &Path, name: &str, subj: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-nodes",
            "-keyout",
            &format!("{name}-key.pem"),
            "-subj",
            subj,
            "-out",
            &format!("{name}.csr"),
        ],
    );
}

/// openssl signs the request `csr` (a file in `dir`) with the CA `ca` (`CA.pem` and `CA-key.pem`,
/// as [`company_root`] writes them) into `out`, valid for a year: with the request's own
/// extensions when `extfile` is `None` (`-copy_extensions copyall`, what a company CA does with a
/// sub-CA request it accepts), else with the extensions in `extfile` (written to `dir/ext.cnf`).
/// Requires success.
pub fn sign_csr(dir: &Path, ca: &str, csr: &str, out: &str, extfile: Option<&str>) {
    let (ca_cert, ca_key) = (format!("{ca}.pem"), format!("{ca}-key.pem"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        &ca_cert,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "365",
        "-out",
        out,
    ];
    match extfile {
        Some(text) => {
            std::fs::write(dir.join("ext.cnf"), text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", dir.join("ext.cnf").display()));
            args.extend(["-extfile", "ext.cnf"]);
        }
        None => args.extend(["-copy_extensions", "copyall"]),
    }
    openssl(dir, &args);
}
