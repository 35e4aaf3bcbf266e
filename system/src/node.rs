//! What a node is handed by whoever runs it.
//!
//! The system owns these interfaces; a production deployment would hand it the host's clock and a log-based
//! sink, the simulation hands it a skewed clock per node and a recording sink.

use crate::clock::Clock;
use crate::config::SystemConfig;
use crate::events::{Event, EventSink};
use crate::net::LinkShaper;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the services listen.
#[derive(Clone, Debug)]
pub struct Topology {
    pub store: SocketAddr,
    pub queue: SocketAddr,
    pub ingest: Vec<SocketAddr>,
}

/// Everything a node's code needs from the outside world.
#[derive(Clone)]
pub struct NodeContext {
    /// The node's name, as it appears in events about it (for example `worker-2`).
    pub name: String,
    /// The address the node listens on.
    pub addr: SocketAddr,
    pub clock: Arc<dyn Clock>,
    pub events: Arc<dyn EventSink>,
    pub links: Arc<dyn LinkShaper>,
    pub config: Arc<SystemConfig>,
    pub topology: Arc<Topology>,
    /// Whether to take a legal but unusual path at a decision point (see [`crate::points`]).
    pub points: Arc<dyn crate::points::FaultPoints>,
}

impl NodeContext {
    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    pub fn mark(&self, name: &'static str) {
        self.events.mark(name);
    }

    /// Whether to take the unusual path at `point` now.
    pub fn fire(&self, point: crate::points::Point) -> bool {
        self.points.fire(point)
    }
}
