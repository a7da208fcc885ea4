//! The `leadmap` binary: parse the command line, start logging, run the command, report errors. All logic lives in the
//! library (`leadmap::cli`).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: a request allocates and frees many small buffers from two threads; glibc's malloc spent
/// about a tenth of the service's CPU time on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = leadmap::cli::Cli::parse();
    // Logs go to stderr; LEADMAP_LOG (e.g. `debug`, `leadmap=info,tower=warn`) picks what is shown.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADMAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // LEADMAP_LOG_FORMAT=json gives one JSON object per line, for log shippers.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("LEADMAP_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
    match leadmap::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Each error's message already names its cause; print it once.
            let e = anyhow::Error::from(e);
            eprintln!("leadmap: error: {e}");
            ExitCode::FAILURE
        }
    }
}
