//! Download URLs from a registry's `dl` template, with the markers cargo understands.

use crate::index::path;

/// The URL of one crate file, as cargo would build it from `dl`.
pub fn download_url(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    let prefix = path::prefix(name);
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", &prefix)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{sha256-checksum}", cksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_markers_or_appends_the_legacy_path() {
        assert_eq!(
            download_url(
                "https://h/c/{lowerprefix}/{crate}-{version}",
                "Abcd",
                "1.0.0",
                "x"
            ),
            "https://h/c/ab/cd/Abcd-1.0.0"
        );
        assert_eq!(
            download_url("https://h/blobs/{sha256-checksum}", "a", "1.0.0", "ff"),
            "https://h/blobs/ff"
        );
        assert_eq!(
            download_url("https://h/api/v1/crates", "a", "1.0.0+b", "ff"),
            "https://h/api/v1/crates/a/1.0.0+b/download"
        );
    }
}
