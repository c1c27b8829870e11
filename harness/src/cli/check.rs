//! `crossdock check DIR…`: judge recorded histories without running
//! anything. Exit 0 every check passed, 1 a check failed, 2 unreadable
//! input (no history, a malformed line, a bad expectations.json).

use std::path::PathBuf;

use clap::Args;

use crate::check::check_dir;
use crate::exit;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Directories of `*.jsonl` histories (a run's output directory, or
    /// histories recorded by another tool), each judged on its own.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Also write report.json, junit.xml and report.html into OUT/<dir name>/.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn execute(args: CheckArgs) -> u8 {
    let mut code = exit::OK;
    for dir in &args.dirs {
        let this = match check_dir(dir) {
            Ok(report) => {
                println!("{}", reports::render_terminal(&report));
                match write(&args.out, &report) {
                    Ok(()) => super::run::verdict_code(&report),
                    Err(e) => {
                        eprintln!("crossdock: error: {e}");
                        exit::INFRASTRUCTURE
                    }
                }
            }
            Err(e) => {
                eprintln!("crossdock: error: {e}");
                exit::BAD_INPUT
            }
        };
        code = code.max(this);
    }
    code
}

fn write(out: &Option<PathBuf>, report: &reports::Report) -> Result<(), reports::WriteError> {
    let Some(out) = out else {
        return Ok(());
    };
    let dir = out.join(&report.scenario);
    std::fs::create_dir_all(&dir).map_err(|source| reports::WriteError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    reports::write_json(report, &dir.join("report.json"))?;
    reports::write_junit(report, &dir.join("junit.xml"))?;
    reports::write_html(report, &dir.join("report.html"))
}
