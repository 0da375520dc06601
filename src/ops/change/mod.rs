//! The one frame every mutation of a registry runs in: `registry.change(op, printer, |tx| ...)`.
//! The closure validates and states the change through `tx` (crate files to put, index files
//! to modify, crate files to remove); the frame owns everything else, in this order: the lock
//! and the recovery of an interrupted change, the journal, the crate files made durable before
//! any index line points at them, the index files in the order the closure gave them (callers
//! give dependencies first), removals, the git index, the journal's close, then the
//! subscribers (the site).
//!
//! On the local tree the closure's calls are staged and land together when it returns; on
//! object storage each call takes effect when made, in call order, and `modify_index` is the
//! body of a conditional-write loop that is re-run on a conflict (see `remote`).
//!
//! The same frame writes the mirror (`public/mirror/`, [`Registry::change_mirror`]): its own
//! keys, its own lock on the local tree (`state/mirror/`, so a long sync never blocks a
//! publish), no journal, git index or site; see [`Tree`].

mod local;
#[cfg(feature = "aws")]
mod remote;

use crate::index::IndexFile;
use crate::ops::site::CrateSource;
use crate::printer::Printer;
use crate::registry::Registry;
use anyhow::Result;
use tempfile::TempPath;

/// What the site must do once the change has landed.
#[derive(Default)]
pub enum SiteEffect {
    /// Nothing (the change does not show on the site).
    #[default]
    None,
    /// Re-render the pages of these crates (and the shared pages).
    Crates(Vec<String>),
    /// Render these crates' pages from the given sources while the change lands.
    Sources(Vec<CrateSource>),
    /// Rebuild the whole site.
    Rebuild,
}

/// Which tree of the registry a change writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The registry's own index (`index/`, `crates/`, the git index, the site).
    Registry,
    /// The mirror (`mirror/index/`, `mirror/crates/`, the upstream's files under
    /// `state/mirror/`). Its crate files are verified copies of the upstream's, so a file no
    /// line names is kept for the next sync rather than rolled back: on the local tree a
    /// change of the mirror needs no journal. It has no git index and no site of its own, and
    /// an edit that leaves an index file as it was writes nothing.
    Mirror,
}

impl Tree {
    /// Public key of a crate's index file in this tree.
    pub fn index_key(self, name: &str) -> Result<String> {
        Ok(match self {
            Tree::Registry => crate::registry::keys::index(name)?,
            Tree::Mirror => crate::mirror::layout::index(name)?,
        })
    }

    /// Public key of a crate file in this tree.
    pub fn crate_key(self, name: &str, vers: &str) -> String {
        match self {
            Tree::Registry => crate::registry::keys::crate_file(name, vers),
            Tree::Mirror => crate::mirror::layout::crate_file(name, vers),
        }
    }

    /// The name of a step (batches, crash points): `crates-synced` is `mirror-crates-synced`
    /// in the mirror.
    fn step(self, step: &'static str) -> &'static str {
        match (self, step) {
            (Tree::Registry, s) => s,
            (Tree::Mirror, "crates") => "mirror-crates",
            (Tree::Mirror, "crates-synced") => "mirror-crates-synced",
            (Tree::Mirror, "index") => "mirror-index",
            (Tree::Mirror, "index-partial") => "mirror-index-partial",
            (Tree::Mirror, "upstream") => "mirror-upstream",
            (Tree::Mirror, "before-crate-removal") => "mirror-before-crate-removal",
            (Tree::Mirror, s) => s,
        }
    }
}

/// A change being stated. Obtained from [`Registry::change`].
pub struct Tx<'a> {
    reg: &'a Registry,
    tree: Tree,
    printer: Printer,
    inner: Inner<'a>,
    message: Option<String>,
    site: SiteEffect,
}

