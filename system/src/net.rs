//! RPC calls with a timeout on every attempt, and retries with exponential backoff and jitter.
//!
//! madsim's plain `call` never times out (a lost packet hangs it forever), so the system never uses it. The
//! [`LinkShaper`] is how whoever runs the node can delay traffic per link; madsim itself only has one global
//! latency.

use crate::node::NodeContext;
use madsim::net::rpc::Request;
use madsim::rand::Rng;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[cfg(not(madsim))]
pub use crate::real::net::Endpoint;
/// A node's network endpoint. Simulated, madsim's: its network is the simulation's. Real, the system's own RPC
/// over TCP ([`crate::real::net`]), which fails a call to a dead peer instead of panicking, and connects again.
#[cfg(madsim)]
pub use madsim::net::Endpoint;

/// What happens to one message on one link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered after this extra delay (on top of the network's own latency).
    Deliver(Duration),
    /// Lost.
    Drop,
}

/// Decides, per message, what a link does to it: extra latency, or loss. The default delivers everything at
/// once. Consulted for each direction of a call, so a lost reply (the request took effect, the caller does not
/// know) is modelled as well as a lost request.
pub trait LinkShaper: Send + Sync {
    fn shape(&self, from: IpAddr, to: IpAddr) -> Fate;

    /// Whether the network will deliver a copy of this request again, and after how long (a duplicated packet, a
    /// retransmission by a middlebox). The default never does.
    fn duplicate(&self, _from: IpAddr, _to: IpAddr) -> Option<Duration> {
        None
    }
}

pub struct NoShaping;

impl LinkShaper for NoShaping {
    fn shape(&self, _from: IpAddr, _to: IpAddr) -> Fate {
        Fate::Deliver(Duration::ZERO)
    }
}

/// Why a call did not return an answer. Either way the caller does not know whether the request took effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcError {
    Timeout,
    Io(String),
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Timeout => f.write_str("timed out"),
            RpcError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

/// A node's RPC client: one endpoint, the node's link shaping and its retry policy.
#[derive(Clone)]
pub struct Rpc {
    ep: Endpoint,
    ctx: NodeContext,
}

