//! The browsable site (issue 5): a static crate browser written into `public/`.
//!
//! ```text
//!  view (plain data) ──► Templates (minijinja, autoescape) ──► index.html, c/NAME.html,
//!                                                                feed.xml, 404.html, static/*
//!  README text ──► render_readme (pulldown-cmark + ammonia) ──► CratePage::readme_html
//!  [CrateSummary] ──► search_index ──► search-index.json (read by static/search.js)
//! ```
//!
//! Everything here is pure rendering: which pages to write, and when, is the caller's business.

mod links;
pub mod list_layout;
mod readme;
mod search;
mod templates;
pub mod view;

pub use readme::{RenderedReadme, render_readme, render_readme_in, render_readme_within};
pub use search::{ENTRY_BUDGET, search_index};
pub use templates::Templates;

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // reason: tests build their own trees.
mod tests;
