//! The pages as a reader gets them: setup snippets, crate details, sizes, overrides, the feed.

use super::*;
use crate::site::{Templates, render_readme};

fn templates() -> Templates {
    Templates::load(None).unwrap()
}

#[test]
fn home_has_setup_search_releases_and_every_crate() {
    let mut page = home(
        vec![
            summary("alpha", "1.2.0", "First crate.", &["one"]),
            summary("beta", "0.1.0", "", &[]),
        ],
        vec![release("beta", "0.1.0", "2025-02-01T00:00:00Z"), {
            let mut r = release("alpha", "1.1.0", "2025-01-01T00:00:00Z");
            r.yanked = true;
            r
        }],
    );
    let html = templates().home(&page).unwrap();
    for want in [
        "<html lang=\"en\">",
        "[registries.acme]\nindex = \"sparse+https://crates.acme.test/reg/index/\"",
        "cargo add --registry acme <var>CRATE</var>",
        "<a href=\"c/alpha.html\">alpha</a> <span class=\"ver\">1.2.0</span><p>First crate.</p>",
        "<a href=\"c/beta.html\">beta</a> <span class=\"ver\">0.1.0</span></li>",
        "<time datetime=\"2025-02-01T00:00:00Z\">2025-02-01</time></li>",
        "<time datetime=\"2025-01-01T00:00:00Z\">2025-01-01</time> <strong class=\"yanked\">yanked</strong></li>",
        "<script src=\"static/search.js?v=",
        "<link rel=\"stylesheet\" href=\"static/style.css?v=",
        "<label for=\"q\"",
        "<noscript>",
        "href=\"feed.xml\"",
        "<a class=\"skip\" href=\"#main\">",
        "<main id=\"main\"",
    ] {
        assert!(html.contains(want), "missing {want:?} in\n{html}");
    }
    assert!(
        !html.contains("cargo login") && !html.contains("Mirror of"),
        "{html}"
    );

    page.site.auth_required = true;
    page.site.mirror = Some(MirrorInfo {
        sparse_url: "sparse+https://crates.acme.test/reg/mirror/".into(),
        replaces: "crates-io".into(),
        snippet: "[source.crates-io]\nreplace-with = \"acme-mirror\"".into(),
    });
    let html = templates().home(&page).unwrap();
    assert!(
        html.contains("<pre><code>cargo login --registry acme</code></pre>"),
        "{html}"
    );
    assert!(
        html.contains("[source.crates-io]\nreplace-with = &quot;acme-mirror&quot;"),
        "{html}"
    );
    assert!(
        templates()
            .home(&home(vec![], vec![]))
            .unwrap()
            .contains("No crates yet.")
    );
}

#[test]
fn crate_page_shows_the_crate_in_detail() {
    let html = templates().crate_page(&crate_page("widgets", 25)).unwrap();
    for want in [
        "<title>widgets 1.2.4 · acme</title>",
        "<meta name=\"description\" content=\"Parses and writes widgets for the acme toolchain.\">",
        "<pre class=\"copy\"><code>cargo add --registry acme widgets@1.2.4</code></pre>",
        "widgets = { version = \"1.2.4\", registry = \"acme\" }",
        "<li id=\"v1.2.4\" class=\"current\" aria-current=\"true\"><span class=\"ver\">1.2.4</span>",
        "<li id=\"v1.0.2\"><span class=\"ver\">1.0.2</span> <time datetime=\"2024-03-03T10:00:00Z\">2024-03-03</time> <strong class=\"yanked\">yanked</strong></li>",
        "<summary>5 older versions</summary>",
        "<dt>License</dt><dd>MIT OR Apache-2.0</dd>",
        "<dt>Rust version</dt><dd>1.80 or newer</dd>",
        "<a href=\"https://git.acme.test/acme/widgets\" rel=\"nofollow noreferrer\">Repository</a>",
        "<a href=\"https://docs.acme.test/widgets\"",
        "<h3 id=\"deps-normal\">Normal",
        "<span class=\"name\">serde</span> <code>^1.0</code>\n <span class=\"tag\">optional</span>",
        "<a href=\"acme-core.html\">acme-core</a> <code>^0.3</code>",
        "<span class=\"tag\">used as <code>winsys</code></span>",
        "<span class=\"tag\">only for <code>cfg(windows)</code></span>",
        "<span class=\"tag\">from <code>https://github.com/rust-lang/crates.io-index</code></span>",
        "<h3 id=\"deps-build\">Build",
        "<h3 id=\"deps-dev\">Development",
        "<dt><code>serde</code></dt>\n<dd><code>dep:serde</code></dd>",
        "<h1 id=\"user-content-widgets\">Widgets</h1>",
        "href=\"../index.html\"",
        "href=\"../static/style.css?v=",
        "href=\"../feed.xml\"",
        "action=\"../index.html\"",
    ] {
        assert!(html.contains(want), "missing {want:?} in\n{html}");
    }
    assert!(!html.contains("<script"), "crate pages need no script");
}

