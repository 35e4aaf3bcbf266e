//! Decides whether the timeline's browser test runs: where Chromium is installed, or where a missing browser must
//! be a failure (`CI` or `SIM_BROWSER_REQUIRED` set). Elsewhere the test is compiled as ignored, so that
//! `cargo test` reports it as ignored rather than as a pass that checked nothing.

use std::path::Path;

const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

// A build script speaks to cargo through its stdout; there is no pipe for a reader to close.
#[allow(clippy::disallowed_macros)]
fn main() {
    println!("cargo::rustc-check-cfg=cfg(browser_test)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=SIM_BROWSER_REQUIRED");
    println!("cargo::rerun-if-env-changed=PATH");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path).collect();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        // Installing a browser later changes a folder of the PATH: the next build looks again.
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    let found = dirs.iter().any(|dir| BROWSERS.iter().any(|name| Path::new(dir).join(name).is_file()));
    let required = std::env::var_os("CI").is_some() || std::env::var_os("SIM_BROWSER_REQUIRED").is_some();
    if found || required {
        println!("cargo::rustc-cfg=browser_test");
    }
}
