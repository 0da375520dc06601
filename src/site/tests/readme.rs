//! README sanitising against hostile input, what must survive, and relative URL rewriting.

use crate::site::render_readme;

const REPO: Option<&str> = Some("https://github.com/acme/widgets");

fn md(text: &str) -> String {
    render_readme(text, true, REPO)
}

/// Markup that must never reach the page, whatever the README says. The output is serialised
/// by html5ever, so a raw `<` always opens a tag: attributes are checked inside tags only.
fn assert_clean(html: &str, input: &str) {
    let lower = html.to_ascii_lowercase();
    let elements = [
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<button",
        "<style",
        "<svg",
        "<math",
        "<link",
        "<meta",
        "<base",
        "<textarea",
        "<frame",
        "<img src=x",
    ];
    for bad in elements {
        assert!(
            !lower.contains(bad),
            "{bad:?} survived in {html:?} (from {input:?})"
        );
    }
    let attributes = [
        " on",
        "style=",
        "javascript:",
        "data:",
        "vbscript:",
        "srcdoc",
        "ping=",
    ];
    for tag in lower
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or_default())
    {
        for bad in attributes {
            assert!(
                !tag.contains(bad),
                "{bad:?} survived in <{tag}> (from {input:?})"
            );
        }
    }
}

#[test]
fn hostile_inputs_are_neutralised() {
    let inputs = [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<img src=\"https://ok.test/a.png\" onload=\"alert(1)\">",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"javascript&#58;alert(1)\">x</a>",
        "<a href=\"&#106;avascript:alert(1)\">x</a>",
        "<a href=\"java&#9;script:alert(1)\">x</a>",
        "<a href=\" &#14; javascript:alert(1)\">x</a>",
        "[x](javascript:alert(1))",
        "[x](<javascript:alert(1)>)",
        "![x](javascript:alert(1))",
        "[x]: javascript:alert(1)\n\n[y][x]",
        "<svg onload=alert(1)><circle/></svg>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<img src=\"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=\">",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "<iframe src=\"https://evil.test\"></iframe>",
        "<object data=\"https://evil.test/x.swf\"></object><embed src=x>",
        "<form action=\"https://evil.test\"><input name=a><button formaction=x>go</button></form>",
        "<div style=\"position:fixed;top:0\" onclick=\"alert(1)\">x</div>",
        "<p onmouseover=alert(1)>hover</p>",
        "<details open ontoggle=alert(1)><summary>s</summary></details>",
        "<style>body{display:none}</style>",
        "<link rel=stylesheet href=https://evil.test/x.css><meta http-equiv=refresh content=0>",
        "<base href=\"https://evil.test/\">",
        "<textarea><img src=x onerror=alert(1)></textarea>",
        "<div>\n\n<script>\nalert(1)\n</script>\n\n</div>",
        "<!-- <script>alert(1)</script> -->",
        "<a href=\"x\" target=\"_blank\" ping=\"https://evil.test\">x</a>",
        "<iframe srcdoc=\"<script>alert(1)</script>\">",
    ];
    for input in inputs {
        assert_clean(&md(input), input);
        assert_clean(&render_readme(input, true, None), input);
    }
}

#[test]
fn safe_markup_survives() {
    let text = "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn main() {}\n```\n\n\
        - [x] done\n- [ ] todo\n\n~~old~~ **bold** *em* `code`\n\n> quote\n\n\
        ![logo](https://img.test/logo.png \"Logo\")\n\n<details><summary>More</summary>hidden</details>\n\n\
        [mail](mailto:a@b.test) [web](https://web.test/x?a=1&b=2)\n";
    let html = md(text);
    for want in [
        "<h1 id=\"user-content-title\">Title</h1>",
        "<table>",
        "<td>1</td>",
        "<pre><code>fn main() {}",
        "☑ done",
        "<del>old</del>",
        "<strong>bold</strong>",
        "<blockquote>",
        "src=\"https://img.test/logo.png\"",
        "alt=\"logo\"",
        "loading=\"lazy\"",
        "referrerpolicy=\"no-referrer\"",
        "<details><summary>More</summary>",
        "href=\"mailto:a@b.test\"",
        "href=\"https://web.test/x?a=1&amp;b=2\"",
        "rel=\"nofollow noreferrer\"",
    ] {
        assert!(html.contains(want), "missing {want:?} in {html}");
    }
}

