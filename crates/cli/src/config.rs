//! `negsamp build`'s TOML config. The `[ingest]` and `[sample]` tables take every
//! option of those commands under its flag's name (`user-col`, `split-at`, …); each
//! table is turned into the command line it stands for and parsed by the very clap
//! definitions of the command, so names, defaults, validation and messages are the
//! CLI's. Relative paths are relative to the config file.

use crate::cli::{IngestArgs, SampleArgs};
use anyhow::{anyhow, Context, Result};
use clap::{ArgAction, Command};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Builds kept by default, the current one included.
const DEFAULT_KEEP: usize = 3;
const TOP_LEVEL: [&str; 5] = ["input", "root", "keep", "ingest", "sample"];
/// Options of `ingest`/`sample` that `build` sets itself.
const SET_BY_BUILD: [&str; 7] = ["csv", "store", "out", "overwrite", "fsync", "json", "help"];
/// Options whose value names a file (resolved against the config's directory).
const PATH_KEYS: [&str; 7] = [
    "items",
    "weights",
    "exclude",
    "user-emb",
    "item-emb",
    "user-emb-ids",
    "item-emb-ids",
];

/// A parsed build config.
#[derive(Debug)]
pub struct BuildConfig {
    pub input: PathBuf,
    pub root: PathBuf,
    pub keep: usize,
    pub ingest: IngestArgs,
    pub sample: SampleArgs,
    /// `[ingest]` and `[sample]` as the command lines they stand for: the settings
    /// that make a build's data (hashed into its id).
    pub settings: serde_json::Value,
}

/// A config error: the CLI exits 2 on it.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

pub fn load(path: &Path) -> Result<BuildConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the build config {}", path.display()))?;
    let bad = |message: String| anyhow!(ConfigError(format!("{}: {message}", path.display())));
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        bad(format!("not valid TOML: {}", e.to_string().trim_end()))
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    for key in table.keys() {
        check_known(key, &TOP_LEVEL).map_err(bad)?;
    }
    let path_value = |key: &str| -> Result<PathBuf> {
        match table.get(key) {
            Some(Value::String(s)) => Ok(base.join(s)),
            Some(_) => Err(bad(format!("`{key}` must be a string (a path)"))),
            None => Err(bad(format!("`{key}` is required"))),
        }
    };
    let input = path_value("input")?;
    let root = path_value("root")?;
    let keep = match table.get("keep") {
        None => DEFAULT_KEEP,
        Some(Value::Integer(n)) if *n >= 1 => *n as usize,
        Some(other) => {
            return Err(bad(format!(
                "`keep = {}`: the number of builds kept, at least 1 (the current one)",
                scalar(other).unwrap_or_else(|t| t.to_owned())
            )))
        }
    };
    let section = |name: &str| -> Result<Table> {
        match table.get(name) {
            None => Ok(Table::new()),
            Some(Value::Table(t)) => Ok(t.clone()),
            Some(_) => Err(bad(format!("`{name}` must be a table: [{name}]"))),
        }
    };
    // `build` fills the positional and output arguments; the placeholders never reach
    // a file.
    let input_arg = input.display().to_string();
    let reserved = Reserved {
        keys: &SET_BY_BUILD,
        why: "is set by the build itself; remove it",
    };
    let (ingest, ingest_line) = parse_options::<IngestArgs>(
        "ingest",
        &section("ingest")?,
        base,
        &[&input_arg, "--out", "-"],
        reserved,
    )
    .map_err(|m| bad(format!("[ingest] {m}")))?;
    let (sample, sample_line) = parse_options::<SampleArgs>(
        "sample",
        &section("sample")?,
        base,
        &["-", "--out", "-"],
        reserved,
    )
    .map_err(|m| bad(format!("[sample] {m}")))?;
    let settings = serde_json::json!({ "ingest": ingest_line, "sample": sample_line });
    Ok(BuildConfig {
        input,
        root,
        keep,
        ingest,
        sample,
        settings,
    })
}

