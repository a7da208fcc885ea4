//! The `leadmap` binary: parse the command line, start logging, run the command, report errors. All logic lives in the
//! library (`leadmap::cli`).

use std::process::ExitCode;

/// mimalloc: a request allocates and frees many small buffers from two threads; glibc's malloc spent
/// about a tenth of the service's CPU time on them under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `--version` names the embedded zone and rule sets too (read only when it is asked for).
    let long = std::env::args_os().skip(1).any(|a| a == "--version").then(leadmap::cli::long_version);
    let mut command = <leadmap::cli::Cli as clap::CommandFactory>::command();
    if let Some(text) = long {
        command = command.long_version(&*Box::leak(text.into_boxed_str()));
    }
    // `serve --config FILE`: its options become arguments, the command line's and the environment's win.
    let args = match leadmap::cli::config::expand(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("leadmap: error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = match <leadmap::cli::Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Logs go to stderr; LEADMAP_LOG (e.g. `debug`, `leadmap=info,tower=warn`) picks what is shown.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADMAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // LEADMAP_LOG_FORMAT=json gives one JSON object per line, for log shippers.
    // Lines are gathered in memory and written in batches by a background thread, so a request never
    // waits on a write to stderr; none are dropped (a full buffer makes callers wait instead), and all
    // are written out when `guard` goes.
    let (writer, guard) = leadmap::logging::LogSink::new(std::io::stderr());
    // Colours only on a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    if std::env::var("LEADMAP_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.event_format(leadmap::logging::PlainLines).init();
    }
    let result = leadmap::cli::run(cli);
    drop(guard); // every log line out before the error message or the exit
    match result {
        Ok(code) => code,
        Err(e) => {
            // Each error's message already names its cause; print it once.
            eprintln!("leadmap: error: {e}");
            ExitCode::FAILURE
        }
    }
}
