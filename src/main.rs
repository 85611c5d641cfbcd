//! The `groundwork` binary: the app when run without a command, the command line otherwise;
//! built for wasm32 (feature `phone`), the phone web app and its store worker.

#[cfg(not(target_arch = "wasm32"))]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(any(feature = "desktop", feature = "phone"))]
mod ui;

#[cfg(not(target_arch = "wasm32"))]
use std::process::ExitCode;

#[cfg(not(target_arch = "wasm32"))]
use clap::Parser;

/// In a browser: the app on the page, or the store in its Web Worker (the same wasm runs both).
#[cfg(target_arch = "wasm32")]
fn main() {
    browser::main();
}

#[cfg(not(target_arch = "wasm32"))]
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
