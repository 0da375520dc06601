//! The private copy of an upstream index file: the validator it was fetched with on the first
//! line, then the body byte for byte. It lets a re-sync send conditional requests and still
//! know every upstream version when the answer is 304.

use super::upstream::Validator;

/// Version 2 holds only lines that passed the mirror's line checks: a version 1 file (which
/// may hold any line) is not decoded, so it is fetched again in full.
const MAGIC: &str = "ktra-upstream-index 2";

/// Cache file bytes for a body fetched with `validator`.
pub fn encode(validator: &Validator, body: &[u8]) -> Vec<u8> {
    let head = match validator {
        Validator::ETag(v) => format!("{MAGIC} etag {v}\n"),
        Validator::LastModified(v) => format!("{MAGIC} last-modified {v}\n"),
        Validator::None => format!("{MAGIC} none\n"),
    };
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    out
}

/// The validator and body of a cache file; `None` when it is not one (then it is refetched).
pub fn decode(bytes: &[u8]) -> Option<(Validator, &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let rest = head.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let validator = match rest.split_once(' ') {
        Some(("etag", v)) => Validator::ETag(v.to_owned()),
        Some(("last-modified", v)) => Validator::LastModified(v.to_owned()),
        None if rest == "none" => Validator::None,
        _ => return None,
    };
    Some((validator, &bytes[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_each_validator_and_rejects_foreign_bytes() {
        for v in [
            Validator::ETag("\"a b\"".into()),
            Validator::LastModified("Tue, 01 Jan 2030 00:00:00 GMT".into()),
            Validator::None,
        ] {
            let bytes = encode(&v, b"{\"x\":1}\n{\"y\":2}\n");
            let (got, body) = decode(&bytes).unwrap();
            assert_eq!(got, v);
            assert_eq!(body, b"{\"x\":1}\n{\"y\":2}\n");
        }
        assert!(decode(b"{\"name\":\"a\"}\n").is_none());
        assert!(decode(b"").is_none());
    }
}
