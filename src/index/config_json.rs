//! `config.json` at the index root: where cargo downloads crate files from, where the web API
//! is, and whether every request needs a token.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryConfig {
    /// Download URL template (see `index::path::dl_template`). A plain string, not a URL type:
    /// the `{crate}` markers are not valid URL syntax everywhere.
    pub dl: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    #[serde(
        default,
        rename = "auth-required",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub auth_required: bool,
}

impl RegistryConfig {
    /// File name, relative to the index root.
    pub const NAME: &'static str = "config.json";

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("config.json always serializes");
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omits_defaults_and_uses_kebab_case_auth_key() {
        let c = RegistryConfig {
            dl: "d".into(),
            api: None,
            auth_required: false,
        };
        assert_eq!(
            String::from_utf8(c.to_bytes()).unwrap(),
            "{\n  \"dl\": \"d\"\n}\n"
        );
        let c = RegistryConfig {
            dl: "d".into(),
            api: Some("a".into()),
            auth_required: true,
        };
        let text = String::from_utf8(c.to_bytes()).unwrap();
        assert!(text.contains("\"auth-required\": true") && text.contains("\"api\": \"a\""));
    }
}
