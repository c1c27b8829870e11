//! Header names and the W3C `traceparent` format, shared by every party.

/// IETF httpapi Idempotency-Key header: one key per mutating request.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// W3C Trace Context header.
pub const TRACEPARENT: &str = "traceparent";
/// Set to `true` on an answer replayed from a stored idempotent result.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// RFC 9110 Retry-After.
pub const RETRY_AFTER: &str = "retry-after";

/// A `Retry-After` value's delay in seconds (RFC 9110 delay-seconds);
/// `None` for an HTTP date or anything else.
pub fn retry_after_seconds(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// A transport error and its causes as one line ("client error (Connect):
/// tcp connect error: Connection refused"), as every party words it in
/// its records.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A parsed W3C `traceparent` (version 00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero.
    pub parent_id: String,
    pub sampled: bool,
}

fn is_hex_id(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

impl TraceParent {
    /// Parses a `traceparent` header value; `None` when malformed.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00" || parts.next().is_some() || !is_hex_id(trace_id, 32) || !is_hex_id(parent_id, 16)
        {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            sampled: flags & 1 == 1,
        })
    }

    /// A child of this trace, with `span_id` as the new parent id.
    pub fn child(&self, span_id: u64) -> Self {
        Self {
            trace_id: self.trace_id.clone(),
            parent_id: format!("{:016x}", span_id.max(1)),
            sampled: self.sampled,
        }
    }

    /// A new trace from two random words.
    pub fn from_random(trace: u128, span: u64) -> Self {
        Self {
            trace_id: format!("{:032x}", trace.max(1)),
            parent_id: format!("{:016x}", span.max(1)),
            sampled: true,
        }
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.parent_id,
            u8::from(self.sampled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_delay_seconds_only() {
        assert_eq!(retry_after_seconds(" 7 "), Some(7));
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_seconds("-1"), None);
    }

    #[test]
    fn an_error_chain_names_every_cause() {
        let inner = std::io::Error::other("connection refused");
        let outer = ChainLink("connect failed", inner);
        assert_eq!(error_chain(&outer), "connect failed: connection refused");
    }

    #[derive(Debug)]
    struct ChainLink(&'static str, std::io::Error);
    impl std::fmt::Display for ChainLink {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for ChainLink {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn traceparent_round_trips_and_rejects_malformed() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tp = TraceParent::parse(v).unwrap();
        assert_eq!(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(tp.sampled);
        assert_eq!(tp.header_value(), v);
        let child = tp.child(7);
        assert_eq!(child.trace_id, tp.trace_id);
        assert_eq!(child.parent_id, "0000000000000007");

        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }
}
