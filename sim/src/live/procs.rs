//! The live cluster's processes: started, killed, paused, resumed and restarted from outside, as an operator or a
//! machine would, and every one of them stopped however the run ends.
//!
//! Three layers make sure no node outlives the run: the [`Procs`] table stops every process when it is dropped
//! (a normal end, an error, a panic); Ctrl-C stops them from the signal's own thread before the run winds down;
//! and each node is started with `--exit-with-parent`, so that even a harness killed with SIGKILL leaves none
//! behind for long.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long a started node may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// One node: how to start it, and the process running it, if any.
struct Node {
    args: Vec<OsString>,
    addr: std::net::SocketAddr,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
    starts: u32,
}

/// Every process of a live run.
#[derive(Clone)]
pub struct Procs {
    binary: PathBuf,
    table: Arc<Mutex<BTreeMap<String, Node>>>,
}

fn lock(table: &Mutex<BTreeMap<String, Node>>) -> std::sync::MutexGuard<'_, BTreeMap<String, Node>> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends `signal` (`STOP`, `CONT`, `TERM`) to a process through the `kill` command: std can only send SIGKILL.
fn signal(child: &Child, signal: &str) -> io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("kill -{signal} {} failed: {status}", child.id())))
    }
}

impl Procs {
    pub fn new(binary: &Path) -> Procs {
        Procs { binary: binary.to_path_buf(), table: Arc::default() }
    }

    /// Adds a node: its arguments (beyond `--exit-with-parent`), the address it listens on, and its log file,
    /// which every start of the node appends to.
    pub fn add(&self, name: &str, args: Vec<OsString>, addr: std::net::SocketAddr, log: PathBuf) {
        lock(&self.table).insert(name.to_string(), Node { args, addr, log, child: None, paused: false, starts: 0 });
    }

    pub fn names(&self) -> Vec<String> {
        lock(&self.table).keys().cloned().collect()
    }

    pub fn logs(&self) -> BTreeMap<String, PathBuf> {
        lock(&self.table).iter().map(|(name, node)| (name.clone(), node.log.clone())).collect()
    }

    /// Starts the node (again), and waits until it accepts connections.
    pub fn start(&self, name: &str) -> io::Result<()> {
        let addr = {
            let mut table = lock(&self.table);
            let node = table.get_mut(name).ok_or_else(|| io::Error::other(format!("no node named {name}")))?;
            if node.child.is_some() {
                return Ok(());
            }
            let log = OpenOptions::new().create(true).append(true).open(&node.log)?;
            node.starts += 1;
            use std::io::Write;
            writeln!(&log, "---- live: start {} of {name}", node.starts)?;
            let child = Command::new(&self.binary)
                .args(&node.args)
                .arg("--exit-with-parent")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| io::Error::other(format!("starting {}: {e}", self.binary.display())))?;
            node.child = Some(child);
            node.paused = false;
            node.addr
        };
        self.wait_ready(name, addr)
    }

    fn wait_ready(&self, name: &str, addr: std::net::SocketAddr) -> io::Result<()> {
        // Outside any simulation: a live run waits on the real clock.
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(node) = lock(&self.table).get_mut(name) {
                if let Some(child) = &mut node.child {
                    if let Ok(Some(status)) = child.try_wait() {
                        node.child = None;
                        return Err(io::Error::other(format!(
                            "{name} exited at start ({status}); its log: {}",
                            node.log.display()
                        )));
                    }
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(io::Error::other(format!("{name} did not accept connections on {addr} within 15s")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: the process dies at once, with whatever it had not synced.
    pub fn kill(&self, name: &str) -> io::Result<()> {
        let mut table = lock(&self.table);
        let node = table.get_mut(name).ok_or_else(|| io::Error::other(format!("no node named {name}")))?;
        if let Some(mut child) = node.child.take() {
            child.kill()?;
            child.wait()?;
        }
        node.paused = false;
        Ok(())
    }

    /// SIGSTOP: the process stops where it is; its connections stay open and nothing answers.
    pub fn pause(&self, name: &str) -> io::Result<()> {
        let mut table = lock(&self.table);
        let node = table.get_mut(name).ok_or_else(|| io::Error::other(format!("no node named {name}")))?;
        if let Some(child) = &node.child {
            signal(child, "STOP")?;
            node.paused = true;
        }
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&self, name: &str) -> io::Result<()> {
        let mut table = lock(&self.table);
        let node = table.get_mut(name).ok_or_else(|| io::Error::other(format!("no node named {name}")))?;
        if let (Some(child), true) = (&node.child, node.paused) {
            signal(child, "CONT")?;
            node.paused = false;
        }
        Ok(())
    }

    /// Every node that is not running: after the heal, each is started again.
    pub fn down(&self) -> Vec<String> {
        lock(&self.table).iter().filter(|(_, n)| n.child.is_none()).map(|(name, _)| name.clone()).collect()
    }

    /// Every node that is paused.
    pub fn paused(&self) -> Vec<String> {
        lock(&self.table).iter().filter(|(_, n)| n.paused).map(|(name, _)| name.clone()).collect()
    }

    /// Stops every process: resumed if paused, SIGTERM, and SIGKILL if it has not exited within the grace.
    pub fn stop_all(&self) {
        let mut table = lock(&self.table);
        for node in table.values_mut() {
            if let Some(child) = &node.child {
                let _ = signal(child, "CONT");
                let _ = signal(child, "TERM");
            }
        }
        let deadline = std::time::Instant::now() + STOP_GRACE;
        for node in table.values_mut() {
            let Some(mut child) = node.child.take() else { continue };
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
            node.paused = false;
        }
    }

    /// Kills every process at once, without waiting for a clean stop (Ctrl-C).
    pub fn kill_all(&self) {
        let mut table = lock(&self.table);
        for node in table.values_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// The process ids running now (for the test that no process outlives a run).
    pub fn pids(&self) -> Vec<u32> {
        lock(&self.table).values().filter_map(|n| n.child.as_ref().map(Child::id)).collect()
    }
}

/// Stops every process when the run's last handle goes, however it ends.
pub struct StopOnDrop(pub Procs);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop_all();
    }
}
