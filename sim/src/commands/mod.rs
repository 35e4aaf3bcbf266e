//! The `sim` command's subcommands, as library functions that return the exit code: 0 pass, 1 failure found,
//! 2 bad input. `main.rs` only parses arguments and calls these; tests call them directly.

pub mod bench;
pub mod list;
pub mod merge;
pub mod repro;
pub mod run;
pub mod shrink;
pub mod sweep;

/// Exit code 2: bad input, after printing the error.
pub fn bad_input(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    2
}
