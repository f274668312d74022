//! `init --name-constraints critical|non-critical|off` (issue 16): what each choice writes into the
//! root, read back by openssl, and a bad value refused with a message that lists the choices.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // test harness: std is the point

mod common;

use std::path::Path;

use common::*;

/// `init` a fresh state with `extra` arguments; returns openssl's view of the root's
/// nameConstraints extension.
fn root_name_constraints(dir: &Path, extra: &[&str]) -> String {
    let state = dir.join("state");
    let s = state.to_str().unwrap();
    let mut args = vec![
        "init",
        "--state",
        s,
        "--name",
        "router",
        "--domain",
        "home.arpa",
    ];
    args.extend_from_slice(extra);
    cli_ok(&args);
    let (ok, text) = openssl(
        &state,
        &[
            "x509",
            "-in",
            "root.pem",
            "-noout",
            "-ext",
            "nameConstraints",
        ],
    );
    assert!(ok, "{text}");
    text
}

#[test]
fn each_choice_is_written_as_asked() {
    if !lantrust_test_support::require_programs(&["openssl"], "init --name-constraints") {
        return;
    }
    let dir = temp_dir("nc");
    for (choice, critical) in [("critical", Some(true)), ("non-critical", Some(false))] {
        let sub = dir.path().join(choice);
        std::fs::create_dir(&sub).unwrap();
        let text = root_name_constraints(&sub, &["--name-constraints", choice]);
        let header = text
            .lines()
            .find(|l| l.contains("X509v3 Name Constraints"))
            .unwrap_or_else(|| panic!("{choice}: no nameConstraints in the root:\n{text}"));
        assert_eq!(
            header.contains("critical"),
            critical.unwrap(),
            "{choice}: {header}"
        );
        for permitted in ["DNS:local", "DNS:home.arpa", "IP:192.168.0.0/255.255.0.0"] {
            assert!(
                text.contains(permitted),
                "{choice}: {permitted} missing:\n{text}"
            );
        }
    }

    // off: no extension at all.
    let sub = dir.path().join("off");
    std::fs::create_dir(&sub).unwrap();
    let text = root_name_constraints(&sub, &["--name-constraints", "off"]);
    assert!(
        !text.contains("Name Constraints"),
        "off still constrains:\n{text}"
    );

    // The default is the choice the root compatibility matrix picked: non-critical.
    let sub = dir.path().join("default");
    std::fs::create_dir(&sub).unwrap();
    let text = root_name_constraints(&sub, &[]);
    let header = text
        .lines()
        .find(|l| l.contains("X509v3 Name Constraints"))
        .unwrap_or_else(|| panic!("default: no nameConstraints:\n{text}"));
    assert!(!header.contains("critical"), "default: {header}");
}

#[test]
fn a_bad_choice_is_refused_and_lists_the_valid_ones() {
    let dir = temp_dir("nc-bad");
    let state = dir.path().join("state");
    let out = cli(&[
        "init",
        "--state",
        state.to_str().unwrap(),
        "--name",
        "router",
        "--domain",
        "home.arpa",
        "--name-constraints",
        "sometimes",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for choice in ["critical", "non-critical", "off"] {
        assert!(err.contains(choice), "{err}");
    }
    assert!(!state.exists(), "a refused init left a state directory");
}
