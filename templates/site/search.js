// ktra crate search: filters the search index by name and keyword, on static hosting.
// search-index.json names the parts of the index: {"v":2,"parts":["search/a.json?h=HASH", ...]}.
// Each part holds the crates of one list page: {"v":1,"c":[[name, version, "keyword keyword",
// description], ...]}. A part's URL changes with its content, so the browser's cache may keep it.
(function () {
  "use strict";
  var form = document.querySelector("form.search");
  var input = document.getElementById("q");
  var section = document.getElementById("results");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!form || !input || !section || !list || !status || !window.fetch) return;
  var MAX = 100;
  var loading = null;
  // The site's root: this script is ROOT/static/search.js.
  var script = document.currentScript;
  var root = script ? new URL("..", script.src) : new URL(".", location.href);

  function norm(s) { return String(s || "").toLowerCase().replace(/_/g, "-"); }

  function json(url, cache) {
    return fetch(new URL(url, root), { cache: cache }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function rows(j) {
    return (j.c || []).map(function (e) {
      return { name: e[0], version: e[1] || "", desc: e[3] || "",
        n: norm(e[0]), kw: norm(e[2]).split(" ").filter(Boolean), d: norm(e[3]) };
    });
  }

  function load() {
    if (!loading) {
      loading = json("search-index.json", "no-cache").then(function (j) {
        if (!j.parts) return rows(j);
        return Promise.all(j.parts.map(function (p) { return json(p, "default"); }))
          .then(function (parts) { return [].concat.apply([], parts.map(rows)); });
      });
      loading.catch(function () { loading = null; });
    }
    return loading;
  }

  // Every term must match the name, a keyword or the description; names weigh most.
  function score(c, terms) {
    var total = 0;
    for (var i = 0; i < terms.length; i++) {
      var t = terms[i], s = 0;
      if (c.n === t) s = 100;
      else if (c.n.indexOf(t) === 0) s = 60;
      else if (c.n.indexOf(t) > 0) s = 40;
      else if (c.kw.indexOf(t) >= 0) s = 30;
      else if (c.kw.some(function (k) { return k.indexOf(t) === 0; })) s = 20;
      else if (c.d.indexOf(t) >= 0) s = 5;
      if (!s) return 0;
      total += s;
    }
    return total;
  }

  function item(c) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = new URL("c/" + encodeURIComponent(c.name) + ".html", root).href;
    a.textContent = c.name;
    var v = document.createElement("span");
    v.className = "ver";
    v.textContent = c.version;
    li.append(a, " ", v);
    if (c.desc) {
      var p = document.createElement("p");
      p.textContent = c.desc;
      li.append(p);
    }
    return li;
  }

  function show(query) {
    var terms = norm(query).split(/\s+/).filter(Boolean);
    if (!terms.length) { section.hidden = true; list.replaceChildren(); status.textContent = ""; return; }
    section.hidden = false;
    load().then(function (crates) {
      if (input.value !== query) return;
      var hits = [];
      crates.forEach(function (c) { var s = score(c, terms); if (s) hits.push([s, c]); });
      hits.sort(function (x, y) { return y[0] - x[0] || x[1].n.localeCompare(y[1].n, "en", { numeric: true }); });
      list.replaceChildren.apply(list, hits.slice(0, MAX).map(function (h) { return item(h[1]); }));
      var n = hits.length;
      status.textContent = (n ? n + (n === 1 ? " crate matches " : " crates match ") : "No crate matches ") +
        "\u201c" + query.trim() + "\u201d" + (n > MAX ? "; the first " + MAX + " are shown." : ".");
    }, function () {
      status.textContent = "The search index could not be loaded. Every crate is listed below.";
    });
  }

  var timer = 0;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { show(input.value); }, 120);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    show(input.value);
    if (history.replaceState) {
      history.replaceState(null, "", input.value.trim() ? "?q=" + encodeURIComponent(input.value.trim()) : "index.html");
    }
  });
  var initial = new URLSearchParams(location.search).get("q");
  if (initial) { input.value = initial; show(initial); }
})();
