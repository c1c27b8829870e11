//! Any role as the system under test, by URL: `[parties.<role>]` in a
//! scenario, or `crossdock run --external ROLE=URL` (with `--token-for` and
//! `--listen`).
//!
//! ```toml
//! [parties.core]                  # the core at a URL: the simulators call it
//! url = "http://127.0.0.1:8080"
//! tokens = { erp = "…", wms = "…", supplier = "…", ops = "…" }  # ops required
//!
//! [parties.erp]                   # simulated (no url)
//! listen = "127.0.0.1:7001"       # fixed address, so the core can be configured
//! profile = "netsuite"            # limits of a real system (as `crossdock simulate`)
//!
//! [parties.wms]                   # an external WMS behind a recording proxy
//! url = "http://127.0.0.1:9002"
//! token = "…"                     # bearer the proxy sends to it
//! listen = "127.0.0.1:7002"       # the proxy the core delivers to (default: a free port)
//! peer_listen = "127.0.0.1:7102"  # where its calls to the core go (recorded; default: a free port)
//! quiet_ms = 500                  # silence through its proxies that counts as quiet
//! ```
//!
//! When the core is external, the simulators call it with the callers'
//! tokens, the harness reads `/v1/ops/status` (outbox depth) and runs
//! reconciliations with the ops token, and the core must be configured to
//! deliver to the simulators' addresses (fixed with `listen`, printed at
//! start). When a partner is external, the in-process core delivers to it
//! through a recording reverse proxy, and the party's own calls to the core
//! go through a second one, so its history file is as complete as a
//! simulator's. Every external party is asked once at start; one that does
//! not answer ends the run with [`RunError::Unreachable`] (exit 2).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use integration_core::OpsStatus;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use contracts::http::IDEMPOTENT_REPLAYED;
use contracts::routes::core;
use contracts::{Direction, Problem, Role};
use simulators::recorder::{Recorder, now_us};
use simulators::{Server, serve_plain};

use crate::cli::ProfileArg;
use crate::run::RunError;
use crate::scenario::{Scenario, SimRole};

/// How long an external party has to answer at start.
const READY_WAIT: Duration = Duration::from_secs(3);

/// Default silence through an external partner's proxies that counts as
/// quiet (it may act on its own a moment after its last exchange).
const DEFAULT_QUIET_MS: u64 = 500;

/// The partner roles.
const PARTNERS: [SimRole; 3] = [SimRole::Erp, SimRole::Wms, SimRole::Supplier];

/// Largest body the proxies forward.
const MAX_PROXY_BODY: usize = 16 * 1024 * 1024;

/// A base URL of an external party: `http://HOST[:PORT]` (the harness is
/// built without TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyUrl(pub String);

impl std::str::FromStr for PartyUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("http://").unwrap_or("");
        let host = rest.split(['/', ':']).next().unwrap_or("");
        if host.is_empty() || reqwest::Url::parse(s).is_err() {
            return Err(format!(
                "expected an http:// URL (https is not supported), found {s:?}"
            ));
        }
        Ok(PartyUrl(s.trim_end_matches('/').to_owned()))
    }
}

impl<'de> Deserialize<'de> for PartyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PartyUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PartyUrl".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^http://[^/:]+", "description": "http:// base URL of an external party"})
    }
}

/// A loopback socket address the harness listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopbackAddr(pub SocketAddr);

impl std::str::FromStr for LoopbackAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let addr: SocketAddr = s
            .parse()
            .map_err(|_| format!("expected an address like 127.0.0.1:7001, found {s:?}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "expected a loopback address (127.0.0.1 or [::1]), found {addr}"
            ));
        }
        Ok(LoopbackAddr(addr))
    }
}

impl<'de> Deserialize<'de> for LoopbackAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for LoopbackAddr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LoopbackAddr".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "description": "loopback address, e.g. 127.0.0.1:7001"})
    }
}

