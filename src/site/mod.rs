//! The browsable site (issue 5): a static crate browser written into `public/`.
//!
//! ```text
//!  README text ──► render_readme (pulldown-cmark + ammonia) ──► CratePage::readme_html
//!  [CrateSummary] ──► search_index ──► search-index.json (read by static/search.js)
//! ```
//!
//! Everything here is pure rendering: which pages to write, and when, is the caller's business.

mod links;
mod readme;
mod search;
pub mod view;

pub use readme::render_readme;
pub use search::{ENTRY_BUDGET, search_index};

#[cfg(test)]
mod tests;
