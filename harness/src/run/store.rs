//! `crossdock run --store postgres://… [--replicas N]`: the in-process core
//! on PostgreSQL, on a database of the run's own, as one or several
//! replicas behind a round-robin TCP spreader.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use integration_core::pgstore::ScratchDb;
use integration_core::{CoreConfig, CoreHandle, OpsStatus, StartError, StoreLocation};

/// Where runs store: a PostgreSQL server, and how many replicas share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStore {
    /// The server (its database, default `postgres`, is only where the
    /// run's own database is created).
    pub server: String,
    pub replicas: u32,
}

impl RunStore {
    /// Checks `url` (a `postgres://` URL) without connecting.
    pub fn new(url: &str, replicas: u32) -> Result<Self, String> {
        match StoreLocation::parse(url) {
            StoreLocation::Postgres(url) => {
                integration_core::pgstore::check_url(&url).map_err(|e| format!("--store: {e}"))?;
                Ok(Self {
                    server: url,
                    replicas: replicas.max(1),
                })
            }
            StoreLocation::Sqlite(_) => Err(format!(
                "--store: expected a postgres:// URL (each run creates its own database there), found {url:?}"
            )),
        }
    }

    /// Creates the run's own database (dropped with the guard).
    pub async fn prepare(&self) -> Result<ScratchDb, String> {
        let server = self.server.clone();
        tokio::task::spawn_blocking(move || ScratchDb::create(&server, "crossdock_run"))
            .await
            .map_err(|e| format!("the database task failed: {e}"))?
            .map_err(|e| e.to_string())
    }
}

/// Drops a scratch database off the async threads.
pub async fn drop_database(db: ScratchDb) {
    let _ = tokio::task::spawn_blocking(move || drop(db)).await;
}

/// Spreads the connections accepted on `listener` round-robin over
/// `backends`; a backend that refuses (a dead replica) is skipped for the
/// next one. Each connection stays with its backend until either side
/// closes it, so a client's keep-alive connection sticks to one replica.
/// `served`, if given (one counter per backend), counts the connections
/// each backend took.
pub fn spread(
    listener: TcpListener,
    backends: Vec<SocketAddr>,
    served: Option<Arc<[AtomicU64]>>,
) -> JoinHandle<()> {
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (backends, first) = (backends.clone(), next.fetch_add(1, Ordering::Relaxed));
            let served = served.clone();
            tokio::spawn(async move {
                for k in 0..backends.len() {
                    let i = (first + k) % backends.len();
                    if let Ok(mut outbound) = TcpStream::connect(backends[i]).await {
                        if let Some(counter) = served.as_ref().and_then(|s| s.get(i)) {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    })
}

/// The run's core: one, or several replicas on one PostgreSQL database
/// behind [`spread`].
#[derive(Debug)]
pub struct Cores {
    replicas: Vec<CoreHandle>,
    spreader: Option<JoinHandle<()>>,
}

impl Cores {
    /// Starts `replicas` cores with `config`; the parties call `listener`.
    pub async fn start(config: CoreConfig, listener: TcpListener, replicas: u32) -> Result<Self, StartError> {
        if replicas <= 1 {
            return Ok(Self {
                replicas: vec![integration_core::start(config, listener)?],
                spreader: None,
            });
        }
        let mut cores = Vec::new();
        for i in 0..replicas {
            let own = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(StartError::Listener)?;
            let mut config = config.clone();
            // Each replica its own jitter.
            config.seed = config.seed.wrapping_add(u64::from(i));
            cores.push(integration_core::start(config, own)?);
        }
        let spreader = spread(listener, cores.iter().map(|c| c.addr).collect(), None);
        Ok(Self {
            replicas: cores,
            spreader: Some(spreader),
        })
    }

    /// The first replica (any replica sees the whole shared store).
    pub fn first(&self) -> &CoreHandle {
        &self.replicas[0]
    }

    pub async fn status(&self) -> Result<OpsStatus, integration_core::db::DbError> {
        self.first().status().await
    }

    /// Write transactions committed by all replicas.
    pub fn commits(&self) -> u64 {
        self.replicas.iter().map(CoreHandle::commits).sum()
    }

    /// Stops every replica (and the spreader).
    pub async fn stop(self) {
        if let Some(s) = &self.spreader {
            s.abort();
        }
        for core in self.replicas {
            core.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_must_be_a_postgres_url() {
        let s = RunStore::new("postgres://postgres@127.0.0.1:5432", 3).unwrap();
        assert_eq!(s.replicas, 3);
        let e = RunStore::new("target/core.sqlite", 1).unwrap_err();
        assert!(e.contains("expected a postgres:// URL"), "{e}");
        let e = RunStore::new("postgres://h:notaport", 1).unwrap_err();
        assert!(e.starts_with("--store: invalid PostgreSQL URL"), "{e}");
    }
}
