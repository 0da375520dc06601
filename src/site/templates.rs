//! The minijinja environment: templates embedded in the binary, each replaceable by a file of the
//! same name in the registry's `templates/` folder, autoescape on (`.html` and `.xml` alike), and
//! one method per page. Pages link with relative URLs (`root` is `""` on the home page, `"../"`
//! on crate pages), so the site works under any base path; only the 404 page, served at any
//! depth, uses absolute URLs from `site.url`.

use std::path::Path;

use anyhow::{Context, Result};
use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior, Value, context};
use sha2::{Digest, Sha256};

use super::readme::escape_html;
use super::view::{CratePage, HomePage, ListPage, Release, SiteInfo};

/// Rendered templates, in the order they are loaded (`base.html` before the pages using it).
const PAGES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/site/base.html")),
    (
        "macros.html",
        include_str!("../../templates/site/macros.html"),
    ),
    (
        "index.html",
        include_str!("../../templates/site/index.html"),
    ),
    (
        "crate.html",
        include_str!("../../templates/site/crate.html"),
    ),
    (
        "versions.html",
        include_str!("../../templates/site/versions.html"),
    ),
    (
        "features.html",
        include_str!("../../templates/site/features.html"),
    ),
    (
        "readme.html",
        include_str!("../../templates/site/readme.html"),
    ),
    ("list.html", include_str!("../../templates/site/list.html")),
    ("404.html", include_str!("../../templates/site/404.html")),
    ("feed.xml", include_str!("../../templates/site/feed.xml")),
];

/// The `updated` time of a feed with no entries.
const EMPTY_FEED_UPDATED: &str = "1970-01-01T00:00:00Z";

/// Files copied as they are: (template name, path under `public/`, default content).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "static/style.css",
        include_str!("../../templates/site/style.css"),
    ),
    (
        "search.js",
        "static/search.js",
        include_str!("../../templates/site/search.js"),
    ),
];

/// The site's templates and static assets, ready to render.
pub struct Templates {
    env: Environment<'static>,
    assets: Vec<(String, Vec<u8>)>,
}

