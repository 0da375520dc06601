//! The crate list's pages through a real (temporary) registry: splits, emptied pages, renamed
//! first pages, and a full build that writes what a sequence of changes wrote.

use super::crate_list::CrateList;
use crate::ops::init::{InitOptions, init};
use crate::registry::Registry;
use crate::site::list_layout::MAX_PER_PAGE;
use crate::site::view::CrateSummary;
use crate::storage::Area;
use std::collections::BTreeMap;

fn registry(dir: &std::path::Path) -> Registry {
    init(
        dir,
        InitOptions {
            url: "http://127.0.0.1:1/".into(),
            name: "t".into(),
            api: None,
            auth_required: false,
            git: false,
            site: true,
            storage: None,
            state: None,
            state_files: None,
        },
    )
    .unwrap()
}

fn summary(name: &str) -> CrateSummary {
    CrateSummary {
        name: name.into(),
        version: "1.0.0".into(),
        description: Some(format!("{name} does things")),
        keywords: vec!["kw".into()],
        updated: None,
        pages: Vec::new(),
    }
}

/// One change: sets (or with `false` removes) these crates, and commits.
fn change(reg: &Registry, crates: &[(String, bool)]) {
    let templates = super::templates(reg).unwrap();
    let site = super::site_info(reg);
    let mut list = CrateList::open(reg).unwrap();
    for (name, present) in crates {
        list.set(reg, name, present.then(|| summary(name))).unwrap();
    }
    let mut batch = reg.store.batch().unsynced();
    list.write(reg, &templates, &site, &mut batch).unwrap();
    batch.commit().unwrap();
}

/// What the list wrote: every file under `all/`, `search/` and `state/site/`.
fn files(reg: &Registry) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (area, dir) in [
        (Area::Public, "all"),
        (Area::Public, "search"),
        (Area::State, "site"),
    ] {
        for key in reg.store.walk(area, dir).unwrap() {
            let bytes = reg.store.read(area, &key).unwrap().unwrap();
            out.insert(normal_key(&key), normal_bytes(&key, bytes));
        }
    }
    out
}

/// A page's summaries without the random part of their name.
fn normal_key(key: &str) -> String {
    match key.strip_prefix("site/list/") {
        Some(rest) => format!("site/list/{}", rest.split('.').next().unwrap()),
        None => key.to_owned(),
    }
}

/// The state without the random names of the pages' summaries.
fn normal_bytes(key: &str, bytes: Vec<u8>) -> Vec<u8> {
    if key != super::crate_list::STATE {
        return bytes;
    }
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for page in v["pages"].as_array_mut().unwrap() {
        assert!(page.as_object_mut().unwrap().remove("object").is_some());
    }
    serde_json::to_vec(&v).unwrap()
}

fn full_build_of(reg: &Registry, names: &[String]) -> BTreeMap<String, Vec<u8>> {
    let templates = super::templates(reg).unwrap();
    let site = super::site_info(reg);
    let all = names.iter().map(|n| (n.clone(), summary(n))).collect();
    let mut list = CrateList::from_all(reg, all);
    let mut batch = reg.store.batch().unsynced();
    list.write(reg, &templates, &site, &mut batch).unwrap();
    let keys = batch.keys();
    batch.commit().unwrap();
    // As `ktra site` does: the summaries the new state does not name go.
    for key in reg.store.walk(Area::State, "site/list").unwrap() {
        if !keys.contains(&(Area::State, key.clone())) {
            reg.store.remove(Area::State, &key).unwrap();
        }
    }
    keys.into_iter()
        .map(|(area, key)| {
            let bytes = reg.store.read(area, &key).unwrap().unwrap();
            (normal_key(&key), normal_bytes(&key, bytes))
        })
        .collect()
}

fn layout(reg: &Registry) -> Vec<(String, usize)> {
    let bytes = reg
        .store
        .read(Area::State, super::crate_list::STATE)
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let id = p["bound"].as_str().or(p["letter"].as_str()).unwrap();
            (id.to_owned(), p["count"].as_u64().unwrap() as usize)
        })
        .collect()
}

