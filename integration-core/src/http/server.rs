//! The core's accept loop: HTTP/1.1 on hyper, one task per connection.
//!
//! `axum::serve` would sniff each connection for HTTP/2 (hyper-util's
//! `auto` builder) and leaves Nagle on; the core's partners speak HTTP/1.1,
//! so the plain HTTP/1 builder, and every socket gets `TCP_NODELAY` (an
//! answer never waits for the peer's ACK of the one before), both as the
//! simulators' `server::serve` does. Stopping
//! works as `axum::serve`'s graceful shutdown did: no new connections,
//! requests in progress are answered, idle keep-alive connections close,
//! and [`serve`] returns when the last connection has.

use std::io;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

/// Serves `app` on `listener` until `stop` fires (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    mut stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors and the like: wait rather than spin
                    // (axum::serve does the same).
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| app.clone().oneshot(req));
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors of one connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
