//! The `negsamp` command: glue between the command line and the library crates.
//! Argument definitions live in [`cli`], one function per subcommand in
//! [`commands`]; everything that does real work is in `negsamp-store` and
//! `negsamp-engine`.

mod bench;
mod cli;
mod commands;
mod progress;

use clap::Parser;
use std::process::ExitCode;

/// Exit codes, in one place: 0 success, 1 bad input or a failed check, 2 usage
/// errors — clap's own and a request the engine refuses as a configuration error.
#[derive(Debug, Clone, Copy)]
enum Exit {
    Failure = 1,
    Usage = 2,
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            let usage = err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<negsamp_engine::EngineError>(),
                    Some(negsamp_engine::EngineError::Config(_))
                )
            });
            ExitCode::from(if usage { Exit::Usage } else { Exit::Failure } as u8)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
