//! `s3://BUCKET[/PREFIX]`: where a registry (or its private state) lives in object storage.
//! Parsed strictly, so a typo is an error and not a surprising bucket or key. Pure.

use anyhow::{Result, bail};
use std::fmt;

/// `s3://BUCKET[/PREFIX]` (prefix without leading/trailing slash; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    pub bucket: String,
    pub prefix: String,
}

const FORM: &str = "expected `s3://BUCKET` or `s3://BUCKET/PREFIX`";

impl BucketUrl {
    pub fn parse(s: &str) -> Result<Self> {
        let Some(rest) = s.strip_prefix("s3://") else {
            bail!("`{s}` is not an object storage location: {FORM}");
        };
        if let Some(c) = rest.chars().find(|c| matches!(c, '?' | '#')) {
            bail!("`{s}` has a `{c}`: a location takes no query or fragment ({FORM})");
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket)
            .map_err(|why| anyhow::anyhow!("`{s}` names no valid bucket: {why}"))?;
        // One trailing slash is allowed (`s3://b/` and `s3://b/p/` read naturally).
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        if !prefix.is_empty() {
            for segment in prefix.split('/') {
                check_segment(segment)
                    .map_err(|why| anyhow::anyhow!("`{s}` has an invalid prefix: {why}"))?;
            }
        }
        Ok(BucketUrl {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// Whether `other` is this location or lies inside it (same bucket, prefix at or below).
    pub fn contains(&self, other: &BucketUrl) -> bool {
        self.bucket == other.bucket
            && (self.prefix.is_empty()
                || other.prefix == self.prefix
                || other
                    .prefix
                    .strip_prefix(&self.prefix)
                    .is_some_and(|rest| rest.starts_with('/')))
    }
}

impl std::str::FromStr for BucketUrl {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        BucketUrl::parse(s)
    }
}

impl fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// S3's rules for a new bucket's name: 3 to 63 lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit, no `..`, not shaped like an IPv4 address.
fn check_bucket(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("the bucket is empty ({FORM})"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        return Err(format!(
            "`{c}` is not allowed in a bucket name (lowercase letters, digits, `.` and `-`)"
        ));
    }
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "a bucket name has 3 to 63 characters, `{name}` has {}",
            name.len()
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err(format!(
            "`{name}` must start and end with a letter or a digit"
        ));
    }
    if name.contains("..") {
        return Err(format!("`{name}` has two dots in a row"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(format!("`{name}` is shaped like an IP address"));
    }
    Ok(())
}

/// One segment of a prefix: not empty, not `.` or `..`, and only characters that mean the same
/// in a key, in a URL path and in a shell (no `%`, which would read as an escape).
fn check_segment(segment: &str) -> Result<(), String> {
    match segment {
        "" => return Err("it has an empty segment (`//`, or a leading `/`)".to_owned()),
        "." | ".." => return Err(format!("it has a `{segment}` segment")),
        _ => {}
    }
    match segment.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '=' | '@' | ','))
    }) {
        Some(c) => Err(format!(
            "{c:?} is not allowed (letters, digits and `-_.~+=@,`)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(bucket: &str, prefix: &str) -> BucketUrl {
        BucketUrl {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn parses_bucket_and_prefix() {
        assert_eq!(BucketUrl::parse("s3://bkt").unwrap(), url("bkt", ""));
        assert_eq!(BucketUrl::parse("s3://bkt/").unwrap(), url("bkt", ""));
        assert_eq!(
            BucketUrl::parse("s3://my.bkt-1/a/b").unwrap(),
            url("my.bkt-1", "a/b")
        );
        assert_eq!(
            BucketUrl::parse("s3://bkt/a/b/").unwrap(),
            url("bkt", "a/b")
        );
        assert_eq!(
            "s3://bkt/reg".parse::<BucketUrl>().unwrap(),
            url("bkt", "reg")
        );
    }

    #[test]
    fn displays_what_it_parsed() {
        for s in ["s3://bkt", "s3://bkt/pfx", "s3://b-2.x/a/b_c"] {
            assert_eq!(BucketUrl::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            BucketUrl::parse("s3://bkt/p/").unwrap().to_string(),
            "s3://bkt/p"
        );
    }

    #[test]
    fn refuses_bad_locations() {
        for (bad, why) in [
            ("bkt/pfx", "not an object storage location"),
            ("S3://bkt", "not an object storage location"),
            ("https://bkt", "not an object storage location"),
            ("s3://", "the bucket is empty"),
            ("s3:///pfx", "the bucket is empty"),
            ("s3://Bkt", "`B` is not allowed"),
            ("s3://b_k", "`_` is not allowed"),
            ("s3://ab", "3 to 63"),
            (&format!("s3://{}", "a".repeat(64)), "3 to 63"),
            ("s3://-bkt", "start and end"),
            ("s3://bkt.", "start and end"),
            ("s3://b..k", "two dots"),
            ("s3://192.168.1.1", "IP address"),
            ("s3://bkt?x=1", "no query"),
            ("s3://bkt/p#f", "no query"),
            ("s3://bkt//p", "empty segment"),
            ("s3://bkt/a//b", "empty segment"),
            ("s3://bkt/a//", "empty segment"),
            ("s3://bkt/../x", "`..` segment"),
            ("s3://bkt/a/./b", "`.` segment"),
            ("s3://bkt/a%2Fb", "'%' is not allowed"),
            ("s3://bkt/a b", "' ' is not allowed"),
            ("s3://bkt/a\\b", "is not allowed"),
        ] {
            let err = format!("{:#}", BucketUrl::parse(bad).unwrap_err());
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains(&format!("`{bad}`")), "names the input: {err}");
        }
    }

    #[test]
    fn contains_itself_and_what_is_below() {
        let root = url("bkt", "");
        let reg = url("bkt", "reg");
        assert!(root.contains(&root));
        assert!(root.contains(&reg));
        assert!(reg.contains(&reg));
        assert!(reg.contains(&url("bkt", "reg/state")));
        assert!(!reg.contains(&root));
        assert!(!reg.contains(&url("bkt", "registry")));
        assert!(!reg.contains(&url("bkt", "re")));
        assert!(!reg.contains(&url("other", "reg")));
        assert!(!root.contains(&url("other", "")));
    }
}
