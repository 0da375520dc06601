//! The pages served outside the crate tree: the Atom feed and the 404 page.

use super::*;
use crate::site::Templates;

fn templates() -> Templates {
    Templates::load(None).unwrap()
}

#[test]
fn not_found_uses_absolute_links() {
    let html = templates().not_found(&site()).unwrap();
    assert!(
        html.contains("href=\"https://crates.acme.test/reg/static/style.css?v="),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://crates.acme.test/reg/index.html#crates\""),
        "{html}"
    );
    assert!(
        !html.contains("href=\"index.html") && !html.contains("href=\"../"),
        "{html}"
    );
}

#[test]
fn feed_is_valid_atom_with_absolute_links() {
    let mut yanked = release("gone", "0.1.0", "2025-01-01T00:00:00Z");
    yanked.yanked = true;
    let releases = [
        release("beta", "0.2.0", "2025-03-01T00:00:00Z"),
        release("alpha", "1.0.0+build.5", "2025-02-01T00:00:00Z"),
        yanked,
    ];
    let xml = templates().feed(&site(), &releases).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let feed = doc.root_element();
    assert_eq!(
        feed.tag_name().namespace(),
        Some("http://www.w3.org/2005/Atom")
    );
    let child = |node: roxmltree::Node<'_, '_>, name: &str| {
        node.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    assert_eq!(
        child(feed, "id").as_deref(),
        Some("https://crates.acme.test/reg/")
    );
    assert_eq!(child(feed, "title").as_deref(), Some("acme: new releases"));
    assert_eq!(
        child(feed, "updated").as_deref(),
        Some("2025-03-01T00:00:00Z")
    );
    assert!(feed.children().any(|n| n.has_tag_name("author")));
    let entries: Vec<_> = feed
        .children()
        .filter(|n| n.has_tag_name("entry"))
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(child(entries[0], "title").as_deref(), Some("beta 0.2.0"));
    assert_eq!(
        child(entries[2], "title").as_deref(),
        Some("gone 0.1.0 (yanked)")
    );
    let second = entries[1];
    assert_eq!(
        child(second, "title").as_deref(),
        Some("alpha 1.0.0+build.5")
    );
    assert_eq!(
        child(second, "updated").as_deref(),
        Some("2025-02-01T00:00:00Z")
    );
    let url = "https://crates.acme.test/reg/c/alpha.html#v1.0.0+build.5";
    assert_eq!(child(second, "id").as_deref(), Some(url));
    let link = second.children().find(|n| n.has_tag_name("link")).unwrap();
    assert_eq!(link.attribute("href"), Some(url));

    let empty = templates().feed(&site(), &[]).unwrap();
    let doc = roxmltree::Document::parse(&empty).unwrap();
    assert_eq!(
        child(doc.root_element(), "updated").as_deref(),
        Some("1970-01-01T00:00:00Z")
    );
}