/// The bearer tokens an external core knows, per caller.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerTokens {
    pub erp: Option<String>,
    pub wms: Option<String>,
    /// The supplier's (GLN 5060000000016, the one every generated PO names).
    pub supplier: Option<String>,
    /// The core's operator: `/v1/ops/status`, reconciliations. Required.
    pub ops: Option<String>,
}

/// `[parties.core]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoreParty {
    /// The core under test; absent: the in-process reference core.
    pub url: Option<PartyUrl>,
    #[serde(default)]
    pub tokens: CallerTokens,
}

/// `[parties.erp]`, `[parties.wms]`, `[parties.supplier]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerParty {
    /// The party under test; absent: simulated.
    pub url: Option<PartyUrl>,
    /// External: the bearer token the recording proxy sends to it.
    pub token: Option<String>,
    /// Where the core reaches this party: the simulator, or the proxy in
    /// front of the external party. Default: a free port.
    pub listen: Option<LoopbackAddr>,
    /// External: where the harness takes the party's calls to the core
    /// (recorded, then forwarded with the party's token). Default: a free
    /// port.
    pub peer_listen: Option<LoopbackAddr>,
    /// Simulated: limits of a real system.
    pub profile: Option<ProfileArg>,
    /// External: silence through its proxies that counts as quiet.
    pub quiet_ms: Option<u64>,
}

/// `[parties]`: each role simulated (absent) or external (`url`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parties {
    #[serde(default)]
    pub core: CoreParty,
    #[serde(default)]
    pub erp: PartnerParty,
    #[serde(default)]
    pub wms: PartnerParty,
    #[serde(default)]
    pub supplier: PartnerParty,
}

/// A role of `--external`, `--listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyRole {
    Core,
    Partner(SimRole),
}

impl std::str::FromStr for PartyRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "core" => Ok(PartyRole::Core),
            "erp" => Ok(PartyRole::Partner(SimRole::Erp)),
            "wms" => Ok(PartyRole::Partner(SimRole::Wms)),
            "supplier" => Ok(PartyRole::Partner(SimRole::Supplier)),
            other => Err(format!(
                "expected a role of core, erp, wms or supplier, found {other:?}"
            )),
        }
    }
}

/// `ROLE=VALUE` of `--external` and `--listen`.
pub fn parse_role_value<T: std::str::FromStr<Err = String>>(s: &str) -> Result<(PartyRole, T), String> {
    let (role, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ROLE=VALUE (core, erp, wms or supplier), found {s:?}"))?;
    Ok((role.parse()?, value.parse()?))
}

/// The command line's say on the parties; it wins over the scenario's.
#[derive(Debug, Clone, Default)]
pub struct PartyOverrides {
    /// `--external ROLE=URL`.
    pub external: Vec<(PartyRole, PartyUrl)>,
    /// `--token-for ROLE=T`: with an external core, the token it expects
    /// from that caller (`ops`: its operator, as [`Role::Core`]); with an
    /// external partner, the token the proxy sends to it.
    pub tokens_for: Vec<(Role, String)>,
    /// `--listen ROLE=ADDR`.
    pub listen: Vec<(PartyRole, LoopbackAddr)>,
}

/// An external core, checked.
#[derive(Debug, Clone)]
pub struct ExternalCore {
    pub url: String,
    pub tokens: CallerTokens,
    pub ops_token: String,
}

/// An external partner, checked.
#[derive(Debug, Clone)]
pub struct ExternalPartner {
    pub url: String,
    pub token: Option<String>,
    pub peer_listen: Option<SocketAddr>,
    pub quiet: Duration,
}

/// Who plays what in one run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub core: Option<ExternalCore>,
    erp: PartnerPlan,
    wms: PartnerPlan,
    supplier: PartnerPlan,
}

/// One partner role's part.
#[derive(Debug, Clone, Default)]
pub struct PartnerPlan {
    pub external: Option<ExternalPartner>,
    pub listen: Option<SocketAddr>,
    pub profile: Option<simulators::faults::Profile>,
}

