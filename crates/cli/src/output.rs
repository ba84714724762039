//! What goes to standard output: human-readable lines (the default), nothing
//! (`--quiet`), or one JSON object per event (`--log-format json`, and `--json` on
//! `ingest` and `sample`) for schedulers and scripts. Progress bars go to stderr and
//! only in the text format.

use serde::Serialize;
use std::io::Write;
use std::sync::OnceLock;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line, each with an `event` key.
    Json,
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    quiet: bool,
    format: LogFormat,
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// Sets the output mode for the whole process (the first call wins).
pub fn init(quiet: bool, format: LogFormat) {
    let _ = MODE.set(Mode { quiet, format });
}

fn mode() -> Mode {
    *MODE.get_or_init(|| Mode {
        quiet: false,
        format: LogFormat::Text,
    })
}

/// Whether human-readable lines are printed.
pub fn text() -> bool {
    let m = mode();
    !m.quiet && m.format == LogFormat::Text
}

/// Whether JSON events are printed.
pub fn json() -> bool {
    mode().format == LogFormat::Json
}

/// Prints `event` as one JSON line in the JSON format (a no-op otherwise).
pub fn emit(event: &impl Serialize) -> anyhow::Result<()> {
    if !json() {
        return Ok(());
    }
    let line = serde_json::to_string(event)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
