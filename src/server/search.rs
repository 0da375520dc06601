//! Which crates `cargo search` gets, and in what order: every word of the query must match the
//! crate's name, one of its keywords or its description (ignoring case, and `-` against `_`);
//! an exact name comes first, then names that match, then the rest, each by name. Pure.

use crate::index::name::canonical;
use crate::site::view::CrateSummary;

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub keywords: Vec<String>,
}

impl From<CrateSummary> for Row {
    fn from(s: CrateSummary) -> Self {
        Row {
            name: s.name,
            version: s.version,
            description: s.description,
            keywords: s.keywords,
        }
    }
}

/// The matching rows, best first (all of them for an empty query, by name).
pub fn rank(rows: Vec<Row>, query: &str) -> Vec<Row> {
    let words: Vec<String> = query.split_whitespace().map(canonical).collect();
    let whole = canonical(query.trim());
    let mut hits: Vec<(u8, String, Row)> = rows
        .into_iter()
        .filter_map(|row| {
            let name = canonical(&row.name);
            let keywords: Vec<String> = row.keywords.iter().map(|k| canonical(k)).collect();
            let description = row
                .description
                .as_deref()
                .map(canonical)
                .unwrap_or_default();
            let matches = |w: &String| {
                name.contains(w.as_str())
                    || keywords.iter().any(|k| k == w)
                    || description.contains(w.as_str())
            };
            if !words.iter().all(matches) {
                return None;
            }
            let rank = if name == whole {
                0
            } else if words.iter().all(|w| name.contains(w.as_str())) {
                1
            } else {
                2
            };
            Some((rank, row.name.to_lowercase(), row))
        })
        .collect();
    hits.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    hits.into_iter().map(|(_, _, row)| row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, description: &str, keywords: &[&str]) -> Row {
        Row {
            name: name.into(),
            version: "1.0.0".into(),
            description: (!description.is_empty()).then(|| description.into()),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
        }
    }

    fn names(rows: Vec<Row>) -> Vec<String> {
        rows.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn exact_names_then_names_then_keywords_and_descriptions() {
        let rows = vec![
            row("http-client", "An HTTP client", &["http"]),
            row("tiny_http", "", &[]),
            row("http", "", &[]),
            row("fetcher", "Gets things over HTTP", &[]),
            row("serde", "Serialization", &["encoding"]),
        ];
        assert_eq!(
            names(rank(rows.clone(), "http")),
            ["http", "http-client", "tiny_http", "fetcher"]
        );
        assert_eq!(names(rank(rows.clone(), "Tiny-HTTP")), ["tiny_http"]);
        assert_eq!(names(rank(rows.clone(), "encoding")), ["serde"]);
        // Every word must match somewhere.
        assert_eq!(names(rank(rows.clone(), "http client")), ["http-client"]);
        assert_eq!(rank(rows.clone(), "nothing-like-it").len(), 0);
        assert_eq!(rank(rows, "").len(), 5);
    }
}
