//! Configuration files for the binaries' long-running commands (`lantrust-server serve`,
//! `lantrust-device serve`): a flat TOML file whose keys are the command's long flag names.
//!
//! The mapping is built from clap's command definition at run time, so every flag — including
//! ones added later — has a key without extra code:
//!
//! - a key is a flag's long name (`http01-port`; `http01_port` is accepted too);
//! - a switch (`--auto-approve`) takes `true` or `false`; a repeatable flag (`--resolve`) takes
//!   an array or a single value; every other flag one value (string, integer, float or boolean);
//! - each value is checked with the flag's own parser, so a bad value is reported with the file
//!   and line, as is an unknown key;
//! - the file's values become the flags' defaults, so the order of precedence is: command line,
//!   then environment (`PREFIX_FLAG_NAME`, e.g. `LANTRUST_SERVER_LISTEN`), then the file, then
//!   the built-in default. A repeatable flag given on the command line replaces the file's list.
//!
//! `--config FILE` (or `PREFIX_CONFIG`) names the file.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::builder::Resettable;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory};
use toml::Spanned;

/// Which subcommand reads a configuration file, and its environment variables' prefix.
#[derive(Clone, Copy, Debug)]
pub struct ConfigSpec {
    /// The subcommand, e.g. `serve`.
    pub subcommand: &'static str,
    /// The prefix of its flags' environment variables, e.g. `LANTRUST_SERVER_` (the flag
    /// `--http01-port` is then `LANTRUST_SERVER_HTTP01_PORT`).
    pub env_prefix: &'static str,
}

/// The `config` subcommand of a binary whose `serve` reads a file.
#[derive(clap::Subcommand, Debug)]
#[non_exhaustive]
pub enum ConfigCmd {
    /// Check a configuration file: every key must name a flag of `serve`, every value must
    /// parse, and the required settings must be present (in the file or the environment).
    /// Prints the effective settings and where each comes from.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}: not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the error.
        line: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// A key names no flag of the command.
    #[error("{}:{line}: unknown key `{key}`: `{command}` has no --{key} flag{hint}", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the key.
        line: usize,
        /// The key as written.
        key: String,
        /// The command, e.g. `lantrust-server serve`.
        command: String,
        /// A suggestion (`; did you mean `listen`?`), or empty.
        hint: String,
    },
    /// A value has the wrong shape or does not parse as the flag's value.
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the value.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The command line (with the file's defaults) does not parse.
    #[error("{0}")]
    Cli(String),
}

/// One setting taken from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSetting {
    /// The clap argument id.
    pub id: String,
    /// The flag's long name.
    pub long: String,
    /// Its values, as clap will parse them.
    pub values: Vec<String>,
    /// The 1-based line of the key.
    pub line: usize,
}

/// Parses the process's command line (with `spec`'s subcommand reading `--config FILE`), or
/// prints the error and exits as clap does (status 2).
pub fn parse<P: clap::Parser>(spec: &ConfigSpec) -> P {
    match try_parse_from::<P>(spec, std::env::args_os().collect()) {
        Ok(p) => p,
        Err(ParseError::Clap(e)) => e.exit(),
        Err(ParseError::Config(e)) => {
            let bin = P::command().get_name().to_string();
            eprintln!("{bin}: error: {e}");
            std::process::exit(2)
        }
    }
}

/// Why [`try_parse_from`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The configuration file was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// clap refused the command line (or it asked for help or the version).
    #[error(transparent)]
    Clap(#[from] clap::Error),
}

/// Parses `argv` (program name first), reading `--config FILE` for `spec`'s subcommand.
///
/// # Errors
/// A refused file ([`ParseError::Config`]) or command line ([`ParseError::Clap`]).
pub fn try_parse_from<P: clap::Parser>(
    spec: &ConfigSpec,
    argv: Vec<OsString>,
) -> Result<P, ParseError> {
    let (mut cmd, _) = command_with_file::<P>(spec, &argv)?;
    let m = cmd.try_get_matches_from_mut(argv)?;
    P::from_arg_matches(&m).map_err(|e| ParseError::Clap(e.format(&mut cmd)))
}

