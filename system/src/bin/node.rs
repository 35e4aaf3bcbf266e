//! One node of the system as a real process: a real clock, a disk on a file, TCP on a real network, `tracing`
//! logs on stderr, and a clean stop on SIGTERM.
//!
//! ```text
//! RUSTFLAGS="" cargo build --profile live -p system --bin node --target-dir target/live   # the unsimulated variant
//! node --role store  --listen 127.0.0.1:7100 --store 127.0.0.1:7100 --queue 127.0.0.1:7101 \
//!      --ingest 127.0.0.1:7102 --data /var/lib/jobs/store
//! ```
//!
//! Every node is told the whole topology (`--store`, `--queue`, `--ingest`, repeatable) and listens on its own
//! `--listen` address. The store and the queue keep their log in `--data`. The system's knobs and flaws are set
//! with the flags below; the defaults are the system's own (`SystemConfig::default`).
//!
//! Built for simulation (`--cfg madsim`, the workspace's default), there is no real network to serve: the binary
//! says so and exits with status 2.

#[cfg(madsim)]
fn main() -> std::process::ExitCode {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "node: this binary was built for simulation (--cfg madsim), where there is no real network to serve.\n\
         Build the real variant: RUSTFLAGS=\"\" cargo build --profile live -p system --bin node --target-dir target/live"
    );
    std::process::ExitCode::from(2)
}

#[cfg(not(madsim))]
fn main() -> std::process::ExitCode {
    real::main()
}

#[cfg(not(madsim))]
mod real {
    use clap::{Parser, ValueEnum};
    use std::io::Write;
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::str::FromStr;
    use std::sync::Arc;
    use std::time::Duration;
    use system::config::SystemConfig;
    use system::events::TracingSink;
    use system::flaws::{Flaw, Flaws};
    use system::net::NoShaping;
    use system::node::{NodeContext, Topology};
    use system::points::NeverFire;
    use system::real::{FileDisk, FileDiskOptions, HostClock};

    #[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
    enum Role {
        Store,
        Queue,
        Ingest,
        Worker,
    }

    /// One node of the job-processing system.
    #[derive(Parser, Debug)]
    #[command(name = "node", version)]
    struct Args {
        /// Which service this node runs.
        #[arg(long, value_enum)]
        role: Role,
        /// The node's name in its log (default: the role).
        #[arg(long)]
        name: Option<String>,
        /// The address this node listens on.
        #[arg(long)]
        listen: SocketAddr,
        /// The store's address.
        #[arg(long)]
        store: SocketAddr,
        /// The queue's address.
        #[arg(long)]
        queue: SocketAddr,
        /// An ingest node's address (repeat for each).
        #[arg(long = "ingest", required = true)]
        ingest: Vec<SocketAddr>,
        /// The folder that holds the store's or the queue's log (required for those roles; other roles ignore it).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Refuse appends that would make the log longer than this many bytes, as a full device would.
        #[arg(long)]
        data_limit_bytes: Option<u64>,
        /// Keep the log's appends in the process until each sync (one write and one fdatasync per group commit).
        /// A SIGKILL then loses what a power cut would: everything not yet synced.
        #[arg(long)]
        write_buffer: bool,
        /// Network faults at the transport seam: a rules file this node re-reads (see `system::real::links`:
        /// `FROM TO drop PERCENT` or `FROM TO delay MS` per line). Without it, no shaping.
        #[arg(long)]
        links: Option<PathBuf>,
        /// Stop when the process that started this one exits (a harness that was killed leaves no node behind).
        #[arg(long)]
        exit_with_parent: bool,
        /// Switch on a known-bad behaviour by name (repeatable; `sim list` shows them). For proving a checker
        /// against a live cluster only.
        #[arg(long = "flaw")]
        flaws: Vec<String>,
        /// How long a worker holds a job, in milliseconds.
        #[arg(long)]
        lease_ms: Option<u64>,
        /// Pending jobs one environment may have before enqueues answer "busy".
        #[arg(long)]
        env_pending_max: Option<usize>,
        /// Pending jobs the whole queue may have before enqueues answer "busy".
        #[arg(long)]
        queue_pending_max: Option<usize>,
        /// Fresh jobs an environment serves before one of its bulk jobs.
        #[arg(long)]
        fresh_per_bulk: Option<u32>,
        /// Timeout of one RPC attempt, in milliseconds.
        #[arg(long)]
        rpc_timeout_ms: Option<u64>,
        /// Rendering time of one view, in milliseconds: drawn from [min, max].
        #[arg(long)]
        render_time_min_ms: Option<u64>,
        #[arg(long)]
        render_time_max_ms: Option<u64>,
        /// Log length at which a log is compacted, in bytes.
        #[arg(long)]
        log_compact_bytes: Option<u64>,
        /// Jobs one worker processes at once.
        #[arg(long)]
        worker_slots: Option<usize>,
        /// The least severe events logged: error, warn, info, debug or trace.
        #[arg(long, default_value = "info")]
        log_level: tracing::Level,
    }

