//! `serve --config FILE` and `config check FILE` for the device: the flags of `serve` read from
//! a TOML file by lantrust-cli's generic loader (each key is a `serve` flag's long name).

use std::path::Path;

use lantrust_cli::config::{ConfigCmd, ConfigSpec, ParseError};

/// `serve` reads the file; `LANTRUST_DEVICE_<FLAG>` environment variables override it.
pub(crate) const SPEC: ConfigSpec = ConfigSpec {
    subcommand: "serve",
    env_prefix: "LANTRUST_DEVICE_",
};

/// Runs a `config` command; `Ok(false)` when the file was refused (the reason is printed).
pub(crate) fn run(cmd: ConfigCmd) -> anyhow::Result<bool> {
    match cmd {
        ConfigCmd::Check { file } => Ok(check(&file)),
        _ => anyhow::bail!("this build does not know that `config` command"),
    }
}

fn check(file: &Path) -> bool {
    match lantrust_cli::config::check::<crate::Cli>(&SPEC, file) {
        Ok(settings) => {
            lantrust_cli::outln!("{}: OK; `serve --config` would run with:", file.display());
            lantrust_cli::out!("{settings}");
            true
        }
        Err(ParseError::Clap(e)) => {
            eprintln!("{}: {}", file.display(), e.render().to_string().trim_end());
            false
        }
        Err(e) => {
            eprintln!("lantrust-device: {e}");
            false
        }
    }
}