#[test]
fn pages_split_empty_and_rename_and_a_full_build_writes_what_the_changes_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let name = |i: usize| format!("s{i:04}");
    // One change past the most a page holds: the letter's page is halved.
    let first: Vec<_> = (0..=MAX_PER_PAGE).map(|i| (name(i * 2), true)).collect();
    change(&reg, &first);
    let pages = layout(&reg);
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0], ("s".into(), 129));
    assert_eq!(pages[1], (name(258), 128));
    // Small changes touch one page; names in the gaps land on the page of their bound.
    change(
        &reg,
        &[
            (name(1), true),
            (name(3), true),
            (name(5), true),
            ("apple".into(), true),
        ],
    );
    change(&reg, &[(name(259), true)]);
    let pages = layout(&reg);
    assert_eq!(
        pages,
        [("a".into(), 1), ("s".into(), 132), (name(258), 129)]
    );
    let page = String::from_utf8(files(&reg)["all/s.html"].clone()).unwrap();
    assert!(page.contains("s0001") && !page.contains("s0259"), "{page}");
    assert!(
        page.contains(&format!("href=\"{}.html\"", name(258))),
        "{page}"
    );
    // A full build keeps the bounds the changes made (a fresh cut of these 262 crates would
    // put the second page elsewhere).
    let present: Vec<String> = std::iter::once("apple".to_owned())
        .chain(
            (0..=2 * MAX_PER_PAGE)
                .filter(|i| i % 2 == 0 || [1, 3, 5, 259].contains(i))
                .map(name),
        )
        .collect();
    let before = files(&reg);
    assert_eq!(
        full_build_of(&reg, &present),
        before,
        "the full build differs"
    );

    // Emptying the letter's first page: the next page becomes `s`, the old id's files go.
    let gone: Vec<_> = (0..=257)
        .filter(|i| i % 2 == 0 || [1, 3, 5].contains(i))
        .map(|i| (name(i), false))
        .collect();
    change(&reg, &gone);
    let pages = layout(&reg);
    assert_eq!(pages, [("a".into(), 1), ("s".into(), 129)]);
    let now = files(&reg);
    assert!(
        !now.keys().any(|k| k.contains(&name(258))),
        "{:?}",
        now.keys()
    );
    let page = String::from_utf8(now["all/s.html"].clone()).unwrap();
    assert!(
        page.contains("s0259") && !page.contains("rel=\"next\""),
        "{page}"
    );

    // A full build from the stored layout writes exactly these files.
    let present: Vec<String> = std::iter::once("apple".to_owned())
        .chain(
            (258..=2 * MAX_PER_PAGE)
                .filter(|i| i % 2 == 0 || *i == 259)
                .map(name),
        )
        .collect();
    assert_eq!(present.len(), 130);
    let rebuilt = full_build_of(&reg, &present);
    assert_eq!(rebuilt, now, "the full build differs from the changes");
}

#[test]
fn a_page_that_disagrees_with_the_layout_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    change(&reg, &[("alpha".into(), true), ("avocado".into(), true)]);
    // A crash between renames could leave the page of an older change.
    let key = reg.store.walk(Area::State, "site/list").unwrap().remove(0);
    let key = key.as_str();
    let page: BTreeMap<String, CrateSummary> =
        serde_json::from_slice(&reg.store.read(Area::State, key).unwrap().unwrap()).unwrap();
    let older: BTreeMap<_, _> = page.into_iter().take(1).collect();
    std::fs::write(
        reg.store.path(Area::State, key),
        serde_json::to_vec(&older).unwrap(),
    )
    .unwrap();
    let mut list = CrateList::open(&reg).unwrap();
    let err = list.set(&reg, "apple", Some(summary("apple"))).unwrap_err();
    assert!(format!("{err:#}").contains("damaged"), "{err:#}");
}