#[test]
fn crate_page_without_extras() {
    let mut page = crate_page("bare", 1);
    page.versions[0].yanked = true;
    (page.normal_deps, page.build_deps, page.dev_deps) = (vec![], vec![], vec![]);
    (page.features, page.readme_html, page.description) = (vec![], None, None);
    (page.repository, page.documentation, page.license) = (None, None, None);
    let html = templates().crate_page(&page).unwrap();
    assert!(html.contains("This crate has no README."), "{html}");
    assert!(
        html.contains("Every version of this crate is yanked"),
        "{html}"
    );
    assert!(
        !html.contains("<details>") && !html.contains("id=\"features\""),
        "{html}"
    );
    assert!(
        !html.contains("<h2>Links</h2>") && !html.contains("content=\"\""),
        "{html}"
    );
}

#[test]
fn typical_crate_page_is_under_50_kb() {
    // Mostly prose, with the code, lists, links and a table READMEs have.
    let section = "## Configuring the widget pool\n\n\
        The pool keeps a fixed number of widgets ready so that requests never wait for a cold \
        start. Set `max_idle` to bound memory, and see the [guide](docs/pool.md) or the \
        [API docs](https://docs.acme.test/widgets/pool) for every option.\n\n\
        Widgets are checked out with `Pool::get`, which returns a guard that puts the widget \
        back when dropped; a widget that failed is discarded instead of returned.\n\n\
        ```rust\nlet pool = Pool::builder()\n    .max_idle(8)\n    .build(config)?;\n\
        let widget = pool.get().await?;\nwidget.render(&mut out)?;\n```\n\n\
        - **fast**: no allocation per request\n- **safe**: `#![forbid(unsafe_code)]`\n\
        - **small**: no dependencies beyond `std`\n\n\
        | Option | Default | Meaning |\n|---|---|---|\n| `max_idle` | 8 | widgets kept |\n\n";
    let readme = section.repeat(20_000 / section.len() + 1);
    assert!(readme.len() >= 20_000);
    let mut page = crate_page("widgets", 50);
    page.readme_html = Some(render_readme(
        &readme,
        true,
        Some("https://git.acme.test/a/w"),
    ));
    let html = templates().crate_page(&page).unwrap();
    let readme_html = page.readme_html.as_deref().unwrap_or_default().len();
    eprintln!(
        "crate page: {} bytes; README {} bytes, {readme_html} as HTML",
        html.len(),
        readme.len()
    );
    assert!(html.len() < 50_000, "{} bytes", html.len());
    let css = templates()
        .assets()
        .into_iter()
        .find(|(p, _)| p == "static/style.css")
        .unwrap();
    assert!(css.1.len() < 10_000, "{} bytes of CSS", css.1.len());
}

#[test]
fn assets_are_the_stylesheet_and_the_search_script() {
    let assets = templates().assets();
    let paths: Vec<&str> = assets.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["static/style.css", "static/search.js"]);
    let js = String::from_utf8(assets[1].1.clone()).unwrap();
    assert!(
        js.contains("search-index.json") && js.contains("\"c/\""),
        "{js}"
    );
    for (path, bytes) in &assets {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path} is not local"
        );
    }
}

