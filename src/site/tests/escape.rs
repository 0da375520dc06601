//! Hostile names, descriptions and URLs in every template come out as text, never as markup.

use super::*;
use crate::site::Templates;

const EVIL: &str = r#""'><script>alert(1)</script><img src=x onerror=alert(2)>&amp;"#;

fn evil(what: &str) -> String {
    format!("{what}{EVIL}")
}

fn hostile_site() -> SiteInfo {
    let mut s = site();
    s.name = evil("reg");
    s.url = evil("https://h.test/");
    s.sparse_url = evil("sparse+");
    s.auth_required = true;
    s.mirror = Some(MirrorInfo {
        sparse_url: evil("m"),
        replaces: evil("crates-io"),
        snippet: evil("[source]"),
    });
    s
}

/// Nothing in `html` that a browser would run or that breaks out of an attribute.
fn assert_inert(html: &str, page: &str) {
    for bad in ["<script>", "<img", "\"'>", "onerror=alert(2)>"] {
        assert!(!html.contains(bad), "{page} contains {bad:?}:\n{html}");
    }
    assert!(
        !html.to_ascii_lowercase().contains("href=\"javascript:"),
        "{page}:\n{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}:\n{html}"
    );
    assert!(
        html.contains("&amp;amp;"),
        "{page} double-escapes nothing?\n{html}"
    );
}

#[test]
fn home_escapes_everything() {
    let t = Templates::load(None).unwrap();
    let mut krate = summary(&evil("n"), &evil("1"), &evil("d"), &[&evil("k")]);
    krate.updated = Some(evil("t"));
    let mut page = home(
        vec![krate],
        vec![Release {
            name: evil("n"),
            version: evil("v"),
            pubtime: evil("t"),
            description: Some(evil("d")),
            yanked: true,
        }],
    );
    page.site = hostile_site();
    assert_inert(&t.home(&page).unwrap(), "index.html");
}

#[test]
fn crate_page_escapes_everything() {
    let t = Templates::load(None).unwrap();
    let mut page = crate_page(&evil("n"), 3);
    page.site = hostile_site();
    page.version = evil("v");
    page.description = Some(evil("d"));
    page.license = Some(evil("l"));
    page.repository = Some("javascript:alert(3)//".into());
    page.homepage = Some(evil("https://h.test/"));
    page.documentation = Some(" JAVASCRIPT:alert(4)".into());
    page.keywords = vec![evil("k")];
    page.categories = vec![evil("c")];
    page.rust_version = Some(evil("r"));
    page.links = Some(evil("l"));
    page.edition = Some(evil("e"));
    page.readme_html = None;
    for v in &mut page.versions {
        v.version = evil("v");
        v.pubtime = Some(evil("t"));
    }
    let mut d = dep(&evil("d"), &evil("r"));
    d.rename = Some(evil("as"));
    d.target = Some(evil("cfg"));
    d.registry = Some(evil("reg"));
    d.link = Some("javascript:alert(5).html".into());
    page.normal_deps = vec![d.clone()];
    page.build_deps = vec![d.clone()];
    page.dev_deps = vec![d];
    page.features = vec![Feature {
        name: evil("f"),
        enables: vec![evil("e")],
    }];
    let html = t.crate_page(&page).unwrap();
    assert_inert(&html, "crate.html");
    assert!(
        html.contains(r#"<a href="./javascript:alert(5).html">"#),
        "{html}"
    );
    assert!(
        html.contains("<code>javascript:alert(3)//</code>"),
        "{html}"
    );
}

#[test]
fn not_found_and_feed_escape_everything() {
    let t = Templates::load(None).unwrap();
    assert_inert(&t.not_found(&hostile_site()).unwrap(), "404.html");
    let releases = [Release {
        name: evil("n"),
        version: evil("v"),
        pubtime: "2025-01-01T00:00:00Z".into(),
        description: Some(evil("d\u{1}\u{b}")),
        yanked: false,
    }];
    let xml = t.feed(&hostile_site(), &releases).unwrap();
    assert_inert(&xml, "feed.xml");
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let summary = doc
        .descendants()
        .find(|n| n.has_tag_name("summary"))
        .unwrap();
    assert_eq!(summary.text(), Some(&*format!("d\u{fffd}\u{fffd}{EVIL}")));
}

#[test]
fn readme_html_is_inserted_as_is() {
    let t = Templates::load(None).unwrap();
    let mut page = crate_page("w", 1);
    page.readme_html = Some("<table><tr><td>cell</td></tr></table>".into());
    let html = t.crate_page(&page).unwrap();
    assert!(
        html.contains("<table><tr><td>cell</td></tr></table>"),
        "{html}"
    );
}
