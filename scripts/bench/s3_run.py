"""The object-storage benchmark (issue 12), run by scripts/bench-s3.sh.

Against a real S3 server (scripts/moto-server.py on 127.0.0.1, which counts the requests it
answers), for a registry of each size in S3_SIZES versions:
  1. store requests of one `ktra add` of one version (a new crate, and a new version of an
     existing crate), with the site and without it, counted by the server;
  2. peak RSS of that add;
then 8 writers adding 25 versions each of one crate at once, against one writer doing the same
200 adds, with `ktra verify` afterwards. Prints a markdown table and writes JSON results.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import synth  # noqa: E402

KTRA = os.environ["KTRA_BIN"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.environ.get("S3_WORK") or tempfile.mkdtemp(prefix="ktra-bench-s3-")
SIZES = [int(s) for s in os.environ.get("S3_SIZES", "1000,10000").split(",")]
WRITERS = int(os.environ.get("S3_WRITERS", "8"))
EACH = int(os.environ.get("S3_EACH", "25"))


class Moto:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts", "moto-server.py"), "--port", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(WORK, "moto.log"), "wb"))
        self.port = int(self.proc.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=b""):
        req = urllib.request.Request(self.endpoint + path, data=body or None, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return r.read()

    def bucket(self, name, public):
        self.request("PUT", f"/{name}")
        if public:
            policy = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*"}]}).encode()
            self.request("PUT", f"/{name}?policy", policy)

    def counts(self):
        return json.loads(self.request("GET", "/_ktra/requests"))

    def env(self):
        env = dict(os.environ)
        env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_REGION="us-east-1", AWS_ENDPOINT_URL=self.endpoint,
                   AWS_ALLOW_HTTP="true", NO_COLOR="1")
        return env


def ktra(moto, args, check=True):
    r = subprocess.run([KTRA, *args], env=moto.env(), capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"ktra {' '.join(args)} failed:\n{r.stderr}")
    return r


def init(moto, name):
    moto.bucket(name, public=True)
    moto.bucket(f"{name}-state", public=False)
    settings = os.path.join(WORK, f"{name}-settings")
    ktra(moto, ["init", settings, "--url", f"{moto.endpoint}/{name}", "--storage",
                f"s3://{name}", "--state", f"s3://{name}-state"])
    return settings


def set_site(settings, enabled):
    path = os.path.join(settings, "ktra.toml")
    text = open(path).read().replace("[site]\nenabled = false\n", "")
    if not enabled:
        text += "\n[site]\nenabled = false\n"
    open(path, "w").write(text)


def counted_add(moto, settings, crate):
    before = moto.counts()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", KTRA, "-r", settings, "add", crate],
                       env=moto.env(), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"ktra add {crate} failed:\n{r.stderr}")
    after = moto.counts()
    rss_kib = int(r.stderr.strip().splitlines()[-1])
    diff = {m: after.get(m, 0) - before.get(m, 0) for m in after}
    diff = {m: n for m, n in diff.items() if n}
    return sum(diff.values()), diff, rss_kib


def sizes(moto, results):
    for size in SIZES:
        name = f"reg{size}"
        settings = init(moto, name)
        files = os.path.join(WORK, f"crates-{size}")
        names = synth.write_registry_set(files, size // len(synth.VERSIONS), "", seed=size,
                                         with_deps=False)
        t = time.monotonic()
        ktra(moto, ["-r", settings, "add", files])
        fill = time.monotonic() - t
        extra = os.path.join(WORK, f"extra-{size}")
        os.makedirs(extra, exist_ok=True)
        row = {"versions": size, "fill_seconds": round(fill, 1)}
        for site in (True, False):
            set_site(settings, site)
            tag = "site" if site else "nosite"
            new = synth.write_crate(extra, f"fresh-{tag}", "1.0.0")
            row[f"new_crate_{tag}"] = counted_add(moto, settings, new)
            more = synth.write_crate(extra, names[0], f"9.0.{int(site)}")
            row[f"new_version_{tag}"] = counted_add(moto, settings, more)
        ktra(moto, ["-r", settings, "verify"])
        results["sizes"].append(row)
        print(f"[bench-s3] {row}", file=sys.stderr)


def adds(moto, settings, paths):
    failures = []
    for p in paths:
        r = ktra(moto, ["-r", settings, "add", p], check=False)
        if r.returncode != 0:
            failures.append(r.stderr)
    return failures


def writers(moto, results):
    files = os.path.join(WORK, "contended")
    os.makedirs(files, exist_ok=True)
    total = WRITERS * EACH
    paths = [synth.write_crate(files, "contended", f"1.{w}.{i}")
             for w in range(WRITERS) for i in range(EACH)]
    one = init(moto, "one-writer")
    t = time.monotonic()
    failures = adds(moto, one, paths)
    single = time.monotonic() - t
    many = init(moto, "many-writers")
    out = [None] * WRITERS
    threads = [threading.Thread(target=lambda w=w: out.__setitem__(
        w, adds(moto, many, paths[w * EACH:(w + 1) * EACH]))) for w in range(WRITERS)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    parallel = time.monotonic() - t
    failures += [f for o in out for f in o]
    index = moto.request("GET", "/many-writers/index/co/nt/contended").decode()
    present = len([line for line in index.splitlines() if line.strip()])
    verify = ktra(moto, ["-r", many, "verify"], check=False).returncode == 0
    # The site converged: the crate's page and its search part show the newest version.
    newest = f"1.{WRITERS - 1}.{EACH - 1}"
    page = moto.request("GET", "/many-writers/c/contended.html").decode()
    part = moto.request("GET", "/many-writers/search/c.json").decode()
    site = newest in page and f'"{newest}"' in part
    results["writers"] = {"writers": WRITERS, "each": EACH, "versions": total,
                          "present": present, "failures": len(failures),
                          "verify": verify, "site_converged": site,
                          "one_writer_seconds": round(single, 1),
                          "parallel_seconds": round(parallel, 1)}
    print(f"[bench-s3] {results['writers']}", file=sys.stderr)
    for f in failures[:3]:
        print(f, file=sys.stderr)


def table(results):
    print("| Measure | Result |\n|---|---|")
    for row in results["sizes"]:
        v = row["versions"]
        for key, label in (("new_crate_site", "new crate, site on"),
                           ("new_crate_nosite", "new crate, site off"),
                           ("new_version_site", "new version, site on"),
                           ("new_version_nosite", "new version, site off")):
            n, by, rss = row[key]
            print(f"| store requests of one add into {v:,} versions, {label} | {n} {by}; "
                  f"peak RSS {rss / 1024:.1f} MiB |")
        print(f"| filling {v:,} versions with one `ktra add` | {row['fill_seconds']} s |")
    w = results.get("writers")
    if w:
        print(f"| {w['writers']} writers x {w['each']} versions of one crate | "
              f"{w['parallel_seconds']} s against {w['one_writer_seconds']} s for one writer; "
              f"{w['present']} of {w['versions']} present, {w['failures']} failures, "
              f"verify {'passed' if w['verify'] else 'FAILED'}, site "
              f"{'converged' if w['site_converged'] else 'STALE'} |")


def main():
    os.makedirs(WORK, exist_ok=True)
    moto = Moto()
    results = {"sizes": []}
    try:
        sizes(moto, results)
        writers(moto, results)
    finally:
        moto.proc.kill()
    with open(os.path.join(WORK, "s3-results.json"), "w") as f:
        json.dump(results, f, indent=1)
    table(results)
    if not os.environ.get("S3_KEEP"):
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