/// `P`'s command with `spec`'s subcommand prepared (`--config`, environment variables) and, when
/// `argv` selects that subcommand with a file, the file's values as defaults.
fn command_with_file<P: CommandFactory>(
    spec: &ConfigSpec,
    argv: &[OsString],
) -> Result<(Command, Vec<FileSetting>), ConfigError> {
    let cmd = P::command().mut_subcommand(spec.subcommand, |s| prepare(s, spec));
    let Some(file) = config_path(spec, argv) else {
        return Ok((cmd, Vec::new()));
    };
    let sub = find_subcommand(&cmd, spec)?;
    let name = format!("{} {}", cmd.get_name(), spec.subcommand);
    let settings = load_named(&sub, &name, &file)?;
    let cmd = cmd.mut_subcommand(spec.subcommand, |mut s| {
        for set in &settings {
            s = s.mut_arg(&set.id, |a| apply(a, &set.values));
        }
        s
    });
    Ok((cmd, settings))
}

fn find_subcommand(cmd: &Command, spec: &ConfigSpec) -> Result<Command, ConfigError> {
    cmd.find_subcommand(spec.subcommand)
        .cloned()
        .ok_or_else(|| {
            ConfigError::Cli(format!(
                "`{}` has no `{}` subcommand",
                cmd.get_name(),
                spec.subcommand
            ))
        })
}

/// The file's values as the argument's defaults (below the command line and the environment).
fn apply(a: Arg, values: &[String]) -> Arg {
    // A required flag that the file sets is no longer missing when the command line omits it.
    let a = a.required(false);
    match values {
        [one] => a.default_value(OsStr::new(one).to_owned()),
        many => a.default_values(many.iter().map(|v| OsStr::new(v).to_owned())),
    }
}

/// Adds `--config FILE` and an environment variable to every flag that lacks one.
fn prepare(mut s: Command, spec: &ConfigSpec) -> Command {
    let longs: Vec<(String, String)> = s
        .get_arguments()
        .filter(|a| a.get_env().is_none() && !is_builtin(a))
        .filter_map(|a| {
            a.get_long()
                .map(|l| (a.get_id().to_string(), env_name(spec, l)))
        })
        .collect();
    for (id, env) in longs {
        s = s.mut_arg(id, |a| a.env(env));
    }
    if s.get_arguments().all(|a| a.get_id() != "config") {
        s = s.arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .env(env_name(spec, "config"))
                .help(
                    "Read settings from this TOML file: each key is a flag's long name \
                     (`listen = \"0.0.0.0:443\"`); flags and environment variables override it",
                ),
        );
    }
    s
}

