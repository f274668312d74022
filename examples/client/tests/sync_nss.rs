//! `lantrust-client sync-nss` makes an NSS database trust the current network's pinned root and
//! no other lantrust root (draft-sweet-iot-acme-07 §3.5: the client "MUST NOT use the root on
//! other networks").
//!
//! Two real `lantrust-server`s (two roots) on 127.0.0.1, one client that joined each behind a
//! different (fake) router MAC, and a real NSS database (certutil) that also holds a certificate
//! that is not lantrust's. Each sync is checked by listing the database and reading back the
//! certificate under lantrust's nickname; a second sync changes nothing; an unpinned or public
//! network leaves no lantrust root; `export --nss`'s everywhere-root is removed, after a loud
//! warning when it was added.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core)] // test harness: std is the point

use std::path::Path;
use std::process::Output;

use lantrust_test_support::bins::{Binaries, ClientCli, Network, nss_certificates};
use lantrust_test_support::{openssl, output_text as text, require_programs, run};

const MAC_A: &str = "02:00:00:00:00:0a";
const MAC_B: &str = "02:00:00:00:00:0b";
const MAC_NONE: &str = "02:00:00:00:00:0c";
const OTHER: &str = "Somebody Else CA";

/// The (nickname, trust) lines of lantrust's certificates in `db`, and whether OTHER is there.
fn lantrust_entries(db: &Path) -> (Vec<String>, bool) {
    let l = nss_certificates(db);
    assert!(l.status.success(), "{}", text(&l));
    let s = String::from_utf8_lossy(&l.stdout).into_owned();
    let ours = s
        .lines()
        .filter(|l| l.starts_with("lantrust"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (ours, s.contains(OTHER))
}

/// The certificate under `nick` in `db`, DER (through PEM, as certutil writes it).
fn cert_der(db: &Path, nick: &str) -> Vec<u8> {
    let out = run(
        "certutil",
        &[
            "-L",
            "-d",
            &format!("sql:{}", db.display()),
            "-n",
            nick,
            "-r",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
}

fn pem_der(pem: &Path) -> Vec<u8> {
    let out = run(
        "openssl",
        &["x509", "-in", pem.to_str().unwrap(), "-outform", "DER"],
    );
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
}

fn sync(client: &ClientCli, mac: &str, extra: &[&str], db: &Path) -> Output {
    let mut args = vec!["--router-mac", mac, "--nss-db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = client.run("sync-nss", &args);
    assert!(out.status.success(), "{}", text(&out));
    out
}

/// The one lantrust nickname in `db`: `lantrust net=<16 hex> root=<16 hex> lantrust.local`,
/// trusted `C,,`.
fn only_root(db: &Path) -> String {
    let (ours, other) = lantrust_entries(db);
    assert!(other, "{OTHER} must never be touched: {ours:?}");
    assert_eq!(ours.len(), 1, "{ours:?}");
    let (nick, trust) = ours[0].rsplit_once(' ').unwrap();
    assert_eq!(trust, "C,,", "{ours:?}");
    let parts: Vec<&str> = nick.split(' ').collect();
    assert_eq!(parts.len(), 4, "{nick}");
    assert_eq!(parts[0], "lantrust");
    assert!(
        parts[1].len() == 20 && parts[1].starts_with("net="),
        "{nick}"
    );
    assert!(
        parts[2].len() == 21 && parts[2].starts_with("root="),
        "{nick}"
    );
    assert_eq!(parts[3], "lantrust.local");
    nick.to_string()
}

#[test]
fn sync_nss_trusts_only_the_current_networks_root() {
    if !require_programs(&["certutil", "openssl"], "sync-nss into an NSS database") {
        return;
    }
    let bin = Binaries::build(
        env!("CARGO_BIN_EXE_lantrust-client"),
        &["lantrust-server", "lantrust-device"],
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let net_a = Network::start(&bin, d, "a", &[], "lantrust.local");
    let net_b = Network::start(&bin, d, "b", &[], "lantrust.local");
    let (root_a, root_b) = (
        pem_der(&net_a.state.join("root.pem")),
        pem_der(&net_b.state.join("root.pem")),
    );
    assert_ne!(root_a, root_b);
    let client = bin.client(&d.join("client"));
    for (net, mac) in [(&net_a, MAC_A), (&net_b, MAC_B)] {
        let out = client.join(net, mac, &[]);
        assert!(out.status.success(), "{}", text(&out));
    }

    // The database holds someone else's CA, and the root `export --nss` trusts everywhere.
    let db = d.join("home/.pki/nssdb");
    let out = client.run(
        "export",
        &["--router-mac", MAC_A, "--nss", db.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING") && err.contains("ON EVERY NETWORK") && err.contains("sync-nss"),
        "export --nss must warn loudly: {err}"
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=Somebody Else CA",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-days",
            "30",
        ],
    );
    let out = run(
        "certutil",
        &[
            "-A",
            "-d",
            &format!("sql:{}", db.display()),
            "-n",
            OTHER,
            "-t",
            "C,,",
            "-i",
            d.join("other.pem").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (ours, other) = lantrust_entries(&db);
    assert!(other);
    assert_eq!(ours, ["lantrust lantrust.local C,,"]);

    // On network A: A's root, under sync-nss's nickname; export's everywhere-root is gone.
    let out = sync(&client, MAC_A, &[], &db);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let nick_a = only_root(&db);
    assert_eq!(cert_der(&db, &nick_a), root_a);
    assert!(
        said.contains("removed lantrust lantrust.local")
            && said.contains(&format!("added {nick_a}")),
        "{said}"
    );
    let listing_a = nss_certificates(&db).stdout;

    // Idempotent: again on A changes nothing, and says so.
    let out = sync(&client, MAC_A, &[], &db);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("unchanged") && said.contains(&format!("kept {nick_a}")),
        "{said}"
    );
    assert!(
        !said.contains("added") && !said.contains("removed"),
        "{said}"
    );
    assert_eq!(nss_certificates(&db).stdout, listing_a);

    // Network B: B's root only.
    let out = sync(&client, MAC_B, &[], &db);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let nick_b = only_root(&db);
    assert_ne!(nick_a, nick_b);
    assert_eq!(cert_der(&db, &nick_b), root_b);
    assert!(
        said.contains(&format!("removed {nick_a}")) && said.contains(&format!("added {nick_b}")),
        "{said}"
    );

    // A network nothing is pinned for, and network A marked public: no lantrust root at all.
    for (mac, extra) in [
        (MAC_NONE, &[][..]),
        (MAC_B, &[][..]),
        (MAC_A, &["--cellular"][..]),
    ] {
        let out = sync(&client, mac, extra, &db);
        let (ours, other) = lantrust_entries(&db);
        if mac == MAC_B {
            // (back on B in between, so the public network has something to remove)
            assert_eq!(only_root(&db), nick_b);
            continue;
        }
        assert!(other, "{OTHER} must never be touched");
        assert!(ours.is_empty(), "{mac} {extra:?}: {ours:?}\n{}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("no lantrust root is trusted here"), "{said}");
    }

    // Back on A: A's root again. Several databases at once, and the default one is
    // $HOME/.pki/nssdb (created if missing).
    let home = d.join("home2");
    let second = d.join("firefox-profile");
    let out = client
        .command(
            "sync-nss",
            &[
                "--router-mac",
                MAC_A,
                "--nss-db",
                db.to_str().unwrap(),
                "--nss-db",
            ],
        )
        .arg(&second)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(only_root_any(&db), nick_a);
    assert_eq!(only_root_any(&second), nick_a);
    let out = client
        .command("sync-nss", &["--router-mac", MAC_A])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let default_db = home.join(".pki/nssdb");
    assert_eq!(only_root_any(&default_db), nick_a);
    assert_eq!(cert_der(&default_db, &nick_a), root_a);

    // A router MAC that does not parse is an error, and the database is left as it was.
    let out = client.run(
        "sync-nss",
        &["--router-mac", "zz", "--nss-db", db.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(only_root_any(&db), nick_a);

    // Several syncs at once (network events in a row) all succeed and leave one root.
    let fresh = d.join("concurrent");
    let kids: Vec<_> = (0..4)
        .map(|i| {
            let mac = if i % 2 == 0 { MAC_A } else { MAC_B };
            client
                .command("sync-nss", &["--router-mac", mac, "--nss-db"])
                .arg(&fresh)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // (certutil -N run twice at once on one directory spins forever: bounded here.)
    let start = std::time::Instant::now();
    for mut k in kids {
        while k.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(60) {
                let _ = k.kill();
                panic!("concurrent sync-nss hangs");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = k.wait_with_output().unwrap();
        assert!(out.status.success(), "concurrent sync: {}", text(&out));
    }
    let last = only_root_any(&fresh);
    assert!(last == nick_a || last == nick_b, "{last}");
    sync(&client, MAC_A, &[], &fresh);
    assert_eq!(only_root_any(&fresh), nick_a);

    // The user's own copy of A's root under another nickname: NSS keeps one nickname per
    // certificate, so sync-nss cannot add its own; it says so and leaves the user's entry alone.
    let own = d.join("own");
    std::fs::create_dir_all(&own).unwrap();
    let out = run(
        "certutil",
        &[
            "-N",
            "-d",
            &format!("sql:{}", own.display()),
            "--empty-password",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(
        d.join("a.pem"),
        std::fs::read(net_a.state.join("root.pem")).unwrap(),
    )
    .unwrap();
    let out = run(
        "certutil",
        &[
            "-A",
            "-d",
            &format!("sql:{}", own.display()),
            "-n",
            "My home CA",
            "-t",
            "C,,",
            "-i",
            d.join("a.pem").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = sync(&client, MAC_A, &[], &own);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("NOT added {nick_a}")), "{said}");
    assert!(lantrust_entries(&own).0.is_empty());
    let l = nss_certificates(&own);
    assert!(
        String::from_utf8_lossy(&l.stdout).contains("My home CA"),
        "{}",
        text(&l)
    );
}

/// The one lantrust nickname in `db` (which need not hold anyone else's CA), trusted `C,,`.
fn only_root_any(db: &Path) -> String {
    let (ours, _) = lantrust_entries(db);
    assert_eq!(ours.len(), 1, "{}: {ours:?}", db.display());
    let (nick, trust) = ours[0].rsplit_once(' ').unwrap();
    assert_eq!(trust, "C,,");
    nick.to_string()
}