fn partner_mut(parties: &mut Parties, role: SimRole) -> &mut PartnerParty {
    match role {
        SimRole::Erp => &mut parties.erp,
        SimRole::Wms => &mut parties.wms,
        SimRole::Supplier => &mut parties.supplier,
    }
}

fn nonempty(token: &Option<String>, what: &str) -> Result<(), String> {
    match token {
        Some(t) if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(format!("{what}: expected a token of visible ASCII characters"))
        }
        _ => Ok(()),
    }
}

impl Plan {
    /// The scenario's `[parties]` with the command line's overrides, checked:
    /// errors name the section or option at fault.
    pub fn resolve(scenario: &Scenario, overrides: &PartyOverrides) -> Result<Self, String> {
        let mut p = scenario.parties.clone();
        for (role, url) in &overrides.external {
            match role {
                PartyRole::Core => p.core.url = Some(url.clone()),
                PartyRole::Partner(r) => partner_mut(&mut p, *r).url = Some(url.clone()),
            }
        }
        for (role, addr) in &overrides.listen {
            match role {
                PartyRole::Core => {
                    return Err("--listen core=…: the in-process core listens on a free port; \
                         an external party's calls reach it through `peer_listen`"
                        .into());
                }
                PartyRole::Partner(r) => partner_mut(&mut p, *r).listen = Some(*addr),
            }
        }
        let core_external = p.core.url.is_some();
        for (role, token) in &overrides.tokens_for {
            let partner = match role {
                Role::Erp => Some(SimRole::Erp),
                Role::Wms => Some(SimRole::Wms),
                Role::Supplier => Some(SimRole::Supplier),
                Role::Core | Role::Harness => None,
            };
            let name = partner.map_or("ops", SimRole::as_str);
            if core_external {
                let slot = match role {
                    Role::Erp => &mut p.core.tokens.erp,
                    Role::Wms => &mut p.core.tokens.wms,
                    Role::Supplier => &mut p.core.tokens.supplier,
                    Role::Core | Role::Harness => &mut p.core.tokens.ops,
                };
                *slot = Some(token.clone());
            } else if let Some(r) = partner.filter(|r| partner_mut(&mut p, *r).url.is_some()) {
                partner_mut(&mut p, r).token = Some(token.clone());
            } else if partner.is_none() {
                return Err("--token-for ops=…: only for an external core (--external core=URL)".into());
            } else {
                return Err(format!(
                    "--token-for {name}=…: neither the core nor the {name} is external; \
                     the in-process core makes its own tokens"
                ));
            }
        }

        let mut plan = Plan::default();
        for (name, t) in [
            ("erp", &p.core.tokens.erp),
            ("wms", &p.core.tokens.wms),
            ("supplier", &p.core.tokens.supplier),
            ("ops", &p.core.tokens.ops),
        ] {
            nonempty(t, &format!("[parties.core] tokens.{name}"))?;
        }
        if let Some(url) = &p.core.url {
            let ops_token = p.core.tokens.ops.clone().ok_or_else(|| {
                format!(
                    "[parties.core] url = {:?}: the external core's ops token is required \
                     (tokens.ops, or --token-for ops=T): the run reads its outbox depth \
                     from /v1/ops/status to know when it is quiet",
                    url.0
                )
            })?;
            plan.core = Some(ExternalCore {
                url: url.0.clone(),
                tokens: p.core.tokens.clone(),
                ops_token,
            });
        } else if p.core.tokens.erp.is_some()
            || p.core.tokens.wms.is_some()
            || p.core.tokens.supplier.is_some()
            || p.core.tokens.ops.is_some()
        {
            return Err("[parties.core] tokens: only for an external core (url); \
                 the in-process core makes its own tokens"
                .into());
        }
        for role in [SimRole::Erp, SimRole::Wms, SimRole::Supplier] {
            let party = partner_mut(&mut p, role).clone();
            let section = format!("[parties.{}]", role.as_str());
            nonempty(&party.token, &format!("{section} token"))?;
            let core_external = plan.core.is_some();
            let slot = plan.partner_mut(role);
            slot.listen = party.listen.map(|a| a.0);
            match &party.url {
                Some(url) => {
                    if core_external {
                        return Err(format!(
                            "{section} url: with an external core, the partners must be \
                             simulated (the harness sees the exchanges through its simulators)"
                        ));
                    }
                    if party.profile.is_some() {
                        return Err(format!(
                            "{section} profile: only for a simulated party; {url:?} is external",
                            url = url.0
                        ));
                    }
                    if let Some(f) = scenario.faults.iter().find(|f| f.role == role) {
                        return Err(format!(
                            "[[faults]] role = \"{}\" (at_s = {}): the harness cannot inject faults \
                             into an external party",
                            role.as_str(),
                            f.at_s
                        ));
                    }
                    slot.external = Some(ExternalPartner {
                        url: url.0.clone(),
                        token: party.token.clone(),
                        peer_listen: party.peer_listen.map(|a| a.0),
                        quiet: Duration::from_millis(party.quiet_ms.unwrap_or(DEFAULT_QUIET_MS)),
                    });
                }
                None => {
                    for (set, field) in [
                        (party.token.is_some(), "token"),
                        (party.peer_listen.is_some(), "peer_listen"),
                        (party.quiet_ms.is_some(), "quiet_ms"),
                    ] {
                        if set {
                            return Err(format!("{section} {field}: only for an external party (url)"));
                        }
                    }
                    slot.profile = party.profile.map(Into::into);
                }
            }
        }
        Ok(plan)
    }

