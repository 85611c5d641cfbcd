//! The `groundwork` binary: the app when run without a command, the command line otherwise.

mod app;
mod cli;
#[cfg(any(feature = "desktop", feature = "web"))]
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    let dir = match cli::data_dir(args.data_dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let result = match args.command {
        Some(command) => cli::run(&dir, command),
        None => app::run(&dir).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
