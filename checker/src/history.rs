//! Reading histories, and the small pieces every check shares: witnesses,
//! key fingerprints, latency rows. The bottom of the checker: it imports no
//! other module of the crate.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use contracts::Exchange;
use contracts::routes;
#[cfg(test)]
use contracts::{Direction, Role};
use hdrhistogram::Histogram;
use reports::{Latency, Witness};
use sha2::{Digest, Sha256};

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
#[error("failed to read history {path}:{line}: {message}")]
pub struct HistoryError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

pub fn witness(ex: &Exchange) -> Witness {
    Witness {
        party: Cow::Borrowed(ex.party.as_str()),
        seq: ex.seq,
        endpoint: method_endpoint(&ex.method, &ex.endpoint),
        status: ex.status,
        idempotency_key: ex.idempotency_key.as_deref().map(Box::from),
    }
}

/// "METHOD /path" of an exchange: borrowed from a table of every contracted
/// operation (built once), so the witnesses a long history keeps do not each
/// carry a copy; owned only for an operation outside the contract.
pub fn method_endpoint(method: &str, endpoint: &str) -> Cow<'static, str> {
    static TABLE: std::sync::OnceLock<HashMap<(&'static str, &'static str), &'static str>> =
        std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        routes::OPERATIONS
            .iter()
            .map(|op| {
                let text: &'static str = Box::leak(format!("{} {}", op.method, op.path).into_boxed_str());
                ((op.method, op.path), text)
            })
            .collect()
    });
    match table.get(&(method, endpoint)) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(format!("{method} {endpoint}")),
    }
}

/// An empty per-key list with room for one item: most business keys see
/// exactly one effect, and a `Vec`'s first push would reserve four.
pub fn one_slot<T>() -> Vec<T> {
    Vec::with_capacity(1)
}

/// A 128-bit fingerprint of a business key's parts, to key the checker's
/// per-key maps without holding the key's text (collisions are negligible:
/// about n²/2¹²⁹ for n keys).
pub fn fingerprint(parts: &[&str]) -> u128 {
    let mut digest = Sha256::new();
    for p in parts {
        digest.update((p.len() as u64).to_le_bytes());
        digest.update(p.as_bytes());
    }
    let out = digest.finalize();
    u128::from_le_bytes(out[..16].try_into().expect("a SHA-256 digest has 32 bytes"))
}

pub fn hash_json(v: &Option<serde_json::Value>) -> u64 {
    let mut h = DefaultHasher::new();
    v.as_ref().map(|v| v.to_string()).hash(&mut h);
    h.finish()
}

pub fn parse<T: serde::de::DeserializeOwned>(v: &Option<serde_json::Value>) -> Option<T> {
    v.as_ref().and_then(|v| T::deserialize(v).ok())
}

/// The exchanges of one history file, a line at a time (blank lines
/// skipped); an unreadable file or line is an error naming it.
fn exchanges(path: &Path) -> Result<impl Iterator<Item = Result<Exchange, HistoryError>> + '_, HistoryError> {
    let error = |line: usize, message: String| HistoryError {
        path: path.to_owned(),
        line,
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| error(0, e.to_string()))?;
    let lines = std::io::BufReader::new(file).lines().enumerate();
    Ok(lines.filter_map(move |(i, line)| match line {
        Err(e) => Some(Err(error(i + 1, e.to_string()))),
        Ok(l) if l.trim().is_empty() => None,
        Ok(l) => Some(serde_json::from_str(&l).map_err(|e| error(i + 1, e.to_string()))),
    }))
}

/// Streams one history file into `visit`.
pub fn for_each_exchange(path: &Path, mut visit: impl FnMut(Exchange)) -> Result<u64, HistoryError> {
    let mut n = 0;
    for ex in exchanges(path)? {
        visit(ex?);
        n += 1;
    }
    Ok(n)
}

/// A latency row of the report from a histogram of µs.
pub fn latency(name: &str, hist: &Histogram<u64>, sla_p99_ms: Option<f64>) -> Latency {
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        name: name.to_owned(),
        count: hist.len(),
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p90_ms: ms(hist.value_at_quantile(0.90)),
        p95_ms: ms(hist.value_at_quantile(0.95)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
        sla_p99_ms,
    }
}

pub fn histogram() -> Histogram<u64> {
    // Microseconds, up to one hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// A 201 POST exchange for the checks' unit tests.
#[cfg(test)]
pub(crate) fn test_exchange(
    party: Role,
    direction: Direction,
    endpoint: &str,
    seq: u64,
    request: serde_json::Value,
) -> Exchange {
    Exchange {
        seq,
        party,
        peer: Role::Core,
        direction,
        method: "POST".into(),
        endpoint: endpoint.into(),
        status: Some(201),
        error: None,
        started_at_us: seq,
        finished_at_us: seq + 1,
        idempotency_key: Some(format!("k{seq}")),
        trace_id: None,
        replayed: false,
        fault: None,
        handler_status: None,
        request: Some(request),
        response: None,
    }
}

/// The POs the ERP's history shows the core accepted for release:
/// (po_number, line numbers), in the order first sent. For histories
/// written without an `expectations.json`.
pub fn released_by_erp(histories: &[PathBuf]) -> Result<Vec<(String, Vec<u32>)>, HistoryError> {
    let mut released: Vec<(String, Vec<u32>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for path in histories {
        for_each_exchange(path, |ex| {
            let is_release = ex.party == contracts::Role::Erp
                && ex.direction == contracts::Direction::Outbound
                && ex.endpoint == routes::core::PURCHASE_ORDERS
                && ex.is_success();
            if let (true, Some(po)) = (
                is_release,
                parse::<contracts::inbound::PurchaseOrder>(&ex.request),
            ) && seen.insert(po.po_number.clone())
            {
                released.push((po.po_number, po.lines.iter().map(|l| l.line_no).collect()));
            }
        })?;
    }
    Ok(released)
}

/// When the earliest exchange of the histories started (Unix µs): the
/// origin of a run's series when nothing else says when it started. Each
/// file is read only up to its first exchange; `None` when all are empty.
pub fn first_started_us(histories: &[PathBuf]) -> Result<Option<u64>, HistoryError> {
    let mut first: Option<u64> = None;
    for path in histories {
        if let Some(ex) = exchanges(path)?.next() {
            let started = ex?.started_at_us;
            first = Some(first.map_or(started, |f| f.min(started)));
        }
    }
    Ok(first)
}