    fn partner_mut(&mut self, role: SimRole) -> &mut PartnerPlan {
        match role {
            SimRole::Erp => &mut self.erp,
            SimRole::Wms => &mut self.wms,
            SimRole::Supplier => &mut self.supplier,
        }
    }

    /// One partner role's part.
    pub fn partner(&self, role: SimRole) -> &PartnerPlan {
        match role {
            SimRole::Erp => &self.erp,
            SimRole::Wms => &self.wms,
            SimRole::Supplier => &self.supplier,
        }
    }

    /// True when every role is the harness's own.
    pub fn all_simulated(&self) -> bool {
        self.core.is_none() && PARTNERS.iter().all(|r| self.partner(*r).external.is_none())
    }

    /// What the run cannot script or judge with these parties, one line each.
    pub fn notes(&self, scenario: &Scenario) -> Vec<String> {
        let mut notes = Vec::new();
        if self.core.is_some() {
            notes.push(
                "not applied: external core: the scenario's core settings ([core] max_attempts, \
                 [outbound] release_timeout_ms, [invoicing] price_tolerance_pct) are its own \
                 configuration; the checks still judge it by the scenario's values"
                    .to_owned(),
            );
        }
        for role in PARTNERS {
            if self.partner(role).external.is_none() {
                continue;
            }
            let what = match role {
                SimRole::Wms => {
                    let mut w = vec!["[wms] receiving behaviour"];
                    if scenario.outbound.is_some() {
                        w.push("[outbound] item master and shipping");
                    }
                    if scenario.inventory.is_some() {
                        w.push("[inventory] adjustments");
                    }
                    w.join(", ")
                }
                SimRole::Supplier => {
                    let mut w = vec!["[supplier] acknowledgement and ASN behaviour"];
                    if scenario.invoicing.is_some() {
                        w.push("[invoicing] invoices");
                    }
                    w.join(", ")
                }
                SimRole::Erp => {
                    "the ERP's answers (the harness still releases the orders, as the ERP)".into()
                }
            };
            notes.push(format!(
                "not applied: external {}: {what}; what it does on its own is judged only \
                 when it calls the core through the harness's proxy",
                role.as_str()
            ));
        }
        notes
    }

