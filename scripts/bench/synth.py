"""Small, valid synthetic .crate files for the benchmark (standard library only).

A .crate file is a gzip'd tar holding NAME-VERSION/Cargo.toml and NAME-VERSION/src/lib.rs.
Names are random lowercase words so the index spreads over many directories the way a real
registry's does (a common prefix would put every crate in one index directory).
"""

import gzip
import io
import os
import random
import tarfile

VERSIONS = ["0.1.0", "0.2.0", "1.0.0", "1.0.1", "1.1.0"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def canonical(name):
    return name.lower().replace("_", "-")


def random_names(count, seed, taken=()):
    """`count` distinct crate names, none equal (ignoring case and -/_) to one in `taken`."""
    rng = random.Random(seed)
    seen = {canonical(n) for n in taken}
    out = []
    while len(out) < count:
        n = "".join(rng.choice(LETTERS) for _ in range(rng.randint(5, 12)))
        if rng.random() < 0.3:
            n += "-" + "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 6)))
        if canonical(n) in seen:
            continue
        seen.add(canonical(n))
        out.append(n)
    return out


def manifest(name, version, dep=None, index_url=None):
    text = f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
    if dep:
        text += f'\n[dependencies.{dep}]\nversion = "^1"\n'
        if index_url:
            text += f'registry-index = "{index_url}"\n'
    return text


def crate_bytes(name, version, dep=None, index_url=None, payload=None, level=6,
                manifest_text=None, extra_files=()):
    """A valid .crate: Cargo.toml, src/lib.rs, and `data.bin` = payload when given (random
    payload bytes keep the .crate about that large: gzip cannot shrink them). `manifest_text`
    replaces the generated Cargo.toml; `extra_files` are (path inside the crate, bytes)."""
    root = f"{name}-{version}"
    text = manifest_text if manifest_text is not None else manifest(name, version, dep, index_url)
    files = [
        (f"{root}/Cargo.toml", text.encode()),
        (f"{root}/src/lib.rs", f"//! {name} {version}\npub fn f() -> u32 {{ 1 }}\n".encode()),
    ]
    files += [(f"{root}/{path}", data) for path, data in extra_files]
    if payload:
        files.append((f"{root}/data.bin", payload))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=level, mtime=0)


def write_crate(out_dir, name, version, dep=None, index_url=None):
    path = os.path.join(out_dir, f"{name}-{version}.crate")
    with open(path, "wb") as f:
        f.write(crate_bytes(name, version, dep, index_url))
    return path


def _write_chunk(args):
    out_dir, jobs, index_url = args
    for name, version, dep in jobs:
        write_crate(out_dir, name, version, dep, index_url)
    return len(jobs)


def write_registry_set(out_dir, n_crates, index_url, seed=1, workers=None, versions=VERSIONS,
                       with_deps=True):
    """Writes n_crates x len(versions) files into out_dir; with `with_deps`, every other crate
    depends (`^1`) on another synthetic crate of the same registry. Returns the crate names."""
    from concurrent.futures import ProcessPoolExecutor

    os.makedirs(out_dir, exist_ok=True)
    names = random_names(n_crates, seed)
    rng = random.Random(seed + 1)
    jobs = []
    for i, name in enumerate(names):
        dep = names[rng.randrange(n_crates)] if i % 2 == 0 and with_deps else None
        if dep == name:
            dep = None
        for v in versions:
            jobs.append((name, v, dep))
    chunks = [(out_dir, jobs[i : i + 5000], index_url) for i in range(0, len(jobs), 5000)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as ex:
        sum(ex.map(_write_chunk, chunks))
    return names
