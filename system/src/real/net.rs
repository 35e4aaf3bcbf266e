//! RPC over TCP for the real variant: the same interface as madsim's simulated `Endpoint` (bind, a handler per
//! request type, `call`), built for peers that die.
//!
//! madsim's own TCP endpoint (what `madsim::net::Endpoint` is without `--cfg madsim`) unwraps every I/O error:
//! a call to a node that is down panics in the caller's task, and the failed connection stays in its table, so
//! the caller can never reach that address again after the node restarts. A cluster whose nodes are killed and
//! restarted needs calls that fail and connections that are made again, so the real variant has this one.
//!
//! Wire format, per frame: a big-endian `u32` length of what follows, a `u64` call id, then for a request the
//! request type's `Request::ID` and for an answer nothing, then the bincode payload. A connection carries the
//! requests of the side that opened it and the answers to them.

use madsim::net::rpc::Request;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The largest frame read: far above any message of the system (a page of views, a deploy), and a bound on
/// what a corrupted length can make a node allocate.
const FRAME_MAX: usize = 64 << 20;

type Handler = Arc<dyn Fn(Vec<u8>) -> Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>> + Send + Sync>;

/// One node's network endpoint: a listener for the requests it serves and a connection per peer it calls.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    handlers: RwLock<BTreeMap<u64, Handler>>,
    peers: Mutex<BTreeMap<SocketAddr, Arc<Conn>>>,
    next_call: AtomicU64,
    acceptor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The listener's task holds only a weak reference: stop it with the last handle, closing the port.
        if let Some(task) = lock(&self.acceptor).take() {
            task.abort();
        }
    }
}

/// A connection this endpoint opened to a peer: its writing half and the calls waiting for an answer.
struct Conn {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    waiting: Mutex<BTreeMap<u64, oneshot::Sender<Vec<u8>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here leaves its map consistent, so a panic elsewhere does not poison the data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Endpoint {
    /// Listens on `addr` (port 0 picks a free port; [`Endpoint::local_addr`] tells which).
    pub async fn bind(addr: SocketAddr) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(addr).await?;
        let inner = Arc::new(Inner {
            addr: listener.local_addr()?,
            handlers: RwLock::default(),
            peers: Mutex::default(),
            next_call: AtomicU64::new(1),
            acceptor: Mutex::new(None),
        });
        let weak = Arc::downgrade(&inner);
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors, most likely: wait rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, weak.clone()));
            }
        });
        *lock(&inner.acceptor) = Some(acceptor);
        Ok(Endpoint { inner })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.inner.addr)
    }

    /// Answers every request of type `R` with `handler`, each in a task of its own.
    pub fn add_rpc_handler<R, F, Fut>(&self, handler: F)
    where
        R: Request,
        F: Fn(R) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R::Response> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |payload: Vec<u8>| {
            let handler = handler.clone();
            Box::pin(async move {
                // A request that does not decode is not answered: its caller times out, as if it were lost.
                let request: R = bincode::deserialize(&payload).ok()?;
                let response = handler(request).await;
                bincode::serialize(&response).ok()
            })
        });
        self.inner.handlers.write().unwrap_or_else(|p| p.into_inner()).insert(R::ID, erased);
    }

    /// Sends `request` to `dst` and waits for its answer. Fails, never panics, when the peer is down or the
    /// connection breaks; has no timeout of its own (the caller's bounds every attempt).
    pub async fn call<R: Request>(&self, dst: SocketAddr, request: R) -> io::Result<R::Response> {
        let payload = bincode::serialize(&request).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = self.connection(dst).await?;
        let id = self.inner.next_call.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        lock(&conn.waiting).insert(id, answer);
        // The entry goes when this call ends, answered or not (a caller that timed out drops this future).
        let _forget = Forget { conn: &conn, id };
        let mut frame = Vec::with_capacity(4 + 16 + payload.len());
        frame.extend_from_slice(&((16 + payload.len()) as u32).to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&R::ID.to_be_bytes());
        frame.extend_from_slice(&payload);
        let written = conn.writer.lock().await.write_all(&frame).await;
        if let Err(e) = written {
            self.forget_peer(dst, &conn);
            return Err(e);
        }
        let bytes = answered
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::ConnectionReset, format!("connection to {dst} closed")))?;
        bincode::deserialize(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    async fn connection(&self, dst: SocketAddr) -> io::Result<Arc<Conn>> {
        if let Some(conn) = lock(&self.inner.peers).get(&dst) {
            return Ok(conn.clone());
        }
        let stream = TcpStream::connect(dst).await?;
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let conn = Arc::new(Conn { writer: tokio::sync::Mutex::new(writer), waiting: Mutex::default() });
        let mut peers = lock(&self.inner.peers);
        if let Some(existing) = peers.get(&dst) {
            // Another call connected first: use its connection; this one closes as it drops.
            return Ok(existing.clone());
        }
        peers.insert(dst, conn.clone());
        drop(peers);
        tokio::spawn(read_answers(reader, conn.clone(), dst, Arc::downgrade(&self.inner)));
        Ok(conn)
    }

    fn forget_peer(&self, dst: SocketAddr, conn: &Arc<Conn>) {
        forget(&self.inner, dst, conn);
    }
}