    /// Asks every external party once (waiting up to [`READY_WAIT`] for it
    /// to listen): any HTTP answer from a partner; from a core, 200 to
    /// `GET /v1/ops/status` with the ops token.
    pub async fn check_ready(&self) -> Result<(), RunError> {
        let http = client()?;
        if let Some(c) = &self.core {
            let url = format!("{}{}", c.url, core::OPS_STATUS);
            let answer = ask(&http, &url, Some(&c.ops_token))
                .await
                .map_err(|e| unreachable_party("core", &c.url, &e))?;
            match answer.as_u16() {
                200 => {}
                401 | 403 => {
                    return Err(RunError::BadParties(format!(
                        "the external core at {} refused the ops token (GET {} answered {answer})",
                        c.url,
                        core::OPS_STATUS
                    )));
                }
                _ => {
                    return Err(RunError::Unreachable {
                        what: "the system under test",
                        message: format!(
                            "core at {}: GET {} answered {answer}, expected 200",
                            c.url,
                            core::OPS_STATUS
                        ),
                    });
                }
            }
        }
        for role in PARTNERS {
            if let Some(e) = &self.partner(role).external {
                ask(&http, &e.url, e.token.as_deref())
                    .await
                    .map_err(|m| unreachable_party(role.as_str(), &e.url, &m))?;
            }
        }
        Ok(())
    }
}

fn unreachable_party(role: &str, url: &str, error: &str) -> RunError {
    RunError::Unreachable {
        what: "the system under test",
        message: format!("{role} at {url} did not answer within {READY_WAIT:?}: {error}"),
    }
}

fn client() -> Result<reqwest::Client, RunError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| RunError::Start {
            what: "an HTTP client",
            message: e.to_string(),
        })
}

/// GET `url` until an answer or [`READY_WAIT`].
async fn ask(http: &reqwest::Client, url: &str, token: Option<&str>) -> Result<StatusCode, String> {
    let until = Instant::now() + READY_WAIT;
    loop {
        let mut req = http.get(url).timeout(READY_WAIT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(r) => return Ok(StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::OK)),
            Err(e) if Instant::now() >= until => {
                return Err(
                    std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"))
                );
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Plan {
    /// The tokens the simulated partners send to the core: the in-process
    /// core's `generated` ones (ERP, WMS, supplier), or those configured for
    /// the external core.
    pub fn caller_tokens(&self, generated: [String; 3]) -> [Option<String>; 3] {
        match &self.core {
            None => generated.map(Some),
            Some(c) => [
                c.tokens.erp.clone(),
                c.tokens.wms.clone(),
                c.tokens.supplier.clone(),
            ],
        }
    }

    /// Exchanges open or recent through the proxies of external partners.
    pub fn proxies_busy(&self, activity: &Activity) -> usize {
        PARTNERS
            .iter()
            .filter_map(|r| self.partner(*r).external.as_ref())
            .map(|e| e.quiet)
            .max()
            .map_or(0, |quiet| activity.busy(quiet))
    }

    /// Whether to say who plays what.
    fn announce(&self) -> bool {
        !self.all_simulated()
    }
}

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

/// The core a run talks to: its own (one or several replicas), or one at a
/// URL.
pub enum CoreAccess {
    InProcess(super::store::Cores),
    External {
        url: String,
        ops_token: String,
        http: reqwest::Client,
    },
}

impl CoreAccess {
    /// Starts the in-process reference core, as `replicas` replicas.
    pub async fn start(
        config: integration_core::CoreConfig,
        listener: tokio::net::TcpListener,
        replicas: u32,
    ) -> Result<Self, RunError> {
        super::store::Cores::start(config, listener, replicas)
            .await
            .map(CoreAccess::InProcess)
            .map_err(|e| RunError::Start {
                what: "the reference core",
                message: e.to_string(),
            })
    }

    /// An external core, reached with its ops token.
    pub fn external(core: &ExternalCore) -> Result<Self, RunError> {
        Ok(CoreAccess::External {
            url: core.url.clone(),
            ops_token: core.ops_token.clone(),
            http: client()?,
        })
    }

    pub fn url(&self) -> String {
        match self {
            CoreAccess::InProcess(c) => c.first().url(),
            CoreAccess::External { url, .. } => url.clone(),
        }
    }

    /// Outbox and inbox depth: from the store, or `GET /v1/ops/status`.
    pub async fn status(&self) -> Result<OpsStatus, String> {
        match self {
            CoreAccess::InProcess(c) => c.status().await.map_err(|e| e.to_string()),
            CoreAccess::External { url, ops_token, http } => {
                let r = http
                    .get(format!("{url}{}", core::OPS_STATUS))
                    .bearer_auth(ops_token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("GET {} answered {}", core::OPS_STATUS, r.status()));
                }
                r.json().await.map_err(|e| e.to_string())
            }
        }
    }

    /// Stops the in-process core; an external one keeps running.
    pub async fn stop(self) {
        if let CoreAccess::InProcess(c) = self {
            c.stop().await;
        }
    }
}

/// Exchanges through the proxies: in flight now, and when the last ended.
#[derive(Debug, Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    last_us: AtomicU64,
}

impl Activity {
    /// Proxied exchanges still open, plus one when the last one ended less
    /// than `quiet` ago (the party may still act on what it just got).
    pub fn busy(&self, quiet: Duration) -> usize {
        let last = self.last_us.load(Ordering::SeqCst);
        let recent = last > 0 && now_us().saturating_sub(last) < quiet.as_micros() as u64;
        self.in_flight.load(Ordering::SeqCst) + usize::from(recent)
    }
}

/// One recording reverse proxy: every request is forwarded to `upstream`
/// and recorded in `recorder` as `party`'s exchange with `peer`.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    recorder: Recorder,
    party: Role,
    peer: Role,
    direction: Direction,
    /// Replaces the caller's `Authorization`, when set.
    bearer: Option<String>,
    http: reqwest::Client,
    activity: Arc<Activity>,
}