    fn config(args: &Args) -> Result<SystemConfig, String> {
        let mut c = SystemConfig::default();
        let ms = Duration::from_millis;
        if let Some(v) = args.lease_ms {
            c.lease = ms(v);
        }
        if let Some(v) = args.env_pending_max {
            c.env_pending_max = v;
        }
        if let Some(v) = args.queue_pending_max {
            c.queue_pending_max = v;
        }
        if let Some(v) = args.fresh_per_bulk {
            c.fresh_per_bulk = v;
        }
        if let Some(v) = args.rpc_timeout_ms {
            c.rpc_timeout = ms(v);
        }
        if let Some(v) = args.render_time_min_ms {
            c.render_time_min = ms(v);
        }
        if let Some(v) = args.render_time_max_ms {
            c.render_time_max = ms(v);
        }
        if c.render_time_min > c.render_time_max {
            return Err("--render-time-min-ms is above --render-time-max-ms".into());
        }
        if let Some(v) = args.log_compact_bytes {
            c.log_compact_bytes = v;
        }
        if let Some(v) = args.worker_slots {
            c.worker_slots = v;
        }
        let flaws = args
            .flaws
            .iter()
            .map(|name| Flaw::from_str(name).map_err(|_| format!("--flaw {name}: no flaw of that name")))
            .collect::<Result<Vec<_>, _>>()?;
        c.flaws = Flaws::with(flaws);
        Ok(c)
    }

    pub fn main() -> ExitCode {
        let args = Args::parse();
        let config = match config(&args) {
            Ok(config) => config,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "node: {e}");
                return ExitCode::from(2);
            }
        };
        // Only the store and the queue keep a log; another role given a folder leaves it alone.
        let data = match (args.role, &args.data) {
            (Role::Store | Role::Queue, None) => {
                let _ = writeln!(std::io::stderr(), "node: --role {:?} keeps a log: give it --data DIR", args.role);
                return ExitCode::from(2);
            }
            (Role::Store | Role::Queue, Some(data)) => Some(data.clone()),
            _ => None,
        };
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(args.log_level).with_ansi(false).init();
        let name = args.name.clone().unwrap_or_else(|| format!("{:?}", args.role).to_lowercase());
        let ctx = NodeContext {
            name: name.clone(),
            addr: args.listen,
            clock: Arc::new(HostClock),
            events: Arc::new(TracingSink { node: name.clone() }),
            links: match &args.links {
                Some(path) => Arc::new(system::real::links::FileLinks::new(path)),
                None => Arc::new(NoShaping),
            },
            config: Arc::new(config),
            topology: Arc::new(Topology { store: args.store, queue: args.queue, ingest: args.ingest.clone() }),
            // A real deployment never takes the unusual paths: those are for a simulation to choose.
            points: Arc::new(NeverFire),
        };
        let disk_options = FileDiskOptions { limit: args.data_limit_bytes, write_buffer: args.write_buffer };
        let disk = match data.map(|dir| FileDisk::open_with(&dir, disk_options).map_err(|e| (dir, e))) {
            None => None,
            Some(Ok(disk)) => Some(Arc::new(disk) as Arc<dyn system::disk::Disk>),
            Some(Err((dir, e))) => {
                tracing::error!(node = %name, "cannot open the log in {}: {e}", dir.display());
                return ExitCode::from(1);
            }
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::error!(node = %name, "cannot start the runtime: {e}");
                return ExitCode::from(1);
            }
        };
        let role = args.role;
        let exit_with_parent = args.exit_with_parent;
        runtime.block_on(async move {
            let serve = async move {
                match (role, disk) {
                    (Role::Store, Some(disk)) => system::store::serve(ctx, disk).await,
                    (Role::Queue, Some(disk)) => system::queue::serve(ctx, disk).await,
                    (Role::Ingest, _) => system::ingest::serve(ctx).await,
                    (Role::Worker, _) => system::worker::serve(ctx).await,
                    (_, None) => unreachable!("checked above: the store and the queue have a data folder"),
                }
            };
            let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(e) => {
                    tracing::error!(node = %name, "cannot listen for SIGTERM: {e}");
                    return ExitCode::from(1);
                }
            };
            let orphaned = async {
                if !exit_with_parent {
                    return std::future::pending().await;
                }
                let parent = std::os::unix::process::parent_id();
                while std::os::unix::process::parent_id() == parent {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            };
            tokio::select! {
                () = serve => ExitCode::SUCCESS,
                () = orphaned => {
                    tracing::warn!(node = %name, "the process that started this node is gone: stopping");
                    ExitCode::from(1)
                }
                _ = terminate.recv() => {
                    // Everything acknowledged is already durable (the services answer only what their log made
                    // durable), so stopping here loses nothing a client was promised.
                    tracing::info!(node = %name, "SIGTERM: stopping");
                    ExitCode::SUCCESS
                }
                _ = tokio::signal::ctrl_c() => {
                    tracing::info!(node = %name, "interrupted: stopping");
                    ExitCode::SUCCESS
                }
            }
        })
    }
}
