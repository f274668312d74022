//! `serve --config FILE` and `config check FILE`: the flags of `serve` read from a TOML file
//! (lantrust-cli's generic loader maps each key to the `serve` flag with that long name, so a new
//! flag gets its key with no code here). See the README's "Operating it".

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use lantrust_cli::config::{ConfigCmd, ConfigSpec, ParseError};

use crate::Cli;

/// `serve` reads the file; `LANTRUST_SERVER_<FLAG>` environment variables override it.
pub(crate) const SPEC: ConfigSpec = ConfigSpec {
    subcommand: "serve",
    env_prefix: "LANTRUST_SERVER_",
};

pub(crate) fn run(cmd: ConfigCmd) -> Result<ExitCode> {
    match cmd {
        ConfigCmd::Check { file } => check(&file),
        _ => anyhow::bail!("this build does not know that `config` command"),
    }
}

fn check(file: &Path) -> Result<ExitCode> {
    match lantrust_cli::config::check::<Cli>(&SPEC, file) {
        Ok(settings) => {
            lantrust_cli::outln!("{}: OK; `serve --config` would run with:", file.display());
            lantrust_cli::out!("{settings}");
            Ok(ExitCode::SUCCESS)
        }
        Err(ParseError::Clap(e)) => {
            eprintln!("{}: {}", file.display(), e.render().to_string().trim_end());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("lantrust-server: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use clap::{ArgAction, CommandFactory};

    use super::*;

    /// Values tried, in order, for a flag with no default of its own: the first one its parser
    /// takes goes in the file. A new flag whose values look like none of these fails the test
    /// until a sample is added here.
    const SAMPLES: &[&str] = &[
        "1",
        "127.0.0.1:8443",
        "https://router.local:8443",
        "device-1.local=127.0.0.1:80",
        "/var/lib/lantrust",
        "true",
        "json",
    ];

    /// Every flag of `serve` — today's and any added later — has a key: a file setting each one
    /// passes `config check`, and `serve --config` parses it.
    #[test]
    fn every_serve_flag_is_accepted_in_the_file() {
        let sub = Cli::command()
            .find_subcommand(SPEC.subcommand)
            .cloned()
            .expect("serve");
        let dir = tempfile::tempdir().expect("tempdir");
        let probe = dir.path().join("probe.toml");
        let mut file = String::new();
        let mut keys = 0;
        for a in sub.get_arguments() {
            let Some(long) = a.get_long() else { continue };
            if matches!(a.get_action(), ArgAction::Help | ArgAction::Version) || long == "config" {
                continue;
            }
            let line = if matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
                format!("{long} = true")
            } else {
                let defaults = a
                    .get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned());
                let candidates: Vec<String> = defaults
                    .chain(SAMPLES.iter().map(|s| (*s).to_string()))
                    .collect();
                let line = candidates.iter().find_map(|v| {
                    let v = serde_json::Value::String(v.clone()).to_string();
                    let l = format!("{long} = {v}");
                    std::fs::write(&probe, &l).expect("write");
                    lantrust_cli::config::load(&sub, &probe).ok().map(|_| l)
                });
                line.unwrap_or_else(|| {
                    panic!("no sample value parses for --{long}; add one to SAMPLES")
                })
            };
            writeln!(file, "{line}").expect("fmt");
            keys += 1;
        }
        assert!(keys >= 15, "serve has {keys} flags?");
        let path = dir.path().join("all.toml");
        std::fs::write(&path, &file).expect("write");
        let out = lantrust_cli::config::check::<Cli>(&SPEC, &path)
            .unwrap_or_else(|e| panic!("{e}\n{file}"));
        // Every key comes back with the file as its source (unless the environment overrides).
        let from_file = out.lines().filter(|l| l.contains("all.toml:")).count();
        let from_env = out.lines().filter(|l| l.contains("# environment")).count();
        assert_eq!(from_file + from_env, keys, "{out}");
    }
}