/// Headers that belong to one connection, not to the exchange.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "upgrade"
            | "host"
            | "content-length"
            | "accept-encoding"
    )
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    p.activity.in_flight.fetch_add(1, Ordering::SeqCst);
    let response = forward_recorded(&p, req).await;
    p.activity.last_us.store(now_us(), Ordering::SeqCst);
    p.activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn forward_recorded(p: &Proxy, req: Request) -> Response {
    let started_at_us = now_us();
    let (parts, body) = req.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut exchange = simulators::request_exchange(&parts, p.party, p.peer, p.direction, started_at_us);
    let bytes = match to_bytes(body, MAX_PROXY_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return problem(413, "body-too-large", format!("request body too large: {e}"));
        }
    };
    let mut out = p.http.request(
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET),
        format!("{}{path_and_query}", p.upstream),
    );
    for (name, value) in &parts.headers {
        if hop_by_hop(name) || (p.bearer.is_some() && name == header::AUTHORIZATION) {
            continue;
        }
        out = out.header(name.as_str(), value.as_bytes());
    }
    if let Some(token) = &p.bearer {
        out = out.bearer_auth(token);
    }
    let answer = match out.body(bytes.clone()).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let headers: Vec<(String, Vec<u8>)> = r
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            r.bytes()
                .await
                .map(|b| (status, headers, b))
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"))),
    };
    exchange.finished_at_us = now_us();
    match answer {
        Ok((status, headers, rbytes)) => {
            exchange.status = Some(status);
            exchange.replayed = headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(IDEMPOTENT_REPLAYED) && v == b"true");
            p.recorder
                .record_raw(exchange, Some(bytes), Some(rbytes.clone()))
                .await;
            let mut response = Response::new(Body::from(rbytes));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (n, v) in headers {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(n.as_bytes()),
                    axum::http::HeaderValue::from_bytes(&v),
                ) && !hop_by_hop(&n)
                {
                    response.headers_mut().append(n, v);
                }
            }
            response
        }
        Err(e) => {
            exchange.error = Some(e.clone());
            p.recorder.record_raw(exchange, Some(bytes), None).await;
            problem(
                502,
                "upstream-unreachable",
                format!("{} did not answer: {e}", p.upstream),
            )
        }
    }
}

