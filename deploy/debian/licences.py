"""The ``copyright`` file of a package, from the installed metadata of every component it bundles.

Each distribution (``*.dist-info``) under the package's site directories is listed with its version,
authors and licence, read from ``License-Expression`` (PEP 639), else a short ``License`` field, else
the ``License ::`` classifiers. A licence that is not one of :data:`FREE` — or none at all — is an
error: the build stops and names the component (``python3 deploy/debian/licences.py SITE…`` checks).
"""
from __future__ import annotations

import importlib.metadata
import re
import sys
from email.message import Message
from pathlib import Path
from typing import cast

#: SPDX identifiers (and the classifier names that mean them) of the free licences packages may bundle.
FREE = {
    "MIT", "MIT-CMU", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "Apache-2.0", "ISC", "PSF-2.0",
    "Python-2.0", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "MPL-2.0",
    "OFL-1.1", "Unlicense", "0BSD", "HPND", "ZPL-2.1", "EPL-2.0", "CC0-1.0", "Zlib", "GPL-2.0-or-later",
    "GPL-3.0-only", "GPL-3.0-or-later", "MIT-0", "LGPL-2.0-or-later",
}
#: Names in ``License`` fields and classifiers, as their SPDX identifier.
ALIASES = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT", "mit-cmu": "MIT-CMU",
    "bsd": "BSD-3-Clause", "bsd license": "BSD-3-Clause", "new bsd license": "BSD-3-Clause",
    "bsd-3-clause": "BSD-3-Clause", "3-clause bsd license": "BSD-3-Clause", "bsd-2-clause": "BSD-2-Clause",
    "apache 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0", "apache software license": "Apache-2.0",
    "apache license 2.0": "Apache-2.0", "apache license, version 2.0": "Apache-2.0", "apache 2": "Apache-2.0",
    "isc": "ISC", "isc license": "ISC", "isc license (iscl)": "ISC",
    "python software foundation license": "PSF-2.0", "psf": "PSF-2.0", "psf-2.0": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "mpl-2.0": "MPL-2.0", "mpl 2.0": "MPL-2.0",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.1-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.1-only",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only", "lgpl": "LGPL-2.1-or-later",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "lgplv2+": "LGPL-2.1-or-later", "lgpl-2.1-or-later": "LGPL-2.1-or-later",
    "sil open font license 1.1 (ofl-1.1)": "OFL-1.1", "ofl-1.1": "OFL-1.1",
    "the unlicense (unlicense)": "Unlicense", "public domain": "Unlicense",
    "zope public license": "ZPL-2.1", "historical permission notice and disclaimer (hpnd)": "HPND",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0", "zlib/libpng license": "Zlib",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only", "mit-0": "MIT-0",
    "gnu library or lesser general public license (lgpl)": "LGPL-2.0-or-later",
    "gnu general public license (gpl)": "GPL-2.0-or-later",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
}
#: The project's own licence (its own code, not a bundled component).
OWN = ("yizhan", "LicenseRef-Proprietary")


class LicenceError(Exception):
    """A bundled component's licence is unknown or not free; the message names each."""


def _meta(dist: importlib.metadata.Distribution) -> Message:
    """The distribution's metadata as the email message it is (``get`` returns None for a missing field)."""
    return cast(Message, dist.metadata)


def licence(dist: importlib.metadata.Distribution) -> str:
    """The SPDX expression of one distribution's licence, or ``""`` when its metadata does not say."""
    meta = _meta(dist)
    if meta.get("License-Expression"):
        return meta["License-Expression"].strip()
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 80:
        spdx = ALIASES.get(text.lower(), text)
        if _free(spdx):
            return spdx
    found = [ALIASES.get(c.split("::")[-1].strip().lower(), c.split("::")[-1].strip())
             for c in meta.get_all("Classifier") or [] if c.startswith("License ::") and c.count("::") >= 2]
    found = [f for f in found if f not in ("OSI Approved",)]
    if found:
        return " OR ".join(dict.fromkeys(found))
    return ALIASES.get(text.lower(), text.splitlines()[0][:60] if text else "")


def _free(expression: str) -> bool:
    """One alternative of an ``OR`` has only free parts (SPDX without nested parentheses)."""
    exceptions = {"LLVM-exception", "Classpath-exception-2.0"}
    for alternative in re.split(r"\s+OR\s+", expression.replace("(", " ").replace(")", " ")):
        parts = [p.strip() for p in re.split(r"\s+(?:AND|WITH)\s+", alternative) if p.strip()]
        if parts and all(p in FREE or p in exceptions for p in parts):
            return True
    return False


def components(sites: list[Path]) -> list[tuple[str, str, str, str]]:
    """``(name, version, authors, licence)`` of every distribution under ``sites``, sorted by name."""
    rows = {}
    for dist in importlib.metadata.distributions(path=[str(s) for s in sites]):
        meta = _meta(dist)
        authors = meta.get("Author") or meta.get("Author-email") or meta.get("Maintainer") or "its authors"
        rows[meta["Name"].lower()] = (meta["Name"], dist.version, " ".join(authors.split()), licence(dist))
    return [rows[k] for k in sorted(rows)]


def check(rows: list[tuple[str, str, str, str]]) -> None:
    """Raise :class:`LicenceError` naming every component whose licence is unknown or not free."""
    bad = [f"{name} {version}: {lic or 'no licence in its metadata'}" for name, version, _, lic in rows
           if (name.lower(), lic) != OWN and not _free(lic)]
    if bad:
        raise LicenceError("components with an unknown or non-free licence: " + "; ".join(bad))


def copyright_file(package: str, rows: list[tuple[str, str, str, str]]) -> str:
    """A Debian machine-readable ``copyright`` file listing ``rows``."""
    out = ["Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/", f"Upstream-Name: {package}",
           "Comment: generated at build time from the installed metadata of every bundled component", ""]
    for name, version, authors, lic in rows:
        out += [f"Files: {name} {version}", f"Copyright: {authors}", f"License: {lic}", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    """Print the components under the given site directories and fail on a bad licence."""
    rows = components([Path(a) for a in argv])
    print(copyright_file("yizhan", rows))
    try:
        check(rows)
    except LicenceError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
