//! Serving the partner roles: a simulator on its listener, or a recording
//! proxy before an external partner, and the proxies an external
//! partner's calls to the core go through.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use contracts::{Direction, Role};
use scenario::SimRole;
use simulators::Server;
use simulators::recorder::Recorder;

use super::activity::Activity;
use super::plan::{PARTNERS, Plan};
use super::proxy::start_proxy;
use crate::run::options::RunError;

async fn bind_at(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener, RunError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RunError::Start {
            what: "a listener on 127.0.0.1",
            message: format!("{what} on {addr}: {e}"),
        })
}

/// The listener where the core reaches a partner role: its `listen`
/// address, or a free port.
pub async fn bind_partner(plan: &Plan, role: SimRole) -> Result<tokio::net::TcpListener, RunError> {
    let addr = plan
        .partner(role)
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    bind_at(addr, role.as_str()).await
}

/// Serves a partner role on `listener`: its simulator (with its profile's
/// rules), or a recording proxy to the external party.
pub fn serve_party(
    plan: &Plan,
    role: SimRole,
    listener: tokio::net::TcpListener,
    app: Router,
    faults: &Arc<simulators::faults::FaultSet>,
    recorder: &Recorder,
    activity: &Arc<Activity>,
) -> std::io::Result<Server> {
    let part = plan.partner(role);
    let party = role.role();
    let server = match &part.external {
        Some(e) => start_proxy(
            listener,
            &e.url,
            recorder.clone(),
            party,
            Role::Core,
            Direction::Inbound,
            e.token.clone(),
            activity.clone(),
        )?,
        None => {
            for rule in part
                .profile
                .map(simulators::faults::Profile::rules)
                .unwrap_or_default()
            {
                faults.add(rule).map_err(std::io::Error::other)?;
            }
            simulators::serve(listener, app, faults.clone())?
        }
    };
    if plan.announce() {
        match &part.external {
            Some(e) => eprintln!(
                "crossdock: {}: external at {}; the core delivers to it through the recording proxy {}",
                role.as_str(),
                e.url,
                server.url()
            ),
            None => eprintln!(
                "crossdock: {}: simulated at {} (point the core's {} URL here)",
                role.as_str(),
                server.url(),
                role.as_str()
            ),
        }
    }
    Ok(server)
}

/// For each external partner, the recording proxy its calls to the core go
/// through (sent on with the in-process core's token for that role).
/// `recorders` and `tokens` are the ERP's, the WMS's and the supplier's.
pub async fn serve_peer_proxies(
    plan: &Plan,
    core_url: &str,
    recorders: &[&Recorder; 3],
    tokens: &[Option<String>; 3],
    activity: &Arc<Activity>,
) -> Result<Vec<Server>, RunError> {
    let mut servers = Vec::new();
    for (i, role) in PARTNERS.into_iter().enumerate() {
        let Some(e) = &plan.partner(role).external else {
            continue;
        };
        let addr = e
            .peer_listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = bind_at(addr, &format!("{}'s calls to the core", role.as_str())).await?;
        let server = start_proxy(
            listener,
            core_url,
            recorders[i].clone(),
            role.role(),
            Role::Core,
            Direction::Outbound,
            tokens[i].clone(),
            activity.clone(),
        )
        .map_err(|e| RunError::Start {
            what: "a recording proxy",
            message: e.to_string(),
        })?;
        eprintln!(
            "crossdock: {}: its calls to the core go to {} (recorded; point its core URL here)",
            role.as_str(),
            server.url()
        );
        servers.push(server);
    }
    Ok(servers)
}
