//! The `kith` binary: parse the command line, dispatch, exit.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    cli::complete_if_asked();
    cli::run(cli::Cli::parse())
}
