//! The site update of a change on object storage, where other writers update the site at the
//! same moment, with no lock:
//! 1. the changed crates' pages are rendered from the index files the change wrote;
//! 2. the site's state (the list's layout, its pages' summaries, the recent releases) is read,
//!    changed and written back only if nobody changed it since (its ETag); on a conflict it is
//!    read again and the change applied again (applying it twice changes nothing more);
//! 3. the pages made from the state (list pages, search parts, the search manifest, home,
//!    feed) are written;
//! 4. the writer checks that the state and the crates' index files are still what it
//!    rendered from. When another writer changed them meanwhile, this writer's pages may have
//!    overwritten newer ones, so it renders again from what is stored now. The check of the
//!    last writer to change the state passes, so when every writer is done, every page shows
//!    every change.

use super::crate_list::{CrateList, PageGone};
use super::crate_pages::{self, CrateSource};
use crate::registry::{Registry, keys};
use crate::site::view::{CrateSummary, Release};
use crate::storage::bucket::{Cond, Written, backoff};
use crate::storage::{Area, Batch};
use anyhow::{Context, Result, bail};
use rayon::prelude::*;

/// Rounds before giving up (each failed round means another writer's change landed).
const ATTEMPTS: u32 = 30;

/// What a crate's rendering gives the shared part.
struct Facts {
    lower: String,
    summary: Option<CrateSummary>,
    releases: Vec<Release>,
    absent: Vec<String>,
}

/// Updates the site for the changed crates in `sources`. Whether the registry keeps a mirror
/// (the home page shows it) is what the site's state recorded, unless `look` (after the
/// mirror was set up).
pub fn update(reg: &Registry, sources: Vec<CrateSource>, look: bool) -> Result<()> {
    let templates = super::templates(reg)?;
    // Only the home page shows the mirror: the crates' pages need not know.
    let site = match look {
        true => super::site_info(reg),
        false => super::site_info_with(reg, false),
    };
    let mut sources = sources;
    let mut facts: Vec<Option<Facts>> = sources.iter().map(|_| None).collect();
    for attempt in 0..ATTEMPTS {
        // 1. The crates' pages (again only for crates whose index file changed since).
        let stale: Vec<usize> = (0..sources.len()).filter(|i| facts[*i].is_none()).collect();
        let rendered: Vec<(usize, Facts)> = stale
            .par_iter()
            .map(|&i| render(reg, &templates, &site, sources[i].clone()).map(|f| (i, f)))
            .collect::<Result<_>>()?;
        let fresh: Vec<usize> = rendered.iter().map(|(i, _)| *i).collect();
        for (i, f) in rendered {
            facts[i] = Some(f);
        }
        // 2 and 3. The shared state and its pages.
        let all: Vec<&Facts> = facts.iter().flatten().collect();
        let (tag, olds) = match shared(reg, &templates, &site, &all) {
            Ok(done) => done,
            Err(e) if e.is::<Conflict>() || e.is::<PageGone>() => {
                backoff(attempt);
                continue;
            }
            // All of it, once.
            Err(e) if e.is::<NoSite>() => return super::build_all(reg).map(drop),
            Err(e) => return Err(e),
        };
        // Pages the freshly rendered crates no longer have.
        for i in fresh {
            let f = facts[i].as_ref().expect("rendered above");
            let old = olds
                .iter()
                .find(|(l, _)| *l == f.lower)
                .and_then(|(_, o)| o.as_ref());
            for key in crate_pages::gone(&f.absent, old) {
                reg.store.remove(Area::Public, key)?;
            }
        }
        // 4. The check.
        let mut settled = bucket(reg, Area::State)
            .head(super::crate_list::STATE)?
            .map(|h| h.tag)
            == tag;
        // The crates' index files, side by side (a bulk add checks thousands).
        let moved: Vec<Option<CrateSource>> = sources
            .par_iter()
            .map(|source| -> Result<Option<CrateSource>> {
                let key = keys::index(&source.name)?;
                let now = bucket(reg, Area::Public).head(&key)?.map(|h| h.tag);
                if now == source.tag {
                    return Ok(None);
                }
                let found = bucket(reg, Area::Public).get(&key)?;
                let (bytes, tag) = found.map_or((Vec::new(), None), |f| (f.bytes, Some(f.tag)));
                CrateSource::from_bytes(&reg.store, &source.name, &bytes, tag).map(Some)
            })
            .collect::<Result<_>>()?;
        for (i, source) in moved.into_iter().enumerate() {
            if let Some(source) = source {
                sources[i] = source;
                facts[i] = None;
                settled = false;
            }
        }
        if settled {
            return Ok(());
        }
    }
    bail!("the site kept changing under {ATTEMPTS} attempts (other writers)")
}

fn bucket(reg: &Registry, area: Area) -> &crate::storage::bucket::Bucket {
    reg.store
        .bucket()
        .expect("the remote site update runs on object storage")
        .area(area)
}

