//! `crossdock compare A B`: two runs' report.json side by side.

use std::path::PathBuf;

use clap::Args;

use crate::exit;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run's report.json.
    pub a: PathBuf,
    /// The candidate run's report.json.
    pub b: PathBuf,
    /// How much a percentile may grow, in percent.
    #[arg(long, default_value_t = 10.0)]
    pub tolerance_pct: f64,
}

pub fn execute(args: CompareArgs) -> u8 {
    let read = |p: &PathBuf| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("failed to read {}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))
    };
    let compared = read(&args.a)
        .and_then(|ra| read(&args.b).map(|rb| (ra, rb)))
        .and_then(|(ra, rb)| {
            reports::compare::compare(&ra, &rb, args.tolerance_pct).map_err(|e| e.to_string())
        });
    match compared {
        Ok(c) => {
            print!("{}", reports::compare::render_comparison(&c));
            if c.regressed() {
                exit::CHECKS_FAILED
            } else {
                exit::OK
            }
        }
        Err(e) => {
            eprintln!("crossdock: error: {e}");
            exit::BAD_INPUT
        }
    }
}
