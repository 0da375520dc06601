//! Rendering tests: fixtures shared by the files below, which each cover one output.

mod readme;
mod search;

use super::view::*;

pub fn summary(name: &str, version: &str, description: &str, keywords: &[&str]) -> CrateSummary {
    CrateSummary {
        name: name.into(),
        version: version.into(),
        description: (!description.is_empty()).then(|| description.into()),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        updated: Some("2025-01-02T03:04:05Z".into()),
    }
}
