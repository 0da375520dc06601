"""Synthetic crates with realistic site metadata, for the site benchmark (standard library only).

synth.py's crates have a bare manifest (name, version, edition): their pages and search entries
would be empty shells. These have what a crate page and the search index show, with sizes
shaped like a real registry's (rough figures from the public Rust registry, which the benchmark only needs
to resemble):

  - description: 75% of crates; length log-normal around 60 characters (15 to 300)
  - keywords: 0 to 5 (35% none), common technical words
  - categories, license (mostly `MIT OR Apache-2.0`), repository, homepage, documentation
  - README.md: 75% of crates; Markdown with headings, prose, lists, code blocks, a table, links
    and a badge; size log-normal around 3 KB, capped near 20 KB (the realistic page of the issue
    has a 20 KB README, so the cap keeps the largest page about the site, not about one author)
  - versions: 1 to 60 a crate (30% have one), 5 on average, 0.1.0 first, then patch, minor
    and major bumps
  - dependencies: 55% of crates depend on 1 to 4 crates of the registry (`^0.1`, which every
    crate's first version satisfies), 45% on 1 to 3 well-known crates of the default registry
    (no `registry-index` in the manifest); some optional, some dev
  - features: 40% of crates, 1 to 4

Plus one crate named SHOWCASE with exactly 50 versions and a 20 KB README: the realistic page
the issue sizes. Everything is deterministic for a seed.

No host of any real registry is written anywhere: URLs use `example.com` / `example.org`.
"""

import math
import os
import random

import synth

SHOWCASE = "showcase-http-client"
SHOWCASE_VERSIONS = 50
SHOWCASE_README = 20 * 1024

ADJ = """fast small simple safe minimal async ergonomic lightweight pure-Rust zero-copy portable
typed extensible streaming embeddable robust lock-free incremental declarative modular
cross-platform no_std compact efficient reliable composable idiomatic""".split()
NOUN = """parser library client server framework toolkit runtime crate wrapper binding encoder
decoder serializer logger allocator scheduler cache queue pool router middleware driver
codec formatter validator generator engine interpreter compiler bridge adapter""".split()
DOMAIN = """JSON TOML YAML HTTP/2 WebSockets gRPC PostgreSQL SQLite Redis Kafka S3 OAuth2
JWT TLS DNS MQTT CSV Protobuf MessagePack embedded systems command-line tools game engines
audio processing image decoding cryptography compression configuration files structured
logging metrics tracing testing benchmarks async I/O terminals GPUs WebAssembly""".split()
WORDS = """the a of and to for with in on by from that this each every when which while
value values type types trait traits function functions module buffer buffers stream
streams request requests response responses error errors handle handles state config
field fields key keys index thread threads task tasks future futures channel channels
reader writer input output bytes string strings slice vector map set tree node graph
memory allocation lifetime reference borrow iterator closure macro derive feature
features build test tests example examples version release support platform target
fast quickly safely simply without allocation zero copy unsafe code public API stable
default optional required custom generic""".split()
KEYWORDS = """async parser http cli serde json no-std embedded database sql web server
client tokio logging macro derive testing crypto encoding compression cache gui
terminal wasm network protocol serialization config yaml toml time math graphics
audio image concurrency lock-free allocator ffi bindings linux windows file
filesystem string unicode regex template codegen plugin metrics tracing""".split()
CATEGORIES = """api-bindings asynchronous command-line-utilities concurrency config
cryptography data-structures database development-tools embedded encoding filesystem
network-programming parser-implementations parsing rust-patterns web-programming
text-processing no-std algorithms""".split()
LICENSES = ["MIT OR Apache-2.0"] * 6 + ["MIT"] * 2 + ["Apache-2.0", "BSD-3-Clause", "MPL-2.0"]
EXTERNAL = [("serde", "1"), ("tokio", "1"), ("anyhow", "1"), ("thiserror", "2"), ("log", "0.4"),
            ("rand", "0.9"), ("regex", "1"), ("bytes", "1"), ("futures", "0.3"),
            ("tracing", "0.1"), ("itertools", "0.14"), ("once_cell", "1")]


def _lognormal(rng, median, sigma, lo, hi):
    return int(min(hi, max(lo, math.exp(rng.gauss(math.log(median), sigma)))))


def _words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def description(rng):
    target = _lognormal(rng, 60, 0.6, 15, 300)
    text = f"A {rng.choice(ADJ)} {rng.choice(NOUN)} for {rng.choice(DOMAIN)}"
    while len(text) < target:
        text += " " + rng.choice(WORDS)
    return text + ("." if rng.random() < 0.4 else "")


