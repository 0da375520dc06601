//! The git index: the same files as the sparse index, committed with git2 into a bare repository
//! at `public/index.git` (branch `main`), one commit per change. Only the trees on the path of a
//! changed file are rewritten, so a commit costs the same in a registry of any size; a large
//! change (a bulk add, a rebuild) is written as one pack rather than as loose objects. The files
//! a dumb-HTTP git client needs (`info/refs`, `objects/info/packs`) are kept current.

use super::{Area, Store};
use anyhow::{Context, Result, bail};
use git2::{ObjectType, Oid, Repository, Tree};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

pub const DIR: &str = "index.git";
const BRANCH: &str = "refs/heads/main";
/// Commits touching more files than this are written as one pack instead of loose objects
/// (loose objects: cheap to add, but one file each).
const LOOSE_LIMIT: usize = 32;

/// A change to one index file: new content, or `None` to delete it.
pub type Change = (String, Option<Vec<u8>>);

pub struct GitIndex {
    repo: Repository,
}

enum Node {
    File(Option<Oid>),
    Dir(BTreeMap<String, Node>),
}

impl GitIndex {
    pub fn init(path: &Path) -> Result<Self> {
        let repo = Repository::init_bare(path)
            .with_context(|| format!("failed to create the git index at `{}`", path.display()))?;
        repo.set_head(BRANCH)
            .context("failed to point the git index HEAD at `main`")?;
        Ok(Self { repo })
    }

    pub fn open(path: &Path) -> Result<Self> {
        // Every object ktra reads it wrote itself moments or changes ago, and every tree entry
        // it inserts points at an object it just wrote: libgit2's re-hashing of objects on
        // read and existence checks on insert only cost time here (`ktra verify` compares the
        // whole tree with the sparse files instead).
        git2::opts::strict_hash_verification(false);
        git2::opts::strict_object_creation(false);
        let repo = Repository::open_bare(path)
            .with_context(|| format!("failed to open the git index at `{}`", path.display()))?;
        Ok(Self { repo })
    }

    pub fn head(&self) -> Option<Oid> {
        self.repo.refname_to_id(BRANCH).ok()
    }

    /// Commits `changes` on top of `main`. With `replace_all`, the tree is built from the changes
    /// alone (used by rebuild); otherwise unchanged files are kept.
    pub fn commit(
        &self,
        store: &Store,
        changes: &[Change],
        message: &str,
        replace_all: bool,
    ) -> Result<Oid> {
        let odb = self
            .repo
            .odb()
            .context("failed to open the git object database")?;
        // New objects collect in memory; ktra writes them out itself below.
        let _mempack = odb
            .add_new_mempack_backend(1000)
            .context("failed to prepare the git object store")?;
        let mut written = Vec::new();
        let mut root = BTreeMap::new();
        for (path, content) in changes {
            let oid = match content {
                Some(bytes) => Some(
                    self.repo
                        .blob(bytes)
                        .context("failed to write a git blob")?,
                ),
                None => None,
            };
            written.extend(oid);
            insert(&mut root, path, oid)?;
        }
        let parent = match self.head() {
            Some(oid) => Some(
                self.repo
                    .find_commit(oid)
                    .context("failed to read the git index head")?,
            ),
            None => None,
        };
        let base = match (&parent, replace_all) {
            (Some(c), false) => Some(c.tree().context("failed to read the git index tree")?),
            _ => None,
        };
        let tree_oid = match self.apply(base, &root, &mut written)? {
            Some(oid) => oid,
            None => self.repo.treebuilder(None)?.write()?,
        };
        if let Some(p) = parent.as_ref().filter(|p| p.tree_id() == tree_oid) {
            // Nothing new to commit, but a crash may have moved the branch without updating
            // what dumb-HTTP clients read.
            self.write_server_info(store, p.id())?;
            return Ok(p.id());
        }
        let tree = self.repo.find_tree(tree_oid)?;
        let sig = git2::Signature::now("ktra", "ktra@localhost")?;
        let parents: Vec<_> = parent.iter().collect();
        let commit = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .context("failed to write a git commit")?;
        written.push(tree_oid);
        written.push(commit);
        if changes.len() > LOOSE_LIMIT {
            super::git_pack::write(&odb, &written)?;
        } else {
            super::git_pack::write_loose(&odb, &self.repo.path().join("objects"), &written)?;
        }
        // Objects reach the disk before the branch points at them.
        store.sync()?;
        super::crash::point("git-objects");
        self.repo
            .reference(BRANCH, commit, true, message)
            .context("failed to move the git index branch")?;
        super::crash::point("git-ref");
        self.write_server_info(store, commit)?;
        Ok(commit)
    }

