//! The HTTP/1 server: accepts connections until told to stop, then lets
//! the requests in flight finish (up to a drain timeout).
//!
//! Hand-rolled on hyper rather than `axum::serve` for two settings that
//! call does not offer: the number of header lines read before answering
//! 431 (a gateway's forward-auth question carries whatever the client sent,
//! and nginx turns any answer but 2xx/401/403 into a 500), and a bounded
//! graceful drain.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

/// Header lines read before a request is refused with 431, by default.
/// nginx forwards at most what fits its header buffers (by default 33 KB:
/// under 8,500 lines), so every question it can send is read and answered
/// 200, 401 or 403. Above hyper's default (100) the header table is
/// allocated per request, a cost measured in BENCHMARKS.md.
pub const DEFAULT_MAX_HEADER_LINES: usize = 10_000;

/// How a server's drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished its request in flight and closed.
    All,
    /// The drain timeout passed with connections still open; they are
    /// dropped with the process.
    TimedOut,
}

/// Serves `app` on `listener` until `stop` fires (or its sender is
/// dropped), then stops accepting and waits up to the drain timeout it
/// sends for the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_header_lines: usize,
    stop: oneshot::Receiver<Duration>,
) -> Drained {
    let graceful = GracefulShutdown::new();
    let mut stop = stop;
    let drain = loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            drain = &mut stop => break drain.unwrap_or(Duration::ZERO),
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(e) => {
                // Out of file descriptors and the like: pause, not spin.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {})) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .max_headers(max_header_lines)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    };
    drop(listener);
    match tokio::time::timeout(drain, graceful.shutdown()).await {
        Ok(()) => Drained::All,
        Err(_) => Drained::TimedOut,
    }
}
