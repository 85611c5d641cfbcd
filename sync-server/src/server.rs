//! Running the HTTP service: bind, serve (through [`crate::listener`], with its connection cap
//! and timeouts), shut down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{AppState, Limits, router};
use crate::app::AppDir;
use crate::listener::{fd_soft_limit, fit_under_fd_limit};
use crate::store::Store;

/// A relay serving on a bound address.
#[derive(Debug)]
pub struct RunningRelay {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningRelay {
    /// Binds `listen` and starts serving the API in the background.
    pub async fn start(
        listen: SocketAddr,
        store: Arc<dyn Store>,
        limits: Limits,
    ) -> std::io::Result<Self> {
        Self::start_with_app(listen, store, limits, None).await
    }

    /// Binds `listen` and starts serving the API, and the web app in `app` at `/`, in the
    /// background.
    pub async fn start_with_app(
        listen: SocketAddr,
        store: Arc<dyn Store>,
        limits: Limits,
        app: Option<AppDir>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut connections = limits.connections;
        connections.max_body_bytes = limits.max_body_bytes as u64;
        let fds = fd_soft_limit();
        connections.max_connections = fit_under_fd_limit(connections.max_connections, fds);
        if connections.max_connections < limits.connections.max_connections {
            tracing::warn!(
                wanted = limits.connections.max_connections,
                max_connections = connections.max_connections,
                fd_limit = fds,
                "max_connections lowered to fit under the open file limit (ulimit -n)"
            );
        }
        let app = router(AppState::new(store, limits).with_app(app));
        let (shutdown, stop) = watch::channel(false);
        let task = tokio::spawn(crate::listener::serve(listener, app, connections, stop));
        Ok(Self {
            addr,
            shutdown,
            task,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open requests finish, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
