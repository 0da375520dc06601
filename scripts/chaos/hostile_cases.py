"""The hostile inputs of hostile.py, as data: tarballs for `ktra add`, publish bodies, URLs,
headers, tokens and settings. Each case names the outcome a hardened ktra must give."""

import io
import json
import tarfile
import zlib

import common as c

# --- tarballs (given to `ktra add FILE`; every one must be refused and change nothing) ------


def gzip_bomb(name, vers, size):
    """A crate whose src/lib.rs unpacks to `size` zero bytes (about size/1000 compressed)."""
    root = "%s-%s" % (name, vers)
    head = io.BytesIO()
    with tarfile.open(fileobj=head, mode="w", format=tarfile.GNU_FORMAT) as tar:
        m = c.manifest(name, vers).encode()
        info = tarfile.TarInfo(root + "/Cargo.toml")
        info.size = len(m)
        tar.addfile(info, io.BytesIO(m))
    data = head.getvalue()
    # tarfile pads the archive's end; keep only the Cargo.toml entry (header + padded data)
    data = data[:512 + ((len(m) + 511) // 512) * 512]
    big = tarfile.TarInfo(root + "/src/lib.rs")
    big.size = size
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [comp.compress(data + big.tobuf(format=tarfile.GNU_FORMAT))]
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        out.append(comp.compress(chunk))
    out.append(comp.compress(bytes(1024)))
    out.append(comp.flush())
    return b"".join(out)


def tar_cases(ctx):
    """(case, file name, bytes) for `ktra add`; each case has a crate name of its own."""
    out = []
    for i, (label, build) in enumerate(TAR_CASES):
        n = "evil%d" % i
        data = build(n, "%s-1.0.0" % n, ctx)
        out.append((label, "%s-1.0.0.crate" % n, data))
    out.append(("same name as an existing crate but `_`", "base_ok-1.0.0.crate", c.simple_crate("base_ok", "1.0.0")))
    out.append(("existing version, other bytes", "base-ok-1.0.0.crate",
                c.simple_crate("base-ok", "1.0.0", "# changed\n")))
    return out


def _toml(n, r, extra="", replace=None):
    text = c.manifest(n, "1.0.0", extra)
    if replace:
        text = text.replace("[lib]", replace + "\n[lib]")
    return ("file", r + "/Cargo.toml", text.encode())


def _lib(r):
    return ("file", r + "/src/lib.rs", b"pub fn f() {}\n")


def _with(*extra):
    """A well-formed crate plus the given entries (functions of the top folder)."""
    return lambda n, r, ctx: c.tarball([_toml(n, r), _lib(r)] + [e(r) for e in extra])


def _manifest(extra="", replace=None):
    return lambda n, r, ctx: c.tarball([_toml(n, r, extra, replace), _lib(r)])


def _dep_path(target_key):
    def build(n, r, ctx):
        target = "../" * ctx["public_depth"] + ctx[target_key].lstrip("/")
        return c.tarball([_toml(n, r, '[dependencies.dep]\nversion = "1"\npackage = "%s"\nregistry-index = "%s"\n'
                                % (target, ctx["own_index"])), _lib(r)])
    return build


TAR_CASES = [
    ("path traversal ../", _with(lambda r: ("file", r + "/../../escape.rs", b"x"))),
    ("absolute path", _with(lambda r: ("file", "/tmp/ktra-chaos-abs.rs", b"x"))),
    ("entry outside the top folder", _with(lambda r: ("file", "other-1.0.0/x.rs", b"x"))),
    ("symlink entry", _with(lambda r: ("symlink", r + "/link", "/etc/passwd"))),
    ("hard link entry", _with(lambda r: ("hardlink", r + "/hl", "/etc/passwd"))),
    ("fifo entry", _with(lambda r: ("fifo", r + "/pipe", None))),
    (".. inside the top folder", _with(lambda r: ("file", r + "/src/../../../x", b"x"))),
    ("gzip bomb (1 GiB of zeros)", lambda n, r, ctx: gzip_bomb(n, "1.0.0", 1 << 30)),
    ("gzip stream cut short (no trailer)", lambda n, r, ctx: c.simple_crate(n, "1.0.0")[:-40]),
    ("not gzip", lambda n, r, ctx: b"this is not a crate at all" * 10),
    ("truncated gzip", lambda n, r, ctx: c.simple_crate(n, "1.0.0")[:60]),
    ("empty file", lambda n, r, ctx: b""),
    ("name differs from the file name", lambda n, r, ctx: c.simple_crate("other", "1.0.0")),
    ("version differs from the file name", lambda n, r, ctx: c.simple_crate(n, "2.0.0")),
    ("two Cargo.toml entries", lambda n, r, ctx: c.tarball(
        [_toml(n, r), _toml(n, r, '[dependencies]\nx = "1"\n'), _lib(r)])),
    ("regular file named like the top folder", lambda n, r, ctx: c.tarball(
        [("file", r, b"not a folder"), _toml(n, r), _lib(r)])),
    ("Cargo.toml over 9 MiB", _manifest("# " + "x" * (9 << 20) + "\n" + '[dependencies]\nhidden = "1"\n')),
    ("300,000 features", _manifest("[features]\n" + "".join("f%d = []\n" % i for i in range(300000)))),
    ("dependency named ../../evil", _manifest('[dependencies."../../evil"]\nversion = "1"\n')),
    ("package = ../../../dev/zero", _dep_path("zero")),
    ("package = path of a named pipe", _dep_path("fifo")),
    ("package = ../../evil on a crates.io dependency",
     _manifest('[dependencies.x]\nversion = "1"\npackage = "../../evil"\n')),
    ("no Cargo.toml", lambda n, r, ctx: c.tarball([_lib(r)])),
    ("Cargo.toml is not TOML", lambda n, r, ctx: c.tarball([("file", r + "/Cargo.toml", b"[package\nname = "), _lib(r)])),
    ("crate name with a space", lambda n, r, ctx: c.tarball([("file", r + "/Cargo.toml",
                                                              c.manifest("ev il", "1.0.0").encode()), _lib(r)])),
    ("version is not semver", lambda n, r, ctx: c.tarball([("file", r + "/Cargo.toml",
                                                            c.manifest(n, "1.0").encode()), _lib(r)])),
    ("six keywords", _manifest(replace='keywords = ["a", "b", "c", "d", "e", "f"]')),
    ("a keyword of 40 characters", _manifest(replace='keywords = ["%s"]' % ("k" * 40))),
    ("description of 100,000 characters", lambda n, r, ctx: c.tarball([("file", r + "/Cargo.toml", c.manifest(
        n, "1.0.0").replace("chaos test crate", "d" * 100000).encode()), _lib(r)])),
    ("10,000 dependencies", _manifest("[dependencies]\n" + "".join('d%d = "1"\n' % i for i in range(10000)))),
]


# --- publish bodies (PUT /api/v1/crates/new) -------------------------------------------------


def body_cases(token):
    """(name, headers, body, content-length override, acceptable statuses). Status 0: the server
    answered before reading the whole body and reset the connection, which is a refusal too
    (hostile.py checks the server still serves)."""
    auth = [("Authorization", token)]
    good = c.simple_crate("bodycase", "1.0.0")
    meta = json.dumps({"name": "bodycase", "vers": "1.0.0", "deps": [], "features": {}}).encode()
    le = lambda n: n.to_bytes(4, "little")  # noqa: E731
    bad4xx = (400, 413, 422)
    return [
        ("empty body", auth, b"", None, bad4xx),
        ("json length past the end", auth, le(1000) + meta, None, bad4xx),
        ("json length 0xFFFFFFFF", auth, le(0xFFFFFFFF) + meta, None, bad4xx),
        ("crate length past the end", auth, le(len(meta)) + meta + le(len(good) + 100) + good, None, bad4xx),
        ("crate length 0xFFFFFFFF", auth, le(len(meta)) + meta + le(0xFFFFFFFF) + good, None, bad4xx),
        ("truncated after the json", auth, le(len(meta)) + meta, None, bad4xx),
        ("json is not JSON", auth, c.publish_body("x", "1", good, json_override=b"{not json"), None, bad4xx),
        ("json names another crate", auth, c.publish_body("other", "1.0.0", good), None, bad4xx),
        ("20 MiB of json", auth, c.publish_body("x", "1", good, json_override=b'{"a":"' + b"x" * (20 << 20) + b'"}'),
         None, bad4xx),
        ("trailing bytes after the crate", auth, c.publish_body("bodycase", "1.0.0", good) + b"junk", None, bad4xx),
        ("a hostile tarball inside", auth, c.publish_body("evil", "1.0.0", c.tarball(
            [("file", "evil-1.0.0/Cargo.toml", c.manifest("evil", "1.0.0").encode()),
             ("file", "evil-1.0.0/../../x", b"x")])), None, bad4xx),
        ("40 MiB crate (over the limit)", auth, c.publish_body("bodycase", "1.0.0", bytes(40 << 20)), None, (0, 413)),
        ("Content-Length larger than what is sent", auth, c.publish_body("bodycase", "1.0.0", good), 1 << 20,
         (0, 400, 408, 413)),
        ("Content-Length: -1", auth, b"", "-1", (400, 411, 413)),
        ("60 MiB body without a token", [], bytes(60 << 20), None, (0, 401, 413)),
    ]


def owners_bomb_body():
    return b'{"users":["' + b"a" * (100 << 20) + b'"]}'


# --- URLs ------------------------------------------------------------------------------------

URL_CASES = [
    "/../ktra.toml", "/index/../../ktra.toml", "/%2e%2e/ktra.toml", "/%2e%2e%2fktra.toml",
    "/..%2f..%2fetc/passwd", "/index/%00", "/../state/audit.jsonl", "/crates/../../ktra.toml",
    "/%252e%252e/ktra.toml", "/..\\ktra.toml", "/index/..%5c..%5cktra.toml", "/./../ktra.toml",
    "/index.git/../../state/tokens.json", "//etc/passwd", "/" + "a" * 100000, "/" + "a/" * 5000,
]

# --- settings (ktra.toml variants; `ktra verify` and `ktra add` must refuse them clearly) ----


def settings_cases(text):
    """(name, replacement ktra.toml text or a callable on the path) from the valid `text`."""
    nested = "a = " + "[" * 100000 + "]" * 100000 + "\n"
    return [
        ("unknown key", text + "\nsurprise = 1\n"),
        ("max-crate-size is a string", text.replace("max-crate-size = 10485760", 'max-crate-size = "big"')),
        ("max-crate-size = -1", text.replace("max-crate-size = 10485760", "max-crate-size = -1")),
        ("max-crate-size over u64", text.replace("max-crate-size = 10485760", "max-crate-size = 18446744073709551616")),
        ("url is not a URL", "\n".join(l if not l.startswith("url =") else 'url = "not a url"'
                                       for l in text.splitlines()) + "\n"),
        ("version = 999", "\n".join(l if not l.startswith("version =") else "version = 999"
                                    for l in text.splitlines()) + "\n"),
        ("empty file", ""),
        ("binary garbage", "\x00\x01\x02\xff"),
        ("100,000 nested arrays", text + nested),
        ("a key twice", text + "\nname = \"again\"\n"),
        ("[site] enabled is a string", text + '\n[site]\nenabled = "yes"\n'),
        ("index-aliases is a number", text.replace("[git]", "index-aliases = 5\n[git]", 1)),
        ("git.remote starts with a dash", "git.remote"),
        ("ktra.toml is a folder", "folder"),
        ("ktra.toml is a symlink to /dev/zero", "zero"),
        ("[mirror] unknown key", text + '\n[mirror]\nupstream = "sparse+http://127.0.0.1:9/"\nbogus = 1\n'),
    ]