#[test]
fn relative_urls_follow_the_repository() {
    let text = "[guide](docs/guide.md) [lic](./LICENSE) [up](../x.md#s) \
        ![shot](img/shot.png) <img src=\"/assets/a.svg\"> [top](#title) <a href=\"?tab=1\">q</a>";
    let html = md(text);
    for want in [
        "href=\"https://github.com/acme/widgets/blob/HEAD/docs/guide.md\"",
        "href=\"https://github.com/acme/widgets/blob/HEAD/LICENSE\"",
        "href=\"https://github.com/acme/widgets/blob/HEAD/x.md#s\"",
        "src=\"https://github.com/acme/widgets/raw/HEAD/img/shot.png\"",
        "src=\"https://github.com/acme/widgets/raw/HEAD/assets/a.svg\"",
        "href=\"#user-content-title\"",
    ] {
        assert!(html.contains(want), "missing {want:?} in {html}");
    }
    assert!(!html.contains("tab=1"), "{html}");

    // Without a repository nothing may point into this site (it would 404): dropped.
    let html = render_readme(text, true, None);
    for gone in [
        "docs/guide.md",
        "img/shot.png",
        "LICENSE\"",
        "a.svg",
        "x.md",
    ] {
        assert!(!html.contains(gone), "{gone} in {html}");
    }
    assert!(html.contains(">guide</a>"), "{html}");
    assert!(html.contains("href=\"#user-content-title\""), "{html}");
    // A repository that is not an http(s) URL is no base.
    let html = render_readme(text, true, Some("git@github.com:acme/widgets.git"));
    assert!(!html.contains("docs/guide.md"), "{html}");
}

#[test]
fn readme_ids_cannot_clobber_the_page() {
    let html = md("<h2 id=\"main\">x</h2><a id=\"q\" name=\"q\">y</a>\n\n## main\n");
    assert!(
        !html.contains("id=\"main\"") && !html.contains("id=\"q\""),
        "{html}"
    );
    assert!(!html.contains("name="), "{html}");
    assert!(html.contains("id=\"user-content-main\""), "{html}");
}

#[test]
fn landmarks_are_unwrapped() {
    let html =
        md("<nav><a href=\"https://a.test\">a</a></nav><header>h</header><footer>f</footer>");
    assert!(!html.contains("<nav") && !html.contains("<header") && !html.contains("<footer"));
    assert!(
        html.contains(">a</a>") && html.contains('h') && html.contains('f'),
        "{html}"
    );
}

#[test]
fn pathological_inputs_do_not_panic() {
    let deep_quotes = "> ".repeat(5000) + "deep";
    let deep_lists = (0..2000)
        .map(|i| format!("{}- x\n", "  ".repeat(i)))
        .collect::<String>();
    let deep_html = "<div>".repeat(20_000) + &"</div>".repeat(20_000);
    let brackets = "[".repeat(20_000) + &"]".repeat(20_000);
    let stars = "*a ".repeat(20_000);
    for text in [
        deep_quotes,
        deep_lists,
        deep_html,
        brackets,
        stars,
        "\0\u{feff}".into(),
        String::new(),
    ] {
        let _ = render_readme(&text, true, REPO);
        let _ = render_readme(&text, false, None);
    }
    // Nested too deep: shown as text, escaped.
    let html = render_readme(&("<div>".repeat(300) + "<script>x</script>"), true, REPO);
    assert!(
        html.starts_with("<pre class=\"readme-text\">&lt;div&gt;"),
        "{html}"
    );
    let html = render_readme(&"<div>".repeat(200), true, REPO);
    assert!(html.starts_with("<div><div>"), "{html}");
    let html = render_readme(&"<p><li><br><img>".repeat(2000), true, REPO);
    assert!(html.starts_with("<p>"), "{html}");
}

