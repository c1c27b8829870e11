//! `crossdock certify`: a partner's running endpoint against its role's
//! contract; the evidence written to a directory.

use std::path::PathBuf;

use clap::Args;

use super::args::parse_token_for;
use crate::certify::{self, CallbackListen, CertifyOptions};
use crate::exit;

/// A role `crossdock certify` can certify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CertifyRole {
    Supplier,
    Wms,
    Erp,
    Core,
}

impl From<CertifyRole> for contracts::Role {
    fn from(r: CertifyRole) -> Self {
        match r {
            CertifyRole::Supplier => contracts::Role::Supplier,
            CertifyRole::Wms => contracts::Role::Wms,
            CertifyRole::Erp => contracts::Role::Erp,
            CertifyRole::Core => contracts::Role::Core,
        }
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CertifyArgs {
    #[command(subcommand)]
    pub command: Option<CertifyCommand>,
    /// The role the target plays.
    #[arg(long, value_enum, required = true)]
    pub role: Option<CertifyRole>,
    /// Base URL of the target, e.g. http://127.0.0.1:9000.
    #[arg(long, required = true)]
    pub target: Option<String>,
    /// Who the target is (e.g. its GLN or company id), written into the
    /// certificate beside the URL.
    #[arg(long)]
    pub partner_id: Option<String>,
    /// Sign the evidence's manifest with this ed25519 key: a file of 64 hex
    /// characters (a 32-byte seed); writes manifest.sig.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Bearer token for every request; also runs errors.missing-auth-401.
    #[arg(long)]
    pub token: Option<String>,
    /// Certifying the core: the token of one of its callers, as
    /// `erp=T`, `wms=T`, `supplier=T` or `ops=T` (its operator: ops
    /// endpoints, /metrics, /v1/trace) (repeatable); a request goes
    /// with the token of the role that calls its path.
    #[arg(long = "token-for", value_parser = parse_token_for)]
    pub tokens_for: Vec<(contracts::Role, String)>,
    /// Evidence directory [default: target/crossdock/certify/<role>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of every generated document and key; the same seed repeats
    /// the same requests.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the harness answers the target's callbacks (supplier, WMS,
    /// core); point the target's core (or partner) URLs here.
    #[arg(long, default_value = "127.0.0.1:7400")]
    pub callback_listen: std::net::SocketAddr,
    /// How long to wait for the callbacks a request causes, in seconds.
    #[arg(long, default_value_t = 10)]
    pub callback_wait_s: u64,
    /// Arrival rate of the latency phase, requests per second.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Requests of the latency phase (0 skips it); 299 or more bound p99
    /// with 95 % confidence.
    #[arg(long, default_value_t = 300)]
    pub latency_requests: u32,
    /// Bound on p99 latency from the intended send time, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub p99_ms: u64,
    /// Certify only this operation's path (repeatable; partner roles);
    /// the certificate then says its scope is partial.
    #[arg(long = "operation", value_name = "PATH")]
    pub operations: Vec<String>,
}

/// `crossdock certify verify DIR`.
#[derive(Debug, clap::Subcommand)]
pub enum CertifyCommand {
    /// Check an evidence bundle: every file listed in its manifest.json,
    /// present, and of the SHA-256 listed. Exit 0 intact, 1 tampered (the
    /// file named), 2 unreadable.
    Verify {
        /// The evidence directory (holds manifest.json).
        dir: PathBuf,
        /// Require a signature (manifest.sig) by this ed25519 public key,
        /// 64 hex characters.
        #[arg(long)]
        public_key: Option<String>,
    },
}

fn verify(dir: &std::path::Path, public_key: Option<&str>) -> u8 {
    match certify::manifest::verify(dir, public_key) {
        Ok(v) => {
            println!(
                "intact: {} file(s) match {}{}",
                v.manifest.files.len(),
                dir.join("manifest.json").display(),
                v.signed_by
                    .map(|k| format!(", signed by ed25519 key {k}"))
                    .unwrap_or_else(|| ", not signed".into())
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("crossdock: {}: {e}", dir.display());
            e.exit_code()
        }
    }
}

pub async fn execute(args: CertifyArgs) -> u8 {
    if let Some(CertifyCommand::Verify { dir, public_key }) = &args.command {
        return verify(dir, public_key.as_deref());
    }
    let (Some(role), Some(target)) = (args.role, args.target) else {
        eprintln!("crossdock: error: certify needs --role and --target");
        return exit::BAD_INPUT;
    };
    let role = contracts::Role::from(role);
    let out = args.out.unwrap_or_else(|| certify::default_out_dir(role));
    let mut opts = CertifyOptions::new(role, target, out.clone());
    opts.partner_id = args.partner_id;
    opts.signing_key = args.signing_key;
    opts.token = args.token;
    opts.tokens_for = args.tokens_for;
    opts.seed = args.seed;
    opts.callback = CallbackListen::Addr(args.callback_listen);
    opts.callback_wait = std::time::Duration::from_secs(args.callback_wait_s);
    opts.rate_per_s = args.rate;
    opts.latency_requests = args.latency_requests;
    opts.p99_bound = std::time::Duration::from_millis(args.p99_ms);
    opts.operations = args.operations;
    match certify::certify(opts).await {
        Ok(c) => {
            print!("{}", certify::render_terminal(&c));
            println!("evidence: {}", out.display());
            if c.certified {
                exit::OK
            } else {
                exit::CHECKS_FAILED
            }
        }
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            e.exit_code()
        }
    }
}
