//! `crossdock simulate`: one simulated party, standalone, until Ctrl-C.

use std::path::PathBuf;

use clap::Args;
use scenario::{ProfileName, SimRole};

use super::args::{interrupted, profile_parser, sim_role_parser};
use crate::exit;
use crate::simulate::{SimulateOptions, simulate};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The party to play.
    #[arg(long, value_parser = sim_role_parser())]
    pub role: SimRole,
    /// Address to listen on, e.g. 127.0.0.1:7001 (port 0 picks one).
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// Base URL of the integration layer this party calls (its releases,
    /// acknowledgements, ASNs, receipts go there).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub peer_url: String,
    /// Faults file: `[[faults]]` rules (see contracts/src/faults.rs).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Behaviour file (TOML): the scenario's `[supplier]`, `[wms]`,
    /// `[invoicing]`, `[inventory]` sections, and `[outbound]` with the
    /// WMS's item master (see harness/src/simulate.rs).
    #[arg(long, value_name = "FILE")]
    pub behaviour: Option<PathBuf>,
    /// Default limits of a real system: netsuite (concurrency 15),
    /// dynamics (6,000 requests / 5 min), shipbob (150 requests / min).
    #[arg(long, value_parser = profile_parser())]
    pub profile: Option<ProfileName>,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// History file (JSON Lines).
    #[arg(long, default_value = "target/crossdock/simulate.jsonl")]
    pub history: PathBuf,
    /// Require `Authorization: Bearer TOKEN` on every request; a missing
    /// or wrong token is answered 401 problem+json.
    #[arg(long)]
    pub token: Option<String>,
    /// Bearer token to send to the peer (e.g. this party's token on
    /// `crossdock core`).
    #[arg(long)]
    pub peer_token: Option<String>,
}

pub async fn execute(args: SimulateArgs) -> u8 {
    let (role, history) = (args.role, args.history.clone());
    let opts = SimulateOptions {
        role: args.role,
        listen: args.listen,
        peer_url: args.peer_url,
        faults_file: args.faults,
        behaviour_file: args.behaviour,
        profile: args.profile.map(ProfileName::profile),
        seed: args.seed,
        history: args.history,
        token: args.token,
        peer_token: args.peer_token,
    };
    let started = |url: &str| {
        println!("{url}");
        eprintln!(
            "crossdock: simulating {} on {url}; history in {}; Ctrl-C to stop",
            role.as_str(),
            history.display()
        );
    };
    let ctrl_c = match interrupted() {
        Ok(signal) => signal,
        Err(e) => {
            eprintln!("crossdock: error: failed to listen for Ctrl-C: {e}");
            return exit::INFRASTRUCTURE;
        }
    };
    match simulate(opts, started, ctrl_c).await {
        Ok(n) => {
            eprintln!("crossdock: stopped; {n} exchanges in {}", history.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            e.exit_code()
        }
    }
}
