//! Writing to stdout and stderr without panicking when the reader has gone away. `cargo sim list | head -n1`
//! closes the pipe after one line; `println!` would panic on the next write (exit 101), and a sweep would lose
//! its reports. Here a closed stream is a normal end of that stream: later writes to it are skipped, and the
//! command goes on to its own end (writing its report files) and exits with its verdict's code.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

fn write(closed: &AtomicBool, mut stream: impl Write, args: fmt::Arguments) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = stream.write_fmt(args).and_then(|()| stream.flush()) {
        // A closed pipe, or any other failure to write to a terminal stream: there is nobody left to tell.
        let _ = e;
        closed.store(true, Ordering::Relaxed);
    }
}

/// Writes to stdout; see the module's documentation.
pub fn out(args: fmt::Arguments) {
    write(&STDOUT_CLOSED, std::io::stdout().lock(), args);
}

/// Writes to stderr; see the module's documentation.
pub fn err(args: fmt::Arguments) {
    write(&STDERR_CLOSED, std::io::stderr().lock(), args);
}

/// Whether stdout's reader has gone away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `println!` that survives a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that survives a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::out(format_args!($($arg)*)) };
}

/// `eprintln!` that survives a closed pipe.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::err(format_args!("{}\n", format_args!($($arg)*))) };
}
