//! The browsable site (issue 5): view models now; rendering comes with the templates.
pub mod view;