fn is_builtin(a: &Arg) -> bool {
    matches!(
        a.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

fn env_name(spec: &ConfigSpec, long: &str) -> String {
    format!(
        "{}{}",
        spec.env_prefix,
        long.to_ascii_uppercase().replace('-', "_")
    )
}

/// The `--config` value when `argv` runs `spec`'s subcommand (else its environment variable).
fn config_path(spec: &ConfigSpec, argv: &[OsString]) -> Option<PathBuf> {
    // The top-level commands take no options before the subcommand but --help/--version.
    if argv.get(1).map(OsString::as_os_str) != Some(OsStr::new(spec.subcommand)) {
        return None;
    }
    let mut rest = argv.iter().skip(2);
    while let Some(a) = rest.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return rest.next().map(PathBuf::from);
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os(env_name(spec, "config")).map(PathBuf::from)
}

/// Reads and checks `file` against subcommand `sub`'s flags.
///
/// # Errors
/// The first problem found, with its line.
pub fn load(sub: &Command, file: &Path) -> Result<Vec<FileSetting>, ConfigError> {
    load_named(sub, sub.get_name(), file)
}

fn load_named(sub: &Command, name: &str, file: &Path) -> Result<Vec<FileSetting>, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    load_str(sub, name, file, &text)
}

type FileTable = std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>;

fn load_str(
    sub: &Command,
    command: &str,
    file: &Path,
    text: &str,
) -> Result<Vec<FileSetting>, ConfigError> {
    let table: FileTable = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: file.to_path_buf(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().to_string(),
    })?;
    let mut entries: Vec<_> = table.into_iter().collect();
    // In file order, so that the first problem reported is the first in the file.
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out: Vec<FileSetting> = Vec::new();
    for (key, value) in entries {
        let line = line_of(text, key.span().start);
        let name = key.get_ref().replace('_', "-");
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(name.as_str()) && a.get_id() != "config");
        let Some(arg) = arg.filter(|a| !is_builtin(a)) else {
            return Err(ConfigError::UnknownKey {
                path: file.to_path_buf(),
                line,
                key: key.get_ref().clone(),
                command: command.to_string(),
                hint: suggest(sub, &name),
            });
        };
        let bad = |message: String| ConfigError::BadValue {
            path: file.to_path_buf(),
            line: line_of(text, value.span().start),
            key: key.get_ref().clone(),
            message,
        };
        if let Some(prev) = out.iter().find(|s| s.long == name) {
            return Err(bad(format!(
                "set twice (also on line {}; `_` and `-` are the same)",
                prev.line
            )));
        }
        let values = values_of(arg, value.get_ref()).map_err(bad)?;
        validate(arg, &values).map_err(bad)?;
        out.push(FileSetting {
            id: arg.get_id().to_string(),
            long: name,
            values,
            line,
        });
    }
    Ok(out)
}

/// Runs the flag's own value parser (and possible values) over `values`, alone in a scratch
/// command: no environment, no defaults, nothing required, no relations to other flags.
fn validate(arg: &Arg, values: &[String]) -> Result<(), String> {
    let Some(long) = arg.get_long() else {
        return Ok(());
    };
    if matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
    ) {
        return Ok(()); // a TOML boolean or integer, checked by `values_of`
    }
    // The flag alone in a scratch command: its relations to other flags (conflicts, requires,
    // groups) name arguments that are not there, which clap's debug assertions refuse (e.g.
    // `admin-listen` conflicts with `no-http-admin`).
    let scratch = arg
        .clone()
        .conflicts_with(Resettable::Reset)
        .requires(Resettable::Reset)
        .overrides_with(Resettable::Reset)
        .required_unless_present(Resettable::Reset)
        .group(Resettable::Reset)
        .required(false)
        .env(Resettable::Reset)
        .default_values(Vec::<clap::builder::OsStr>::new())
        .action(ArgAction::Append);
    let mut argv: Vec<OsString> = Vec::new();
    for v in values {
        argv.push(format!("--{long}").into());
        argv.push(v.into());
    }
    Command::new("config")
        .no_binary_name(true)
        .disable_help_flag(true)
        .arg(scratch)
        .try_get_matches_from(argv)
        .map(|_| ())
        .map_err(|e| clap_message(&e))
}

/// The TOML value as the flag's argument strings.
fn values_of(arg: &Arg, v: &toml::Value) -> Result<Vec<String>, String> {
    let switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
    let repeatable = matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    if matches!(arg.get_action(), ArgAction::Count) {
        return match v {
            toml::Value::Integer(n) if *n >= 0 => Ok(vec![n.to_string()]),
            _ => Err("expects a count (a non-negative integer)".into()),
        };
    }
    if switch {
        return match v {
            toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
            other => Err(format!(
                "is a switch: write true or false, not {}",
                other.type_str()
            )),
        };
    }
    match v {
        toml::Value::Array(items) if repeatable => items.iter().map(scalar).collect(),
        toml::Value::Array(_) => Err("takes one value, not an array".into()),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn scalar(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expects a string, number or boolean, not {}",
            other.type_str()
        )),
    }
}

/// clap's message for a value error, without its `error: ` prefix and usage lines.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .trim()
        .to_string()
}

