//! Who plays what in a run: the scenario's `[parties]` merged with the
//! command line's `--external`, `--token-for` and `--listen`, checked, and
//! each external party asked once before anything starts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use contracts::Role;
use contracts::routes::core;
use scenario::ProfileName;
use scenario::parties::{CallerTokens, CoreParty, Parties, PartnerParty, PartyRole};
use scenario::{Scenario, SimRole};

use super::activity::Activity;
use crate::run::options::{PartyOverrides, RunError};

/// How long an external party has to answer at start.
const READY_WAIT: Duration = Duration::from_secs(3);

/// Default silence through an external partner's proxies that counts as
/// quiet (it may act on its own a moment after its last exchange).
const DEFAULT_QUIET_MS: u64 = 500;

/// The partner roles.
pub(super) const PARTNERS: [SimRole; 3] = [SimRole::Erp, SimRole::Wms, SimRole::Supplier];

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
        apply_overrides(&mut p, overrides)?;
        let mut plan = Plan {
            core: external_core(&p.core)?,
            ..Plan::default()
        };
        for role in [SimRole::Erp, SimRole::Wms, SimRole::Supplier] {
            let party = partner_mut(&mut p, role).clone();
            let core_external = plan.core.is_some();
            *plan.partner_mut(role) = partner_plan(scenario, role, &party, core_external)?;
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

pub(super) fn client() -> Result<reqwest::Client, RunError> {
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
    pub(super) fn announce(&self) -> bool {
        !self.all_simulated()
    }
}

/// The command line's `--external`, `--listen` and `--token-for` over the
/// scenario's `[parties]`.
fn apply_overrides(p: &mut Parties, overrides: &PartyOverrides) -> Result<(), String> {
    for (role, url) in &overrides.external {
        match role {
            PartyRole::Core => p.core.url = Some(url.clone()),
            PartyRole::Partner(r) => partner_mut(p, *r).url = Some(url.clone()),
        }
    }
    for (role, addr) in &overrides.listen {
        match role {
            PartyRole::Core => {
                return Err("--listen core=…: the in-process core listens on a free port; \
                     an external party's calls reach it through `peer_listen`"
                    .into());
            }
            PartyRole::Partner(r) => partner_mut(p, *r).listen = Some(*addr),
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
        } else if let Some(r) = partner.filter(|r| partner_mut(p, *r).url.is_some()) {
            partner_mut(p, r).token = Some(token.clone());
        } else if partner.is_none() {
            return Err("--token-for ops=…: only for an external core (--external core=URL)".into());
        } else {
            return Err(format!(
                "--token-for {name}=…: neither the core nor the {name} is external; \
                 the in-process core makes its own tokens"
            ));
        }
    }
    Ok(())
}

/// `[parties.core]`, checked: the external core, if it has a URL.
fn external_core(core: &CoreParty) -> Result<Option<ExternalCore>, String> {
    for (name, t) in [
        ("erp", &core.tokens.erp),
        ("wms", &core.tokens.wms),
        ("supplier", &core.tokens.supplier),
        ("ops", &core.tokens.ops),
    ] {
        nonempty(t, &format!("[parties.core] tokens.{name}"))?;
    }
    if let Some(url) = &core.url {
        let ops_token = core.tokens.ops.clone().ok_or_else(|| {
            format!(
                "[parties.core] url = {:?}: the external core's ops token is required \
                 (tokens.ops, or --token-for ops=T): the run reads its outbox depth \
                 from /v1/ops/status to know when it is quiet",
                url.0
            )
        })?;
        return Ok(Some(ExternalCore {
            url: url.0.clone(),
            tokens: core.tokens.clone(),
            ops_token,
        }));
    }
    let any_token = core.tokens.erp.is_some()
        || core.tokens.wms.is_some()
        || core.tokens.supplier.is_some()
        || core.tokens.ops.is_some();
    if any_token {
        return Err("[parties.core] tokens: only for an external core (url); \
             the in-process core makes its own tokens"
            .into());
    }
    Ok(None)
}

/// One partner role's `[parties.<role>]`, checked.
fn partner_plan(
    scenario: &Scenario,
    role: SimRole,
    party: &PartnerParty,
    core_external: bool,
) -> Result<PartnerPlan, String> {
    let section = format!("[parties.{}]", role.as_str());
    nonempty(&party.token, &format!("{section} token"))?;
    let mut slot = PartnerPlan {
        listen: party.listen.map(|a| a.0),
        ..PartnerPlan::default()
    };
    let Some(url) = &party.url else {
        for (set, field) in [
            (party.token.is_some(), "token"),
            (party.peer_listen.is_some(), "peer_listen"),
            (party.quiet_ms.is_some(), "quiet_ms"),
        ] {
            if set {
                return Err(format!("{section} {field}: only for an external party (url)"));
            }
        }
        slot.profile = party.profile.map(ProfileName::profile);
        return Ok(slot);
    };
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
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use scenario::parties::{LoopbackAddr, PartyUrl, parse_role_value};
    use simulators::recorder::now_us;

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