def keywords(rng):
    n = rng.choices([0, 1, 2, 3, 4, 5], weights=[35, 8, 12, 15, 10, 20])[0]
    return rng.sample(KEYWORDS, n)


def version_list(count, rng):
    """`count` increasing versions, 0.1.0 first."""
    major, minor, patch = 0, 1, 0
    out = []
    for _ in range(count):
        out.append(f"{major}.{minor}.{patch}")
        r = rng.random()
        if r < 0.6:
            patch += 1
        elif r < 0.93:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out


def version_counts(n, total, rng):
    """n version counts (1..60, 30% ones) summing to exactly `total`."""
    buckets = [(1, 1, 30), (2, 2, 17), (3, 3, 12), (4, 5, 14), (6, 10, 15), (11, 20, 8), (21, 60, 4)]
    counts = []
    for _ in range(n):
        lo, hi, _w = rng.choices(buckets, weights=[b[2] for b in buckets])[0]
        counts.append(rng.randint(lo, hi))
    diff = total - sum(counts)
    while diff != 0:
        i = rng.randrange(n)
        if diff > 0 and counts[i] < 60:
            counts[i] += 1
            diff -= 1
        elif diff < 0 and counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


def readme(name, rng, size):
    """Markdown of about `size` bytes."""
    ident = name.replace("-", "_")
    parts = [
        f"# {name}\n\n",
        f"[![docs](https://docs.example.org/{name}/badge.svg)](https://docs.example.org/{name}) "
        f"[![build](https://ci.example.com/acme/{name}/badge.svg)](https://ci.example.com/acme/{name})\n\n",
        f"{description(rng)} {_words(rng, 30)}.\n\n",
        "## Usage\n\n```toml\n[dependencies]\n"
        f'{name} = {{ version = "0.1", registry = "acme" }}\n```\n\n',
        f"```rust\nuse {ident}::Client;\n\nfn main() -> Result<(), {ident}::Error> {{\n"
        f"    let client = Client::builder().retries(3).build()?;\n"
        f'    let reply = client.get("item/42")?;\n    println!("{{reply:?}}");\n    Ok(())\n}}\n```\n\n',
    ]
    text = "".join(parts)
    sections = ["Features", "Examples", "Configuration", "Performance", "Design", "Safety",
                "Platform support", "Minimum Rust version", "Changelog", "FAQ", "Contributing"]
    k = 0
    while len(text) < size - 200:
        title = sections[k % len(sections)] + ("" if k < len(sections) else f" ({k // len(sections) + 1})")
        k += 1
        kind = rng.random()
        block = f"## {title}\n\n{_words(rng, rng.randint(25, 70))}.\n\n"
        if kind < 0.3:
            block += "".join(f"- `{rng.choice(KEYWORDS)}`: {_words(rng, rng.randint(5, 14))}\n" for _ in range(rng.randint(3, 7)))
            block += "\n"
        elif kind < 0.55:
            block += f"```rust\nlet mut {rng.choice(['buf', 'state', 'cfg'])} = {ident}::{rng.choice(['Config', 'Builder', 'Options'])}::default();\n"
            block += "".join(f"// {_words(rng, 8)}\n" for _ in range(rng.randint(2, 6)))
            block += "```\n\n"
        elif kind < 0.7:
            block += "| option | default | meaning |\n|---|---|---|\n"
            block += "".join(f"| `{rng.choice(KEYWORDS)}` | `{rng.randint(0, 512)}` | {_words(rng, 6)} |\n" for _ in range(rng.randint(3, 6)))
            block += "\n"
        elif kind < 0.85:
            block += f"See [the guide](docs/guide.md), [examples](examples/) and [{name} on the web](https://{name}.example.com/).\n\n"
        else:
            block += f"> **Note:** {_words(rng, 20)}.\n\n"
        text += block
    text += f"## License\n\nLicensed under either of Apache License, Version 2.0 or MIT license at your option.\n"
    return text


