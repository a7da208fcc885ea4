//! The `leadmap` binary: parse the command line, run the command, report errors. All logic lives in the
//! library (`leadmap::cli`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = leadmap::cli::Cli::parse();
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
