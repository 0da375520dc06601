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
    render_readme_within(text, is_markdown, base, dir, usize::MAX).shown
}

/// A README rendered for a page that has room for about `budget` bytes of it.
#[derive(Debug)]
pub struct RenderedReadme {
    /// The README, or when it is longer than the budget, its first top-level blocks (headings,
    /// paragraphs, lists, code blocks...) that fit (at least one).
    pub shown: String,
    /// The whole README, when `shown` is only its beginning.
    pub whole: Option<String>,
}

/// [`render_readme_in`], cut to about `budget` bytes of HTML at a block boundary.
pub fn render_readme_within(
    text: &str,
    is_markdown: bool,
    base: Option<&str>,
    dir: &str,
    budget: usize,
) -> RenderedReadme {
    let (whole, cut) = if is_markdown {
        markdown_to_html(text, budget)
    } else {
        let pre = |t: &str| format!("<pre class=\"readme-text\">{}</pre>", escape_html(t));
        let cut = (text.len() > budget).then(|| {
            let end = text.floor_char_boundary(budget);
            let end = text[..end].rfind('\n').map_or(end, |at| at + 1);
            pre(&text[..end])
        });
        return RenderedReadme {
            whole: cut.is_some().then(|| pre(text)),
            shown: cut.unwrap_or_else(|| pre(text)),
        };
    };
    if nesting_depth(&whole) > MAX_DEPTH {
        // html5ever's tree building slows down with depth; no real README nests this deep.
        return render_readme_within(text, false, base, dir, budget);
    }
    match cut {
        None => RenderedReadme {
            shown: sanitize(&whole, base, dir),
            whole: None,
        },
        Some(cut) => RenderedReadme {
            shown: sanitize(&cut, base, dir),
            whole: Some(sanitize(&whole, base, dir)),
        },
    }
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

/// The HTML of the whole README, and of its first top-level blocks that fit in `budget` bytes
/// when the whole does not (references and footnotes resolve as in the whole: the events
/// come from one parse).
fn markdown_to_html(text: &str, budget: usize) -> (String, Option<String>) {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut events: Vec<Event<'_>> = Parser::new_ext(text, options).collect();
    add_heading_ids(&mut events);
    for event in &mut events {
        // A checkbox would need `<input>`, which the sanitiser (rightly) removes.
        if let Event::TaskListMarker(done) = event {
            *event = Event::Text(CowStr::from(if *done { "☑ " } else { "☐ " }));
        }
    }
    let mut html = String::with_capacity(text.len() + text.len() / 4);
    pulldown_cmark::html::push_html(&mut html, events.iter().cloned());
    if html.len() <= budget {
        return (html, None);
    }
    let mut cut = String::with_capacity(budget);
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 0 {
            continue;
        }
        // A top-level block ends here.
        let mut block = String::new();
        pulldown_cmark::html::push_html(&mut block, events[start..=i].iter().cloned());
        if !cut.is_empty() && cut.len() + block.len() > budget {
            break;
        }
        cut.push_str(&block);
        start = i + 1;
    }
    (html, Some(cut))
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
        .url_relative(ammonia::UrlRelative::Custom(Box::new(links::keep_fragment)))
        .attribute_filter(move |element, attribute, value| {
            links::filter_attribute(element, attribute, value, base.as_deref(), &dir)
        });
    lazy_images(&builder.clean(html).to_string())
}

/// Every image loads lazily and sends no referrer. Added after sanitising rather than with
/// ammonia's `set_tag_attribute_value`, whose hash map writes the two attributes in a
/// different order in each process (the same README must render to the same bytes). In
/// sanitised HTML every `<img` starts a tag: a `<` in text is written as `&lt;`.
fn lazy_images(html: &str) -> String {
    const ADDED: &str = r#"<img loading="lazy" referrerpolicy="no-referrer""#;
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(at) = rest.find("<img") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        if after.starts_with([' ', '>', '/']) {
            out.push_str(ADDED);
        } else {
            out.push_str("<img");
        }
        rest = after;
    }
    out.push_str(rest);
    out
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