/// Options a caller sets itself, and what to say when they are given anyway.
#[derive(Debug, Clone, Copy)]
pub struct Reserved<'a> {
    pub keys: &'a [&'a str],
    pub why: &'a str,
}

/// Options given as key/value pairs (a config table, Python keyword arguments) parsed
/// as the command line of `name` they stand for, `leading` arguments first. Returns
/// the parsed arguments and the options as command-line arguments (in key order).
pub fn parse_options<T: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    pairs: &Table,
    base: &Path,
    leading: &[&str],
    reserved: Reserved<'_>,
) -> Result<(T, Vec<String>), String> {
    let command = T::augment_args(Command::new(name));
    let line = command_line(&command, pairs, base, leading, reserved)?;
    let parsed = parse(command, &line)?;
    Ok((parsed, line[1 + leading.len()..].to_vec()))
}

/// The command line a table stands for: `leading` arguments, then one `--key=value`
/// (or `--flag`) per key, in key order.
fn command_line(
    command: &Command,
    table: &Table,
    base: &Path,
    leading: &[&str],
    reserved: Reserved<'_>,
) -> Result<Vec<String>, String> {
    let args: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|a| a.get_long().is_some_and(|l| !reserved.keys.contains(&l)))
        .collect();
    let names: Vec<&str> = args.iter().filter_map(|a| a.get_long()).collect();
    let mut line: Vec<String> = std::iter::once(command.get_name().to_owned())
        .chain(leading.iter().map(|s| s.to_string()))
        .collect();
    for (key, value) in table {
        if reserved.keys.contains(&key.as_str()) {
            return Err(format!("`{key}` {}", reserved.why));
        }
        check_known(key, &names)?;
        let arg = args
            .iter()
            .find(|a| a.get_long() == Some(key))
            .expect("a known key");
        let is_flag = matches!(arg.get_action(), ArgAction::SetTrue);
        match value {
            Value::Boolean(true) if is_flag => line.push(format!("--{key}")),
            Value::Boolean(false) if is_flag => {}
            _ if is_flag => return Err(format!("`{key}` is a switch: true or false")),
            Value::Boolean(_) | Value::Table(_) => {
                return Err(format!("`{key}` takes a value, not {}", value.type_str()))
            }
            Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(scalar)
                    .collect::<Result<_, _>>()
                    .map_err(|what| {
                        format!("`{key}`: a list of strings or numbers, not of {what}")
                    })?;
                line.push(format!("--{key}={}", items.join(",")));
            }
            scalar_value => {
                let mut text = scalar(scalar_value).expect("a scalar");
                if PATH_KEYS.contains(&key.as_str()) {
                    text = base.join(&text).display().to_string();
                }
                line.push(format!("--{key}={text}"));
            }
        }
    }
    Ok(line)
}

/// A TOML scalar as command-line text.
fn scalar(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        Value::Float(x) => Ok(x.to_string()),
        Value::Datetime(d) => Ok(d.to_string()),
        other => Err(other.type_str()),
    }
}

/// Parses a command line with the command's own definitions, keeping clap's message
/// (which names the option) without its usage footer.
fn parse<T: clap::FromArgMatches>(command: Command, line: &[String]) -> Result<T, String> {
    let first_line = |e: clap::Error| {
        let text = e.render().to_string();
        let line = text.lines().next().unwrap_or_default();
        line.trim_start_matches("error: ").to_owned()
    };
    let matches = command.try_get_matches_from(line).map_err(first_line)?;
    T::from_arg_matches(&matches).map_err(first_line)
}

/// Refuses a key that is not one of `valid`, naming the closest valid one.
pub fn check_known(key: &str, valid: &[&str]) -> Result<(), String> {
    if valid.contains(&key) {
        return Ok(());
    }
    let closest = valid
        .iter()
        .map(|v| (strsim::jaro_winkler(key, v), *v))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.7)
        .map(|(_, v)| format!("; did you mean `{v}`?"))
        .unwrap_or_default();
    Err(format!(
        "unknown key `{key}`{closest} (valid: {})",
        valid.join(", ")
    ))
}
