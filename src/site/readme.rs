//! READMEs to HTML that is safe on a site serving many publishers: pulldown-cmark renders
//! (tables, task lists, strikethrough, footnotes), ammonia sanitises with a tight allow-list
//! (http, https and mailto links; http and https images; no scripts, styles, forms or frames),
//! and [`links`](super::links) makes relative URLs absolute against the repository.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use super::links;

/// README markdown -> sanitised HTML. `base` is the repository URL that relative links and
/// images resolve against (as the public registry does); without it relative URLs are dropped.
/// `is_markdown = false` renders the text as it is, in a `<pre>`.
pub fn render_readme(text: &str, is_markdown: bool, base: Option<&str>) -> String {
    render_readme_in(text, is_markdown, base, "")
}

/// [`render_readme`] for a README that is not at the root of its repository: `dir` is its folder
/// there (`crates/foo` for a workspace member: `path_in_vcs` of `.cargo_vcs_info.json` joined
/// with the README's folder in the package), so `docs/x.md` becomes
/// `<repo>/blob/HEAD/crates/foo/docs/x.md`; links starting with `/` stay at the root.
pub fn render_readme_in(text: &str, is_markdown: bool, base: Option<&str>, dir: &str) -> String {
    if !is_markdown {
        return format!("<pre class=\"readme-text\">{}</pre>", escape_html(text));
    }
    let html = markdown_to_html(text);
    if nesting_depth(&html) > MAX_DEPTH {
        // html5ever's tree building slows down with depth; no real README nests this deep.
        return render_readme(text, false, base);
    }
    sanitize(&html, base, dir)
}

/// Elements nested deeper than this make the README plain text.
const MAX_DEPTH: usize = 256;

/// Elements that never hold others, or that the parser closes by itself.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "rp",
    "rt",
];

/// An upper bound of how deep the elements of `html` nest: opening tags minus closing ones.
fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with('/') {
            depth = depth.saturating_sub(1);
            continue;
        }
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_lowercase();
        if name.starts_with(|c: char| c.is_ascii_alphabetic()) && !NOT_NESTING.contains(&&*name) {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

fn markdown_to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut events: Vec<Event<'_>> = Parser::new_ext(text, options).collect();
    add_heading_ids(&mut events);
    let events = events.into_iter().map(|event| match event {
        // A checkbox would need `<input>`, which the sanitiser (rightly) removes.
        Event::TaskListMarker(done) => {
            Event::Text(CowStr::from(if done { "☑ " } else { "☐ " }))
        }
        other => other,
    });
    let mut html = String::with_capacity(text.len() + text.len() / 4);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// GitHub-style ids for headings (`## Getting started` -> `user-content-getting-started`, then
/// `-1`, `-2` for repeats), so a README's own `[see](#getting-started)` links work. The prefix
/// keeps them apart from the page's ids.
fn add_heading_ids(events: &mut [Event<'_>]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        if !matches!(events[i], Event::Start(Tag::Heading { .. })) {
            i += 1;
            continue;
        }
        let mut text = String::new();
        let mut j = i + 1;
        while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
            if let Event::Text(t) | Event::Code(t) = &events[j] {
                text.push_str(t);
            }
            j += 1;
        }
        let mut slug = slugify(&text);
        let count = seen.entry(slug.clone()).or_insert(0);
        if *count > 0 {
            slug = format!("{slug}-{count}");
        }
        *count += 1;
        if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
            *id = Some(CowStr::from(format!("{}{slug}", links::ID_PREFIX)));
        }
        i = j;
    }
}

fn slugify(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Element and attribute allow-list: ammonia's defaults (no script, style, iframe, object,
/// form, input, event handlers or `style` attributes) minus the landmark elements a README must
/// not add to the page, plus `id` (always prefixed) and lazy, referrer-less images.
fn sanitize(html: &str, base: Option<&str>, dir: &str) -> String {
    let base = base.map(str::to_owned);
    let dir = dir.to_owned();
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .rm_tags([
            "header", "footer", "nav", "article", "aside", "hgroup", "map", "area",
        ])
        .add_generic_attributes(["id"])
        .link_rel(Some("nofollow noreferrer"))
        .set_tag_attribute_value("img", "loading", "lazy")
        .set_tag_attribute_value("img", "referrerpolicy", "no-referrer")
        .url_relative(ammonia::UrlRelative::Custom(Box::new(links::keep_fragment)))
        .attribute_filter(move |element, attribute, value| {
            links::filter_attribute(element, attribute, value, base.as_deref(), &dir)
        });
    builder.clean(html).to_string()
}

/// Text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
