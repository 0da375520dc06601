//! The core member of the demo workspace.

/// Names this crate and the version it inherited from the workspace.
pub fn describe() -> String {
    format!("ws-core {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn inherits_the_workspace_version() {
        assert_eq!(super::describe(), "ws-core 0.3.0");
    }
}
