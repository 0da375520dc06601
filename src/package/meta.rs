//! What the site shows about a version beyond its index line, read from its packaged
//! `Cargo.toml` and README: description, links, licence, keywords, categories, edition. Pure.

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
}

/// A crate's README as packaged: its path inside the crate and its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readme {
    pub path: String,
    pub text: String,
}

impl Readme {
    /// Markdown unless its name says plain text, as crates.io decides.
    pub fn is_markdown(&self) -> bool {
        let lower = self.path.to_ascii_lowercase();
        !(lower.ends_with(".txt") || lower.ends_with("readme"))
    }
}

/// Reads the site's facts from a packaged manifest and the README candidates of its crate.
pub fn read(manifest: &str, readmes: &[(String, Vec<u8>)]) -> (VersionMeta, Option<Readme>) {
    read_parsed(toml::from_str::<Table>(manifest).ok().as_ref(), readmes)
}

/// [`read`] from a manifest already parsed (`None`: it does not parse).
pub fn read_parsed(
    doc: Option<&Table>,
    readmes: &[(String, Vec<u8>)],
) -> (VersionMeta, Option<Readme>) {
    let Some(doc) = doc else {
        return (VersionMeta::default(), None);
    };
    let package = doc.get("package").and_then(Value::as_table);
    let text = |key: &str| {
        package
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let list = |key: &str| -> Vec<String> {
        package
            .and_then(|p| p.get(key))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let meta = VersionMeta {
        description: text("description"),
        license: text("license"),
        repository: text("repository"),
        homepage: text("homepage"),
        documentation: text("documentation"),
        keywords: list("keywords"),
        categories: list("categories"),
        edition: text("edition"),
    };
    let wanted = wanted_readmes(package);
    let readme = wanted.iter().find_map(|w| {
        let (path, bytes) = readmes.iter().find(|(p, _)| p == w)?;
        let text = String::from_utf8_lossy(bytes).into_owned();
        Some(Readme {
            path: path.clone(),
            text,
        })
    });
    (meta, readme)
}

/// The paths inside the crate that are its README, in order of preference: the one
/// `package.readme` names, none when it is `false`, else crates.io's defaults.
fn wanted_readmes(package: Option<&Table>) -> Vec<String> {
    match package.and_then(|p| p.get("readme")) {
        Some(Value::Boolean(false)) => Vec::new(),
        Some(Value::String(path)) => vec![path.trim_start_matches("./").to_owned()],
        _ => ["README.md", "README.txt", "README"]
            .map(String::from)
            .to_vec(),
    }
}

/// The size of the crate's README, from the sizes of the files that may be it.
pub fn readme_size(doc: Option<&Table>, sizes: &[(String, u64)]) -> Option<u64> {
    let package = doc?.get("package").and_then(Value::as_table);
    wanted_readmes(package)
        .iter()
        .find_map(|w| sizes.iter().find(|(p, _)| p == w).map(|(_, size)| *size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_the_named_or_default_readme() {
        let manifest = "[package]\nname = \"a\"\nversion = \"1.0.0\"\ndescription = \" A thing \"\n\
            license = \"MIT\"\nkeywords = [\"x\", \"y\"]\nreadme = \"docs/INTRO.md\"\n";
        let files = vec![
            ("README.md".to_owned(), b"default".to_vec()),
            ("docs/INTRO.md".to_owned(), b"# Intro".to_vec()),
        ];
        let (meta, readme) = read(manifest, &files);
        assert_eq!(meta.description.as_deref(), Some("A thing"));
        assert_eq!(meta.keywords, ["x", "y"]);
        assert_eq!(readme.unwrap().text, "# Intro");
        let plain = "[package]\nname = \"a\"\nversion = \"1.0.0\"\n";
        let readme = read(plain, &files).1.unwrap();
        assert_eq!(
            (readme.path.as_str(), readme.is_markdown()),
            ("README.md", true)
        );
        let off = "[package]\nname = \"a\"\nversion = \"1.0.0\"\nreadme = false\n";
        assert!(read(off, &files).1.is_none());
        assert_eq!(read("not toml", &files), (VersionMeta::default(), None));
    }

    #[test]
    fn the_readme_size_is_that_of_the_file_the_manifest_names_or_the_default() {
        let sizes = vec![
            ("README.md".to_owned(), 10),
            ("docs/INTRO.md".to_owned(), 99),
        ];
        let doc = |text: &str| toml::from_str::<Table>(text).unwrap();
        let named = doc("[package]\nreadme = \"./docs/INTRO.md\"\n");
        assert_eq!(readme_size(Some(&named), &sizes), Some(99));
        assert_eq!(readme_size(Some(&doc("[package]\n")), &sizes), Some(10));
        let off = doc("[package]\nreadme = false\n");
        assert_eq!(readme_size(Some(&off), &sizes), None);
        assert_eq!(readme_size(None, &sizes), None);
    }
}