impl Rpc {
    pub fn new(ep: Endpoint, ctx: NodeContext) -> Self {
        Self { ep, ctx }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// One attempt, bounded by the configured RPC timeout (link delays included).
    pub async fn call<R: Request + Clone>(&self, dst: SocketAddr, request: R) -> Result<R::Response, RpcError> {
        self.call_within(dst, request, self.ctx.config.rpc_timeout).await
    }

    /// One attempt, bounded by `timeout`.
    pub async fn call_within<R: Request + Clone>(
        &self,
        dst: SocketAddr,
        request: R,
        timeout: Duration,
    ) -> Result<R::Response, RpcError> {
        self.ctx.events.rpc_sent();
        let links = &self.ctx.links;
        let (here, there) = (self.ctx.addr.ip(), dst.ip());
        if let Some(delay) = links.duplicate(here, there) {
            // The network delivers this request again later: to the receiver as it is then (restarted, maybe).
            // Its answer goes nowhere; the request must be safe to receive twice.
            let (ep, copy) = (self.ep.clone(), request.clone());
            #[allow(clippy::disallowed_methods)]
            madsim::task::spawn(async move {
                madsim::time::sleep(delay).await;
                let _ = madsim::time::timeout(timeout, ep.call(dst, copy)).await;
            });
        }
        // A copy for the fault point's repeat, only where the point can fire: not a clone of every request.
        let again = self.ctx.points.is_on(crate::points::Point::SpuriousRetry).then(|| request.clone());
        // The seam itself: the one place system code sends.
        #[allow(clippy::disallowed_methods)]
        let attempt = async {
            let response = match links.shape(here, there) {
                Fate::Deliver(delay) if !delay.is_zero() => {
                    // A held-up request is on the wire, not in the caller: it still arrives when the caller has
                    // timed out and retried (what a long latency tail does to a real call), and its answer then
                    // goes nowhere.
                    let (sent, answered) = tokio::sync::oneshot::channel();
                    let ep = self.ep.clone();
                    #[allow(clippy::disallowed_methods)]
                    madsim::task::spawn(async move {
                        madsim::time::sleep(delay).await;
                        if let Ok(response) = madsim::time::timeout(timeout, ep.call(dst, request)).await {
                            let _ = sent.send(response);
                        }
                    });
                    match answered.await {
                        Ok(response) => response,
                        // The late request was never answered: as a lost one, the attempt waits for its timeout.
                        Err(_) => std::future::pending().await,
                    }
                }
                // A lost message is never answered: the attempt waits until its timeout, as over a real network.
                fate => {
                    deliver(fate).await;
                    self.ep.call(dst, request).await
                }
            };
            deliver(links.shape(there, here)).await;
            response
        };
        let result = match madsim::time::timeout(timeout, attempt).await {
            Err(_) => Err(RpcError::Timeout),
            Ok(Err(e)) => Err(RpcError::Io(e.to_string())),
            Ok(Ok(response)) => Ok(response),
        };
        if result.is_err() {
            self.ctx.events.rpc_failed();
        } else if let Some(again) = again.filter(|_| self.ctx.fire(crate::points::Point::SpuriousRetry)) {
            // Fault point: the call is sent once more, as a retry after a lost reply would be; its answer is not
            // used. Every internal call must be safe to receive twice.
            self.ctx.events.rpc_sent();
            // Still the seam: the repeat goes through the same link layer as the first attempt.
            #[allow(clippy::disallowed_methods)]
            let once_more = async {
                deliver(links.shape(here, there)).await;
                self.ep.call(dst, again).await
            };
            let _ = madsim::time::timeout(timeout, once_more).await;
        }
        result
    }

    /// Calls until an answer arrives or `rpc_attempts_max` attempts have failed. Only for requests that are
    /// safe to repeat (idempotent), since a timed-out attempt may have taken effect.
    pub async fn call_retrying<R: Request + Clone>(
        &self,
        dst: SocketAddr,
        request: R,
    ) -> Result<R::Response, RpcError> {
        let mut backoff = Backoff::new(&self.ctx);
        let mut last = RpcError::Timeout;
        for _ in 0..self.ctx.config.rpc_attempts_max {
            match self.call(dst, request.clone()).await {
                Ok(response) => return Ok(response),
                Err(e) => last = e,
            }
            backoff.wait().await;
        }
        Err(last)
    }
}

/// Waits out what a link does to one message: its extra delay, or forever if it is lost (the caller's timeout
/// then ends the attempt, as over a real network).
pub async fn deliver(fate: Fate) {
    match fate {
        Fate::Deliver(delay) if delay.is_zero() => {}
        Fate::Deliver(delay) => madsim::time::sleep(delay).await,
        Fate::Drop => std::future::pending::<()>().await,
    }
}

/// Exponential backoff with full jitter: waits a random time in [0, min * 2^attempt], capped at max. Jitter keeps
/// many clients that failed at once from retrying at once.
pub struct Backoff {
    attempt: u32,
    min: Duration,
    max: Duration,
    storm: bool,
}

impl Backoff {
    pub fn new(ctx: &NodeContext) -> Self {
        let mut backoff = Self::with_bounds(ctx.config.backoff_min, ctx.config.backoff_max);
        backoff.storm = ctx.config.flaws.has(crate::flaws::Flaw::RetryStorm);
        backoff
    }

    pub fn with_bounds(min: Duration, max: Duration) -> Self {
        Self { attempt: 0, min, max, storm: false }
    }

    pub fn next_delay(&mut self) -> Duration {
        if self.storm {
            // The flaw `retry-storm`: no growth, no jitter, every caller retries in lockstep.
            return Duration::from_millis(1);
        }
        let ceiling = self.min.saturating_mul(1u32 << self.attempt.min(16)).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling_us = ceiling.as_micros().max(1) as u64;
        // madsim's generator, seeded from the run's seed: deterministic (not the OS-seeded rand one).
        Duration::from_micros(madsim::rand::thread_rng().gen_range(ceiling_us / 2..=ceiling_us))
    }

    pub async fn wait(&mut self) {
        let delay = self.next_delay();
        madsim::time::sleep(delay).await;
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}