/// Renders and writes one crate's pages; the facts the shared pages need.
fn render(
    reg: &Registry,
    templates: &crate::site::Templates,
    site: &crate::site::view::SiteInfo,
    source: CrateSource,
) -> Result<Facts> {
    let r = crate_pages::render_crate(&reg.store, templates, site, source)?;
    if let Some(bytes) = r.meta_bytes {
        reg.store.bucket().expect("object storage").put(
            Area::State,
            &super::meta_store::key(&r.name),
            bytes,
        )?;
    }
    let mut batch = reg.store.batch().named("site");
    crate_pages::stage(&mut batch, r.pages);
    batch.commit()?;
    Ok(Facts {
        lower: r.name.to_ascii_lowercase(),
        summary: r.summary,
        releases: r.releases,
        absent: r.absent,
    })
}

/// The registry keeps no site state yet (a site turned on after crates were added).
#[derive(Debug, thiserror::Error)]
#[error("the registry has no site yet")]
struct NoSite;

/// Another writer changed the site's state since it was read.
#[derive(Debug, thiserror::Error)]
#[error("the site's state changed meanwhile")]
struct Conflict;

type Olds = Vec<(String, Option<CrateSummary>)>;

/// One conditional update of the shared state, then the pages made from it: the state's ETag
/// after it (as written, or as read when nothing changed), and each crate's summary before.
fn shared(
    reg: &Registry,
    templates: &crate::site::Templates,
    site: &crate::site::view::SiteInfo,
    facts: &[&Facts],
) -> Result<(Option<String>, Olds)> {
    let mut list = CrateList::open(reg)?;
    if list.tag.is_none() {
        return Err(NoSite.into());
    }
    let looked;
    let site = match site.mirror.is_some() || !list.mirror {
        true => site,
        false => {
            looked = super::site_info_with(reg, true);
            &looked
        }
    };
    let mut recent = list.recent.clone();
    let mut olds = Vec::with_capacity(facts.len());
    for f in facts {
        recent.retain(|old| !old.name.eq_ignore_ascii_case(&f.lower));
        recent.extend(f.releases.iter().cloned());
        let old = list.set(reg, &f.lower, f.summary.clone())?;
        olds.push((f.lower.clone(), old));
    }
    let mut batch = reg.store.batch().named("site");
    super::write_shared(reg, templates, site, &mut list, recent, &mut batch, false)?;
    let tag = match list.changed() {
        true => commit(reg, batch, list.tag.clone())?,
        false => {
            let (staged, _) = batch.into_parts()?;
            let public = staged
                .into_iter()
                .filter(|(area, _, _)| *area == Area::Public)
                .map(|(_, key, bytes)| (key, bytes))
                .collect();
            put_public(reg, public)?;
            list.tag.clone()
        }
    };
    Ok((tag, olds))
}

/// Writes the new page summaries, then the state if nobody changed it since `read` (else
/// [`Conflict`], and nothing public is written), then the public pages and the removals.
fn commit(reg: &Registry, batch: Batch<'_>, read: Option<String>) -> Result<Option<String>> {
    let (staged, removed) = batch.into_parts()?;
    let state = bucket(reg, Area::State);
    let mut public = Vec::new();
    let mut state_bytes = None;
    for (area, key, bytes) in staged {
        match area {
            Area::State if key == super::crate_list::STATE => state_bytes = Some(bytes),
            Area::State => {
                state.put(&key, bytes, Cond::Any)?;
            }
            Area::Public => public.push((key, bytes)),
        }
    }
    let bytes = state_bytes.context("the site's state was not staged")?;
    let cond = read.map_or(Cond::IfAbsent, Cond::IfMatch);
    let tag = match state.put(super::crate_list::STATE, bytes, cond)? {
        Written::Done(tag) => tag,
        Written::Conflict => return Err(Conflict.into()),
    };
    put_public(reg, public)?;
    for (area, key) in removed {
        reg.store.remove(area, &key)?;
    }
    Ok(Some(tag))
}

/// Puts independent public objects, eight at a time (each is a round trip).
fn put_public(reg: &Registry, objects: Vec<(String, Vec<u8>)>) -> Result<()> {
    let buckets = reg.store.bucket().expect("object storage");
    let mut objects = objects.into_iter().peekable();
    while objects.peek().is_some() {
        let round: Vec<_> = objects.by_ref().take(8).collect();
        std::thread::scope(|scope| {
            let puts: Vec<_> = round
                .into_iter()
                .map(|(key, bytes)| scope.spawn(move || buckets.put(Area::Public, &key, bytes)))
                .collect();
            puts.into_iter()
                .try_for_each(|put| put.join().unwrap_or_else(|_| bail!("a site upload failed")))
        })?;
    }
    Ok(())
}
