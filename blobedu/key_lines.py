"""The one line that matters for each notebook's question, computed from the model (issue #18).

A forum snippet (:func:`blobedu.links.forum_snippet`) carries the question, the one-line answer, and
this line: the hazards a notebook teaches with the releases they hit (from :mod:`blobedu.hazards`),
or for 03 each sender's outage tolerance (from :func:`blobedu.tolerance.tolerance`), so a pasted
answer says what to do, not only what happens.
"""

from __future__ import annotations

from typing import Callable

from .durations import format_duration
from .versions import LATEST


def _v(hazard_id: str) -> str:
    from .hazards import BY_ID

    return f"`{hazard_id}` ({BY_ID[hazard_id].versions})"


def _start() -> str:
    from .hazards import defaults_at

    ids = ", ".join(f"`{i}`" for i in defaults_at(LATEST))
    return (f"What to do on your release: `blobedu advise --stalwart VERSION`; on {LATEST} at its defaults "
            f"the hazards are {ids}, worst first.")


def _retry() -> str:
    from .versions import behaviour

    sleep = behaviour("0.10.3").backoff.seconds(0)
    return (f"By release: {_v('no-retries')}: no retries; {_v('backoff-18h')}: every retry sleeps {sleep:,.0f} s; "
            f"{_v('silent-s3-hang')}: a silent S3 is never timed out.")


def _verify() -> str:
    return (f"{_v('lost-write-after-250')} at the defaults, and any release with verifyAfterWrite off: "
            "a write S3 drops is lost after the 250.")


def _tolerance() -> str:
    from .advice import tolerance_by_sender

    names = {"stalwart": f"a Stalwart {LATEST} sender", "postfix": "Postfix", "exim": "Exim"}
    parts = [f"{names[s]} {format_duration(t['longest_outage_delivered'])} (a longer outage bounces at "
             f"{format_duration(t['bounce_at'])})" for s, t in tolerance_by_sender(LATEST).items()]
    return "How long S3 may be down, from the first try, with the mail still delivered: " + ", ".join(parts) + "."


def _no_wal() -> str:
    return (f"What can still lose mail after a 250: {_v('lost-write-after-250')} and the narrow "
            f"{_v('purge-race')}.")


def _tuning() -> str:
    from .advice import limits
    from .hazards import Settings

    s = Settings.of(LATEST)
    lim = limits(s)
    return (f"On {LATEST} at its defaults the worst-case store loop is {format_duration(s.worst_case()['slow_verify'])}, "
            f"under the shortest final-dot wait ({format_duration(lim['shortest_final_dot_wait'])}, a Stalwart "
            f"sender's); a maxRetries above {lim['max_retries_no_duplicate']} at a "
            f"{format_duration(s.timeout)} timeout outlasts it: `duplicate-past-final-dot`.")


def _beyond() -> str:
    return (f"{_v('dropped-bounce')}: a bounce written while the sender's own store is down is lost, unseen; "
            f"and {_v('purge-race')}.")


def _fleet() -> str:
    return f"{_v('silent-s3-hang')}: sessions and their bodies pile up in memory while a silent S3 never answers."


def _other_servers() -> str:
    from .hazards import defaults_at

    ids = ", ".join(f"`{i}`" for i in defaults_at(LATEST))
    return (f"For Stalwart itself it depends on the release: on {LATEST} at its defaults {ids}; "
            "`blobedu advise --stalwart VERSION` gives yours.")


def _atlas() -> str:
    from .hazards import HAZARD_IDS

    return (f"Every finding of the search maps to one of the {len(HAZARD_IDS)} hazards in the admin's table; "
            "`blobedu atlas --json` lists each with a `blobedu deliver` line that shows it.")


KEY_LINES: dict[str, Callable[[], str]] = {
    "00_start_here.ipynb": _start,
    "01_retry_loop.ipynb": _retry,
    "02_verify_after_write.ipynb": _verify,
    "03_tempfail_flow.ipynb": _tolerance,
    "04_no_wal.ipynb": _no_wal,
    "05_tuning.ipynb": _tuning,
    "06_beyond_incoming_mail.ipynb": _beyond,
    "07_fleet.ipynb": _fleet,
    "08_other_servers.ipynb": _other_servers,
    "09_atlas.ipynb": _atlas,
}


def key_line(name: str) -> str:
    """The line for notebook file ``name`` (a key of :data:`blobedu.links.NOTEBOOKS`); "" if it has none."""
    line = KEY_LINES.get(name)
    return line() if line else ""