    fn apply(
        &self,
        base: Option<Tree<'_>>,
        children: &BTreeMap<String, Node>,
        written: &mut Vec<Oid>,
    ) -> Result<Option<Oid>> {
        let mut tb = self.repo.treebuilder(base.as_ref())?;
        for (name, node) in children {
            match node {
                Node::File(Some(oid)) => {
                    tb.insert(name, *oid, 0o100644)?;
                }
                Node::File(None) => {
                    if tb.get(name)?.is_some() {
                        tb.remove(name)?;
                    }
                }
                Node::Dir(sub) => {
                    let existing = match tb.get(name)? {
                        Some(e) if e.kind() == Some(ObjectType::Tree) => {
                            Some(self.repo.find_tree(e.id())?)
                        }
                        _ => None,
                    };
                    match self.apply(existing, sub, written)? {
                        Some(oid) => {
                            tb.insert(name, oid, 0o040000)?;
                        }
                        None => {
                            if tb.get(name)?.is_some() {
                                tb.remove(name)?;
                            }
                        }
                    }
                }
            }
        }
        if tb.is_empty() {
            Ok(None)
        } else {
            let oid = tb.write()?;
            written.push(oid);
            Ok(Some(oid))
        }
    }

    /// Every file in the `main` tree, as path → blob id.
    pub fn files(&self) -> Result<BTreeMap<String, Oid>> {
        let mut out = BTreeMap::new();
        let Some(head) = self.head() else {
            return Ok(out);
        };
        let tree = self.repo.find_commit(head)?.tree()?;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob) {
                out.insert(format!("{dir}{}", entry.name().unwrap_or("")), entry.id());
            }
            git2::TreeWalkResult::Ok
        })?;
        Ok(out)
    }

    /// What `git update-server-info` writes, so dumb-HTTP clients can fetch.
    fn write_server_info(&self, store: &Store, head: Oid) -> Result<()> {
        let mut packs = String::new();
        let pack_dir = self.repo.path().join("objects/pack");
        if let Ok(entries) = std::fs::read_dir(&pack_dir) {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".pack"))
                .collect();
            names.sort();
            for n in names {
                packs.push_str(&format!("P {n}\n"));
            }
        }
        packs.push('\n');
        let mut batch = store.batch().named("git-info");
        batch.put(
            Area::Public,
            &format!("{DIR}/info/refs"),
            server_refs(head).as_bytes(),
        )?;
        batch.put(
            Area::Public,
            &format!("{DIR}/objects/info/packs"),
            packs.as_bytes(),
        )?;
        batch.commit()
    }

    /// `info/refs` content for the current head.
    pub fn expected_info_refs(&self) -> Option<String> {
        self.head().map(server_refs)
    }

    /// Pushes `main` to `remote` with the git command line (it knows the user's credentials).
    pub fn push(&self, remote: &str) -> Result<()> {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.repo.path())
            .args(["push", "--quiet", remote, "main:main"])
            .output()
            .context("failed to run `git push` (is git installed?)")?;
        if !out.status.success() {
            bail!(
                "`git push {remote} main` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

fn server_refs(head: Oid) -> String {
    format!("{head}\t{BRANCH}\n")
}

fn insert(root: &mut BTreeMap<String, Node>, path: &str, oid: Option<Oid>) -> Result<()> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop().filter(|f| !f.is_empty());
    let Some(file) = file else {
        bail!("bad git index path `{path}`")
    };
    let mut level = root;
    for dir in parts {
        let node = level
            .entry(dir.to_owned())
            .or_insert_with(|| Node::Dir(BTreeMap::new()));
        level = match node {
            Node::Dir(children) => children,
            Node::File(_) => bail!("git index path `{path}` runs through a file"),
        };
    }
    level.insert(file.to_owned(), Node::File(oid));
    Ok(())
}

/// The blob id git gives these bytes (to compare the sparse files with the git tree).
pub fn blob_id(bytes: &[u8]) -> Result<Oid> {
    Ok(Oid::hash_object(ObjectType::Blob, bytes)?)
}
