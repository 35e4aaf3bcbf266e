//! `sim-live`: the live mode's binary, built without `--cfg madsim` (see `sim::live`). `cargo sim live` builds
//! it and runs it; it can be run by hand as well.

#[cfg(not(madsim))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    std::process::ExitCode::from(sim::live::run(sim::live::LiveArgs::parse()))
}

#[cfg(madsim)]
fn main() -> std::process::ExitCode {
    sim::errln!(
        "sim-live: this binary was built for simulation (--cfg madsim); the live mode needs the real variant. Run \
         `cargo sim live ...`, which builds it."
    );
    std::process::ExitCode::from(2)
}
