//! The git index: the same files as the sparse index, committed into a bare repository at
//! `public/index.git` (branch `main`), one commit per change. Only the trees on the path of a
//! changed file are rewritten, so a commit costs the same in a registry of any size. ktra builds
//! the objects itself (`git_objects`) and writes them as loose objects, or as one pack for a
//! large change (`git_pack`); git2 reads existing trees and moves the branch. The files a
//! dumb-HTTP git client needs (`info/refs`, `objects/info/packs`) are kept current.

use super::git_objects::{FILE_MODE, Object, TREE_MODE, TreeEntry};
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
        // Every object ktra reads it wrote itself, and the branch always moves to a commit it
        // just wrote: libgit2's re-hashing of objects on read and its existence check when a
        // reference moves only cost time here (`ktra verify` compares the whole tree with the
        // sparse files instead).
        git2::opts::strict_hash_verification(false);
        git2::opts::strict_object_creation(false);
        let repo = Repository::open_bare(path)
            .with_context(|| format!("failed to open the git index at `{}`", path.display()))?;
        Ok(Self { repo })
    }

    /// The git index at `path`, made there first if it has none.
    pub fn open_or_init(path: &Path) -> Result<Self> {
        match path.join("HEAD").exists() {
            true => Self::open(path),
            false => Self::init(path),
        }
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
        let mut objects = Vec::new();
        let mut root = BTreeMap::new();
        for (path, content) in changes {
            let oid = content.as_ref().map(|bytes| {
                let blob = Object::blob(bytes.clone());
                let oid = blob.oid;
                objects.push(blob);
                oid
            });
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
        let tree_oid = match self.build(base, &root, &mut objects)? {
            Some(oid) => oid,
            None => {
                let empty = Object::tree(Vec::new());
                let oid = empty.oid;
                objects.push(empty);
                oid
            }
        };
        if let Some(p) = parent.as_ref().filter(|p| p.tree_id() == tree_oid) {
            // Nothing new to commit, but a crash may have moved the branch without updating
            // what dumb-HTTP clients read.
            self.write_server_info(store, p.id())?;
            return Ok(p.id());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let commit = Object::commit(tree_oid, parent.as_ref().map(|p| p.id()), message, now);
        let commit_oid = commit.oid;
        objects.push(commit);
        super::crash::fault("git-objects").context("failed to write the git index's objects")?;
        if changes.len() > LOOSE_LIMIT {
            let odb = self
                .repo
                .odb()
                .context("failed to open the git object database")?;
            super::git_pack::write(&odb, &objects)?;
        } else {
            super::git_pack::write_loose(&self.repo.path().join("objects"), &objects)?;
        }
        // Objects reach the disk before the branch points at them.
        store.sync()?;
        super::crash::point("git-objects");
        self.repo
            .reference(BRANCH, commit_oid, true, message)
            .context("failed to move the git index branch")?;
        super::crash::point("git-ref");
        self.write_server_info(store, commit_oid)?;
        Ok(commit_oid)
    }

    /// The tree `base` becomes with `children` applied; new trees go to `out`. `None` when it
    /// ends up empty.
    fn build(
        &self,
        base: Option<Tree<'_>>,
        children: &BTreeMap<String, Node>,
        out: &mut Vec<Object>,
    ) -> Result<Option<Oid>> {
        let mut entries: BTreeMap<String, (i32, Oid)> = BTreeMap::new();
        if let Some(tree) = &base {
            for e in tree.iter() {
                if let Some(name) = e.name() {
                    entries.insert(name.to_owned(), (e.filemode(), e.id()));
                }
            }
        }
        for (name, node) in children {
            match node {
                Node::File(Some(oid)) => {
                    entries.insert(name.clone(), (FILE_MODE, *oid));
                }
                Node::File(None) => {
                    entries.remove(name);
                }
                Node::Dir(sub) => {
                    let existing = match entries.get(name) {
                        Some((TREE_MODE, id)) => Some(self.repo.find_tree(*id)?),
                        _ => None,
                    };
                    match self.build(existing, sub, out)? {
                        Some(oid) => entries.insert(name.clone(), (TREE_MODE, oid)),
                        None => entries.remove(name),
                    };
                }
            }
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let tree = Object::tree(
            entries
                .into_iter()
                .map(|(name, (mode, oid))| TreeEntry { name, mode, oid })
                .collect(),
        );
        let oid = tree.oid;
        out.push(tree);
        Ok(Some(oid))
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
            // Whatever `remote` says, it is the repository, never an option.
            .args(["push", "--quiet", "--end-of-options", remote, "main:main"])
            .output()
            .context("failed to run `git push` (is git installed?)")?;
        if !out.status.success() {
            // The remote's URL may carry credentials, and git may repeat it: never shown.
            let message = format!(
                "`git push {remote} main` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            bail!("{}", crate::redact::url_credentials(&message));
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

/// Lock files git (and libgit2) leave in the git index at `git_dir` when killed while moving a
/// reference or rewriting a file: `HEAD.lock`, `config.lock`, `packed-refs.lock` and any
/// `*.lock` below `refs/`. Under the registry lock no writer is inside the git index, so every
/// one found is stale, and while one is there every commit fails with "Locked".
pub fn stale_locks(git_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<std::path::PathBuf> = ["HEAD.lock", "config.lock", "packed-refs.lock"]
        .iter()
        .map(|n| git_dir.join(n))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    let refs = git_dir.join("refs");
    for entry in walkdir::WalkDir::new(&refs).into_iter().flatten() {
        if !entry.file_type().is_dir() && entry.file_name().to_string_lossy().ends_with(".lock") {
            found.push(entry.into_path());
        }
    }
    found
}

/// Removes a lock file found by [`stale_locks`].
pub fn remove_stale_lock(path: &Path) -> Result<()> {
    std::fs::remove_file(path)
        .with_context(|| format!("failed to remove the stale git lock `{}`", path.display()))
}

/// The blob id git gives these bytes (to compare the sparse files with the git tree).
pub fn blob_id(bytes: &[u8]) -> Result<Oid> {
    Ok(Oid::hash_object(ObjectType::Blob, bytes)?)
}
