//! The mirror's index file for one crate: the upstream's lines for exactly the versions the
//! mirror holds, in the upstream's order and byte for byte.

use crate::index::file::IndexFile;
use std::collections::HashSet;

/// Upstream lines whose version is in `keep`, then lines of `old` (the mirror's current file)
/// for kept versions the upstream no longer lists: their crate files are still here.
pub fn prune(upstream: &IndexFile, keep: &HashSet<String>, old: &IndexFile) -> Vec<u8> {
    let mut out = Vec::new();
    let mut written = HashSet::new();
    for line in &upstream.lines {
        if keep.contains(&line.head.vers) && written.insert(line.head.vers.as_str()) {
            out.extend_from_slice(line.raw.as_bytes());
            out.push(b'\n');
        }
    }
    for line in &old.lines {
        if keep.contains(&line.head.vers) && written.insert(line.head.vers.as_str()) {
            out.extend_from_slice(line.raw.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(vers: &str, yanked: bool) -> String {
        format!(
            r#"{{"name":"a","vers":"{vers}","deps":[],"cksum":"00","yanked":{yanked},"features":{{}}}}"#
        )
    }

    #[test]
    fn keeps_upstream_bytes_and_order_and_versions_gone_upstream() {
        let up = IndexFile::parse(
            format!(
                "{}\n{}\n{}\n",
                line("1.0.0", false),
                line("1.1.0", true),
                line("1.2.0", false)
            )
            .as_bytes(),
        )
        .unwrap();
        let old = IndexFile::parse(
            format!("{}\n{}\n", line("0.9.0", false), line("1.1.0", false)).as_bytes(),
        )
        .unwrap();
        let keep: HashSet<String> = ["1.1.0", "1.2.0", "0.9.0"].map(String::from).into();
        let got = String::from_utf8(prune(&up, &keep, &old)).unwrap();
        assert_eq!(
            got,
            format!(
                "{}\n{}\n{}\n",
                line("1.1.0", true),
                line("1.2.0", false),
                line("0.9.0", false)
            )
        );
    }
}