def crate_spec(name, names, rng, showcase=False):
    """What every version of one crate has in common."""
    spec = {
        "description": description(rng) if (showcase or rng.random() < 0.75) else None,
        "keywords": keywords(rng) if not showcase else ["http", "client", "async", "web"],
        "categories": rng.sample(CATEGORIES, rng.choice([0, 0, 1, 1, 2, 3])),
        "license": rng.choice(LICENSES),
        "repository": f"https://git.example.com/acme/{name}" if rng.random() < 0.85 or showcase else None,
        "homepage": f"https://{name}.example.com/" if rng.random() < 0.2 or showcase else None,
        "documentation": f"https://docs.example.org/{name}" if rng.random() < 0.5 or showcase else None,
        "readme": None,
        "deps": [],
        "features": {},
    }
    if showcase or rng.random() < 0.75:
        size = SHOWCASE_README if showcase else _lognormal(rng, 3000, 1.0, 300, 20 * 1024)
        spec["readme"] = readme(name, rng, size)
    if showcase or rng.random() < 0.55:
        for dep in rng.sample(names, rng.randint(1, 4) if not showcase else 6):
            if dep != name:
                spec["deps"].append({"name": dep, "req": "^0.1", "local": True,
                                     "optional": rng.random() < 0.15, "kind": "normal"})
    if showcase or rng.random() < 0.45:
        for dep, req in rng.sample(EXTERNAL, rng.randint(1, 3) if not showcase else 4):
            spec["deps"].append({"name": dep, "req": req, "local": False, "optional": False,
                                 "kind": "dev" if rng.random() < 0.2 else "normal"})
    if showcase or rng.random() < 0.4:
        feats = rng.sample(["std", "serde", "tls", "derive", "full", "tracing", "unstable"], rng.randint(1, 4))
        spec["features"] = {f: [] for f in feats}
        spec["features"]["default"] = [feats[0]]
    return spec


def _q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def manifest(name, version, spec, index_url):
    out = [f"[package]\nname = {_q(name)}\nversion = {_q(version)}\nedition = \"2021\"\n"]
    for key in ("description", "license", "repository", "homepage", "documentation"):
        if spec[key]:
            out.append(f"{key} = {_q(spec[key])}\n")
    if spec["keywords"]:
        out.append("keywords = [" + ", ".join(map(_q, spec["keywords"])) + "]\n")
    if spec["categories"]:
        out.append("categories = [" + ", ".join(map(_q, spec["categories"])) + "]\n")
    if spec["readme"]:
        out.append('readme = "README.md"\n')
    for d in spec["deps"]:
        table = "dev-dependencies" if d["kind"] == "dev" else "dependencies"
        out.append(f"\n[{table}.{d['name']}]\nversion = {_q(d['req'])}\n")
        if d["optional"]:
            out.append("optional = true\n")
        if d["local"]:
            out.append(f"registry-index = {_q(index_url)}\n")
    if spec["features"]:
        out.append("\n[features]\n")
        for f, enables in spec["features"].items():
            out.append(f"{f} = [" + ", ".join(map(_q, enables)) + "]\n")
    return "".join(out)


def crate_bytes(name, version, spec, index_url):
    files = []
    if spec["readme"]:
        files.append(("README.md", spec["readme"].encode()))
    return synth.crate_bytes(name, version, manifest_text=manifest(name, version, spec, index_url),
                             extra_files=files)


def write_crate(out_dir, name, version, spec, index_url):
    path = os.path.join(out_dir, f"{name}-{version}.crate")
    with open(path, "wb") as f:
        f.write(crate_bytes(name, version, spec, index_url))
    return path


def _write_chunk(args):
    out_dir, jobs, index_url = args
    n = 0
    for name, versions, spec in jobs:
        for v in versions:
            write_crate(out_dir, name, v, spec, index_url)
            n += 1
    return n


def plan(n_crates, n_versions, seed):
    """[(name, versions, spec)] for n_crates crates (SHOWCASE among them) with n_versions in all."""
    rng = random.Random(seed)
    names = synth.random_names(n_crates - 1, seed, taken=[SHOWCASE])
    counts = version_counts(n_crates - 1, n_versions - SHOWCASE_VERSIONS, rng)
    out = []
    for name, count in zip(names, counts):
        out.append((name, version_list(count, rng), crate_spec(name, names, rng)))
    out.append((SHOWCASE, version_list(SHOWCASE_VERSIONS, rng), crate_spec(SHOWCASE, names, rng, showcase=True)))
    return out


def write_registry_set(out_dir, n_crates, n_versions, index_url, seed=11, workers=None):
    """Writes every version's .crate file into out_dir. Returns the plan (see `plan`)."""
    from concurrent.futures import ProcessPoolExecutor

    os.makedirs(out_dir, exist_ok=True)
    jobs = plan(n_crates, n_versions, seed)
    chunks = [(out_dir, jobs[i : i + 500], index_url) for i in range(0, len(jobs), 500)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as ex:
        written = sum(ex.map(_write_chunk, chunks))
    assert written == n_versions, (written, n_versions)
    return jobs
