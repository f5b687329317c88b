"""Links to the notebooks for a forum answer, the README and the Binder badge. No behaviour here.

Every notebook answers one question a mail admin asks about Stalwart when its S3 blob store is
unreachable ("Is there a WAL that holds the blob data until it can write again, or a memory
cache?"). :data:`NOTEBOOKS` maps each notebook file to that question and a one-line answer;
the functions below turn a row into links that open the notebook on Binder (runnable: the model runs
there), as a static page on GitHub Pages (read-only, written by ``make site``: its sliders switch between
stored figures of real runs with no kernel) or on nbviewer (read-only).

Links are pinned to a tag or a commit SHA: a branch such as ``main`` moves, and a forum answer
that links to a branch stops matching its text the next time the notebook changes.  blobedu
cannot ask GitHub what a name is, so it accepts what *looks like* a tag (ASCII letters, digits,
``.``, ``-``, ``_``, ``+``, path segments joined by ``/``, with a version number in the last
segment, e.g. ``v0.1.0``) or a commit SHA (7 to 40 hex digits), and refuses everything else.  A
branch named like a version (``release-1.0``) still gets through: check that the ref is a tag.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import NamedTuple
from urllib.parse import quote

from .errors import BlobeduError

NOTEBOOK_DIR = "notebooks"


class Notebook(NamedTuple):
    """One row of :data:`NOTEBOOKS`: the question it answers and the answer in one line."""

    question: str
    answer: str


NOTEBOOKS: dict[str, Notebook] = {
    "00_start_here.ipynb": Notebook(
        "What happens to a message when Stalwart can't reach S3?",
        "Stalwart has no WAL, spool or blob cache: when the blob write fails (only HTTP 5xx is retried) the "
        "SMTP transaction gets 451 4.3.5, and the sending server keeps the message and tries again later.",
    ),
    "01_retry_loop.ipynb": Notebook(
        "How does Stalwart retry a failed S3 write, and which errors does it retry?",
        "Only HTTP 500-599 is retried, maxRetries times (default 3), sleeping 1, 2, 4 s with no jitter; 429, "
        "403 and transport errors are not (v0.16's client retries a transport error once after 1 s), and a "
        "silent S3 costs the whole timeout: 61 s on v0.16, forever on v0.8.2-v0.15.x.",
    ),
    "02_verify_after_write.ipynb": Notebook(
        "What does verifyAfterWrite do, and what if my S3 silently loses writes?",
        "From v0.16.2 (default on) a HEAD follows every 2xx PUT; a missing blob re-sends the PUT from the same "
        "retry budget and, once that is spent, the sender gets a 451 and keeps the message.",
    ),
    "03_tempfail_flow.ipynb": Notebook(
        "Is my mail lost while S3 is down? Who keeps it, and for how long?",
        "Not lost: after the 451 4.3.5 the sending server keeps the message and retries; what decides delivery "
        "is its last try, not its queue lifetime, and a longer outage bounces to the author.",
    ),
    "04_no_wal.ipynb": Notebook(
        "Does Stalwart have a WAL or cache for blobs, and would one help?",
        "No: the blob is in S3 before the final dot is answered, else the sender keeps custody; a WAL would "
        "answer 250 at once but leave the only copy on one local disk for the whole outage.",
    ),
    "05_tuning.ipynb": Notebook(
        "Should I raise maxRetries or the timeout?",
        "Mostly no: maxRetries helps only with HTTP 5xx, not with an unreachable S3, and a retry loop longer "
        "than the sender waits for the final-dot reply (5 minutes for a Stalwart sender, 10 for Postfix and "
        "Exim) delivers the message twice.",
    ),
    "06_beyond_incoming_mail.ipynb": Notebook(
        "What else stops while S3 is down: reads, other writes, queued mail, bounces?",
        "Every blob read and write pays the same retry loop, then fails (IMAP body fetches, JMAP, POP3, APPEND, "
        "uploads); flags and headers keep working; and a bounce written while the blob store is down is dropped.",
    ),
    "07_fleet.ipynb": Notebook(
        "At thousands of messages a day, how much piles up while S3 is down, and how long does it take to drain?",
        "In the senders' queues; Stalwart's memory holds only sessions in flight (unless a silent S3 hangs them, "
        "0.15); after S3 returns each sender retries on its own schedule, a Stalwart one up to a day late, in "
        "bursts with no jitter.",
    ),
    "08_other_servers.ipynb": Notebook(
        "Would another mail server have kept my mail through the same outage?",
        "Depends on the design: James and Dovecot obox answer 4xx as Stalwart does; maddy answers a permanent 554, "
        "so the sender bounces at once; TMail says 250 on one of two copies; WildDuck can store it twice.",
    ),
    "09_atlas.ipynb": Notebook(
        "Is the list of hazards complete? What does a search of fault schedules find?",
        "Nothing new: a seeded search over S3, receiver, data-store and sender-store faults, shrunk to the smallest "
        "schedule and confirmed with a real run, rediscovers every listed hazard it can reach and no other.",
    ),
}

# Names that point at a moving branch rather than a fixed revision.
MOVING_REFS = frozenset({"main", "master", "head", "develop", "development", "dev", "trunk", "gh-pages"})

# matched with fullmatch: "$" would also match before a trailing newline ("blobedu\n/blobedu")
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_BAD_REF_CHARS = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//")
_SHA = re.compile(r"[0-9a-f]{7,40}")
_REF_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_VERSION_NUMBER = re.compile(r"(?:^|[^A-Za-z])v?[0-9]+(?:\.[0-9]+)*(?:$|[^A-Za-z0-9])", re.IGNORECASE)


def _shown(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "...'"


def _check_repo(repo: str) -> tuple[str, str]:
    text = (repo or "").strip(" \t")
    if not text:
        raise BlobeduError("repo is empty; give the GitHub repository as OWNER/NAME, e.g. blobedu/blobedu")
    if "://" in text or text.startswith(("github.com", "www.")):
        raise BlobeduError(f"repo {_shown(repo)} is a URL; give the GitHub repository as OWNER/NAME, e.g. blobedu/blobedu")
    parts = text.split("/")
    if len(parts) != 2 or not _OWNER.fullmatch(parts[0]) or not _NAME.fullmatch(parts[1]) or parts[1] in (".", ".."):
        raise BlobeduError(f"repo {_shown(repo)} is not OWNER/NAME (letters, digits, '-', '.', '_'), e.g. blobedu/blobedu")
    owner, name = parts
    if name.endswith(".git"):
        raise BlobeduError(f"repo {_shown(repo)}: drop the '.git' and give OWNER/NAME, e.g. {owner}/{name[:-4]}")
    return owner, name


def _check_ref(ref: str) -> str:
    """``ref`` if it looks like a tag or a commit SHA (see the module doc); else one clear error."""
    text = (ref or "").strip(" \t")
    if not text:
        raise BlobeduError("ref is empty; give a tag (e.g. v0.1.0) or a commit SHA")
    segments = text.split("/")
    if (_BAD_REF_CHARS.search(text) or text.endswith(".lock") or text.endswith(".")
            or not all(_REF_SEGMENT.fullmatch(seg) for seg in segments)):
        raise BlobeduError(f"ref {_shown(ref)} is not a valid git ref; give a tag (e.g. v0.1.0) or a commit SHA")
    if _SHA.fullmatch(text):
        return text
    last = segments[-1]
    if (text.lower() in MOVING_REFS or last.lower() in MOVING_REFS or text.startswith("refs/heads/")
            or not _VERSION_NUMBER.search(last)):
        raise BlobeduError(
            f"ref {_shown(ref)} looks like a branch, which moves, not a tag with a version number (e.g. v0.1.0) "
            "or a commit SHA; use one of those so the link keeps showing what the answer describes"
        )
    return text


def notebook_name(notebook: str) -> str:
    """The file name in :data:`NOTEBOOKS` for a path, a file name, a stem or a number prefix like ``03``."""
    text = (notebook or "").strip()
    known = ", ".join(NOTEBOOKS)
    if not text:
        raise BlobeduError(f"notebook is empty; known notebooks: {known}")
    name = PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name
    if name in NOTEBOOKS:
        return name
    if not name.endswith(".ipynb") and name + ".ipynb" in NOTEBOOKS:
        return name + ".ipynb"
    if name.isdigit() and len(name) <= 2:
        prefix = name.zfill(2) + "_"
        for candidate in NOTEBOOKS:
            if candidate.startswith(prefix):
                return candidate
    raise BlobeduError(f"unknown notebook {notebook!r}; known notebooks: {known} (or their number, e.g. 03)")


def _path(name: str) -> str:
    return f"{NOTEBOOK_DIR}/{name}"


def binder_url(repo: str, ref: str, notebook: str) -> str:
    """The mybinder.org link that builds ``repo`` at ``ref`` and opens ``notebook`` in JupyterLab."""
    owner, name = _check_repo(repo)
    ref = _check_ref(ref)
    urlpath = quote(f"lab/tree/{_path(notebook_name(notebook))}", safe="/")
    return f"https://mybinder.org/v2/gh/{quote(owner)}/{quote(name)}/{quote(ref, safe='')}?urlpath={urlpath}"


def nbviewer_url(repo: str, ref: str, notebook: str) -> str:
    """The nbviewer.org link that renders ``notebook`` as stored at ``ref`` (read-only, no kernel)."""
    owner, name = _check_repo(repo)
    ref = _check_ref(ref)
    path = quote(_path(notebook_name(notebook)), safe="/")
    return f"https://nbviewer.org/github/{quote(owner)}/{quote(name)}/blob/{quote(ref, safe='/')}/{path}"


#: The repository and tag the README's links and the static site's Binder links use.
SITE_REPO = "blobedu/blobedu"
SITE_REF = "v0.1.0"


def pages_url(repo: str, notebook: str) -> str:
    """The notebook's static page on GitHub Pages, ``https://OWNER.github.io/NAME/NN_name.html``.

    What ``make site`` writes into ``site/``, published with GitHub Pages: a read-only page whose
    sliders switch between stored figures of real runs with no kernel.  Pages serve what was last
    published, not a tag, so publish the site from the same tag the other links name.  GitHub Pages
    host names are lower case.
    """
    owner, name = _check_repo(repo)
    page = notebook_name(notebook)[: -len(".ipynb")] + ".html"
    return f"https://{owner.lower()}.github.io/{quote(name)}/{quote(page)}"


def badge(repo: str, ref: str) -> str:
    """The Binder badge (markdown) that opens the start-here notebook."""
    url = binder_url(repo, ref, next(iter(NOTEBOOKS)))
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})"


def forum_snippet(notebook: str, repo: str, ref: str) -> str:
    """Markdown to paste into a forum answer: the question, the answer in one line, the line that matters
    (:mod:`blobedu.key_lines`, computed from the model), the static page (no kernel), Binder (runs the model) and
    nbviewer links."""
    from .key_lines import key_line

    name = notebook_name(notebook)
    row = NOTEBOOKS[name]
    binder, nbviewer = binder_url(repo, ref, name), nbviewer_url(repo, ref, name)  # bad input fails fast
    return "\n".join([
        f"### {row.question}",
        "",
        row.answer,
        "",
        *([f"**{line}**", ""] if (line := key_line(name)) else []),
        f"- read it now, no kernel (its sliders move stored figures of real runs): "
        f"[{name} as a page]({pages_url(repo, name)})",
        f"- run the model yourself, every control live (Binder: a few minutes to start): [{name} on Binder]({binder})",
        f"- read it with its outputs on nbviewer: [{name} on nbviewer]({nbviewer})",
    ])


def readme_table(repo: str, ref: str) -> str:
    """The README's markdown table: each question, linked to its notebook in the repository, its static page
    (read, no kernel), Binder (run) and nbviewer."""
    _check_repo(repo)
    _check_ref(ref)
    lines = ["| question | notebook | read | run |", "|---|---|---|---|"]
    for name, row in NOTEBOOKS.items():
        lines.append(
            f"| {row.question} | [{name}]({_path(name)}) | [page]({pages_url(repo, name)}) · "
            f"[nbviewer]({nbviewer_url(repo, ref, name)}) | [Binder]({binder_url(repo, ref, name)}) |"
        )
    return "\n".join(lines)
