//! cargo's publish request body: a little-endian u32 length, the JSON metadata, another u32
//! length, the `.crate` bytes. Pure: decoded as the body arrives, chunk by chunk ([`Decoder`]),
//! so the crate bytes go on to a file without the body ever being held whole; the size limits
//! apply before the bytes they limit are read.

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

/// Largest whole body for crates of at most `max_crate` bytes.
pub fn max_body(max_crate: usize) -> usize {
    max_crate + MAX_JSON + 8
}

fn bad(m: &str) -> BodyError {
    BodyError::Malformed(format!("the publish request is malformed: {m}"))
}

/// The body decoded as it arrives: [`Decoder::feed`] each chunk, write out the crate bytes it
/// returns, [`Decoder::finish`] at the end.
pub struct Decoder {
    max_crate: usize,
    /// The bytes before the crate (both lengths and the JSON), until complete.
    head: Vec<u8>,
    meta: Option<Meta>,
    /// Crate bytes still to come, once the head is complete.
    left: Option<usize>,
}

impl Decoder {
    pub fn new(max_crate: usize) -> Self {
        Self {
            max_crate,
            head: Vec::new(),
            meta: None,
            left: None,
        }
    }

    /// The metadata, as soon as the part of the body before the crate has arrived.
    pub fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }

    /// Takes the next chunk; returns the crate bytes it holds (possibly none).
    pub fn feed<'a>(&mut self, mut chunk: &'a [u8]) -> Result<&'a [u8], BodyError> {
        while self.left.is_none() && !chunk.is_empty() {
            let want = match self.json_len() {
                None => 4,
                Some(json_len) => 4 + json_len + 4,
            };
            let take = (want - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.head.len() == 4 {
                let json_len = self.json_len().unwrap_or_default();
                if json_len > MAX_JSON {
                    return Err(BodyError::TooLarge(format!(
                        "the metadata is {json_len} bytes; at most {MAX_JSON} are allowed"
                    )));
                }
                self.head.reserve_exact(json_len + 4);
            } else if self.head.len() == want {
                self.head_complete()?;
            }
        }
        let Some(left) = self.left else {
            return Ok(&[]);
        };
        if chunk.len() > left {
            return Err(bad("there are bytes after the crate"));
        }
        self.left = Some(left - chunk.len());
        Ok(chunk)
    }

    /// The metadata, if the body was complete.
    pub fn finish(self) -> Result<Meta, BodyError> {
        let json_end = 4 + self.json_len().unwrap_or_default();
        match (self.left, self.meta) {
            (Some(0), Some(meta)) => Ok(meta),
            (Some(_), _) => Err(bad("the crate is cut short")),
            _ if self.head.len() < 4 => Err(bad("it is too short")),
            _ if self.head.len() < json_end => Err(bad("the metadata is cut short")),
            _ => Err(bad("the crate length is missing")),
        }
    }

    fn json_len(&self) -> Option<usize> {
        let len = self.head.first_chunk::<4>()?;
        Some(u32::from_le_bytes(*len) as usize)
    }

    fn head_complete(&mut self) -> Result<(), BodyError> {
        let json = &self.head[4..self.head.len() - 4];
        let crate_len = self.head[self.head.len() - 4..]
            .first_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize);
        if crate_len > self.max_crate {
            return Err(BodyError::TooLarge(format!(
                "the crate is {crate_len} bytes; this registry accepts at most {}",
                self.max_crate
            )));
        }
        let meta: Meta = serde_json::from_slice(json)
            .map_err(|e| bad(&format!("the metadata is not valid JSON: {e}")))?;
        self.meta = Some(meta);
        self.left = Some(crate_len);
        self.head = Vec::new();
        Ok(())
    }
}

/// A whole body at once: the metadata and the crate bytes.
pub fn parse(body: &[u8], max_crate: usize) -> Result<(Meta, &[u8]), BodyError> {
    let mut decoder = Decoder::new(max_crate);
    let krate = decoder.feed(body)?;
    Ok((decoder.finish()?, krate))
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
    fn any_chunking_gives_the_same_result() {
        let b = body(br#"{"name":"abc","vers":"1.0.0"}"#, b"0123456789");
        for size in 1..b.len() {
            let mut d = Decoder::new(100);
            let mut krate = Vec::new();
            for chunk in b.chunks(size) {
                krate.extend_from_slice(d.feed(chunk).unwrap());
                if !krate.is_empty() {
                    assert_eq!(d.meta().map(|m| m.name.as_str()), Some("abc"));
                }
            }
            assert_eq!(d.finish().unwrap().vers, "1.0.0");
            assert_eq!(krate, b"0123456789", "chunks of {size}");
        }
    }

    #[test]
    fn limits_apply_before_the_bytes_arrive() {
        // Only the length prefixes are sent: the refusal comes without the rest.
        let mut d = Decoder::new(100);
        assert!(matches!(
            d.feed(&((MAX_JSON + 1) as u32).to_le_bytes()),
            Err(BodyError::TooLarge(_))
        ));
        let json = br#"{"name":"a","vers":"1.0.0"}"#;
        let mut head = (json.len() as u32).to_le_bytes().to_vec();
        head.extend_from_slice(json);
        head.extend_from_slice(&101u32.to_le_bytes());
        assert!(matches!(
            Decoder::new(100).feed(&head),
            Err(BodyError::TooLarge(_))
        ));
    }

    #[test]
    fn refuses_bad_and_oversized_bodies() {
        let ok = body(br#"{"name":"a","vers":"1.0.0"}"#, b"CRATE");
        assert!(matches!(parse(&ok, 4), Err(BodyError::TooLarge(_))));
        for cut in 0..ok.len() {
            assert!(
                matches!(parse(&ok[..cut], 100), Err(BodyError::Malformed(_))),
                "cut at {cut}"
            );
        }
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
