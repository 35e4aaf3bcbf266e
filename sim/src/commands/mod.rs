//! The `sim` command's subcommands, as library functions that return an exit code: 0 pass, 1 failure found,
//! 2 bad input. `main.rs` only parses arguments and calls these.

pub mod list;
pub mod run;
pub mod sweep;

use std::process::ExitCode;

/// Exit code 2: bad input, after printing the error.
pub fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
