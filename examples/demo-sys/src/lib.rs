//! A `links = "demo"` crate whose build script sets `DEMO_SYS_BUILT`.

/// The value the build script set; the crate would not compile without it.
pub fn built() -> &'static str {
    env!("DEMO_SYS_BUILT")
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_script_ran() {
        assert_eq!(super::built(), "yes");
    }
}