fn problem(status: u16, kind: &str, detail: String) -> Response {
    let body = Problem::new(status, kind, "recording proxy").with_detail(detail);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// Starts a recording reverse proxy on `listener` to `upstream`: requests
/// are recorded as `party`'s exchanges with `peer` (`direction` as the
/// party sees it), `bearer` replacing the caller's token when set.
#[allow(clippy::too_many_arguments)]
pub fn start_proxy(
    listener: tokio::net::TcpListener,
    upstream: &str,
    recorder: Recorder,
    party: Role,
    peer: Role,
    direction: Direction,
    bearer: Option<String>,
    activity: Arc<Activity>,
) -> std::io::Result<Server> {
    let proxy = Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        recorder,
        party,
        peer,
        direction,
        bearer,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?,
        activity,
    };
    serve_plain(listener, Router::new().fallback(forward).with_state(proxy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn party_urls_and_listen_addresses_are_checked() {
        assert_eq!(
            "http://127.0.0.1:8080/".parse::<PartyUrl>(),
            Ok(PartyUrl("http://127.0.0.1:8080".into()))
        );
        assert!(
            "https://wms.example"
                .parse::<PartyUrl>()
                .unwrap_err()
                .contains("https is not supported")
        );
        assert!("127.0.0.1:80".parse::<PartyUrl>().is_err());
        assert!(
            "10.0.0.1:7001"
                .parse::<LoopbackAddr>()
                .unwrap_err()
                .contains("loopback")
        );
        assert_eq!(
            parse_role_value::<PartyUrl>("core=http://127.0.0.1:1"),
            Ok((PartyRole::Core, PartyUrl("http://127.0.0.1:1".into())))
        );
        assert!(
            parse_role_value::<PartyUrl>("ops=http://x")
                .unwrap_err()
                .contains("core, erp")
        );
    }

    const BASE: &str = "name = \"p\"\n[load]\npurchase_orders = 1\nlines_per_po = { min = 1, max = 1 }\narrival_rate_per_s = 1\ntime_bound_s = 5\n";

    fn scenario(extra: &str) -> Scenario {
        Scenario::parse(std::path::Path::new("p.toml"), &format!("{BASE}{extra}")).unwrap()
    }

    fn resolve(extra: &str, o: &PartyOverrides) -> Result<Plan, String> {
        Plan::resolve(&scenario(extra), o)
    }

    #[test]
    fn absent_parties_are_all_simulated() {
        let plan = resolve("", &PartyOverrides::default()).unwrap();
        assert!(plan.all_simulated());
        assert_eq!(
            plan.caller_tokens(["e".into(), "w".into(), "s".into()])[1].as_deref(),
            Some("w")
        );
        assert!(plan.notes(&scenario("")).is_empty());
    }

    #[test]
    fn an_external_core_needs_its_ops_token_and_takes_the_callers_tokens() {
        let e = resolve(
            "[parties.core]\nurl = \"http://127.0.0.1:8080\"\n",
            &PartyOverrides::default(),
        )
        .unwrap_err();
        assert!(
            e.contains("[parties.core]") && e.contains("ops token is required"),
            "{e}"
        );
        let o = PartyOverrides {
            external: vec![(PartyRole::Core, PartyUrl("http://127.0.0.1:9".into()))],
            tokens_for: vec![(Role::Core, "ops-t".into()), (Role::Wms, "wms-t".into())],
            listen: vec![(
                PartyRole::Partner(SimRole::Erp),
                "127.0.0.1:7001".parse().unwrap(),
            )],
        };
        let plan = resolve("[parties.core]\nurl = \"http://127.0.0.1:8080\"\n", &o).unwrap();
        let core = plan.core.as_ref().unwrap();
        // The command line wins over the file.
        assert_eq!(
            (core.url.as_str(), core.ops_token.as_str()),
            ("http://127.0.0.1:9", "ops-t")
        );
        assert_eq!(
            plan.caller_tokens(["e".into(), "w".into(), "s".into()]),
            [None, Some("wms-t".into()), None]
        );
        assert_eq!(
            plan.partner(SimRole::Erp).listen,
            Some("127.0.0.1:7001".parse().unwrap())
        );
        assert!(plan.notes(&scenario(""))[0].contains("not applied: external core"));
    }

    #[test]
    fn parties_that_do_not_fit_are_refused_naming_the_field() {
        let none = PartyOverrides::default();
        let cases = [
            (
                "[parties.core]\nurl = \"http://127.0.0.1:1\"\ntokens = { ops = \"o\" }\n[parties.wms]\nurl = \"http://127.0.0.1:2\"\n",
                "[parties.wms] url: with an external core",
            ),
            (
                "[parties.wms]\nurl = \"http://127.0.0.1:2\"\nprofile = \"shipbob\"\n",
                "[parties.wms] profile",
            ),
            (
                "[parties.erp]\ntoken = \"t\"\n",
                "[parties.erp] token: only for an external party",
            ),
            (
                "[parties.core]\ntokens = { erp = \"t\" }\n",
                "[parties.core] tokens: only for an external core",
            ),
            (
                "[parties.wms]\nurl = \"http://127.0.0.1:2\"\n[[faults]]\nat_s = 0\nfor_s = 1\nrole = \"wms\"\nkind = \"outage\"\n",
                "cannot inject faults into an external party",
            ),
        ];
        for (extra, expected) in cases {
            let e = resolve(extra, &none).unwrap_err();
            assert!(e.contains(expected), "{extra}: {e}");
        }
        let o = PartyOverrides {
            tokens_for: vec![(Role::Erp, "t".into())],
            ..PartyOverrides::default()
        };
        assert!(resolve("", &o).unwrap_err().contains("--token-for erp"));
        let o = PartyOverrides {
            tokens_for: vec![(Role::Core, "t".into())],
            ..PartyOverrides::default()
        };
        assert!(resolve("", &o).unwrap_err().contains("only for an external core"));
        // Bad values are the scenario's errors, located.
        let e = Scenario::parse(
            std::path::Path::new("p.toml"),
            &format!("{BASE}[parties.erp]\nlisten = \"10.1.1.1:7001\"\n"),
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (8, Some("parties.erp.listen")),
            "{e}"
        );
        assert!(e.message.contains("loopback"), "{e}");
    }

    #[test]
    fn an_external_wms_is_proxied_and_says_what_is_not_applied() {
        let plan = resolve(
            "[parties.wms]\nurl = \"http://127.0.0.1:2\"\ntoken = \"t\"\npeer_listen = \"127.0.0.1:7102\"\nquiet_ms = 50\n",
            &PartyOverrides::default(),
        )
        .unwrap();
        let wms = plan.partner(SimRole::Wms).external.as_ref().unwrap();
        assert_eq!(
            (wms.url.as_str(), wms.token.as_deref(), wms.quiet),
            ("http://127.0.0.1:2", Some("t"), Duration::from_millis(50))
        );
        let activity = Activity::default();
        assert_eq!(plan.proxies_busy(&activity), 0);
        activity.last_us.store(now_us(), Ordering::SeqCst);
        assert_eq!(plan.proxies_busy(&activity), 1);
        let notes = plan.notes(&scenario(""));
        assert!(
            notes[0].contains("external wms: [wms] receiving behaviour"),
            "{notes:?}"
        );
    }
}
