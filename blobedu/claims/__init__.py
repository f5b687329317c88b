"""Every number a reader sees in the prose, and where it comes from (issue #17: "every number checked").

Theory of operation
-------------------
The README, the notebooks' markdown cells and ``notebooks/glossary.md`` stay plain markdown.  Beside
them, this package keeps a **registry**: one module per document (``readme``, ``nb00`` … ``nb09``,
``glossary``) plus ``common`` for facts
that many documents repeat.  Each entry names a number as printed and says where it comes from:

* :class:`Model` — the model computes it: ``fn()`` must return exactly the printed text.  A test
  re-runs every one, so a model change that moves a number fails until the prose follows.
* :class:`Source` — a default, a reply text, a constant read in someone else's source or an RFC:
  it carries the citation (``file:line@tag``, ``RFC 5321 §4.5.4.1``, ``postconf(5)``).
* :class:`Measured` — a benchmark figure: it names the benchmark that prints it.
* :class:`Input` — a scenario's own input (the 6 of "a 6-hour outage"): it names the run it feeds.

:func:`numbers` finds the numbers in a document's prose: durations (``28 h``, ``1d04h``,
``5m19s``), counts, sizes, percentages and reply codes (``451``, ``4.3.5``).  It skips what is an
identifier, not a claim: versions (``0.16.18``, ``v0.16.2``, ``Postfix 3.7.11``), citations
(``data.rs:829``, ``§3``, ``RFC 5321``, ``line 38``), notebook numbers, links, code blocks, and
inline code unless it is a reply (```451 4.3.5 …```, ```Status: 5.0.0```) — commands, settings
and fault specs in backticks are the reader's inputs.  ``tests/test_prose_numbers.py`` fails on any
number that no entry of its document (or ``common``) covers, on any :class:`Model` whose ``fn()``
no longer prints its number, and on any document entry whose text is gone from its document.

To register a new sentence: add one line to the document's module, e.g.
``Model("28 h", lambda: hours(tol("stalwart").longest_outage_delivered))``.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Claim:
    """A number as printed in a document."""

    text: str

    def tokens(self) -> list[str]:
        """The numbers this entry covers (its text may be a phrase such as ``22 × 30 s + 319 s``)."""
        return numbers(self.text, prose=False)


@dataclass(frozen=True)
class Model(Claim):
    """A number the model computes: ``fn()`` returns the printed text exactly."""

    fn: Callable[[], str] = lambda: ""
    note: str = ""

    def check(self) -> Optional[str]:
        """None if the model still prints ``text``, else what it prints now."""
        got = self.fn()
        return None if got == self.text else got


@dataclass(frozen=True)
class Source(Claim):
    """A number read in a source: a default, a constant, a reply text; ``where`` cites it."""

    where: str = ""


@dataclass(frozen=True)
class Input(Claim):
    """A scenario's own input, not a claim (the 6 of "a 6-hour outage"); ``where`` names the run it feeds."""

    where: str = ""


@dataclass(frozen=True)
class Measured(Claim):
    """A benchmark figure; ``where`` names the benchmark that prints it."""

    where: str = ""


# -- finding the numbers in prose -----------------------------------------------------------------------

_UNIT = (r"(?:ms|s|m|h|d|seconds?|minutes?|min|hours?|days?|weeks?|KiB|MiB|GiB|KB|MB|GB|bytes|"
         r"requests?|messages?|sessions?|attempts?|tries|copies|×|%|x)")
_TOKEN = re.compile(
    r"(?<![\w.])(?:"
    r"[245]\.\d{1,3}\.\d{1,3}"                                     # an enhanced status code
    r"|\d+d(?:\d+h)?(?:\d+m)?(?:\d+s)?|\d+h\d+m(?:\d+s)?|\d+m\d+s"  # a compound duration: 1d04h02m, 5m19s
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?(?:\s?" + _UNIT + r")?(?![\w])"  # 10,000 messages, 65,536 s
    r"|\d+(?:\.\d+)?(?:\s?" + _UNIT + r")?(?![\w])"                 # 28 h, 30s, 451, 0.39 ms, 86%
    r")"
)

