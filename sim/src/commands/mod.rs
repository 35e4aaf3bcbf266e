//! The `sim` command's subcommands, as library functions that return the exit code. `main.rs` only parses
//! arguments and calls these; tests call them directly.
//!
//! Exit codes, the same for every subcommand:
//! - 0: passed (every seed passed, every canary was caught, every required mark was reached);
//! - 1: a failure was found (or a canary was missed, or a required coverage mark was never reached);
//! - 2: bad input: unknown scenario, malformed file, bad argument, an output path that cannot be written;
//! - 3: incomplete: interrupted (Ctrl-C, SIGTERM) before the end with nothing failed so far, or a merge that lacks
//!   shards. Never a pass;
//! - 4: the run finished but its results could not all be written (a report or seed file).
//!
//! A closed stdout (`sim list | head -n1`) is not an error: output stops, the command finishes its work
//! (report files included) and exits with its verdict's code.

pub mod bench;
pub mod explore;
pub mod list;
pub mod merge;
pub mod repro;
pub mod run;
pub mod shrink;
pub mod sweep;

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_INCOMPLETE: u8 = 3;
pub const EXIT_OUTPUT_LOST: u8 = 4;

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  passed
  1  a failure was found (or a canary missed, or a required coverage mark never reached)
  2  bad input: unknown scenario, malformed file, bad argument, or an output path that cannot be written
  3  incomplete: interrupted by Ctrl-C or SIGTERM with nothing failed so far, or a merge missing shards
  4  finished, but a report or seed file could not be written
A closed output pipe (`sim list | head`) is not an error: the command finishes and exits with its verdict.";

/// Exit code 2: bad input, after printing the error.
pub fn bad_input(message: impl std::fmt::Display) -> u8 {
    crate::errln!("error: {message}");
    EXIT_BAD_INPUT
}
