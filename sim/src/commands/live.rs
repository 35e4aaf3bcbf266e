//! `sim live`: builds the real variant (the `node` binary and `sim-live`, without `--cfg madsim`, in a target
//! folder of their own so that the two variants never rebuild each other) and runs `sim-live` with the same
//! arguments. Its exit code is the live run's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct LiveArgs {
    /// The arguments of `sim-live` (`cargo sim live --help` shows them): `--scenario NAME`, `--crash NODE@AT+FOR`,
    /// `--pause NODE@AT+FOR`, `--safety`, `--json`, ...
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// The workspace the sim binary was built from: where the real variant is built.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The real variant's target folder.
pub fn live_target() -> PathBuf {
    workspace().join("target").join("live")
}

pub fn live(args: LiveArgs) -> u8 {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = live_target();
    crate::errln!("live: building the real variant (node, sim-live) in {}", target.display());
    // An empty RUSTFLAGS replaces the workspace's `--cfg madsim`: the unsimulated build.
    let built = Command::new(&cargo)
        .current_dir(workspace())
        .args([
            "build",
            "--profile",
            "live",
            "--locked",
            "-p",
            "system",
            "--bin",
            "node",
            "-p",
            "sim",
            "--bin",
            "sim-live",
        ])
        .arg("--target-dir")
        .arg(&target)
        .env("RUSTFLAGS", "")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status();
    match built {
        Ok(status) if status.success() => {}
        Ok(status) => {
            crate::errln!("error: building the real variant failed ({status})");
            return super::EXIT_HARNESS_ERROR;
        }
        Err(e) => {
            crate::errln!("error: cannot run {}: {e}", cargo.to_string_lossy());
            return super::EXIT_HARNESS_ERROR;
        }
    }
    let binary = target.join("live").join("sim-live");
    let mut child = match Command::new(&binary).args(&args.args).spawn() {
        Ok(child) => child,
        Err(e) => {
            crate::errln!("error: cannot run {}: {e}", binary.display());
            return super::EXIT_HARNESS_ERROR;
        }
    };
    // Ctrl-C or SIGTERM here is passed on as SIGTERM: the live run stops its nodes and reports, and this process
    // waits for it instead of dying first and leaving it behind.
    let pid = child.id().to_string();
    let _ = ctrlc::set_handler(move || {
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    });
    match child.wait() {
        Ok(status) => status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(super::EXIT_INCOMPLETE),
        Err(e) => {
            crate::errln!("error: waiting for {}: {e}", binary.display());
            super::EXIT_HARNESS_ERROR
        }
    }
}
