//! `cargo xtask layers`: the repository checks of `xtask`'s library.
//! Exit 0 when every crate passes, 1 when one does not, 2 on bad usage.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["layers"] => false,
        ["layers", "--arrows"] => true,
        _ => {
            eprintln!("usage: cargo xtask layers [--arrows]");
            return ExitCode::from(2);
        }
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match xtask::check_workspace(&root) {
        Ok(reports) => {
            print!("{}", xtask::render(&reports));
            if verbose {
                for (name, src) in xtask::crates(&root).unwrap_or_default() {
                    let files = xtask::source::read_crate(&src).unwrap_or_default();
                    for (from, to) in xtask::layers::graph(&files) {
                        for t in to {
                            println!("{name}: {from} -> {t}");
                        }
                    }
                }
            }
            ExitCode::from(u8::from(!reports.iter().all(xtask::CrateReport::acceptable)))
        }
        Err(e) => {
            eprintln!("xtask: failed to read the sources: {e}");
            ExitCode::from(2)
        }
    }
}
