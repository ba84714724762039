//! The `negsamp` command: glue between the command line and the library crates.
//! Argument definitions live in [`cli`], one function per subcommand in
//! [`commands`]; everything that does real work is in `negsamp-store` and
//! `negsamp-engine`.

/// `println!` that returns a write error (`negsamp info > /dev/full`) instead of
/// panicking; a closed pipe still ends the program quietly (see `is_broken_pipe`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err(|e| anyhow::Error::new(e).context("writing to standard output"))?
    }};
}

mod bench;
mod cli;
mod commands;
mod progress;

use clap::Parser;
use std::process::ExitCode;

/// Exit codes, in one place: 0 success, 1 bad input or a failed check, 2 usage
/// errors — clap's own and a request the engine refuses as a configuration error —, 3
/// the output is being written by another process (retry later).
#[derive(Debug, Clone, Copy)]
enum Exit {
    Failure = 1,
    Usage = 2,
    Locked = 3,
}

fn main() -> ExitCode {
    report_sigbus();
    let args = cli::Args::parse();
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err) as u8)
        }
    }
}

/// Stores are mapped, and a store file truncated or rewritten in place while mapped
/// makes reads past its new end fault with SIGBUS — documented as unsupported
/// (`negsamp-store`'s `mapping`). The kernel's default is a silent kill; this handler
/// says what happened instead, then exits 1 like any failure.
fn report_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MESSAGE: &[u8] = b"error: a store file was truncated or rewritten while negsamp had it mapped (SIGBUS). Stores must never be edited in place: re-ingest to a new directory (publishing replaces it atomically), then rerun.\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe, and MESSAGE is static.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(Exit::Failure as libc::c_int);
        }
    }
    // SAFETY: the handler calls only async-signal-safe functions and touches no state.
    unsafe {
        libc::signal(libc::SIGBUS, on_sigbus as *const () as libc::sighandler_t);
    }
}

fn exit_code(err: &anyhow::Error) -> Exit {
    use negsamp_engine::EngineError;
    use negsamp_store::{IngestError, StoreError};
    for e in err.chain() {
        let store = e
            .downcast_ref::<StoreError>()
            .or(match e.downcast_ref::<EngineError>() {
                Some(EngineError::Store(s)) => Some(s),
                _ => None,
            })
            .or(match e.downcast_ref::<IngestError>() {
                Some(IngestError::Store(s)) => Some(s),
                _ => None,
            });
        if matches!(store, Some(StoreError::Busy { .. })) {
            return Exit::Locked;
        }
        if matches!(
            e.downcast_ref::<EngineError>(),
            Some(EngineError::Config(_))
        ) {
            return Exit::Usage;
        }
    }
    Exit::Failure
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
