// Drives the site's pages in an iframe of the same origin and reports what the browser made of
// them as JSON in <pre id="report">, which `chromium --dump-dom` prints. Run by site.rs, which
// puts `const PLAN = {...}` before this script. Nothing here decides pass or fail: the Rust
// test reads the report and asserts.
"use strict";

const frame = document.getElementById("frame");
// Same origin, so this page can read it, but no scripts in it: JavaScript is off there.
const noScripts = document.getElementById("noscripts");
const report = { done: false, error: null, pages: [], searches: [], hostile: [], noJs: [] };

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The next load of a frame (set up before starting the navigation).
function nextLoad(what, which) {
  const f = which || frame;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out loading " + what)), 15000);
    f.onload = () => {
      clearTimeout(timer);
      f.onload = null;
      resolve(f.contentWindow);
    };
  });
}

function load(url, which) {
  const loaded = nextLoad(url, which);
  (which || frame).src = url;
  return loaded;
}

async function until(what, test, ms) {
  for (let waited = 0; waited < (ms || 5000); waited += 20) {
    const value = test();
    if (value) return value;
    await sleep(20);
  }
  throw new Error("timed out waiting for " + what);
}

function urlOf(raw, doc) {
  try {
    return new URL(raw, doc.baseURI).href;
  } catch (e) {
    return "invalid:" + raw;
  }
}

// What the rendered DOM holds: every URL in it, event handler attributes, attribute values
// that would run script, scripts, ids.
function describe(win) {
  const doc = win.document;
  const links = [];
  const handlers = [];
  const scriptUrls = [];
  for (const el of doc.getElementsByTagName("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) handlers.push(el.localName + " " + attr.name + "=" + attr.value);
      // What a browser would see: controls and spaces ignored, any case.
      const squeezed = attr.value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
      if (/^(javascript|vbscript|data):/.test(squeezed) || squeezed.includes("javascript:")) {
        scriptUrls.push(el.localName + " " + attr.name + "=" + attr.value);
      }
      if (["href", "src", "action", "formaction", "xlink:href", "poster", "data"].includes(name)) {
        links.push({ tag: el.localName, attr: name, raw: attr.value, url: urlOf(attr.value, doc) });
      }
    }
  }
  const scripts = Array.from(doc.getElementsByTagName("script")).map((s) =>
    s.hasAttribute("src") ? "src:" + s.getAttribute("src") : "inline:" + s.textContent.slice(0, 200)
  );
  const ids = Array.from(doc.querySelectorAll("[id]")).map((e) => e.id);
  const versions = Array.from(doc.querySelectorAll("ol.versions > li")).map((li) => ({
    version: (li.querySelector(".ver") || {}).textContent,
    yanked: !!li.querySelector(".yanked"),
    current: li.classList.contains("current"),
  }));
  const note = doc.querySelector(".intro .note");
  const results = doc.getElementById("results");
  return {
    url: win.location.href,
    contentType: doc.contentType,
    title: doc.title,
    links,
    handlers,
    scriptUrls,
    scripts,
    ids,
    versions: doc.querySelector("ol.versions") ? versions : null,
    note: note ? note.textContent : null,
    crates: Array.from(doc.querySelectorAll("#crates ul.crates li > a")).map((a) => a.textContent),
    resultsHidden: results ? results.hidden : null,
    // With scripting off, <noscript> holds elements; with it on, only text.
    noscriptShown: !!doc.querySelector("noscript > *"),
    readmeIds: Array.from(doc.querySelectorAll("#readme [id]")).map((e) => e.id),
  };
}

function pwned(win) {
  const doc = win.document;
  const found = [];
  if (win.__pwned !== undefined) found.push("window.__pwned=" + win.__pwned);
  if (window.__pwned !== undefined) found.push("top.__pwned=" + window.__pwned);
  if (/PWNED/.test(doc.title)) found.push("document.title=" + doc.title);
  if (doc.documentElement.hasAttribute("data-pwned")) found.push("data-pwned on <html>");
  if (doc.getElementById("pwned-marker")) found.push("#pwned-marker in the DOM");
  return found;
}