#[test]
fn templates_can_render_from_many_threads() {
    fn shared<T: Send + Sync>(_: &T) {}
    shared(&templates());
}

#[test]
fn empty_fields_render() {
    let mut page = crate_page("", 0);
    page.version = String::new();
    page.site.name = String::new();
    page.site.url = String::new();
    let t = templates();
    t.crate_page(&page).unwrap();
    t.home(&HomePage {
        site: page.site.clone(),
        recent: vec![],
        crates: vec![],
        total: 0,
        letters: vec![],
    })
    .unwrap();
    t.not_found(&page.site).unwrap();
    t.feed(&page.site, &[]).unwrap();
}

#[test]
fn list_pages_link_crates_letters_and_their_letters_pages_and_the_home_page_links_letters() {
    use crate::site::view::{LetterLink, ListPage, PageLink};
    let t = templates();
    let link = |id: &str, number, current| PageLink {
        id: id.into(),
        label: id.into(),
        number,
        current,
    };
    let page = ListPage {
        site: site(),
        letter: "b".into(),
        letters: vec!["a".into(), "b".into()],
        pages: vec![
            link("b", 1, false),
            link("bits", 2, true),
            link("bz", 3, false),
        ],
        number: 2,
        crates: vec![summary("b<x>", "1.0.0", "", &[])],
    };
    let html = t.list(&page).unwrap();
    assert!(html.contains("href=\"../c/b&lt;x&gt;.html\""), "{html}");
    assert!(html.contains("href=\"a.html\""), "{html}");
    assert!(
        html.contains("<span aria-current=\"page\">B</span>"),
        "{html}"
    );
    // The letter's other pages, this one marked, and the next one.
    assert!(html.contains("href=\"b.html\">b…</a>"), "{html}");
    assert!(
        html.contains("<span aria-current=\"page\">bits…</span>"),
        "{html}"
    );
    assert!(html.contains("href=\"bz.html\" rel=\"next\""), "{html}");
    assert!(html.contains("(page 2 of 3)"), "{html}");

    // A letter with one page shows no page links.
    let single = ListPage {
        pages: vec![link("b", 1, true)],
        number: 1,
        ..page
    };
    let html = t.list(&single).unwrap();
    assert!(
        !html.contains("rel=\"next\"") && !html.contains("page 1 of"),
        "{html}"
    );

    let mut h = home(vec![], vec![]);
    h.total = 3;
    h.letters = vec![
        LetterLink {
            letter: "a".into(),
            count: 1,
        },
        LetterLink {
            letter: "b".into(),
            count: 2,
        },
    ];
    let html = t.home(&h).unwrap();
    // The stylesheet puts the parentheses around a count.
    assert!(
        html.contains("href=\"all/b.html\">B <span class=\"count\">2</span></a>"),
        "{html}"
    );
    assert!(html.contains("3 crates"), "{html}");
}

#[test]
fn long_lists_link_to_their_own_pages() {
    let t = templates();
    let mut page = crate_page("many", 120);
    page.versions_total = 120;
    page.versions.truncate(100);
    page.features_total = 250;
    let html = t.crate_page(&page).unwrap();
    assert!(
        html.contains("Versions <span class=\"count\">120</span>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"../versions/many.html\">All 120 versions</a>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"../features/many.html\">All 250 features</a>"),
        "{html}"
    );
    // Lists that fit link nowhere else.
    let short = crate_page("few", 3);
    let html = t.crate_page(&short).unwrap();
    assert!(
        !html.contains("../versions/") && !html.contains("../features/"),
        "{html}"
    );

    let all = crate_page("many", 120);
    let html = t.versions_page(&all).unwrap();
    assert!(
        html.contains("id=\"v1.11.9\"") && html.contains("id=\"v1.0.0\""),
        "{html}"
    );
    assert!(html.contains("href=\"../c/many.html\""), "{html}");
    let html = t.features_page(&all).unwrap();
    assert!(html.contains("<dt><code>serde</code></dt>"), "{html}");
}
