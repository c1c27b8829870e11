//! Value parsers and helpers the commands share. The bottom of the CLI: it
//! imports no command module.

/// `ROLE=TOKEN` of `--token-for`.
pub fn parse_token_for(s: &str) -> Result<(contracts::Role, String), String> {
    let (role, token) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ROLE=TOKEN (erp, wms, supplier or ops), found {s:?}"))?;
    let role = match role {
        "erp" => contracts::Role::Erp,
        "wms" => contracts::Role::Wms,
        "supplier" => contracts::Role::Supplier,
        // The core's operator: its ops endpoints, /metrics and /v1/trace.
        "ops" => contracts::Role::Core,
        other => {
            return Err(format!(
                "expected a role of erp, wms, supplier or ops, found {other:?}"
            ));
        }
    };
    if token.is_empty() {
        return Err("expected a non-empty token after '='".into());
    }
    Ok((role, token.to_owned()))
}

/// A future that resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are
/// installed now, before anything starts, so a signal that arrives early is
/// not lost to the default action.
pub fn interrupted() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

use clap::builder::TypedValueParser;

/// The simulated roles, for `--role`.
pub fn sim_role_parser() -> impl clap::builder::TypedValueParser<Value = scenario::SimRole> {
    clap::builder::PossibleValuesParser::new(["erp", "wms", "supplier"])
        .map(|s| s.parse::<scenario::SimRole>().expect("a possible value"))
}

/// The named profiles of real-system limits, for `--profile`.
pub fn profile_parser() -> impl clap::builder::TypedValueParser<Value = scenario::ProfileName> {
    clap::builder::PossibleValuesParser::new(scenario::ProfileName::NAMES)
        .map(|s| s.parse::<scenario::ProfileName>().expect("a possible value"))
}

#[cfg(test)]
mod tests {
    use super::parse_token_for;
    use contracts::Role;

    #[test]
    fn token_for_names_a_caller_of_the_core_or_its_operator() {
        assert_eq!(parse_token_for("erp=T1"), Ok((Role::Erp, "T1".into())));
        // The operator's token stands for the core's own ops endpoints.
        assert_eq!(parse_token_for("ops=T4"), Ok((Role::Core, "T4".into())));
        assert!(parse_token_for("core=T").unwrap_err().contains("ops"));
        assert!(parse_token_for("erp=").is_err());
        assert!(parse_token_for("erp").is_err());
    }
}