enum Inner<'a> {
    Local(Box<local::Local<'a>>),
    #[cfg(feature = "aws")]
    Remote(remote::Remote<'a>),
}

impl Registry {
    /// Runs one change: see the module's documentation. `op` names it in the journal and in
    /// messages ("add", "yank", ...). Nothing is written when `f` fails.
    pub fn change<T>(
        &self,
        op: &str,
        printer: Printer,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.change_tree(Tree::Registry, op, printer, f)
    }

    /// A change of the mirror (`public/mirror/`): the same frame as [`Registry::change`], with
    /// the mirror's keys and, on the local tree, the mirror's lock (see [`Tree::Mirror`]).
    pub fn change_mirror<T>(
        &self,
        op: &str,
        printer: Printer,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.change_tree(Tree::Mirror, op, printer, f)
    }

    fn change_tree<T>(
        &self,
        tree: Tree,
        op: &str,
        printer: Printer,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        #[cfg(feature = "aws")]
        let inner = match self.store.bucket() {
            Some(_) => Inner::Remote(remote::Remote::begin(self, op)?.in_tree(tree)),
            None => Inner::Local(Box::new(local::Local::begin_in(self, op, printer, tree)?)),
        };
        #[cfg(not(feature = "aws"))]
        let inner = Inner::Local(Box::new(local::Local::begin_in(self, op, printer, tree)?));
        let mut tx = Tx {
            reg: self,
            tree,
            printer,
            inner,
            message: None,
            site: SiteEffect::None,
        };
        let value = match f(&mut tx) {
            Ok(v) => v,
            Err(e) => {
                tx.abandon();
                return Err(e);
            }
        };
        tx.land()?;
        Ok(value)
    }
}

impl<'a> Tx<'a> {
    pub fn registry(&self) -> &'a Registry {
        self.reg
    }

    pub fn printer(&self) -> Printer {
        self.printer
    }

    /// The git commit message (and the change's description).
    pub fn message(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
    }

    /// What the site does after the change (nothing unless set).
    pub fn site(&mut self, effect: SiteEffect) {
        self.site = effect;
    }

    /// The current index file of a crate (`None` when it has none), for validation. On the
    /// local tree it cannot change before the change lands (the lock is held); on object
    /// storage [`Tx::modify_index`]'s closure must check again.
    pub fn read_index(&self, name: &str) -> Result<Option<IndexFile>> {
        crate::index::CrateName::new(name)
            .map_err(|e| anyhow::anyhow!("`{name}` is not a crate name: {e}"))?;
        let key = self.tree.index_key(name)?;
        let Some(bytes) = self.reg.store.read(crate::storage::Area::Public, &key)? else {
            return Ok(None);
        };
        IndexFile::parse(&bytes)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("failed to read the index file of `{name}`: {e}"))
    }

    /// Puts a new crate file (written to `temp`, from [`crate::storage::Store::temp_file`]).
    /// The same bytes already there are a success; different bytes an error.
    pub fn put_crate(&mut self, name: &str, vers: &str, temp: TempPath) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.put_crate(name, vers, temp),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.put_crate(name, vers, temp),
        }
    }

    /// Changes a crate's index file: `edit` gets the current file (empty when there is none)
    /// and changes it; a file left empty is removed. `ahead`, when given, is a temporary file
    /// already holding what `edit` makes of an empty file (used only when there is none).
    pub fn modify_index(
        &mut self,
        name: &str,
        ahead: Option<TempPath>,
        edit: impl FnMut(&mut IndexFile) -> Result<()>,
    ) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.modify_index(name, ahead, edit),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.modify_index(name, edit),
        }
    }

    /// Removes a crate file once the index no longer names it (after the index files).
    pub fn remove_crate(&mut self, name: &str, vers: &str) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.remove_crate(name, vers),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.remove_crate(name, vers),
        }
    }

    /// Puts a public file that is not a crate's index file (`index/config.json`), with the
    /// index files; it is committed to the git index when it lives under `index/`.
    pub fn put_public(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        if self.tree == Tree::Mirror && !key.starts_with("mirror/index/") {
            anyhow::bail!("`{key}` is not a file of the mirror's index");
        }
        match &mut self.inner {
            Inner::Local(l) => l.put_public(key, bytes),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.put_public(key, bytes),
        }
    }

    /// Puts a file of the mirror from a temporary file (from
    /// [`crate::storage::Store::temp_file`]): a crate file (`mirror/crates/...`) with the crate
    /// files, durable before any index file moves; an index file (`mirror/index/...`) with the
    /// index files, in call order. Neither is in the journal or the git index.
    pub fn put_mirror(&mut self, key: &str, temp: TempPath) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.put_mirror(key, temp),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.put_mirror(key, temp),
        }
    }

    /// Removes a file of the mirror: an index file with the index files, a crate file after
    /// them (with the crate files [`Tx::remove_crate`] removes).
    pub fn remove_mirror(&mut self, key: &str) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.remove_mirror(key),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.remove_mirror(key),
        }
    }

    /// Puts a private file of the change (the site's metadata of a crate), durable with the
    /// crate files.
    pub fn put_state(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.put_state(key, bytes),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.put_state(key, bytes),
        }
    }

    /// Puts a private file (from [`crate::storage::Store::private_temp_file`]) after the index
    /// files, unsynced: the mirror's copy of an upstream index file, with the validator it was
    /// fetched with. Written before the mirror's index file, it could make the next sync
    /// believe the index file up to date (a 304) when a crash lost the index file's update.
    pub fn put_state_last(&mut self, key: &str, temp: TempPath) -> Result<()> {
        match &mut self.inner {
            Inner::Local(l) => l.put_state_last(key, temp),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.put_state_last(key, temp),
        }
    }

    /// Builds the git index again whole (after a change of every index file) instead of
    /// committing the files changed. Object storage keeps no git index.
    pub fn whole_git(&mut self) {
        match &mut self.inner {
            Inner::Local(l) => l.whole_git(),
            #[cfg(feature = "aws")]
            Inner::Remote(_) => {}
        }
    }

    /// Changes a private record (the site's metadata of a crate): `edit` gets its current
    /// bytes (`None` when there is none) and returns the new ones, which this returns. On
    /// object storage it is re-run on a conflict, like [`Tx::modify_index`]'s closure.
    pub fn modify_state(
        &mut self,
        key: &str,
        edit: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        match &mut self.inner {
            Inner::Local(l) => l.modify_state(key, edit),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.modify_state(key, edit),
        }
    }

    fn abandon(self) {
        match self.inner {
            Inner::Local(l) => l.abandon(),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => r.abandon(),
        }
    }

    fn land(self) -> Result<()> {
        let message = self.message.unwrap_or_else(|| "Change the registry".into());
        let site = self.site;
        match self.inner {
            Inner::Local(l) => l.land(&message, site),
            #[cfg(feature = "aws")]
            Inner::Remote(r) => {
                let written = r.land()?;
                if self.tree == Tree::Mirror {
                    return Ok(());
                }
                if let Err(e) = remote_site(self.reg, site, written, false) {
                    self.printer.warn(format!(
                        "failed to update the site (run `ktra site` to rebuild it): {e:#}"
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Whether a public key is a crate file of the mirror (`true`) or one of its index files.
fn mirror_crate(key: &str) -> Result<bool> {
    use crate::mirror::layout;
    let under = |dir: &str| {
        key.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty())
    };
    if under(layout::CRATES_DIR) {
        return Ok(true);
    }
    if under(layout::INDEX_DIR) && key != layout::CONFIG_JSON {
        return Ok(false);
    }
    anyhow::bail!("`{key}` is not a crate or index file of the mirror")
}

impl Registry {
    /// Updates the site's shared pages (home, search, feed) after a change outside the
    /// registry's index that they show (the mirror set up): under the registry lock on the
    /// local tree, by the site's conditional loop on object storage. A failure of the site is
    /// a warning.
    pub fn refresh_site(&self, printer: Printer) -> Result<()> {
        #[cfg(feature = "aws")]
        if self.store.is_remote() {
            let none = remote::WrittenFiles::new();
            if let Err(e) = remote_site(self, SiteEffect::Crates(Vec::new()), none, true) {
                printer.warn(format!(
                    "failed to update the site (run `ktra site` to rebuild it): {e:#}"
                ));
            }
            return Ok(());
        }
        let writer = crate::ops::writer::Writer::begin(self, printer)?;
        after(self, printer, SiteEffect::Crates(Vec::new()));
        drop(writer);
        Ok(())
    }
}

/// The site's part of a change on object storage, from the index files it wrote.
#[cfg(feature = "aws")]
/// `look`: check whether the registry keeps a mirror (which the home page shows) instead of
/// taking what the site's state recorded (one request saved on every change).
fn remote_site(
    reg: &Registry,
    site: SiteEffect,
    written: remote::WrittenFiles,
    look: bool,
) -> Result<()> {
    if !crate::ops::site::enabled(reg) {
        // Its state goes, so that the first change once the site is on again builds it all.
        return reg.store.remove(
            crate::storage::Area::State,
            crate::ops::site::crate_list::STATE,
        );
    }
    let given = match site {
        SiteEffect::None => return Ok(()),
        SiteEffect::Rebuild => return crate::ops::site::build_all(reg).map(drop),
        SiteEffect::Crates(names) => names.into_iter().map(|n| (n, None)).collect(),
        SiteEffect::Sources(sources) => sources
            .into_iter()
            .map(|s| (s.name.clone(), Some(s)))
            .collect::<Vec<_>>(),
    };
    let mut sources = Vec::with_capacity(given.len());
    for (name, source) in given {
        let source = match (written.get(&name), source) {
            // The index file as written, and the metadata as the change recorded it.
            (Some((bytes, tag)), Some(source)) => CrateSource {
                file: crate::index::IndexFile::parse(bytes).unwrap_or_default(),
                tag: Some(tag.clone()),
                ..source
            },
            (Some((bytes, tag)), None) => {
                CrateSource::from_bytes(&reg.store, &name, bytes, Some(tag.clone()))?
            }
            (None, _) => {
                let key = crate::registry::keys::index(&name)?;
                let bucket = reg.store.bucket().expect("object storage");
                let (bytes, tag) = match bucket.area(crate::storage::Area::Public).get(&key)? {
                    Some(f) => (f.bytes, Some(f.tag)),
                    None => (Vec::new(), None),
                };
                CrateSource::from_bytes(&reg.store, &name, &bytes, tag)?
            }
        };
        sources.push(source);
    }
    crate::ops::site::remote::update(reg, sources, look)
}

/// The site's part once a change has landed: failures are warnings (the change stands).
fn after(reg: &Registry, printer: Printer, site: SiteEffect) {
    match site {
        SiteEffect::None => {}
        SiteEffect::Crates(names) => crate::ops::site::after_change(reg, &names, printer),
        SiteEffect::Sources(sources) => {
            let names: Vec<String> = sources.into_iter().map(|s| s.name).collect();
            crate::ops::site::after_change(reg, &names, printer)
        }
        SiteEffect::Rebuild => crate::ops::site::rebuild_after_change(reg, printer),
    }
}
