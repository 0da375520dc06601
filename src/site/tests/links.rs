//! URL rules for READMEs: schemes, relative paths against the repository, fragments, ids.

use crate::site::links::{UrlUse, filter_attribute, rewrite_url};

const REPO: Option<&str> = Some("https://github.com/o/r");

fn link(url: &str, base: Option<&str>) -> Option<String> {
    rewrite_url(url, UrlUse::Link, base, "")
}

#[test]
fn schemes() {
    assert_eq!(
        link("https://x.test/a", None).as_deref(),
        Some("https://x.test/a")
    );
    assert_eq!(
        link("mailto:a@b.test", None).as_deref(),
        Some("mailto:a@b.test")
    );
    assert_eq!(
        rewrite_url("mailto:a@b.test", UrlUse::Image, REPO, ""),
        None
    );
    for bad in [
        "javascript:alert(1)",
        " JaVaScRiPt:x",
        "java\tscript:x",
        "data:text/html,x",
    ] {
        assert_eq!(link(bad, REPO), None, "{bad:?}");
    }
    assert_eq!(link("vbscript:x", REPO), None);
    assert_eq!(link("https:evil", REPO), None);
}

#[test]
fn relative_with_and_without_base() {
    let cases = [
        ("docs/a.md", "https://github.com/o/r/blob/HEAD/docs/a.md"),
        (
            "./docs/a.md#x",
            "https://github.com/o/r/blob/HEAD/docs/a.md#x",
        ),
        ("/LICENSE", "https://github.com/o/r/blob/HEAD/LICENSE"),
        (
            "../../etc/x?y=1",
            "https://github.com/o/r/blob/HEAD/etc/x?y=1",
        ),
        ("./", "https://github.com/o/r"),
    ];
    for (from, to) in cases {
        assert_eq!(link(from, REPO).as_deref(), Some(to), "{from}");
        assert_eq!(
            link(from, Some("https://github.com/o/r.git/")).as_deref(),
            Some(to)
        );
        assert_eq!(link(from, None), None, "{from}");
    }
    let img = rewrite_url("img/logo.png", UrlUse::Image, REPO, "");
    assert_eq!(
        img.as_deref(),
        Some("https://github.com/o/r/raw/HEAD/img/logo.png")
    );
    assert_eq!(link("?tab=1", REPO), None);
    assert_eq!(link("a", Some("javascript:alert(1)//")), None);
    assert_eq!(link("a", Some("not a url")), None);
    assert_eq!(
        link("//cdn.test/x", None).as_deref(),
        Some("https://cdn.test/x")
    );
    assert_eq!(
        link("/\\evil.test", None).as_deref(),
        Some("https://evil.test")
    );
}

#[test]
fn readme_in_a_subfolder() {
    let at = |url| rewrite_url(url, UrlUse::Link, REPO, "crates/w/");
    let tree = "https://github.com/o/r/blob/HEAD/";
    assert_eq!(at("docs/a.md"), Some(format!("{tree}crates/w/docs/a.md")));
    assert_eq!(at("../../LICENSE"), Some(format!("{tree}LICENSE")));
    assert_eq!(at("/LICENSE"), Some(format!("{tree}LICENSE")));
}

#[test]
fn fragments_and_ids() {
    assert_eq!(link("#usage", None).as_deref(), Some("#user-content-usage"));
    assert_eq!(
        link("#user-content-usage", None).as_deref(),
        Some("#user-content-usage")
    );
    assert_eq!(rewrite_url("#x", UrlUse::Image, REPO, ""), None);
    assert_eq!(link("#", None), None);
    let id = filter_attribute("h2", "id", "main", None, "");
    assert_eq!(id.as_deref(), Some("user-content-main"));
    assert_eq!(
        filter_attribute("td", "align", "left", None, "").as_deref(),
        Some("left")
    );
}

#[test]
fn render_readme_in_a_workspace_member() {
    let text = "[guide](docs/guide.md) ![logo](../../logo.png) [top](/README.md)";
    let html = crate::site::render_readme_in(text, true, REPO, "crates/w");
    for want in [
        "href=\"https://github.com/o/r/blob/HEAD/crates/w/docs/guide.md\"",
        "src=\"https://github.com/o/r/raw/HEAD/logo.png\"",
        "href=\"https://github.com/o/r/blob/HEAD/README.md\"",
    ] {
        assert!(html.contains(want), "missing {want:?} in {html}");
    }
}

#[test]
fn footnotes_link_to_their_text() {
    let html = crate::site::render_readme("Claim[^a].\n\n[^a]: Source.\n", true, None);
    assert!(html.contains("href=\"#user-content-a\""), "{html}");
    assert!(html.contains("id=\"user-content-a\""), "{html}");
}