/// Drops a broken connection from the table (if it is still the one there), so that the next call connects again.
fn forget(inner: &Inner, dst: SocketAddr, conn: &Arc<Conn>) {
    let mut peers = lock(&inner.peers);
    if peers.get(&dst).is_some_and(|c| Arc::ptr_eq(c, conn)) {
        peers.remove(&dst);
    }
}

struct Forget<'a> {
    conn: &'a Conn,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.conn.waiting).remove(&self.id);
    }
}

async fn read_frame(reader: &mut OwnedReadHalf) -> io::Result<Vec<u8>> {
    let len = reader.read_u32().await? as usize;
    if !(8..=FRAME_MAX).contains(&len) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a frame of {len} bytes")));
    }
    let mut frame = vec![0; len];
    reader.read_exact(&mut frame).await?;
    Ok(frame)
}

/// Hands each answer on a connection this endpoint opened to the call waiting for it. When the connection ends,
/// every call still waiting on it fails at once.
async fn read_answers(mut reader: OwnedReadHalf, conn: Arc<Conn>, dst: SocketAddr, inner: Weak<Inner>) {
    while let Ok(frame) = read_frame(&mut reader).await {
        let id = u64::from_be_bytes(frame[..8].try_into().expect("eight bytes"));
        if let Some(waiter) = lock(&conn.waiting).remove(&id) {
            let _ = waiter.send(frame[8..].to_vec());
        }
    }
    lock(&conn.waiting).clear();
    if let Some(inner) = inner.upgrade() {
        forget(&inner, dst, &conn);
    }
}

/// Serves the requests arriving on one connection a peer opened, each in its own task; answers share the
/// connection's writing half.
async fn serve_connection(stream: TcpStream, inner: Weak<Inner>) {
    let (mut reader, writer) = stream.into_split();
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    while let Ok(frame) = read_frame(&mut reader).await {
        if frame.len() < 16 {
            return;
        }
        let id = u64::from_be_bytes(frame[..8].try_into().expect("eight bytes"));
        let kind = u64::from_be_bytes(frame[8..16].try_into().expect("eight bytes"));
        let Some(inner) = inner.upgrade() else { return };
        let handler = inner.handlers.read().unwrap_or_else(|p| p.into_inner()).get(&kind).cloned();
        drop(inner);
        // A request type this node does not serve is not answered, as on madsim's network.
        let Some(handler) = handler else { continue };
        let writer = writer.clone();
        let payload = frame[16..].to_vec();
        tokio::spawn(async move {
            let Some(answer) = handler(payload).await else { return };
            let mut frame = Vec::with_capacity(4 + 8 + answer.len());
            frame.extend_from_slice(&((8 + answer.len()) as u32).to_be_bytes());
            frame.extend_from_slice(&id.to_be_bytes());
            frame.extend_from_slice(&answer);
            // A caller that went away is not an error of this node.
            let _ = writer.lock().await.write_all(&frame).await;
        });
    }
}