/// `; did you mean `x`?` for the closest flag name, if one is close.
fn suggest(sub: &Command, name: &str) -> String {
    sub.get_arguments()
        .filter(|a| !is_builtin(a) && a.get_id() != "config")
        .filter_map(Arg::get_long)
        .map(|l| (edit_distance(l, name), l))
        .filter(|(d, l)| *d <= 2.max(l.len() / 4))
        .min()
        .map(|(_, l)| format!("; did you mean `{l}`?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(i);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let left = row.get(j).copied().unwrap_or(usize::MAX - 1);
            let up = row.get(j + 1).copied().unwrap_or(usize::MAX - 1);
            let cost = if ca == *cb { prev } else { prev + 1 };
            let v = cost.min(left + 1).min(up + 1);
            prev = up;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = v;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `config check FILE`: parses `bin serve --config FILE` exactly as `serve` would (environment
/// included) and describes the effective settings, one `key = value  # source` line each.
///
/// # Errors
/// The file's first problem, or a required setting missing.
pub fn check<P: clap::Parser>(spec: &ConfigSpec, file: &Path) -> Result<String, ParseError> {
    let bin = P::command().get_name().to_string();
    let argv: Vec<OsString> = vec![
        bin.into(),
        spec.subcommand.into(),
        "--config".into(),
        file.as_os_str().to_owned(),
    ];
    let (mut cmd, settings) = command_with_file::<P>(spec, &argv)?;
    let m = cmd.try_get_matches_from_mut(argv)?;
    P::from_arg_matches(&m).map_err(|e| ParseError::Clap(e.format(&mut cmd)))?;
    // In the order `--help` lists them (setting a default moves an argument to the end).
    let sub = find_subcommand(
        &P::command().mut_subcommand(spec.subcommand, |s| prepare(s, spec)),
        spec,
    )?;
    let sm = m
        .subcommand_matches(spec.subcommand)
        .ok_or_else(|| ConfigError::Cli("the subcommand did not parse".into()))?;
    Ok(describe(&sub, sm, &settings, file))
}

fn describe(sub: &Command, m: &ArgMatches, settings: &[FileSetting], file: &Path) -> String {
    let mut out = String::new();
    for a in sub.get_arguments() {
        let (Some(long), id) = (a.get_long(), a.get_id().as_str()) else {
            continue;
        };
        if is_builtin(a) || id == "config" {
            continue;
        }
        let Some(raw) = m.get_raw(id) else { continue };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        let source = match m.value_source(id) {
            Some(ValueSource::EnvVariable) => format!(
                "environment {}",
                a.get_env()
                    .map_or_else(String::new, |e| e.to_string_lossy().into_owned())
            ),
            Some(ValueSource::CommandLine) => "command line".to_string(),
            _ => match settings.iter().find(|s| s.id == id) {
                Some(s) => format!("{}:{}", file.display(), s.line),
                None => "default".to_string(),
            },
        };
        let repeatable = matches!(a.get_action(), ArgAction::Append);
        let shown = match values.as_slice() {
            [one] if !repeatable => toml_literal(one),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|v| toml_literal(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(out, "{long} = {shown}  # {source}");
    }
    out
}

fn toml_literal(v: &str) -> String {
    if v == "true" || v == "false" || (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())) {
        v.to_string()
    } else {
        // A JSON string is a TOML basic string (same quotes and escapes).
        serde_json::Value::String(v.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(name = "demo")]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Cmd {
        Serve {
            #[arg(long)]
            state: PathBuf,
            #[arg(long, default_value_t = 80)]
            http01_port: u16,
            #[arg(long)]
            auto_approve: bool,
            #[arg(long = "resolve")]
            resolve: Vec<String>,
        },
        Other,
    }

    const SPEC: ConfigSpec = ConfigSpec {
        subcommand: "serve",
        env_prefix: "DEMO_TEST_",
    };

    fn serve_cmd() -> Command {
        let c = Cli::command().mut_subcommand("serve", |s| prepare(s, &SPEC));
        c.find_subcommand("serve").cloned().unwrap()
    }

    #[test]
    fn unknown_key_names_the_line_and_a_close_flag() {
        let text = "state = \"/x\"\n\n# comment\nhttp01-prot = 8080\n";
        let e = load_str(&serve_cmd(), "demo serve", Path::new("f.toml"), text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml:4: unknown key `http01-prot`: `demo serve` has no --http01-prot flag; did you mean `http01-port`?"
        );
    }

    #[test]
    fn values_are_checked_with_the_flags_parser() {
        let e = load_str(
            &serve_cmd(),
            "demo serve",
            Path::new("f.toml"),
            "http01_port = 70000\n",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("f.toml:1: `http01_port`: "), "{s}");
        assert!(s.contains("70000"), "{s}");
        let e = load_str(
            &serve_cmd(),
            "demo serve",
            Path::new("f.toml"),
            "\nauto-approve = \"yes\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml:2: `auto-approve`: is a switch: write true or false, not string"
        );
        let e = load_str(
            &serve_cmd(),
            "demo serve",
            Path::new("f.toml"),
            "state = [\"a\", \"b\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml:1: `state`: takes one value, not an array"
        );
        let e = load_str(
            &serve_cmd(),
            "demo serve",
            Path::new("f.toml"),
            "state = \"a\"\nstate = \"b\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2: not valid TOML"), "{e}");
        let e = load_str(
            &serve_cmd(),
            "demo serve",
            Path::new("f.toml"),
            "state = \"a\"\n[table]\nx = 1\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml:2: unknown key `table`: `demo serve` has no --table flag"
        );
    }

    #[test]
    fn flags_and_environment_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "state = \"/from/file\"\nhttp01-port = 8080\nauto-approve = true\nresolve = [\"a=1\", \"b=2\"]\n",
        )
        .unwrap();
        let argv = |extra: &[&str]| {
            let mut v: Vec<OsString> = vec!["demo".into(), "serve".into()];
            v.extend(extra.iter().map(OsString::from));
            v
        };
        let fs = f.to_str().unwrap();
        let Cmd::Serve {
            state,
            http01_port,
            auto_approve,
            resolve,
        } = try_parse_from::<Cli>(&SPEC, argv(&["--config", fs]))
            .unwrap()
            .cmd
        else {
            panic!()
        };
        assert_eq!(state, Path::new("/from/file"));
        assert_eq!(http01_port, 8080);
        assert!(auto_approve);
        assert_eq!(resolve, ["a=1", "b=2"]);
        let Cmd::Serve {
            state,
            http01_port,
            resolve,
            ..
        } = try_parse_from::<Cli>(
            &SPEC,
            argv(&[
                &format!("--config={fs}"),
                "--http01-port",
                "9",
                "--resolve",
                "c=3",
                "--state",
                "/cli",
            ]),
        )
        .unwrap()
        .cmd
        else {
            panic!()
        };
        assert_eq!((state.as_path(), http01_port), (Path::new("/cli"), 9));
        assert_eq!(resolve, ["c=3"]);
        // Without a file, the built-in default and the required check stand.
        assert!(try_parse_from::<Cli>(&SPEC, argv(&[])).is_err());
        let Cmd::Serve { http01_port, .. } = try_parse_from::<Cli>(&SPEC, argv(&["--state", "/s"]))
            .unwrap()
            .cmd
        else {
            panic!()
        };
        assert_eq!(http01_port, 80);
    }

    #[test]
    fn every_flag_has_a_key() {
        let sub = serve_cmd();
        for a in sub
            .get_arguments()
            .filter(|a| !is_builtin(a) && a.get_id() != "config")
        {
            let long = a.get_long().unwrap();
            let value = match a.get_action() {
                ArgAction::SetTrue => "true",
                _ if long == "http01-port" => "1",
                _ => "\"x\"",
            };
            let got = load_str(
                &sub,
                "demo serve",
                Path::new("f"),
                &format!("{long} = {value}\n"),
            )
            .unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].long, long);
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("listen", "listen"), 0);
        assert_eq!(edit_distance("listn", "listen"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
