//! The `sim` command's subcommands, as library functions that return the exit code. `main.rs` only parses
//! arguments and calls these; tests call them directly.
//!
//! Exit codes, the same for every subcommand:
//! - 0: passed (every seed passed, every canary was caught, every required mark was reached);
//! - 1: a failure was found (or a canary was missed, or a required coverage mark was never reached);
//! - 2: bad input: unknown scenario, malformed file, bad argument, an output path that cannot be written;
//! - 3: incomplete: interrupted (Ctrl-C, SIGTERM) before the end with nothing failed so far, or a merge that lacks
//!   shards. Never a pass;
//! - 4: the run finished but its results could not all be written (a report or seed file);
//! - 5: the harness itself broke down (a panic outside the system's code): no verdict on the system.
//!
//! A closed stdout (`sim list | head -n1`) is not an error: output stops, the command finishes its work
//! (report files included) and exits with its verdict's code.

pub mod bench;
pub mod explore;
pub mod list;
pub mod live;
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
pub const EXIT_HARNESS_ERROR: u8 = 5;

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  passed
  1  a failure was found (or a canary missed, or a required coverage mark never reached)
  2  bad input: unknown scenario, malformed file, bad argument, or an output path that cannot be written
  3  incomplete: interrupted by Ctrl-C or SIGTERM with nothing failed so far, or a merge missing shards
  4  finished, but a report or seed file could not be written
  5  the harness itself broke down (a panic outside the system's code, in the harness or madsim): not a verdict
     on the system; please report it with the command that shows it
  101  a panic of the command itself, outside any run (a bug of the harness: please report it)
  130  a second Ctrl-C or SIGTERM aborted at once (the first one stops cleanly: exit 3 or 1)
  134  aborted by the OS (out of memory, for example: lower --jobs or the scenario's size)
A closed output pipe (`sim list | head`) is not an error: the command finishes and exits with its verdict.";

/// The exit code of one run's outcome: 0 passed, 1 failed, 5 if the harness itself broke down.
pub fn exit_of(outcome: &crate::outcome::Outcome) -> u8 {
    if outcome.violations.iter().any(|v| v.kind == crate::outcome::ViolationKind::HarnessError) {
        crate::errln!(
            "error: the harness itself broke down in this run (not a verdict on the system): please report it"
        );
        EXIT_HARNESS_ERROR
    } else if outcome.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

/// Exit code 2: bad input, after printing the error.
pub fn bad_input(message: impl std::fmt::Display) -> u8 {
    crate::errln!("error: {message}");
    EXIT_BAD_INPUT
}
