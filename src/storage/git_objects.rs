//! Git objects made by ktra itself: blobs, trees and commits in git's format, with their ids.
//! Building them here rather than through libgit2's object database skips its per-object
//! existence probes of the loose and pack stores, which cost more than the objects themselves.

use git2::{ObjectType, Oid};
use sha1::{Digest, Sha1};

/// A file entry's mode and a directory entry's mode, as git writes them.
pub const FILE_MODE: i32 = 0o100644;
pub const TREE_MODE: i32 = 0o040000;

pub struct Object {
    pub kind: ObjectType,
    pub data: Vec<u8>,
    pub oid: Oid,
}

pub struct TreeEntry {
    pub name: String,
    pub mode: i32,
    pub oid: Oid,
}

impl Object {
    fn new(kind: ObjectType, data: Vec<u8>) -> Self {
        let mut h = Sha1::new();
        h.update(format!("{} {}\0", kind.str(), data.len()).as_bytes());
        h.update(&data);
        let oid = Oid::from_bytes(&h.finalize()).expect("a SHA-1 is 20 bytes");
        Self { kind, data, oid }
    }

    pub fn blob(data: Vec<u8>) -> Self {
        Self::new(ObjectType::Blob, data)
    }

    /// A tree of these entries, sorted the way git sorts them (a directory as if its name
    /// ended in `/`).
    pub fn tree(mut entries: Vec<TreeEntry>) -> Self {
        let key = |e: &TreeEntry| {
            let mut k = e.name.as_bytes().to_vec();
            if e.mode == TREE_MODE {
                k.push(b'/');
            }
            k
        };
        entries.sort_by_cached_key(key);
        let mut data = Vec::with_capacity(entries.len() * 40);
        for e in &entries {
            data.extend_from_slice(format!("{:o} {}\0", e.mode, e.name).as_bytes());
            data.extend_from_slice(e.oid.as_bytes());
        }
        Self::new(ObjectType::Tree, data)
    }

    /// A commit by ktra at `time` (seconds since the epoch, UTC).
    pub fn commit(tree: Oid, parent: Option<Oid>, message: &str, time: i64) -> Self {
        let mut text = format!("tree {tree}\n");
        if let Some(p) = parent {
            text.push_str(&format!("parent {p}\n"));
        }
        let who = format!("ktra <ktra@localhost> {time} +0000");
        text.push_str(&format!("author {who}\ncommitter {who}\n\n{message}\n"));
        Self::new(ObjectType::Commit, text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        // `printf hello | git hash-object --stdin`
        assert_eq!(
            Object::blob(b"hello".to_vec()).oid.to_string(),
            "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"
        );
    }

    #[test]
    fn trees_and_commits_match_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let blob = repo.blob(b"x\n").unwrap();
        let sub = repo.treebuilder(None).unwrap();
        let sub = {
            let mut sub = sub;
            sub.insert("f", blob, FILE_MODE).unwrap();
            sub.write().unwrap()
        };
        let mut tb = repo.treebuilder(None).unwrap();
        for (name, oid, mode) in [
            ("b", blob, FILE_MODE),
            ("a", sub, TREE_MODE),
            ("a.txt", blob, FILE_MODE),
            ("a-b", blob, FILE_MODE),
        ] {
            tb.insert(name, oid, mode).unwrap();
        }
        let want = tb.write().unwrap();
        let ours = Object::tree(vec![
            TreeEntry {
                name: "b".into(),
                mode: FILE_MODE,
                oid: blob,
            },
            TreeEntry {
                name: "a".into(),
                mode: TREE_MODE,
                oid: sub,
            },
            TreeEntry {
                name: "a.txt".into(),
                mode: FILE_MODE,
                oid: blob,
            },
            TreeEntry {
                name: "a-b".into(),
                mode: FILE_MODE,
                oid: blob,
            },
        ]);
        assert_eq!(ours.oid, want);

        let commit = Object::commit(want, None, "Add x 1.0.0", 1_700_000_000);
        let id = repo
            .odb()
            .unwrap()
            .write(ObjectType::Commit, &commit.data)
            .unwrap();
        assert_eq!(id, commit.oid);
        let parsed = repo.find_commit(id).unwrap();
        assert_eq!(parsed.tree_id(), want);
        assert_eq!(parsed.summary(), Some("Add x 1.0.0"));
        assert_eq!(parsed.author().name(), Some("ktra"));
        assert_eq!(parsed.time().seconds(), 1_700_000_000);
    }
}