#[test]
fn headings_get_prefixed_unique_ids() {
    let html = render_readme("# Hello, World!\n\n## Usage\n\n## Usage\n", true, None);
    assert!(
        html.contains(r#"<h1 id="user-content-hello-world">"#),
        "{html}"
    );
    assert!(html.contains(r#"<h2 id="user-content-usage">"#), "{html}");
    assert!(html.contains(r#"<h2 id="user-content-usage-1">"#), "{html}");
}

#[test]
fn plain_text_is_escaped_in_pre() {
    let html = render_readme("a <b> & \"c\"\n", false, None);
    assert_eq!(
        html,
        "<pre class=\"readme-text\">a &lt;b&gt; &amp; &quot;c&quot;\n</pre>"
    );
}

#[test]
fn task_lists_become_marks() {
    let html = render_readme("- [x] done\n- [ ] todo\n", true, None);
    assert!(html.contains("☑ done") && html.contains("☐ todo"), "{html}");
    assert!(!html.contains("<input"), "{html}");
}

#[test]
fn long_readmes_are_cut_at_a_block_and_kept_whole_beside() {
    use crate::site::render_readme_within;
    let mut text = String::from("# Big\n\nSee [the docs][docs] first.\n\n");
    for i in 0..400 {
        text.push_str(&format!(
            "Paragraph {i} says something at some length, again and again.\n\n"
        ));
    }
    text.push_str("The end.\n\n[docs]: https://docs.acme.test/big\n");
    let r = render_readme_within(&text, true, REPO, "", 4096);
    let whole = r.whole.expect("cut");
    assert!(
        r.shown.len() <= 4096 && r.shown.len() > 3000,
        "{}",
        r.shown.len()
    );
    assert!(
        r.shown.ends_with("</p>\n") && !r.shown.contains("The end."),
        "{}",
        r.shown
    );
    // A reference defined at the very end still resolves in the beginning.
    assert!(
        r.shown.contains("href=\"https://docs.acme.test/big\""),
        "{}",
        r.shown
    );
    assert!(whole.contains("Paragraph 399") && whole.contains("The end."));
    // One block longer than the budget is shown rather than nothing.
    let one = render_readme_within(&"word ".repeat(2000), true, REPO, "", 100);
    assert!(one.shown.contains("word word") && one.whole.is_some());
    // Short READMEs, and plain text, are whole or cut at a line.
    assert!(
        render_readme_within("# Hi\n", true, REPO, "", 4096)
            .whole
            .is_none()
    );
    let plain = "line\n".repeat(1000);
    let cut = render_readme_within(&plain, false, None, "", 1000);
    assert!(
        cut.shown.len() < 1100 && cut.shown.ends_with("line\n</pre>"),
        "{}",
        cut.shown
    );
    assert_eq!(cut.whole.unwrap().matches("line").count(), 1000);
}

#[test]
fn the_same_readme_renders_to_the_same_bytes() {
    // Each sanitiser gets fresh hash keys; attribute order must not depend on them.
    let text = "![a](https://img.test/a.png) <img src=\"https://img.test/b.png\" loading=\"eager\">\n\n\
        `<img src=x>` and <imgx> text";
    let first = md(text);
    for _ in 0..20 {
        assert_eq!(md(text), first);
    }
    assert_eq!(first.matches("loading=\"lazy\"").count(), 2, "{first}");
    assert!(!first.contains("eager"), "{first}");
    assert!(first.contains("<code>&lt;img src=x&gt;</code>"), "{first}");
}
