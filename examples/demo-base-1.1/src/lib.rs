//! The base crate of the demo registry, version 1.1.0. The tests yank this version, so a
//! consumer that prints this greeting resolved a yanked version.

/// Names the version that was built; demo-base 1.0.0 returns a different text.
pub fn greeting() -> &'static str {
    "hello from demo-base 1.1.0"
}

/// Whether the `some-feature` feature was enabled for this build.
pub fn some_feature() -> bool {
    cfg!(feature = "some-feature")
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets_with_its_version() {
        assert!(super::greeting().ends_with("1.1.0"));
    }
}
