//! The browsable site (issue 5) in a real browser, and its files without one.
//!
//! A fixture registry is built with the real `ktra` binary (adds in several calls, yanks, a
//! removal) and served by `python3 -m http.server` on 127.0.0.1; headless chromium (Debian's
//! `chromium`, which `.ci/run` installs: a missing browser fails these tests, it never skips
//! them) loads it:
//!
//! - a harness page of the same origin (`site_harness.js`, one browser start) drives the site
//!   in frames: searches (`index.html?q=`, typing into the box, the header form of a crate
//!   page), pages with a hostile README (hovering, focusing and clicking everything in it),
//!   pages in a frame sandboxed without scripts (JavaScript off), and a crawl of every page
//!   reachable from `index.html`. It writes what the rendered DOMs hold as JSON into its own
//!   page, which `--dump-dom` prints; the assertions are here. (`--dump-dom` and
//!   `--screenshot` read pages through script, so `--blink-settings=scriptEnabled=false`
//!   leaves them nothing to print: hence the sandboxed frame.);
//! - `--screenshot`: PNGs of the home page, a crate page and search results, light and dark,
//!   desktop and mobile, kept in `<target>/site-screenshots/` for people to look at.
//!
//! Every URL of this origin in a rendered page is then fetched: all must answer 200.
//!
//! Without a browser: `ktra site` writes what the incremental updates wrote and is idempotent,
//! removing a crate's last version takes its page and every link to it, and a file in the
//! registry's `templates/` replaces the built-in one.

use crate::cli::Reg;
use crate::serve::request;
use crate::support::{Protocol, Registry, is_site_file, target_dir};
use ktra::package::testing::{Entry, tarball};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Crates

/// A `.crate` with a normalized manifest: `package` lines go in `[package]`, `rest` after
/// `[lib]` (dependency and feature tables), and a `README.md` when given.
fn crate_bytes(
    name: &str,
    version: &str,
    package: &str,
    rest: &str,
    readme: Option<&str>,
) -> Vec<u8> {
    let root = format!("{name}-{version}");
    let manifest = format!(
        "[package]\nedition = \"2021\"\nname = \"{name}\"\nversion = \"{version}\"\n\
         license = \"MIT OR Apache-2.0\"\n{package}\n[lib]\npath = \"src/lib.rs\"\n\n{rest}"
    );
    let (toml, lib, md) = (
        format!("{root}/Cargo.toml"),
        format!("{root}/src/lib.rs"),
        format!("{root}/README.md"),
    );
    let mut entries = vec![
        Entry::File(&toml, manifest.as_bytes()),
        Entry::File(&lib, b"pub fn f() {}\n"),
    ];
    if let Some(text) = readme {
        entries.push(Entry::File(&md, text.as_bytes()));
    }
    tarball(&entries)
}

/// Nothing answers there: README images and links made absolute against it fail at once,
/// with or without a network.
const REPO: &str = "http://127.0.0.1:9/frob";

const FROB_README: &str = "# frob-core\n\nFrobs widgets. See [usage](#usage) and \
[the guide](docs/guide.md).\n\n## Usage\n\n```rust\nlet w = frob_core::Widget::new();\n```\n\n\
| option | default |\n|--------|---------|\n| `fast` | yes |\n\n- [x] parse\n- [ ] print\n\n\
> Widgets are frobbed in place.\n";

/// Every payload would leave a mark the harness looks for: `top.__pwned` (on the harness's
/// window, which outlives a document that a `javascript:` URL replaces), `PWNED` in the title,
/// `data-pwned` on `<html>`, or an element `#pwned-marker`.
const HOSTILE_README: &str = r##"# Hostile README

Plain text that must survive.

<script>top.__pwned = "script"; document.title = "PWNED";</script>

<img src=x onerror="top.__pwned='img-onerror'; document.title='PWNED'">

<img src="http://127.0.0.1:9/x.png" onload="top.__pwned='img-onload'" onerror="top.__pwned='img-onerror2'">

<a href="#" onclick="top.__pwned='onclick'">click me</a>

<a onclick="top.__pwned='onclick-nohref'" onmouseover="top.__pwned='mouseover'">hover me</a>

<svg onload="top.__pwned='svg-onload'"><circle r="4" onclick="top.__pwned='svg-click'"/></svg>

<svg><script>top.__pwned='svg-script'</script></svg>

<svg><a xlink:href="javascript:top.__pwned='svg-link'"><text y="10">svg link</text></a></svg>

[a markdown link](javascript:top.__pwned='md-link')

<a href="javascript:top.__pwned='js-href'">a raw link</a>

<a href="JaVaScRiPt:top.__pwned='js-case'">a link in mixed case</a>

<a href="java&#x09;script:top.__pwned='js-tab'">a link with a tab</a>

<a href="&#106;avascript:top.__pwned='js-entity'">a link with an entity</a>

<a href="data:text/html,<script>top.__pwned='data'</script>">a data link</a>

<iframe src="javascript:top.__pwned='iframe'"></iframe>

<iframe srcdoc="<script>top.__pwned='srcdoc'</script>"></iframe>

<object data="javascript:top.__pwned='object'"></object>

<embed src="javascript:top.__pwned='embed'">

<form action="javascript:top.__pwned='form'"><button>submit</button></form>

<details open ontoggle="top.__pwned='ontoggle'"><summary>details</summary>x</details>

<div onfocus="top.__pwned='onfocus'" tabindex="0" autofocus>focus me</div>

<body onload="top.__pwned='body'">

<math><mtext><table><mglyph><style><img src=x onerror="top.__pwned='mxss'"></style></mglyph></table></mtext></math>

<noscript><p title="</noscript><img src=x onerror=top.__pwned='noscript'>"></p></noscript>

<p id="pwned-marker" style="color:red">an id the page could be fooled by</p>

