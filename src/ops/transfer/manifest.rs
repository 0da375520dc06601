//! `ktra-export.json`, the first entry of every export: the full listing of the exported
//! state, what this archive carries, and (for an incremental export) what the state it
//! continues had at the paths it changes. Export ids are content hashes of listings, so a
//! registry's own state has an id too. Pure: checked without touching any file.

use super::paths;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Name of the manifest entry.
pub const NAME: &str = "ktra-export.json";
/// The manifest format this ktra writes and reads.
pub const FORMAT: u32 = 1;

/// A file's content, as far as an export cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub sha256: String,
    pub size: u64,
}

/// Path (relative to `public/`) to content, for every transferable file of a state.
pub type Listing = BTreeMap<String, FileSum>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// The exporting registry's name.
    pub registry: String,
    /// The ktra that wrote it.
    pub generator: String,
    /// RFC 3339.
    pub created: String,
    /// Id of the state after this export ([`listing_id`] of `files`).
    pub id: String,
    /// Id of the export this one continues; `None` for a full export.
    pub base: Option<String>,
    /// Every file of the state after this export.
    pub files: Listing,
    /// The paths whose bytes this archive holds.
    pub carried: BTreeSet<String>,
    /// Paths the base had and this state does not.
    pub removed: BTreeSet<String>,
    /// The base's content at every carried or removed path it had.
    pub before: Listing,
}

/// Content id of a listing: sha256 over its sorted `path`, `sha256`, `size` lines.
pub fn listing_id(listing: &Listing) -> String {
    let mut h = Sha256::new();
    for (p, s) in listing {
        h.update(format!("{p}\0{}\0{}\n", s.sha256, s.size).as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// The first 12 digits of an id, for messages.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl Manifest {
    /// An export of `files`: everything when there is no previous export, else what differs
    /// from it (`since`).
    pub fn new(registry: &str, created: String, files: Listing, since: Option<&Manifest>) -> Self {
        let id = listing_id(&files);
        let (carried, removed, before) = match since {
            None => (
                files.keys().cloned().collect(),
                BTreeSet::new(),
                Listing::new(),
            ),
            Some(prev) => {
                let carried: BTreeSet<String> = files
                    .iter()
                    .filter(|(p, s)| prev.files.get(*p) != Some(*s))
                    .map(|(p, _)| p.clone())
                    .collect();
                let removed: BTreeSet<String> = prev
                    .files
                    .keys()
                    .filter(|p| !files.contains_key(*p))
                    .cloned()
                    .collect();
                let before = prev
                    .files
                    .iter()
                    .filter(|(p, _)| carried.contains(*p) || removed.contains(*p))
                    .map(|(p, s)| (p.clone(), s.clone()))
                    .collect();
                (carried, removed, before)
            }
        };
        Self {
            format: FORMAT,
            registry: registry.to_owned(),
            generator: format!("ktra {}", env!("CARGO_PKG_VERSION")),
            created,
            id,
            base: since.map(|p| p.id.clone()),
            files,
            carried,
            removed,
            before,
        }
    }

    /// The listing of the state this export continues (`None` for a full export).
    pub fn base_listing(&self) -> Option<Listing> {
        self.base.as_ref()?;
        let mut base: Listing = self
            .files
            .iter()
            .filter(|(p, _)| !self.carried.contains(*p))
            .map(|(p, s)| (p.clone(), s.clone()))
            .collect();
        base.extend(self.before.iter().map(|(p, s)| (p.clone(), s.clone())));
        Some(base)
    }

    /// Bytes the archive carries.
    pub fn carried_bytes(&self) -> u64 {
        self.carried
            .iter()
            .filter_map(|p| self.files.get(p))
            .map(|s| s.size)
            .sum()
    }

    /// Parses and checks a manifest: every path transferable, every sum well-formed, and the
    /// parts consistent with each other and with the ids.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let m: Manifest = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(v) if v["format"].as_u64().is_some_and(|f| f > u64::from(FORMAT)) => {
                return Err(format!(
                    "`{NAME}` has format {}, which a newer ktra wrote (this one reads format {FORMAT})",
                    v["format"]
                ));
            }
            Ok(v) => serde_json::from_value(v),
            Err(e) => Err(e),
        }
        .map_err(|e| format!("`{NAME}` is not a valid export manifest: {e}"))?;
        m.check()
            .map_err(|e| format!("`{NAME}` is inconsistent: {e}"))?;
        Ok(m)
    }

    fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format {} is not {FORMAT}", self.format));
        }
        crate::ops::init::check_registry_name(&self.registry).map_err(|e| e.to_string())?;
        for (p, s) in self.files.iter().chain(&self.before) {
            paths::classify(p)?;
            if s.sha256.len() != 64
                || !s
                    .sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(format!(
                    "the sha256 of `{p}` is not 64 lowercase hex digits"
                ));
            }
        }
        if let Some(p) = self.carried.iter().find(|p| !self.files.contains_key(*p)) {
            return Err(format!("it carries `{p}`, which its listing lacks"));
        }
        if let Some(p) = self.removed.iter().find(|p| self.files.contains_key(*p)) {
            return Err(format!("it removes `{p}`, which its listing has"));
        }
        if listing_id(&self.files) != self.id {
            return Err("its id is not the id of its listing".into());
        }
        let Some(base) = self.base_listing() else {
            if self.carried.len() != self.files.len()
                || !self.removed.is_empty()
                || !self.before.is_empty()
            {
                return Err("a full export must carry every file and remove none".into());
            }
            return Ok(());
        };
        if let Some(p) = self.removed.iter().find(|p| !self.before.contains_key(*p)) {
            return Err(format!(
                "it removes `{p}` without saying what the base had there"
            ));
        }
        if let Some(p) = self
            .before
            .keys()
            .find(|p| !self.carried.contains(*p) && !self.removed.contains(*p))
        {
            return Err(format!(
                "it records the base's `{p}`, which it neither carries nor removes"
            ));
        }
        if Some(listing_id(&base)) != self.base {
            return Err("its base id is not the id of the base it describes".into());
        }
        Ok(())
    }
}
