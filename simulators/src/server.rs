//! The simulators' own accept loop (hyper, one task per connection).
//!
//! Unlike `axum::serve`, it can really misbehave: each connection's task
//! carries a [`ConnKill`] switch (a task-local, so a request costs no
//! extension map), and pulling it resets the connection (SO_LINGER 0, so the
//! peer sees an RST, not a polite close).
//! While a fault refuses connections, new ones are reset as they arrive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::faults::FaultSet;

/// Resets the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnKill(Arc<Notify>);

tokio::task_local! {
    /// The switch of the connection whose task is running: hyper polls a
    /// request's service future on its connection's task.
    static CONN_KILL: ConnKill;
}

impl ConnKill {
    /// Resets the connection; the current response is never sent.
    pub fn reset(&self) {
        self.0.notify_one();
    }

    /// The switch of the connection the current request arrived on; `None`
    /// outside [`serve`] (a router driven without a socket).
    pub fn current() -> Option<ConnKill> {
        CONN_KILL.try_with(ConnKill::clone).ok()
    }
}

/// A server running on a real socket.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
}

impl Server {
    /// `http://ADDR`, for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, gives open connections a moment to finish, and waits.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.join.await.map_err(std::io::Error::other)
    }
}

async fn connection(stream: TcpStream, app: Router) {
    // A second handle on the socket, to set SO_LINGER 0 when killed.
    let control = match stream.into_std().and_then(|s| Ok((s.try_clone()?, s))) {
        Ok((control, s)) => match TcpStream::from_std(s) {
            Ok(stream) => (control, stream),
            Err(e) => return tracing::warn!(error = %e, "failed to adopt a connection"),
        },
        Err(e) => return tracing::warn!(error = %e, "failed to clone a connection handle"),
    };
    let (control, stream) = control;
    let kill = ConnKill(Arc::new(Notify::new()));
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| app.clone().oneshot(req));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = CONN_KILL.scope(kill.clone(), conn) => {}
        _ = kill.0.notified() => {
            let _ = socket2::SockRef::from(&control).set_linger(Some(Duration::ZERO));
        }
    }
    drop(control);
}

/// Serves `app` on `listener` until [`Server::stop`]; `faults` may refuse
/// connections.
pub fn serve(listener: TcpListener, app: Router, faults: Arc<FaultSet>) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let (tx, mut rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut rx => break,
                accepted = listener.accept() => {
                    while conns.try_join_next().is_some() {}
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            continue;
                        }
                    };
                    if faults.refusing() {
                        let _ = stream.set_zero_linger();
                        drop(stream);
                        continue;
                    }
                    // As on the core: an answer never waits for the peer's
                    // ACK of the one before (Nagle).
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "could not set TCP_NODELAY");
                    }
                    conns.spawn(connection(stream, app.clone()));
                }
            }
        }
        // Let answers in progress finish; idle keep-alive connections are cut.
        let _ = tokio::time::timeout(Duration::from_millis(250), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        conns.abort_all();
    });
    Ok(Server {
        addr,
        shutdown: Some(tx),
        join,
    })
}

/// Serves `app` with no faults (stubs in tests, for instance).
pub fn serve_plain(listener: TcpListener, app: Router) -> std::io::Result<Server> {
    serve(listener, app, FaultSet::new(0))
}