<meta http-equiv="refresh" content="0;url=javascript:top.__pwned='refresh'">

<base href="javascript:top.__pwned='base'/">

<a href="relative.html">a relative link</a>
"##;

/// The crates of the fixture registry, added with the real binary in several calls (so the
/// incremental updates are what is looked at), then a yank and a removal.
fn build_fixture(reg: &Registry) {
    let sparse = reg.sparse_index();
    let dir = reg.base().join("crate-files");
    fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, version: &str, bytes: Vec<u8>| -> PathBuf {
        let path = dir.join(format!("{name}-{version}.crate"));
        fs::write(&path, bytes).unwrap();
        path
    };
    let frob_core = |version: &str| {
        let package = format!(
            "description = \"Core types for frobbing widgets\"\nkeywords = [\"zebra\", \"widgets\"]\n\
             categories = [\"parsing\"]\nreadme = \"README.md\"\nrepository = \"{REPO}\"\n\
             documentation = \"{REPO}/docs\"\nrust-version = \"1.70\"\n"
        );
        let rest = "[features]\ndefault = [\"std\"]\nstd = []\nextra = []\n";
        write(
            "frob-core",
            version,
            crate_bytes("frob-core", version, &package, rest, Some(FROB_README)),
        )
    };
    let zap = write(
        "Zap_Util",
        "2.0.0",
        crate_bytes(
            "Zap_Util",
            "2.0.0",
            "description = \"Lightning-fast helpers\"\nkeywords = [\"lightning\"]\n",
            "",
            None,
        ),
    );
    let evil = write(
        "evil-readme",
        "0.1.0",
        crate_bytes(
            "evil-readme",
            "0.1.0",
            "description = \"A README that tries everything\"\nkeywords = [\"xss\"]\n\
             readme = \"README.md\"\nrepository = \"http://127.0.0.1:9/evil\"\n",
            "",
            Some(HOSTILE_README),
        ),
    );
    let cli_rest = format!(
        "[dependencies.frob-core]\nversion = \"1\"\nregistry-index = \"{sparse}\"\n\n\
         [dependencies.itoa]\nversion = \"1\"\nregistry-index = \"https://github.com/rust-lang/crates.io-index\"\n\n\
         [dependencies.zap]\nversion = \"2\"\npackage = \"Zap_Util\"\noptional = true\nregistry-index = \"{sparse}\"\n\n\
         [dev-dependencies.evil-readme]\nversion = \"0.1\"\nregistry-index = \"{sparse}\"\n\n\
         [target.\"cfg(unix)\".build-dependencies.Zap_Util]\nversion = \"2\"\nregistry-index = \"{sparse}\"\n\n\
         [features]\nfancy = [\"dep:zap\", \"frob-core/extra\"]\n{}",
        // More features than a page lists, and a README longer than it holds: the pages with
        // all of them are crawled too.
        (0..60)
            .map(|i| format!("f{i:02} = []\n"))
            .collect::<String>()
    );
    let cli_readme: String = std::iter::once("# frob-cli\n\nRun `frob`.\n\n".to_owned())
        .chain((0..1200).map(|i| format!("Note {i}: frobbing goes on.\n\n")))
        .collect();
    let cli = write(
        "frob-cli",
        "0.3.0",
        crate_bytes(
            "frob-cli",
            "0.3.0",
            "description = \"The frob command line\"\nkeywords = [\"cli\"]\n",
            &cli_rest,
            Some(&cli_readme),
        ),
    );
    let old = write(
        "old-thing",
        "1.0.0",
        crate_bytes(
            "old-thing",
            "1.0.0",
            "description = \"Retired\"\n",
            "",
            None,
        ),
    );
    let doomed = write(
        "doomed",
        "0.1.0",
        crate_bytes("doomed", "0.1.0", "description = \"Soon gone\"\n", "", None),
    );
    let add = |paths: &[&Path]| {
        let mut args = vec!["add".as_ref()];
        args.extend(paths.iter().map(|p| p.as_os_str()));
        reg.ktra(args).success();
    };
    add(&[&frob_core("0.1.0"), &frob_core("0.2.0")]);
    add(&[&zap, &evil]);
    add(&[&frob_core("1.0.0")]);
    add(&[&cli]);
    add(&[&old, &doomed]);
    reg.ktra(["yank", "frob-core@0.2.0"]).success();
    reg.ktra(["yank", "old-thing@1.0.0"]).success();
    reg.ktra(["yank", "doomed@0.1.0"]).success();
    reg.ktra(["remove", "doomed@0.1.0"]).success();
}

// ---------------------------------------------------------------------------------------------
// Chromium

/// Chromium: `KTRA_CHROMIUM` when set, else `chromium` on PATH. Never a skip: the issue
/// demands these tests, and `.ci/run` installs the browser.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("KTRA_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed, and the site's browser tests need it: install \
                 Debian's package (`apt-get install -y chromium`, which .ci/run does) or set \
                 KTRA_CHROMIUM to a chromium binary"
            )
        })
}

/// Flags for a headless browser that talks to nothing but the test's server.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-device-scale-factor=1",
    "--lang=en-US",
];

/// How long one browser run may take before the test gives up on it.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs chromium with a fresh profile under `work` and the given flags and URL; its stdout.
fn browse(work: &Path, args: &[&str], url: &str) -> String {
    fs::create_dir_all(work).unwrap();
    let run_dir = tempfile::Builder::new()
        .prefix("chromium-")
        .tempdir_in(work)
        .unwrap();
    let (out_path, err_path) = (run_dir.path().join("stdout"), run_dir.path().join("stderr"));
    let mut cmd = Command::new(chromium());
    cmd.args(FLAGS)
        .arg(format!(
            "--user-data-dir={}",
            run_dir.path().join("profile").display()
        ))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium ({what}): {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in {BROWSER_TIMEOUT:?}: {what}\n--- stderr\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed ({status}): {what}\n--- stderr\n{}",
        fs::read_to_string(&err_path).unwrap_or_default()
    );
    stdout
}