impl Templates {
    /// Embedded defaults (include_str! of `templates/site/*`), each overridable by a file with
    /// the same name in `override_dir` (the registry's `templates/` folder) when it exists.
    pub fn load(override_dir: Option<&Path>) -> Result<Templates> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_formatter(escape_formatter);
        env.add_test("http_url", |value: Value| {
            value.as_str().is_some_and(is_http_url)
        });
        env.add_filter("rel_url", rel_url);
        for &(name, default) in PAGES {
            let (source, origin) = match read_override(override_dir, name)? {
                Some((text, path)) => (text, path),
                None => (
                    default.to_owned(),
                    format!("templates/site/{name} (built in)"),
                ),
            };
            env.add_template_owned(name, source)
                .with_context(|| format!("failed to parse template `{origin}`"))?;
        }
        let mut assets = Vec::new();
        let mut hasher = Sha256::new();
        for &(name, path, default) in ASSETS {
            let bytes = match read_override(override_dir, name)? {
                Some((text, _)) => text.into_bytes(),
                None => default.as_bytes().to_vec(),
            };
            hasher.update(&bytes);
            assets.push((path.to_owned(), bytes));
        }
        // `?v=` on asset links, so browsers fetch new CSS and JS after the templates change.
        let digest = hasher.finalize();
        let version: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        env.add_global("asset_version", version);
        Ok(Templates { env, assets })
    }

    /// The home page (`public/index.html`).
    pub fn home(&self, page: &HomePage) -> Result<String> {
        let ctx = context! { root => "", ..Value::from_serialize(page) };
        self.render("index.html", ctx)
            .with_context(|| format!("failed to render `index.html` for `{}`", page.site.name))
    }

    /// The list page of one first letter (`public/all/LETTER.html`).
    pub fn list(&self, page: &ListPage) -> Result<String> {
        let ctx = context! { root => "../", ..Value::from_serialize(page) };
        self.render("list.html", ctx)
            .with_context(|| format!("failed to render `list.html` for `{}`", page.letter))
    }

    /// One crate's page (`public/c/NAME.html`).
    pub fn crate_page(&self, page: &CratePage) -> Result<String> {
        let ctx = context! { root => "../", ..Value::from_serialize(page) };
        self.render("crate.html", ctx)
            .with_context(|| format!("failed to render `crate.html` for `{}`", page.name))
    }

    /// Every version of a crate (`public/versions/NAME.html`), when its page shows only some.
    pub fn versions_page(&self, page: &CratePage) -> Result<String> {
        let ctx = context! { root => "../", ..Value::from_serialize(page) };
        self.render("versions.html", ctx)
            .with_context(|| format!("failed to render `versions.html` for `{}`", page.name))
    }

    /// Every feature of a crate (`public/features/NAME.html`), when its page shows only some.
    pub fn features_page(&self, page: &CratePage) -> Result<String> {
        let ctx = context! { root => "../", ..Value::from_serialize(page) };
        self.render("features.html", ctx)
            .with_context(|| format!("failed to render `features.html` for `{}`", page.name))
    }

    /// A crate's whole README (`public/readme/NAME.html`), when its page shows the beginning.
    pub fn readme_page(&self, page: &CratePage) -> Result<String> {
        let ctx = context! { root => "../", ..Value::from_serialize(page) };
        self.render("readme.html", ctx)
            .with_context(|| format!("failed to render `readme.html` for `{}`", page.name))
    }

    /// The Atom feed of `releases` (newest first) (`public/feed.xml`).
    pub fn feed(&self, site: &SiteInfo, releases: &[Release]) -> Result<String> {
        let releases: Vec<Release> = releases
            .iter()
            .map(|r| Release {
                name: xml_chars(&r.name),
                version: xml_chars(&r.version),
                pubtime: xml_chars(&r.pubtime),
                description: r.description.as_deref().map(xml_chars),
                yanked: r.yanked,
            })
            .collect();
        let mut site = site.clone();
        site.name = xml_chars(&site.name);
        // Atom requires a time even for a feed without entries; a fixed one keeps the feed a
        // function of the registry's content.
        let updated = releases.iter().map(|r| r.pubtime.as_str()).max();
        let updated = updated.unwrap_or(EMPTY_FEED_UPDATED).to_owned();
        let ctx = context! { site, releases, updated };
        self.render("feed.xml", ctx)
            .with_context(|| format!("failed to render `feed.xml` for `{}`", site.name))
    }

    /// The page served for missing URLs (`public/404.html`), at any depth: absolute links.
    pub fn not_found(&self, site: &SiteInfo) -> Result<String> {
        let root = format!("{}/", site.url.trim_end_matches('/'));
        self.render("404.html", context! { root, site })
            .with_context(|| format!("failed to render `404.html` for `{}`", site.name))
    }

    /// Static assets to write as they are: (path under `public/`, bytes).
    pub fn assets(&self) -> Vec<(String, Vec<u8>)> {
        self.assets.clone()
    }

    fn render(&self, name: &str, ctx: Value) -> Result<String> {
        let template = self.env.get_template(name)?;
        Ok(template.render(ctx)?)
    }
}

/// minijinja's escaping, except that `/` stays as it is (the default writes `&#x2f;`, which
/// bloats every URL): `& < > " '` are all HTML and XML need in text and quoted attributes.
fn escape_formatter(
    out: &mut Output<'_>,
    state: &State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    if state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = match value.as_str() {
        Some(text) => escape_html(text),
        None => escape_html(&value.to_string()),
    };
    out.write_str(&text).map_err(Error::from)
}

/// The override for `name` and its path, when `dir/name` exists.
// reason: the templates folder beside ktra.toml (settings), not registry data.
#[allow(clippy::disallowed_methods)]
fn read_override(dir: Option<&Path>, name: &str) -> Result<Option<(String, String)>> {
    let Some(dir) = dir else { return Ok(None) };
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((text, path.display().to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("failed to read template `{}`", path.display())),
    }
}

/// Whether a URL from crate metadata may go in an `href` (http or https, nothing else).
fn is_http_url(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("https://") || url.starts_with("http://")
}

/// A relative URL that cannot be read as having a scheme (`a:b.html` becomes `./a:b.html`).
fn rel_url(url: String) -> String {
    let first = url.find(['/', '?', '#']).unwrap_or(url.len());
    if url[..first].contains(':') {
        format!("./{url}")
    } else {
        url
    }
}

/// Characters XML 1.0 allows (control characters other than tab and newlines are not, even as
/// character references); the rest become U+FFFD.
fn xml_chars(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}
