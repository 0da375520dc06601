//! The registry as the server sees it, with `ktra.toml` re-read when it changes on disk. The file
//! is looked at no more than once a second (a `stat` on every request would be a tenth of the
//! cost of serving an index file), so `ktra set-url` or a hand edit takes effect within a second.

use crate::config::{self, Config};
use crate::registry::Registry;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

const RECHECK: Duration = Duration::from_secs(1);

struct Current {
    checked: Instant,
    stamp: Option<SystemTime>,
    reg: Arc<Registry>,
}

pub struct Live {
    current: RwLock<Current>,
}

impl Live {
    pub fn new(reg: &Registry) -> Self {
        let stamp = modified(reg);
        let reg = Arc::new(reg.with_config(reg.config.clone(), reg.store.clone()));
        Self {
            current: RwLock::new(Current {
                checked: Instant::now(),
                stamp,
                reg,
            }),
        }
    }

    pub fn get(&self) -> Arc<Registry> {
        {
            let c = self.current.read().unwrap_or_else(|p| p.into_inner());
            if c.checked.elapsed() < RECHECK {
                return c.reg.clone();
            }
        }
        let mut c = self.current.write().unwrap_or_else(|p| p.into_inner());
        c.checked = Instant::now();
        let now = modified(&c.reg);
        if now != c.stamp {
            // A settings file that does not parse (a half-done hand edit) keeps the last good one.
            if let Ok(config) = Config::load(c.reg.root()) {
                c.reg = Arc::new(c.reg.with_config(config, c.reg.store.clone()));
                c.stamp = now;
            }
        }
        c.reg.clone()
    }
}

// reason: ktra.toml in the settings folder, not registry data.
#[allow(clippy::disallowed_methods)]
fn modified(reg: &Registry) -> Option<SystemTime> {
    std::fs::metadata(reg.root().join(config::FILE_NAME))
        .and_then(|m| m.modified())
        .ok()
}
