//! The accept loops: one single-threaded tokio runtime per core, each with its own listening
//! socket on the same address (`SO_REUSEPORT`, so the kernel spreads new connections), the way
//! nginx runs one event loop per worker. HTTP/1.1 connections are served by hyper; at most
//! `max-connections` at once across all loops (more wait in the kernel's backlog), each with a
//! time limit for sending a request's headers (which also closes idle keep-alive connections),
//! TCP_NODELAY, and a graceful stop that lets requests in progress finish. Blocking work
//! (publish, yank, ...) still goes to each runtime's blocking pool.

use super::dispatch::Dispatch;
use super::limits::ServeSettings;
use anyhow::{Context, Result};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};

/// How long a stop waits for requests in progress.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Connections the kernel queues for each loop before it accepts them.
const BACKLOG: i32 = 1024;

/// Listens on `addr`, tells `bound` the address taken, and serves `service` until `stop`
/// completes (`stop` is polled on the calling thread's runtime, which serves too).
pub fn run<F>(
    addr: SocketAddr,
    service: Dispatch,
    limits: &ServeSettings,
    bound: impl FnOnce(SocketAddr),
    stop: impl FnOnce() -> F,
) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let loops = std::thread::available_parallelism().map_or(1, |n| n.get());
    let listeners = bind_all(addr, loops).with_context(|| format!("failed to listen on {addr}"))?;
    let local = listeners[0].local_addr()?;
    bound(local);
    let permits = Arc::new(Semaphore::new(limits.max_connections.get()));
    let (stopping, stopped) = watch::channel(false);
    let mut threads = Vec::new();
    let mut listeners = listeners;
    let mine = listeners.remove(0);
    for (i, listener) in listeners.into_iter().enumerate() {
        let (service, limits, permits, stopped) = (
            service.clone(),
            limits.clone(),
            permits.clone(),
            stopped.clone(),
        );
        let thread = std::thread::Builder::new()
            .name(format!("ktra-serve-{}", i + 1))
            .spawn(move || -> Result<()> {
                runtime()?.block_on(accept_loop(listener, service, &limits, permits, stopped))
            })
            .context("failed to start a server thread")?;
        threads.push(thread);
    }
    let served = runtime()?.block_on(async {
        let stop = stop();
        tokio::spawn(async move {
            stop.await;
            let _ = stopping.send(true);
        });
        accept_loop(mine, service, limits, permits, stopped).await
    });
    for thread in threads {
        match thread.join() {
            Ok(result) => result?,
            Err(_) => anyhow::bail!("a server thread panicked"),
        }
    }
    served
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the server runtime")
}

/// `loops` listening sockets on `addr` (a free port when it has port 0). A port that is
/// already in use is an error as it would be without `SO_REUSEPORT`: a plain socket is bound
/// first to check (and to find the free port), then the shared ones.
fn bind_all(addr: SocketAddr, loops: usize) -> std::io::Result<Vec<TcpListener>> {
    let mut attempt = 0;
    loop {
        let probe = socket(addr)?;
        probe.bind(&addr.into())?;
        let local = probe.local_addr()?.as_socket().unwrap_or(addr);
        drop(probe);
        match (0..loops).map(|_| bind(local, loops > 1)).collect() {
            // Port 0: the port found free was taken in between; look for another.
            Err(e) if e.kind() == ErrorKind::AddrInUse && addr.port() == 0 && attempt < 5 => {
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn socket(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    Ok(socket)
}

fn bind(addr: SocketAddr, share: bool) -> std::io::Result<TcpListener> {
    let socket = socket(addr)?;
    if share {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Accepts on `listener` until the stop is signalled, then waits for the requests in progress.
async fn accept_loop(
    listener: TcpListener,
    service: Dispatch,
    limits: &ServeSettings,
    permits: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut stop = std::pin::pin!(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    loop {
        // Accepted first, then a place waited for: a loop waiting for a connection must not
        // hold a place another loop's connection could use. So besides the `max-connections`
        // being served, each loop holds at most one accepted connection that waits its turn.
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    eprintln!("warning: failed to accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit?,
            () = &mut stop => break,
        };
        // Responses go out at once: without TCP_NODELAY, keep-alive clients wait out the
        // 40 ms delayed acknowledgement on every request.
        let _ = tcp.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(tcp), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(STOP_GRACE, graceful.shutdown()).await;
    Ok(())
}
