//! One crate's index file as its raw lines. Lines are kept byte for byte; only the line being
//! changed is rewritten (yank flips one field and keeps every other byte and key order).

use serde::Deserialize;

/// The fields every operation needs from a line, read without touching the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct LineHead {
    pub name: String,
    pub vers: String,
    pub cksum: String,
    #[serde(default)]
    pub yanked: bool,
}

#[derive(Debug, Clone)]
pub struct IndexLine {
    pub raw: String,
    pub head: LineHead,
    pub version: semver::Version,
}

#[derive(Debug, thiserror::Error)]
#[error("line {line} of the index file is not a valid entry: {reason}")]
pub struct IndexFileError {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct IndexFile {
    pub lines: Vec<IndexLine>,
}

impl IndexFile {
    pub fn parse(bytes: &[u8]) -> Result<Self, IndexFileError> {
        let text = std::str::from_utf8(bytes).map_err(|e| IndexFileError {
            line: 0,
            reason: format!("not UTF-8: {e}"),
        })?;
        let mut lines = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| IndexFileError {
                line: i + 1,
                reason,
            };
            let head: LineHead = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
            let version = semver::Version::parse(&head.vers).map_err(|e| bad(e.to_string()))?;
            lines.push(IndexLine {
                raw: raw.to_owned(),
                head,
                version,
            });
        }
        Ok(Self { lines })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.raw.len() + 1).sum());
        for l in &self.lines {
            out.extend_from_slice(l.raw.as_bytes());
            out.push(b'\n');
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The name as the crate spells it (from its first line).
    pub fn crate_name(&self) -> Option<&str> {
        self.lines.first().map(|l| l.head.name.as_str())
    }

    /// The line for exactly this version (build metadata included).
    pub fn get(&self, version: &semver::Version) -> Option<&IndexLine> {
        self.lines.iter().find(|l| &l.version == version)
    }

    /// A line whose version equals `version` once build metadata is ignored: the index must
    /// never hold both `1.0.0` and `1.0.0+x`.
    pub fn get_ignoring_build(&self, version: &semver::Version) -> Option<&IndexLine> {
        self.lines
            .iter()
            .find(|l| same_ignoring_build(&l.version, version))
    }

    /// Appends a new line (publish order, like crates.io).
    pub fn push(&mut self, raw: String) -> Result<(), IndexFileError> {
        let parsed = Self::parse(raw.as_bytes())?;
        self.lines.extend(parsed.lines);
        Ok(())
    }

    /// Sets `yanked` on one version; returns the previous value, or `None` if no such version.
    pub fn set_yanked(&mut self, version: &semver::Version, yanked: bool) -> Option<bool> {
        let line = self.lines.iter_mut().find(|l| &l.version == version)?;
        let before = line.head.yanked;
        if before != yanked {
            let mut value: serde_json::Value =
                serde_json::from_str(&line.raw).expect("line parsed before");
            value["yanked"] = serde_json::Value::Bool(yanked);
            line.raw = value.to_string();
            line.head.yanked = yanked;
        }
        Some(before)
    }

    /// Removes one version's line; returns it.
    pub fn remove(&mut self, version: &semver::Version) -> Option<IndexLine> {
        let at = self.lines.iter().position(|l| &l.version == version)?;
        Some(self.lines.remove(at))
    }
}

pub fn same_ignoring_build(a: &semver::Version, b: &semver::Version) -> bool {
    (a.major, a.minor, a.patch, &a.pre) == (b.major, b.minor, b.patch, &b.pre)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"{"name":"Foo","vers":"1.0.0","deps":[],"cksum":"aa","features":{},"yanked":false,"pubtime":"2025-01-01T00:00:00Z"}"#;
    const B: &str =
        r#"{"name":"Foo","vers":"1.1.0+meta","deps":[],"cksum":"bb","features":{},"yanked":false}"#;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    #[test]
    fn round_trips_and_finds_versions() {
        let text = format!("{A}\n{B}\n");
        let file = IndexFile::parse(text.as_bytes()).unwrap();
        assert_eq!(file.to_bytes(), text.as_bytes());
        assert_eq!(file.crate_name(), Some("Foo"));
        assert!(file.get(&v("1.1.0")).is_none());
        assert!(file.get_ignoring_build(&v("1.1.0")).is_some());
        assert!(file.get(&v("1.1.0+meta")).is_some());
    }

    #[test]
    fn yank_changes_only_the_flag_and_keeps_key_order() {
        let mut file = IndexFile::parse(format!("{A}\n{B}\n").as_bytes()).unwrap();
        assert_eq!(file.set_yanked(&v("1.0.0"), true), Some(false));
        assert_eq!(
            file.lines[0].raw,
            A.replace("\"yanked\":false", "\"yanked\":true")
        );
        assert_eq!(file.lines[1].raw, B);
        assert_eq!(file.set_yanked(&v("9.9.9"), true), None);
        assert_eq!(file.set_yanked(&v("1.0.0"), false), Some(true));
        assert_eq!(file.lines[0].raw, A);
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = IndexFile::parse(format!("{A}\nnot json\n").as_bytes()).unwrap_err();
        assert_eq!(err.line, 2);
    }
}