async function crawl(seeds) {
  const queue = seeds.slice();
  const seen = new Set();
  while (queue.length) {
    const url = new URL(queue.shift(), location.href).href.split("#")[0];
    if (seen.has(url)) continue;
    seen.add(url);
    const win = await load(url);
    const page = describe(win);
    report.pages.push(page);
    for (const link of page.links) {
      let u;
      try {
        u = new URL(link.url);
      } catch (e) {
        continue;
      }
      const pageLike = /(\.html|\.xml|\/)$/.test(u.pathname);
      if (u.origin === location.origin && u.pathname.startsWith(PLAN.site) && pageLike && !u.search) {
        queue.push(u.origin + u.pathname);
      }
    }
  }
}

function results(doc) {
  const section = doc.getElementById("results");
  return {
    url: doc.location.href,
    hidden: section ? section.hidden : null,
    status: (doc.getElementById("search-status") || {}).textContent || "",
    results: Array.from(doc.querySelectorAll("#search-results > li > a")).map((a) => a.textContent),
    hrefs: Array.from(doc.querySelectorAll("#search-results > li > a")).map((a) => a.href),
  };
}

// One search: `url` loads index.html?q=..., `type` types into the box of the home page, `form`
// submits the header form of a crate page (which goes to index.html?q=...).
async function search(s) {
  let win;
  if (s.mode === "url") {
    win = await load(PLAN.site + "index.html?q=" + encodeURIComponent(s.q));
  } else if (s.mode === "type") {
    win = await load(PLAN.site + "index.html");
    const input = win.document.getElementById("q");
    input.focus();
    for (const c of s.q) {
      input.value += c;
      input.dispatchEvent(new win.InputEvent("input", { bubbles: true, data: c, inputType: "insertText" }));
    }
  } else {
    win = await load(PLAN.site + s.from);
    const input = win.document.getElementById("q");
    input.value = s.q;
    const navigated = nextLoad("the search form's target");
    input.form.requestSubmit();
    win = await navigated;
  }
  await until("search results for " + s.q, () => win.document.getElementById("search-status").textContent);
  const out = results(win.document);
  out.q = s.q;
  out.mode = s.mode;
  out.page = describe(win);
  report.searches.push(out);
}

// Loads a page carrying a hostile README, gives its payloads time, then hovers, focuses and
// clicks every element of the README that is not an ordinary link out.
async function hostile(path) {
  delete window.__pwned;
  const win = await load(path);
  await sleep(300);
  const doc = win.document;
  const root = doc.getElementById("readme") || doc.body;
  const clicked = [];
  for (const el of Array.from(root.querySelectorAll("*"))) {
    const href = (el.getAttribute("href") || "").trim().toLowerCase();
    if (/^(https?:|mailto:)/.test(href)) continue;
    for (const type of ["mouseover", "mouseenter", "focus", "pointerdown"]) {
      el.dispatchEvent(new win.Event(type, { bubbles: true }));
    }
    if (typeof el.click === "function") {
      el.click();
      clicked.push(el.localName + (href ? "[href=" + href + "]" : ""));
    }
  }
  await sleep(300);
  const after = frame.contentWindow;
  report.hostile.push({
    path,
    stayed: after.location.href === win.location.href,
    // A `javascript:` URL that returns a string replaces the document, keeping the URL.
    readmeAfter: !!after.document.getElementById("readme"),
    url: after.location.href,
    pwned: pwned(after),
    clicked,
    page: describe(after),
    readmeHtml: root.innerHTML,
  });
}

// A page with JavaScript off: what it shows without search.js.
async function noJs(path) {
  const win = await load(path, noScripts);
  await sleep(200);
  const page = describe(win);
  report.noJs.push(page);
}

async function main() {
  for (const path of PLAN.noJs) await noJs(path);
  for (const path of PLAN.hostile) await hostile(path);
  for (const s of PLAN.searches) await search(s);
  await crawl(PLAN.seeds);
}

main()
  .then(() => {
    report.done = true;
  })
  .catch((e) => {
    report.error = String(e && e.stack ? e.stack : e);
  })
  .finally(() => {
    // Only ASCII without < > & in the text, so the DOM dump needs no unescaping.
    const json = JSON.stringify(report).replace(/[<>&\u007f-\uffff]/g, (c) =>
      "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")
    );
    document.getElementById("report").textContent = json;
  });