#: Identifiers and citations: removed before numbers are looked for.
_SKIP = [
    re.compile(r"(?m)^(?: {4}|\t).*$"),                               # indented code (README)
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\]\([^)]*\)"),                                      # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"\bdata:[\w/+;,=-]+"),
    re.compile(r"[\w./-]+\.(?:rs|c|h|py|toml|md|ipynb|json|txt|lock|sh|cfg|default)\b"
               r"(?:@[\w.+-]*\w)?(?::\d[\d,\s-]*\d|:\d)?"),               # files, with @tag and :lines
    re.compile(r"@(?:v|exim-|V)?[\d.]*\d\w*(?::\d[\d,\s-]*\d|:\d)?"),   # @v0.16.18, @exim-4.96:893
    re.compile(r"(?i)\b(?:lines?|§+|#|RFC|issue|notebooks?|Python|Postfix|Exim|Stalwart|Sendmail|"
               r"rust-s3|hyper|reqwest|JupyterLab|ipywidgets|moto|boto3|botocore|Chromium|Playwright|"
               r"exim4-base|exim4|jupyter|nbval|v|version|versions|release|tag|maddy|James|TMail|Cyrus|"
               r"Dovecot|WildDuck|chasquid|mox|Debian|commit)\s?[§#]?\s?\d[\w.,+~-]*(?:\s?(?:and|to|or|–|-|…)\s?v?\d[\w.+~-]*)*"),
    re.compile(r"[§#]\s?\d[\d.]*\d|[§#]\s?\d"),                      # §4.5.3.2.6, #11
    re.compile(r"\b127\.0\.0\.1\b|\b\d+(?:\.\d+){3}\b"),               # addresses
    re.compile(r"(?m)^\s*\d+\.\s"),                                    # ordered-list markers
    re.compile(r"(?<![\w.])0\d(?![\w.,:])"),                          # a notebook's number: 00, 03
    re.compile(r"(?<![\d.])v?0\.\d+(?:\.\d+|\.x)?\b(?!\s?(?:ms|s|%|MB|GB|MiB|GiB)\b)"),  # a version: 0.16.18, v0.8.2
    re.compile(r"\bv\d+(?:\.\d+)+\w*"),                               # v3.7.11
    re.compile(r"\b\d+\.\d+-\d+\+deb\w+"),                           # a Debian package version
    re.compile(r"\b\d\d_[a-z_]+\b"),                                  # 03_tempfail_flow
    re.compile(r"\b[0-9a-f]{7,40}\b"),                                # commit hashes
    re.compile(r"\b(?:RFC|rfc)\s?\d+"),
    re.compile(r"\b\d{4}-\d\d-\d\d\b"),                               # dates
]
_CODE_SPAN = re.compile(r"`([^`]+)`")
#: An inline code span that is a reply or a DSN field is checked; any other is the reader's input.
_REPLY_SPAN = re.compile(r"^(?:[2-5]\d\d[ -]|Status: |Diagnostic-Code: )")


_FENCE = re.compile(r"```.*?```", re.S)


def _strip(text: str, prose: bool) -> str:
    text = _FENCE.sub(" ", text)  # before code spans: a fence's backticks would pair with a span's
    if prose:
        text = _CODE_SPAN.sub(lambda m: f" {m.group(1)} " if _REPLY_SPAN.match(m.group(1)) else " ", text)
    for pattern in _SKIP:
        text = pattern.sub(" ", text)
    return text


def numbers(text: str, prose: bool = True) -> list[str]:
    """The numbers in ``text`` as printed (whitespace folded), identifiers and citations left out."""
    return [re.sub(r"\s+", " ", m.group(0)) for m in _TOKEN.finditer(_strip(text, prose))]


# -- the documents and their registries -----------------------------------------------------------------

def documents(root: Path = ROOT) -> dict[str, str]:
    """Every document a reader sees: the README, each notebook's markdown and the glossary, by path from the root."""
    docs = {"README.md": (root / "README.md").read_text(encoding="utf-8")}
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        docs[f"notebooks/{path.name}"] = "\n\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    glossary = root / "notebooks" / "glossary.md"
    if glossary.is_file():  # the one glossary every notebook links (#19 item 6)
        docs["notebooks/glossary.md"] = glossary.read_text(encoding="utf-8")
    return docs


def module_for(document: str) -> str:
    """The registry module of a document: ``README.md`` -> ``readme``; ``notebooks/03_x.ipynb`` -> ``nb03``."""
    if document == "README.md":
        return "readme"
    if document == "notebooks/glossary.md":
        return "glossary"
    match = re.match(r"^notebooks/(\d\d)_", document)
    if not match:
        raise ValueError(f"no registry module for {document}")
    return f"nb{match.group(1)}"


def registry(document: str) -> list[Claim]:
    """The entries of one document (without ``common``); an unregistered document has none."""
    try:
        module = importlib.import_module(f"{__name__}.{module_for(document)}")
    except ModuleNotFoundError:
        return []
    return list(module.CLAIMS)


def common_claims() -> list[Claim]:
    """The entries every document may use."""
    return list(importlib.import_module(f"{__name__}.common").CLAIMS)


def uncovered(document: str, text: str, extra: Iterable[Claim] = ()) -> list[str]:
    """The numbers in ``text`` that no entry of ``document``, ``common`` or ``extra`` covers."""
    covered = {t for claim in [*registry(document), *common_claims(), *extra] for t in claim.tokens()}
    return sorted({n for n in numbers(text) if n not in covered}, key=lambda n: text.find(n))
