//! cargo's publish request body: a little-endian u32 length, the JSON metadata, another u32
//! length, the `.crate` bytes. Pure: bytes in, parts out, with the size limits applied.

use serde::Deserialize;

/// The fields of the metadata ktra uses; the index entry itself comes from the packaged
/// `Cargo.toml`, as crates.io does it.
#[derive(Debug, Deserialize)]
pub struct Meta {
    pub name: String,
    pub vers: String,
}

#[derive(Debug, PartialEq)]
pub enum BodyError {
    /// 413: the JSON or the crate is larger than allowed.
    TooLarge(String),
    /// 400: anything else.
    Malformed(String),
}

pub const MAX_JSON: usize = 1024 * 1024;

pub fn parse(body: &[u8], max_crate: usize) -> Result<(Meta, &[u8]), BodyError> {
    let bad = |m: &str| BodyError::Malformed(format!("the publish request is malformed: {m}"));
    let (json_len, rest) = take_len(body).ok_or_else(|| bad("it is too short"))?;
    if json_len > MAX_JSON {
        return Err(BodyError::TooLarge(format!(
            "the metadata is {json_len} bytes; at most {MAX_JSON} are allowed"
        )));
    }
    let json = rest
        .get(..json_len)
        .ok_or_else(|| bad("the metadata is cut short"))?;
    let (crate_len, rest) =
        take_len(&rest[json_len..]).ok_or_else(|| bad("the crate length is missing"))?;
    if crate_len > max_crate {
        return Err(BodyError::TooLarge(format!(
            "the crate is {crate_len} bytes; this registry accepts at most {max_crate}"
        )));
    }
    let krate = rest
        .get(..crate_len)
        .ok_or_else(|| bad("the crate is cut short"))?;
    if rest.len() != crate_len {
        return Err(bad("there are bytes after the crate"));
    }
    let meta: Meta = serde_json::from_slice(json)
        .map_err(|e| bad(&format!("the metadata is not valid JSON: {e}")))?;
    Ok((meta, krate))
}

fn take_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*len) as usize, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &[u8], krate: &[u8]) -> Vec<u8> {
        let mut b = (json.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(json);
        b.extend_from_slice(&(krate.len() as u32).to_le_bytes());
        b.extend_from_slice(krate);
        b
    }

    #[test]
    fn parses_cargos_layout() {
        let b = body(br#"{"name":"a","vers":"1.0.0","deps":[]}"#, b"CRATE");
        let (meta, krate) = parse(&b, 100).unwrap();
        assert_eq!(
            (meta.name.as_str(), meta.vers.as_str(), krate),
            ("a", "1.0.0", &b"CRATE"[..])
        );
    }

    #[test]
    fn refuses_bad_and_oversized_bodies() {
        let ok = body(br#"{"name":"a","vers":"1.0.0"}"#, b"CRATE");
        assert!(matches!(parse(&ok, 4), Err(BodyError::TooLarge(_))));
        assert!(matches!(
            parse(&ok[..ok.len() - 1], 100),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(parse(&[1, 0], 100), Err(BodyError::Malformed(_))));
        assert!(matches!(
            parse(&body(b"not json", b""), 100),
            Err(BodyError::Malformed(_))
        ));
        let mut huge = ((MAX_JSON + 1) as u32).to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(parse(&huge, 100), Err(BodyError::TooLarge(_))));
        let mut trailing = ok.clone();
        trailing.push(0);
        assert!(matches!(
            parse(&trailing, 100),
            Err(BodyError::Malformed(_))
        ));
    }
}
