//! `search-index.json`: every crate in a few bytes, for `static/search.js` on static hosting.
//!
//! ```text
//! {"v":1,"c":[["name","1.2.0","keyword another","Description, cut to fit…"],...]}
//! ```
//!
//! One array per crate: name, newest version, keywords joined by spaces, description (whitespace
//! collapsed). Trailing empty fields are left out. Name, version and keywords are always whole;
//! the description is shortened so that an entry takes at most [`ENTRY_BUDGET`] bytes when the
//! rest leaves room, which keeps typical registries under 100 bytes a crate.

use super::view::CrateSummary;

/// Bytes one entry may take, its separating comma included, before the description is cut.
pub const ENTRY_BUDGET: usize = 96;

/// A description is left out rather than cut to fewer bytes than this.
const MIN_DESCRIPTION: usize = 12;

/// The compact search index for all crates (see the module docs for the format).
pub fn search_index(crates: &[CrateSummary]) -> Vec<u8> {
    let mut out = Vec::with_capacity(crates.len() * ENTRY_BUDGET + 16);
    out.extend_from_slice(br#"{"v":1,"c":["#);
    for (i, krate) in crates.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let keywords = krate.keywords.join(" ");
        let description = krate
            .description
            .as_deref()
            .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        // `,["name","version","keywords","description"]`: 14 bytes around the four strings.
        let taken = 14 + json_len(&krate.name) + json_len(&krate.version) + json_len(&keywords);
        let room = ENTRY_BUDGET.saturating_sub(taken);
        let description = fit(&description, room);
        let mut fields = vec![krate.name.as_str(), krate.version.as_str()];
        if !description.is_empty() {
            fields.extend([keywords.as_str(), description.as_str()]);
        } else if !keywords.is_empty() {
            fields.push(&keywords);
        }
        // Serialising a list of strings cannot fail.
        let _ = serde_json::to_writer(&mut out, &fields);
    }
    out.extend_from_slice(b"]}");
    out
}

/// Bytes of `text` as a JSON string, quotes excluded (as serde_json writes it: UTF-8 as is).
fn json_len(text: &str) -> usize {
    text.chars().map(json_char_len).sum()
}

fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if c < ' ' => 6,
        c => c.len_utf8(),
    }
}

/// `text` whole when it takes at most `room` bytes, else cut (at a word when one ends near the
/// cut) with `…`; empty when not even [`MIN_DESCRIPTION`] bytes are left.
fn fit(text: &str, room: usize) -> String {
    if json_len(text) <= room {
        return text.to_owned();
    }
    let ellipsis = '…'.len_utf8();
    if room < MIN_DESCRIPTION + ellipsis {
        return String::new();
    }
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        used += json_char_len(c);
        if used > room - ellipsis {
            break;
        }
        end = i + c.len_utf8();
    }
    let mut cut = &text[..end];
    if let Some(space) = cut.rfind(' ')
        && space >= end * 3 / 4
    {
        cut = &cut[..space];
    }
    let cut = cut.trim_end_matches([' ', ',', ';', ':', '.', '-']);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_at_words_and_counts_escapes() {
        assert_eq!(fit("short", 40), "short");
        let cut = fit("a fast and friendly parser for configuration files", 30);
        assert_eq!(cut, "a fast and friendly parser…");
        assert!(json_len(&cut) <= 30);
        let quoted = "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"";
        assert!(json_len(&fit(quoted, 20)) <= 20);
        assert_eq!(fit("anything long enough to cut", 8), "");
    }

    #[test]
    fn trailing_empty_fields_are_left_out() {
        let bare = CrateSummary {
            name: "a".into(),
            version: "1.0.0".into(),
            description: None,
            keywords: vec![],
            updated: None,
            pages: Vec::new(),
        };
        let text = String::from_utf8(search_index(&[bare])).unwrap();
        assert_eq!(text, r#"{"v":1,"c":[["a","1.0.0"]]}"#);
    }
}