/// The DOM after scripts ran (`--dump-dom`), with `budget_ms` of virtual time for them.
/// (`--dump-dom` and `--screenshot` read the page through script, so pages without JavaScript
/// are looked at in a sandboxed frame of the harness instead of with
/// `--blink-settings=scriptEnabled=false`, which makes chromium print nothing.)
fn dump_dom(work: &Path, url: &str, budget_ms: u32) -> String {
    let budget = format!("--virtual-time-budget={budget_ms}");
    let dom = browse(work, &[budget.as_str(), "--dump-dom"], url);
    assert!(
        dom.contains("<html"),
        "chromium dumped no document for {url}:\n{dom}"
    );
    dom
}

// ---------------------------------------------------------------------------------------------
// The harness run

/// What the harness reported (see site_harness.js).
struct Report(Value);

impl Report {
    fn list<'a>(&'a self, key: &str) -> &'a [Value] {
        self.0[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes the harness page next to the registry, loads it, and returns its report.
fn run_harness(reg: &Registry, plan: &Value, work: &Path) -> Report {
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>site harness</title></head>\n\
         <body>\n<iframe id=\"frame\" width=\"1200\" height=\"900\"></iframe>\n\
         <iframe id=\"noscripts\" sandbox=\"allow-same-origin\" width=\"1200\" height=\"900\"></iframe>\n\
         <pre id=\"report\"></pre>\n<script>\nconst PLAN = {plan};\n{}\n</script>\n</body></html>\n",
        include_str!("site_harness.js")
    );
    fs::write(reg.base().join("harness.html"), page).unwrap();
    let url = format!("http://127.0.0.1:{}/harness.html", reg.server.port);
    let dom = dump_dom(work, &url, 120_000);
    let start = dom
        .find("<pre id=\"report\">")
        .map(|i| i + "<pre id=\"report\">".len());
    let text = start
        .and_then(|s| dom[s..].find("</pre>").map(|e| &dom[s..s + e]))
        .unwrap_or_else(|| panic!("no report in the harness page:\n{dom}"));
    let report: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the harness wrote no JSON ({e}); did it finish?\n{dom}"));
    assert!(
        report["done"] == true,
        "the harness failed: {}\nreport: {report:#}",
        report["error"]
    );
    Report(report)
}

/// The crate page of evil-readme without its Content-Security-Policy (so the sanitiser alone
/// stands between the README and the browser), and the same page with raw payloads added
/// (which must run: it shows the harness would see them). Both outside `public/`.
fn write_hostile_copies(reg: &Registry) -> (String, String) {
    let html = fs::read_to_string(reg.public().join("c/evil-readme.html")).unwrap();
    let csp = html
        .lines()
        .find(|l| l.contains("Content-Security-Policy"))
        .expect("crate pages carry a Content-Security-Policy")
        .to_owned();
    let no_csp = html.replace(&format!("{csp}\n"), "");
    assert!(!no_csp.contains("Content-Security-Policy"));
    let control = no_csp.replacen(
        "<section id=\"readme\" class=\"readme\" aria-label=\"README\">",
        "<section id=\"readme\" class=\"readme\" aria-label=\"README\">\
         <img src=\"x\" onerror=\"top.__pwned=(top.__pwned||'')+' control-img'\">\
         <a href=\"javascript:top.__pwned=(top.__pwned||'')+' control-link'\">control</a>",
        1,
    );
    assert_ne!(control, no_csp, "the README section was not found");
    fs::write(reg.base().join("evil-no-csp.html"), no_csp).unwrap();
    fs::write(reg.base().join("evil-control.html"), control).unwrap();
    ("/evil-no-csp.html".into(), "/evil-control.html".into())
}

/// Crate pages' version lists: (version, yanked, current) in page order.
fn versions(page: &Value) -> Vec<(String, bool, bool)> {
    page["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("no versions in {}", page["url"]))
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_owned(),
                v["yanked"] == true,
                v["current"] == true,
            )
        })
        .collect()
}

fn page_named<'a>(pages: &'a [Value], site: &str, rel: &str) -> &'a Value {
    let want = format!("{site}/{rel}");
    pages
        .iter()
        .find(|p| p["url"] == want.as_str())
        .unwrap_or_else(|| {
            let seen: Vec<&Value> = pages.iter().map(|p| &p["url"]).collect();
            panic!("the crawl never reached {want}; it saw {seen:?}")
        })
}

