//! The command line: one module per command, each with its own arguments
//! and a thin `execute` that calls the library and maps the result to an
//! exit code ([`crate::exit`]). This file only names the commands.

pub mod args;
pub mod certify;
pub mod check;
pub mod compare;
pub mod contracts;
pub mod core;
pub mod edi;
pub mod entry;
pub mod progress;
pub mod run;
pub mod simulate;

use clap::{Parser, Subcommand};

/// crossdock: contract testing and simulation for supplier, ERP and WMS integrations.
#[derive(Debug, Parser)]
#[command(name = "crossdock", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against the reference core with simulated ERP, WMS and
    /// supplier, or with any of them the system under test at a URL.
    Run(run::RunArgs),
    /// Run one simulated party standalone, on a loopback address, until Ctrl-C.
    ///
    /// Prints its URL on the first line of standard output. Exit 0 after a
    /// clean stop (history flushed), 2 bad input, 3 could not listen or write.
    Simulate(simulate::SimulateArgs),
    /// Run the reference integration core standalone until Ctrl-C.
    ///
    /// Defaults: 127.0.0.1:8080, database target/crossdock/core/core.sqlite,
    /// partners on 127.0.0.1:7001 (ERP), :7002 (WMS), :7003 (supplier). Its
    /// URL is the first line of standard output; /openapi.json serves its
    /// contract. Exit 0 after a clean stop, 2 bad configuration, 3 could not
    /// start.
    Core(core::CoreArgs),
    /// Judge recorded histories (a run's directory, or `*.jsonl` files any
    /// tool wrote following contracts/schemas/Exchange.json) without running
    /// anything; the same verdict as the run that wrote them.
    ///
    /// Exit 0 every check passed, 1 a check failed, 2 unreadable input.
    Check(check::CheckArgs),
    /// Two runs side by side: B regresses against A when a check newly fails
    /// or a latency percentile grew beyond the tolerance.
    ///
    /// Exit 0 no regression, 1 regression, 2 unreadable reports.
    Compare(compare::CompareArgs),
    /// Certify a partner's running endpoint against its role's contract and
    /// write the evidence (certificate.json, junit.xml, report.html, the
    /// recorded exchanges). See docs/CERTIFY.md.
    ///
    /// Exit 0 certified, 1 not certified (a check failed), 2 target
    /// unreachable or bad input, 3 the harness could not listen or write.
    /// `crossdock certify verify DIR` checks an evidence bundle against its
    /// manifest: 0 intact, 1 tampered, 2 unreadable.
    Certify(certify::CertifyArgs),
    /// X12 EDI: translate interchanges to canonical JSON and back.
    Edi {
        #[command(subcommand)]
        command: edi::EdiCommand,
    },
    /// Contract governance: validate documents, compare contract versions.
    Contracts {
        #[command(subcommand)]
        command: contracts::ContractsCommand,
    },
}

/// Executes a parsed command line; returns the process exit code.
pub async fn execute(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run::execute(args).await,
        Command::Simulate(args) => simulate::execute(args).await,
        Command::Core(args) => core::execute(args).await,
        Command::Check(args) => check::execute(args),
        Command::Compare(args) => compare::execute(args),
        Command::Certify(args) => certify::execute(args).await,
        Command::Edi { command } => edi::execute(command),
        Command::Contracts { command } => contracts::execute(command),
    }
}
