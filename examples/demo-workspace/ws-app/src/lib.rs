//! The app member of the demo workspace, as a library.

include!(concat!(env!("OUT_DIR"), "/generated.rs"));

/// Names this crate, the ws-core it was built with and the generated constant.
pub fn describe() -> String {
    format!(
        "ws-app {} using {}, generated {}",
        env!("CARGO_PKG_VERSION"),
        ws_core::describe(),
        GENERATED
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn uses_core_and_generated_code() {
        assert_eq!(
            super::describe(),
            "ws-app 0.3.0 using ws-core 0.3.0, generated 42"
        );
    }
}
