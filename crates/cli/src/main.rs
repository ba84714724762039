//! The `negsamp` command: glue between the command line and the library crates.
//! Argument definitions live in [`cli`], one function per subcommand in
//! [`commands`]; everything that does real work is in `negsamp-store` and
//! `negsamp-engine`.

/// `println!` for the text output format (silent with `--quiet` or
/// `--log-format json`) that returns a write error (`negsamp info > /dev/full`)
/// instead of panicking; a closed pipe still ends the program quietly (see
/// `is_broken_pipe`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if ::negsamp::output::text() {
            writeln!(std::io::stdout(), $($arg)*).map_err(|e| anyhow::Error::new(e).context("writing to standard output"))?
        }
    }};
}

/// Large buffers on transparent huge pages where they pay (see `HugePageAlloc`; `main`
/// decides).
#[global_allocator]
static ALLOCATOR: negsamp_store::resources::HugePageAlloc = negsamp_store::resources::HugePageAlloc;

mod bench;
mod build;
mod commands;
mod progress;

use negsamp::{cli, config, output};

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
    negsamp_store::resources::advise_huge_pages_where_they_pay();
    let args = cli::Args::parse();
    output::init(args.quiet, log_format(&args));
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let code = exit_code(&err);
            eprintln!("error: {err:#}");
            let _ = output::emit(&serde_json::json!({
                "event": "error",
                "message": format!("{err:#}"),
                "exit_code": code as u8,
            }));
            ExitCode::from(code as u8)
        }
    }
}

/// `--log-format`, or JSON when a command's `--json` asks for its summary so.
fn log_format(args: &cli::Args) -> output::LogFormat {
    match &args.command {
        cli::Command::Ingest(a) if a.json => output::LogFormat::Json,
        cli::Command::Sample(a) if a.json => output::LogFormat::Json,
        _ => args.log_format,
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
    match err.chain().find_map(negsamp::errors::kind) {
        Some(negsamp::errors::Kind::Config) => Exit::Usage,
        Some(negsamp::errors::Kind::Busy) => Exit::Locked,
        None => Exit::Failure,
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
