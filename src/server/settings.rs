//! The registry as the server sees it, with `ktra.toml` re-read when it changes on disk (one
//! `stat` per request), so `ktra set-url` or a hand edit takes effect without a restart.

use crate::config::{self, Config};
use crate::registry::Registry;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

pub struct Live {
    current: RwLock<(Option<SystemTime>, Arc<Registry>)>,
}

impl Live {
    pub fn new(reg: &Registry) -> Self {
        let stamp = modified(reg);
        let reg = Registry {
            config: reg.config.clone(),
            store: reg.store.clone(),
        };
        Self {
            current: RwLock::new((stamp, Arc::new(reg))),
        }
    }

    pub fn get(&self) -> Arc<Registry> {
        let (stamp, reg) = {
            let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
            (guard.0, guard.1.clone())
        };
        let now = modified(&reg);
        if now == stamp {
            return reg;
        }
        // A settings file that does not parse (a half-done hand edit) keeps the last good one.
        let Ok(config) = Config::load(reg.root()) else {
            return reg;
        };
        let fresh = Arc::new(Registry {
            config,
            store: reg.store.clone(),
        });
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        *guard = (now, fresh.clone());
        fresh
    }
}

fn modified(reg: &Registry) -> Option<SystemTime> {
    std::fs::metadata(reg.root().join(config::FILE_NAME))
        .and_then(|m| m.modified())
        .ok()
}