#[test]
fn browser_search_versions_hostile_readme_links_and_no_javascript() {
    let browser = chromium();
    let started = Instant::now();
    let reg = Registry::new(Protocol::Sparse);
    build_fixture(&reg);
    let base = reg.server.base_url();
    let site_path = base
        .strip_prefix(&format!("http://127.0.0.1:{}", reg.server.port))
        .unwrap()
        .to_owned();
    let origin = format!("http://127.0.0.1:{}", reg.server.port);
    let (no_csp, control) = write_hostile_copies(&reg);
    let plan = serde_json::json!({
        "site": format!("{site_path}/"),
        "hostile": [format!("{site_path}/c/evil-readme.html"), no_csp, control],
        "searches": [
            {"mode": "url", "q": "frob-cli"},
            {"mode": "url", "q": "zebra"},
            {"mode": "type", "q": "lightning"},
            {"mode": "type", "q": "ZAP_util"},
            {"mode": "form", "q": "frob", "from": "c/frob-core.html"},
            {"mode": "url", "q": "doomed"},
        ],
        "seeds": [format!("{site_path}/index.html"), format!("{site_path}/404.html")],
        "noJs": [format!("{site_path}/c/frob-core.html"), format!("{site_path}/index.html?q=frob")],
    });
    let work = reg.base().join("browser");

    let report = run_harness(&reg, &plan, &work);
    eprintln!(
        "site browser checks: {:.1}s with {}",
        started.elapsed().as_secs_f64(),
        browser.display()
    );

    // 1. Search by name and by keyword, typed or in the URL.
    let searches = report.list("searches");
    let found = |q: &str| -> (Vec<String>, String) {
        let s = searches
            .iter()
            .find(|s| s["q"] == q)
            .unwrap_or_else(|| panic!("no search for {q}"));
        assert_eq!(s["hidden"], false, "results stay hidden for {q}: {s:#}");
        (
            strings(&s["results"]),
            s["status"].as_str().unwrap().to_owned(),
        )
    };
    let (names, status) = found("frob-cli");
    assert_eq!(names, ["frob-cli"], "by name: {status}");
    assert_eq!(status, "1 crate matches \u{201c}frob-cli\u{201d}.");
    let (names, status) = found("zebra");
    assert_eq!(names, ["frob-core"], "by keyword in the URL: {status}");
    let (names, status) = found("lightning");
    assert_eq!(names, ["Zap_Util"], "by keyword, typed: {status}");
    let (names, status) = found("ZAP_util");
    assert_eq!(
        names,
        ["Zap_Util"],
        "by name, typed, another case: {status}"
    );
    let (names, status) = found("frob");
    assert_eq!(
        names,
        ["frob-cli", "frob-core"],
        "from a crate page: {status}"
    );
    let form = searches.iter().find(|s| s["q"] == "frob").unwrap();
    assert_eq!(
        form["url"].as_str().unwrap(),
        format!("{base}/index.html?q=frob"),
        "the header form of a crate page leads to the home page's search"
    );
    let (names, status) = found("doomed");
    assert!(
        names.is_empty() && status.starts_with("No crate matches"),
        "a removed crate is still found: {names:?} {status}"
    );

    // 2. Versions, with the yanked ones marked.
    let pages = report.list("pages");
    let core = page_named(pages, &base, "c/frob-core.html");
    assert_eq!(
        versions(core),
        [
            ("1.0.0".to_owned(), false, true),
            ("0.2.0".to_owned(), true, false),
            ("0.1.0".to_owned(), false, false),
        ]
    );
    assert!(core["note"].is_null(), "{}", core["note"]);
    let old = page_named(pages, &base, "c/old-thing.html");
    assert_eq!(versions(old), [("1.0.0".to_owned(), true, true)]);
    assert!(
        old["note"]
            .as_str()
            .unwrap_or("")
            .contains("Every version of this crate is yanked"),
        "{}",
        old["note"]
    );

    // 3. Every page reachable from index.html, and every URL of this origin in a rendered page
    // (search results and hostile pages included) answers 200; fragments name an element.
    for rel in [
        "index.html",
        "404.html",
        "feed.xml",
        "c/frob-core.html",
        "c/frob-cli.html",
        "c/Zap_Util.html",
        "c/evil-readme.html",
        "c/old-thing.html",
        "features/frob-cli.html",
        "readme/frob-cli.html",
        "all/f.html",
    ] {
        page_named(pages, &base, rel);
    }
    let cli_page = page_named(pages, &base, "c/frob-cli.html");
    let cli_links: Vec<&str> = cli_page["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["url"].as_str())
        .collect();
    for dep in ["frob-core", "Zap_Util", "evil-readme"] {
        assert!(
            cli_links.contains(&format!("{base}/c/{dep}.html").as_str()),
            "frob-cli's page does not link its dependency {dep}: {cli_links:?}"
        );
    }
    let ids: BTreeMap<String, BTreeSet<String>> = pages
        .iter()
        .map(|p| {
            let url = p["url"].as_str().unwrap().to_owned();
            (url, strings(&p["ids"]).into_iter().collect())
        })
        .collect();
    let rendered = pages
        .iter()
        .chain(searches.iter().map(|s| &s["page"]))
        .chain(report.list("hostile").iter().map(|h| &h["page"]));
    let mut checked = BTreeMap::new();
    let mut fragments = 0;
    let mut bad = Vec::new();
    for page in rendered {
        let from = page["url"].as_str().unwrap();
        if !from.starts_with(&base) {
            continue; // The hostile page's copies, outside the site.
        }
        assert!(
            page["title"]
                .as_str()
                .is_some_and(|t| !t.contains("Error response")),
            "{from} is an error page: {page:#}"
        );
        for link in page["links"].as_array().unwrap() {
            let url = link["url"].as_str().unwrap();
            let Some(path) = url.strip_prefix(&origin) else {
                continue;
            };
            assert!(
                !url.contains("/c/doomed"),
                "{from} links to a removed crate: {url}"
            );
            let (path, fragment) = path.split_once('#').unwrap_or((path, ""));
            let status = *checked
                .entry(path.to_owned())
                .or_insert_with(|| request(reg.server.port, "GET", path, &[]).status);
            if status != 200 {
                bad.push(format!(
                    "{from}: <{} {}={}> answers {status}",
                    link["tag"], link["attr"], link["raw"]
                ));
            }
            let target = format!("{origin}{}", path.split('?').next().unwrap());
            if !fragment.is_empty()
                && let Some(ids) = ids.get(&target)
            {
                fragments += 1;
                if !ids.contains(fragment) {
                    bad.push(format!("{from}: {url} names no element of its page"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "broken internal links:\n{}", bad.join("\n"));
    assert!(
        checked.len() >= 12 && fragments >= 20,
        "suspiciously few URLs checked ({fragments} fragments): {checked:?}"
    );

    // 4. The hostile README runs nothing, with or without the Content-Security-Policy, even
    // when everything in it is hovered, focused and clicked; the control page shows the
    // harness would have seen it.
    let hostile = report.list("hostile");
    assert_eq!(hostile.len(), 3);
    for h in &hostile[..2] {
        assert_eq!(
            strings(&h["pwned"]),
            Vec::<String>::new(),
            "script ran: {h:#}"
        );
    }
    for h in &hostile[..2] {
        let page = &h["page"];
        assert!(
            h["stayed"] == true && h["readmeAfter"] == true,
            "clicking in the README replaced the page: {h:#}"
        );
        assert_eq!(
            strings(&page["handlers"]),
            Vec::<String>::new(),
            "event handlers in the DOM"
        );
        assert_eq!(
            strings(&page["scriptUrls"]),
            Vec::<String>::new(),
            "script URLs in the DOM"
        );
        assert_eq!(
            strings(&page["scripts"]),
            Vec::<String>::new(),
            "scripts on a crate page"
        );
        let readme = h["readmeHtml"].as_str().unwrap();
        assert!(
            readme.contains("Plain text that must survive") && readme.contains("a raw link"),
            "the README was not rendered at all: {readme}"
        );
        assert!(
            !strings(&h["clicked"]).is_empty(),
            "nothing in the README was clicked: {h:#}"
        );
    }
    let pwned = strings(&hostile[2]["pwned"]).join(" ");
    assert!(
        pwned.contains("control-img") && pwned.contains("control-link"),
        "the control page's payloads did not run, so the checks above prove nothing: {:#}",
        hostile[2]
    );
    // No page of the site has handlers, script URLs or inline scripts; only the home page has
    // a script, search.js.
    for page in pages {
        let url = page["url"].as_str().unwrap();
        assert!(strings(&page["handlers"]).is_empty(), "{url}: {page:#}");
        assert!(strings(&page["scriptUrls"]).is_empty(), "{url}: {page:#}");
        for script in strings(&page["scripts"]) {
            assert!(
                script.starts_with("src:static/search.js?v="),
                "{url}: {script}"
            );
        }
    }

    // 5. Without JavaScript: the crate page lists its versions with the yanked one marked and
    // shows its README; the home page lists every crate, its search results stay hidden and
    // the noscript note shows.
    let no_js = report.list("noJs");
    let (crate_page, home) = (&no_js[0], &no_js[1]);
    assert_eq!(
        versions(crate_page),
        [
            ("1.0.0".to_owned(), false, true),
            ("0.2.0".to_owned(), true, false),
            ("0.1.0".to_owned(), false, false),
        ]
    );
    assert!(
        strings(&crate_page["readmeIds"]).contains(&"user-content-usage".to_owned()),
        "no README without JavaScript: {crate_page:#}"
    );
    assert_eq!(
        strings(&home["crates"]),
        [
            "evil-readme",
            "frob-cli",
            "frob-core",
            "old-thing",
            "Zap_Util"
        ],
        "the home page without JavaScript, crates sorted ignoring case"
    );
    assert_eq!(home["noscriptShown"], true, "JavaScript was on: {home:#}");
    assert_eq!(
        home["resultsHidden"], true,
        "search ran without JavaScript: {home:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Screenshots

#[test]
fn browser_screenshots_light_dark_desktop_mobile() {
    chromium();
    let reg = Registry::new(Protocol::Sparse);
    build_fixture(&reg);
    let base = reg.server.base_url();
    let out = target_dir().join("site-screenshots");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    let work = reg.base().join("browser");
    let mut shots = Vec::new();
    for (page, rel) in [
        ("home", "index.html"),
        ("crate", "c/frob-core.html"),
        ("search", "index.html?q=frob"),
    ] {
        for scheme in ["light", "dark"] {
            for (device, size) in [("desktop", "1280,1100"), ("mobile", "390,1300")] {
                shots.push((format!("{page}-{scheme}-{device}.png"), rel, scheme, size));
            }
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some((file, rel, scheme, size)) =
                    shots.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let shot = format!("--screenshot={}", out.join(file).display());
                    let size = format!("--window-size={size}");
                    let mut args = vec![shot.as_str(), size.as_str(), "--virtual-time-budget=2000"];
                    if *scheme == "dark" {
                        args.push("--force-dark-mode");
                    }
                    browse(&work, &args, &format!("{base}/{rel}"));
                }
            });
        }
    });
    for (file, ..) in &shots {
        let bytes = fs::read(out.join(file)).unwrap_or_else(|e| panic!("no {file}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
            "{file} is not a real screenshot ({} bytes)",
            bytes.len()
        );
    }
    for page in ["home", "crate", "search"] {
        let light = fs::read(out.join(format!("{page}-light-desktop.png"))).unwrap();
        let dark = fs::read(out.join(format!("{page}-dark-desktop.png"))).unwrap();
        assert_ne!(light, dark, "{page}: the dark screenshot is the light one");
    }
    eprintln!("site screenshots: {}", out.display());
}

// ---------------------------------------------------------------------------------------------
// Without a browser

const REG_SPARSE: &str = "sparse+http://127.0.0.1:9/r/index/";

/// The site's files in `public/` with their bytes.
fn site_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let public = root.join("public");
    crate::support::walk_files(&public)
        .into_iter()
        .filter_map(|p| {
            let rel = p
                .strip_prefix(&public)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            is_site_file(&rel).then(|| (rel, fs::read(&p).unwrap()))
        })
        .collect()
}

/// Fails listing, for each file that differs, its lines found on one side only.
fn assert_same_site(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
    let mut report = Vec::new();
    for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        let (x, y) = (a.get(k), b.get(k));
        if x == y {
            continue;
        }
        let text = |v: Option<&Vec<u8>>| v.map(|v| String::from_utf8_lossy(v).into_owned());
        let (Some(x), Some(y)) = (text(x), text(y)) else {
            report.push(format!("{k}: only on one side"));
            continue;
        };
        let (xs, ys): (BTreeSet<&str>, BTreeSet<&str>) = (x.lines().collect(), y.lines().collect());
        report.push(format!("{k}:"));
        report.extend(
            x.lines()
                .filter(|l| !ys.contains(l))
                .map(|l| format!("  - {l}")),
        );
        report.extend(
            y.lines()
                .filter(|l| !xs.contains(l))
                .map(|l| format!("  + {l}")),
        );
        if xs == ys {
            let (n, (l, r)) = x
                .lines()
                .zip(y.lines())
                .enumerate()
                .find(|(_, (l, r))| l != r)
                .unwrap_or((0, ("", "")));
            report.push(format!(
                "  the same lines in another order; line {}:",
                n + 1
            ));
            report.push(format!("  - {l}\n  + {r}"));
        }
    }
    assert!(report.is_empty(), "{what}:\n{}", report.join("\n"));
}

fn simple_crate(reg: &Reg, name: &str, version: &str, package: &str, rest: &str) -> String {
    reg.file(
        &format!("{name}-{version}.crate"),
        &crate_bytes(
            name,
            version,
            package,
            rest,
            Some(&format!("# {name}\n\nversion {version}\n")),
        ),
    )
}

#[test]
fn site_command_rewrites_what_the_changes_wrote_and_is_idempotent() {
    let reg = Reg::new(false);
    let dep = format!("[dependencies.lib]\nversion = \"1\"\nregistry-index = \"{REG_SPARSE}\"\n");
    let files = [
        simple_crate(
            &reg,
            "lib",
            "1.0.0",
            "description = \"A lib\"\nkeywords = [\"k\"]\n",
            "",
        ),
        simple_crate(&reg, "lib", "1.1.0", "description = \"A lib, newer\"\n", ""),
        simple_crate(&reg, "app", "0.1.0", "", &dep),
        simple_crate(&reg, "gone", "0.1.0", "", ""),
    ];
    for f in &files {
        reg.ktra(&["add", f]).success();
    }
    reg.ktra(&["yank", "lib@1.1.0"]).success();
    reg.ktra(&["yank", "app@0.1.0"]).success();
    reg.ktra(&["unyank", "app@0.1.0"]).success();
    reg.ktra(&["yank", "gone@0.1.0"]).success();
    reg.ktra(&["remove", "gone@0.1.0"]).success();
    let page = |name: &str| fs::read_to_string(reg.root.join(format!("public/c/{name}.html")));
    let lib = page("lib").unwrap();
    assert!(
        lib.contains("<li id=\"v1.1.0\"><span class=\"ver\">1.1.0</span>")
            && lib.contains("<strong class=\"yanked\">yanked</strong>"),
        "{lib}"
    );
    assert!(
        !page("app").unwrap().contains("yanked"),
        "unyanked, still marked"
    );
    assert!(
        page("gone").is_err(),
        "the removed crate's page is still there"
    );
    let incremental = site_files(&reg.root);
    assert!(incremental.contains_key("c/lib.html") && !incremental.contains_key("c/gone.html"));
    reg.ktra(&["site"]).success();
    let full = site_files(&reg.root);
    let identities = file_identities(&reg.root);
    reg.ktra(&["site"]).success();
    let again = site_files(&reg.root);
    // A build that changes nothing leaves every file as it is (same inode, same mtime), so
    // uploads that compare times or caches that compare validators see no change.
    assert_eq!(
        file_identities(&reg.root),
        identities,
        "a `ktra site` that changes nothing replaced files"
    );
    // `ktra rebuild` (the index again from the crate files) leaves the same site.
    reg.ktra(&["rebuild"]).success();
    let rebuilt = site_files(&reg.root);
    assert_same_site(
        &incremental,
        &full,
        "`ktra site` wrote another site than the changes did",
    );
    assert_same_site(&full, &again, "a second `ktra site` changed the site");
    assert_same_site(&full, &rebuilt, "`ktra rebuild` changed the site");
}

/// (inode, mtime) of every file of the site, and of its state.
fn file_identities(root: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let mut files = crate::support::walk_files(&root.join("public"));
    files.extend(crate::support::walk_files(&root.join("state/site")));
    files
        .into_iter()
        .filter(|p| {
            p.starts_with(root.join("state"))
                || is_site_file(
                    &p.strip_prefix(root.join("public"))
                        .unwrap()
                        .to_string_lossy(),
                )
        })
        .map(|p| {
            let m = fs::metadata(&p).unwrap();
            (p, (m.ino(), m.modified().unwrap()))
        })
        .collect()
}

#[test]
fn a_registry_without_a_site_writes_none_and_ktra_site_follows_the_setting() {
    let reg = Reg::new(false);
    let settings = reg.root.join("ktra.toml");
    let on = fs::read_to_string(&settings).unwrap();
    assert!(!on.contains("[site]"), "the default is left out:\n{on}");
    let off = format!("{on}\n[site]\nenabled = false\n");
    let add = |name: &str| {
        let description = format!("description = \"About {name}\"\n");
        let file = simple_crate(&reg, name, "1.0.0", &description, "");
        reg.ktra(&["add", &file]).success();
    };
    let page = |name: &str| fs::read_to_string(reg.root.join(format!("public/c/{name}.html")));
    add("lib");
    assert!(page("lib").is_ok());
    // Off: changes write no page and no metadata.
    fs::write(&settings, &off).unwrap();
    add("other");
    reg.ktra(&["yank", "lib@1.0.0"]).success();
    assert!(reg.root.join("public/index/ot/he/other").is_file());
    assert!(
        page("other").is_err(),
        "a page was written with the site off"
    );
    assert!(!reg.root.join("state/meta/other.json").exists());
    // On again: the first change builds the whole site, `other` included (its metadata read
    // back from its crate file), though the site missed it.
    fs::write(&settings, &on).unwrap();
    add("third");
    let other = page("other").expect("the crate added while the site was off has no page");
    assert!(other.contains("About other"), "{other}");
    assert!(page("lib").unwrap().contains("yanked"));
    assert!(
        fs::read_to_string(reg.root.join("public/index.html"))
            .unwrap()
            .contains("c/other.html")
    );
    // Off, and `ktra site` takes it away.
    fs::write(&settings, &off).unwrap();
    let out = reg.ktra(&["site"]).success();
    assert!(out.stderr.contains("Removed"), "{}", out.describe());
    assert_eq!(site_files(&reg.root).len(), 0, "the site is still there");
    assert!(!reg.root.join("state/site").exists());
    assert!(reg.root.join("public/index/3/l/lib").is_file());
    reg.ktra(&["verify"]).success();
}

#[test]
fn removing_the_last_version_takes_the_page_and_every_link_to_it() {
    let reg = Reg::new(false);
    let files = [
        simple_crate(&reg, "keep", "1.0.0", "description = \"Stays\"\n", ""),
        simple_crate(
            &reg,
            "going",
            "0.1.0",
            "description = \"Goes\"\nkeywords = [\"bye\"]\n",
            "",
        ),
        simple_crate(
            &reg,
            "going",
            "0.2.0",
            "description = \"Goes\"\nkeywords = [\"bye\"]\n",
            "",
        ),
    ];
    reg.ktra(&["add", &files[0], &files[1], &files[2]])
        .success();
    let page = reg.root.join("public/c/going.html");
    let read = |rel: &str| fs::read_to_string(reg.root.join("public").join(rel)).unwrap();
    assert!(page.is_file());
    assert!(read("index.html").contains("href=\"c/going.html\""));
    // One version gone: the page stays, with the other.
    reg.ktra(&["yank", "going@0.2.0"]).success();
    reg.ktra(&["remove", "going@0.2.0"]).success();
    let html = fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"v0.1.0\"") && !html.contains("0.2.0"),
        "{html}"
    );
    assert!(!read("feed.xml").contains("going 0.2.0"));
    // The last one: the page and every link to it.
    reg.ktra(&["yank", "going@0.1.0"]).success();
    reg.ktra(&["remove", "going@0.1.0"]).success();
    let check = |when: &str| {
        assert!(!page.exists(), "{when}: c/going.html is still there");
        for (rel, text) in site_files(&reg.root) {
            let text = String::from_utf8_lossy(&text);
            assert!(
                !text.contains("going"),
                "{when}: {rel} still names the removed crate:\n{text}"
            );
        }
        assert!(
            read("index.html").contains("href=\"c/keep.html\""),
            "{when}"
        );
    };
    check("after `ktra remove`");
    reg.ktra(&["site"]).success();
    check("after `ktra site`");
}

/// The page shows the README of the version it describes: after a yank of the newest, the
/// older one's (read back from its crate file), and none when that version has none. Recent
/// releases and the feed keep a yanked release, marked.
#[test]
fn the_readme_follows_the_version_shown_and_yanked_releases_are_marked() {
    let reg = Reg::new(false);
    let file = |version: &str, readme: Option<&str>| {
        reg.file(
            &format!("doc-{version}.crate"),
            &crate_bytes("doc", version, "description = \"Docs\"\n", "", readme),
        )
    };
    let (old, new, bare) = (
        file("1.0.0", Some("# doc\n\nThe old words.\n")),
        file("1.1.0", Some("# doc\n\nThe new words.\n")),
        file("1.2.0", None),
    );
    reg.ktra(&["add", &old, &new]).success();
    let read = |rel: &str| fs::read_to_string(reg.root.join("public").join(rel)).unwrap();
    let page = || read("c/doc.html");
    assert!(page().contains("The new words.") && !page().contains("The old words."));

    reg.ktra(&["yank", "doc@1.1.0"]).success();
    let html = page();
    assert!(
        html.contains("The old words.") && !html.contains("The new words."),
        "{html}"
    );
    let home = read("index.html");
    assert!(
        home.contains("<span class=\"ver\">1.1.0</span>")
            && home.contains("<strong class=\"yanked\">yanked</strong></li>"),
        "{home}"
    );
    assert!(read("feed.xml").contains("<title>doc 1.1.0 (yanked)</title>"));
    // Nothing is read from a crate file again once the README is stored: the same site.
    let after_yank = site_files(&reg.root);
    reg.ktra(&["site"]).success();
    assert_same_site(
        &after_yank,
        &site_files(&reg.root),
        "`ktra site` after a yank",
    );

    reg.ktra(&["unyank", "doc@1.1.0"]).success();
    assert!(page().contains("The new words."));
    assert!(!read("feed.xml").contains("(yanked)"));

    // A newest version without a README: the page shows none rather than an older one's.
    reg.ktra(&["add", &bare]).success();
    let html = page();
    assert!(!html.contains("words."), "{html}");
    reg.ktra(&["yank", "doc@1.2.0"]).success();
    assert!(page().contains("The new words."));
    let after = site_files(&reg.root);
    reg.ktra(&["site"]).success();
    assert_same_site(&after, &site_files(&reg.root), "`ktra site` differs");
}

/// A crate with more versions or features than its page lists, or a longer README than it
/// holds, gets a page with all of it, linked from its page, and loses it when its lists fit
/// again; `ktra site` agrees.
#[test]
fn long_lists_get_pages_of_their_own_while_they_need_them() {
    let reg = Reg::new(false);
    let features = |n: usize| -> String {
        let mut t = String::from("[features]\n");
        for i in 0..n {
            t.push_str(&format!("f{i:03} = []\n"));
        }
        t
    };
    let wide = simple_crate(&reg, "wide", "1.0.0", "", &features(130));
    let narrow = simple_crate(&reg, "wide", "1.1.0", "", &features(3));
    let mut many: Vec<String> = (0..105)
        .map(|i| simple_crate(&reg, "many", &format!("0.{i}.0"), "", ""))
        .collect();
    many.push(wide);
    let long_readme: String = (0..1500)
        .map(|i| format!("Paragraph {i} of a README that goes on and on.\n\n"))
        .collect();
    let long = reg.file(
        "long-1.0.0.crate",
        &crate_bytes("long", "1.0.0", "", "", Some(&long_readme)),
    );
    many.push(long);
    let mut args = vec!["add"];
    args.extend(many.iter().map(String::as_str));
    reg.ktra(&args).success();
    let public = reg.root.join("public");
    let read = |rel: &str| fs::read_to_string(public.join(rel)).unwrap();
    let page = read("c/wide.html");
    assert!(
        page.contains("<a href=\"../features/wide.html\">All 130 features</a>"),
        "{page}"
    );
    assert!(read("features/wide.html").contains("<dt><code>f129</code></dt>"));
    let page = read("c/many.html");
    assert!(
        page.contains("<a href=\"../versions/many.html\">All 105 versions</a>"),
        "{page}"
    );
    assert!(!page.contains("id=\"v0.0.0\"") && page.contains("id=\"v0.104.0\""));
    assert!(read("versions/many.html").contains("id=\"v0.0.0\""));
    let page = read("c/long.html");
    assert!(page.len() < 50 * 1024, "{} bytes", page.len());
    assert!(page.contains("<a href=\"../readme/long.html\">Read the whole README</a>"));
    assert!(page.contains("Paragraph 1 ") && !page.contains("Paragraph 1499"));
    assert!(read("readme/long.html").contains("Paragraph 1499"));
    let before = site_files(&reg.root);
    reg.ktra(&["site"]).success();
    assert_same_site(
        &before,
        &site_files(&reg.root),
        "`ktra site` with long lists",
    );

    // The newest version has three features: its page lists them all, and the other page goes.
    reg.ktra(&["add", &narrow]).success();
    assert!(!public.join("features/wide.html").exists());
    assert!(!read("c/wide.html").contains("features/wide.html"));
    let after = site_files(&reg.root);
    reg.ktra(&["site"]).success();
    assert_same_site(
        &after,
        &site_files(&reg.root),
        "`ktra site` after the lists fit",
    );
}

#[test]
fn registry_templates_override_the_built_in_ones() {
    let reg = Reg::new(false);
    let k = simple_crate(&reg, "themed", "1.0.0", "description = \"Themed\"\n", "");
    reg.ktra(&["add", &k]).success();
    let public = reg.root.join("public");
    let read = |rel: &str| fs::read_to_string(public.join(rel)).unwrap();
    let (home_before, css_before) = (read("index.html"), read("static/style.css"));
    let templates = reg.root.join("templates");
    fs::create_dir_all(&templates).unwrap();
    fs::write(
        templates.join("crate.html"),
        "{% extends \"base.html\" %}\n{% block content %}<p id=\"custom\">Our own page for \
         {{ name }} {{ version }}</p>{% endblock %}\n",
    )
    .unwrap();
    fs::write(
        templates.join("style.css"),
        "body { background: #123456; }\n",
    )
    .unwrap();
    reg.ktra(&["site"]).success();
    let page = read("c/themed.html");
    assert!(
        page.contains("<p id=\"custom\">Our own page for themed 1.0.0</p>"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"versions\""),
        "the built-in crate.html was used:\n{page}"
    );
    assert_eq!(read("static/style.css"), "body { background: #123456; }\n");
    assert_ne!(css_before, read("static/style.css"));
    // The home page keeps the built-in template; its stylesheet link changes version.
    let home = read("index.html");
    assert!(home.contains("id=\"setup\""), "{home}");
    let css_link = |html: &str| {
        html.lines()
            .find(|l| l.contains("static/style.css?v="))
            .unwrap()
            .to_owned()
    };
    assert_ne!(
        css_link(&home_before),
        css_link(&home),
        "asset version unchanged"
    );

    // A broken override: `ktra site` fails naming it; a change still lands, with a warning.
    fs::write(templates.join("crate.html"), "{% block content %}\n").unwrap();
    let out = reg.ktra(&["site"]).failure();
    assert!(
        out.stderr.contains("templates/crate.html"),
        "{}",
        out.describe()
    );
    let k2 = simple_crate(&reg, "themed", "1.1.0", "", "");
    let out = reg.ktra(&["add", &k2]).success();
    assert!(out.stderr.contains("warning"), "{}", out.describe());
    assert!(reg.index_line("th/em/themed").contains("\"1.1.0\""));
}

/// The site's state is written without a sync; damaged by a crash, it is rebuilt by the next
/// change, which then writes what `ktra site` writes.
#[test]
fn a_damaged_site_state_is_rebuilt_by_the_next_change() {
    let reg = Reg::new(false);
    for (name, vers) in [("alpha", "1.0.0"), ("beta", "1.0.0"), ("alpha", "1.1.0")] {
        let f = simple_crate(&reg, name, vers, "description = \"d\"\n", "");
        reg.ktra(&["add", &f]).success();
    }
    for key in [
        "state/site/pages.json",
        "state/site/list/a.json",
        "state/site/recent.json",
    ] {
        fs::write(reg.root.join(key), b"\0garbage").unwrap();
    }
    reg.ktra(&["yank", "alpha@1.1.0"]).success();
    let after_change = site_files(&reg.root);
    let home = String::from_utf8_lossy(&after_change["index.html"]).into_owned();
    assert!(
        home.contains("c/alpha.html") && home.contains("c/beta.html"),
        "{home}"
    );
    reg.ktra(&["site"]).success();
    assert_same_site(
        &after_change,
        &site_files(&reg.root),
        "the repaired site differs from `ktra site`",
    );
}
