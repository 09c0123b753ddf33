"""The independent check for tests/scan.rs: which advisories of the seed data affect the
PyPI, npm, crates.io and Debian packages given on stdin ("ecosystem name version" lines).

Written from the OSV schema's evaluation rules, with Debian's python3-packaging for PEP 440,
`dpkg --compare-versions` for Debian, and a SemVer 2.0 precedence of its own, so it shares no code with the Rust matcher.
Prints "id|ecosystem|name|version" lines."""

import functools
import json
import re
import subprocess
import sys
import tarfile

from packaging.version import InvalidVersion, Version


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def semver_key(text):
    text = text.strip().lstrip("v=")
    text = text.split("+", 1)[0]
    core, _, pre = text.partition("-")
    parts = (core.split(".") + ["0", "0", "0"])[:3]
    nums = tuple(int(p) for p in parts)
    if not pre:
        return (nums, 1, ())
    ids = []
    for ident in pre.split("."):
        ids.append((0, int(ident), "") if ident.isdigit() else (1, 0, ident))
    return (nums, 0, tuple(ids))


@functools.total_ordering
class Dpkg:
    """A Debian version, ordered by dpkg itself."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return dpkg_compare(self.text, "eq", other.text)

    def __lt__(self, other):
        return dpkg_compare(self.text, "lt", other.text)


@functools.lru_cache(maxsize=None)
def dpkg_compare(a, op, b):
    return subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0


def key(ecosystem, text):
    if ecosystem == "PyPI":
        return Version(text)
    if ecosystem.startswith("Debian"):
        return Dpkg(text)
    return semver_key(text)


def affected(ecosystem, entry, version):
    try:
        installed = key(ecosystem, version)
    except (InvalidVersion, ValueError):
        return False
    for listed in entry.get("versions") or []:
        try:
            if key(ecosystem, listed) == installed:
                return True
        except (InvalidVersion, ValueError):
            pass
    for rng in entry.get("ranges") or []:
        if rng.get("type") == "GIT":
            continue
        try:
            if in_range(ecosystem, rng, installed):
                return True
        except (InvalidVersion, ValueError):
            continue
    return False


def in_range(ecosystem, rng, installed):
    events = rng.get("events") or []
    limits = [e["limit"] for e in events if "limit" in e]
    if limits and not any(l == "*" or installed < key(ecosystem, l) for l in limits):
        return False
    ordered = []
    for e in events:
        (kind, value), = e.items()
        if kind == "limit":
            continue
        at = None if (kind == "introduced" and value == "0") else key(ecosystem, value)
        ordered.append((at, kind))
    ordered.sort(key=lambda p: (p[0] is not None, p[0] if p[0] is not None else installed))
    vulnerable = False
    for at, kind in ordered:
        if kind == "introduced" and (at is None or installed >= at):
            vulnerable = True
        elif kind == "fixed" and installed >= at:
            vulnerable = False
        elif kind == "last_affected" and installed > at:
            vulnerable = False
    return vulnerable


def main():
    seed = sys.argv[1]
    wanted = {}
    for line in sys.stdin:
        ecosystem, name, version = line.split()
        if ecosystem == "PyPI":
            name = pep503(name)
        wanted.setdefault((ecosystem, name), set()).add(version)
    for archive in ("pypa", "nswg-npm", "rustsec", "debian"):
        with tarfile.open(f"{seed}/{archive}.tar.gz") as tar:
            for member in tar:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                record = json.load(tar.extractfile(member))
                if record.get("withdrawn"):
                    continue
                for entry in record.get("affected") or []:
                    package = entry.get("package") or {}
                    ecosystem = package.get("ecosystem")
                    name = package.get("name", "")
                    if ecosystem == "PyPI":
                        name = pep503(name)
                    if (ecosystem, name) not in wanted:
                        continue
                    if (entry.get("database_specific") or {}).get("informational"):
                        continue
                    for version in wanted.get((ecosystem, name), ()):
                        if affected(ecosystem, entry, version):
                            print(f"{record['id']}|{ecosystem}|{name}|{version}")


main()
