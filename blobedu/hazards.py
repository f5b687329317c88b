"""The hazards an S3 outage poses to a Stalwart deployment, as one table of data (issue #18).

Theory of operation
-------------------
:data:`HAZARDS` is the finding list of blobedu: each row has an id, a title, the effect (delay,
bounce, duplicate, loss after a 250, memory, silent loss of a bounce), the settings that matter,
a one-line ``blobedu ...`` reproduction, the fix and its sources.  The ids (:data:`HAZARD_IDS`) are
the contract between ``blobedu advise``, the hazard atlas (#22) and the notebooks.

*Whether* a hazard applies is not a second copy of the version table: each row has a rule that
reads the version's :class:`~blobedu.versions.Behaviour` row (and, for the sending side, its queue
schedule in :mod:`blobedu.schedules`) with the settings resolved by
:class:`~blobedu.store.StoreConfig`.  The "versions" of a row are then *computed*: the releases
where its rule holds at the defaults (:func:`default_versions`).  For example
``duplicate-past-final-dot`` compares the worst-case store loop
(:func:`blobedu.policy.worst_case_seconds`, the code behind ``worst_case_table``) with each
sender's final-dot wait (:attr:`blobedu.schedules.Schedule.final_dot_wait`).

Sources: ``shared/stalwart-facts.md`` (revision 3), the section named in each row, and Stalwart's
source at the tag named (read with ``git show TAG:PATH`` in ``stalwartlabs/stalwart``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from .durations import format_duration

#: Hazard id -> one-line title.  The ids are the contract between advise, the atlas and the notebooks.
HAZARD_TITLES: dict[str, str] = {
    "no-retries": "v0.5.0-v0.10.2: no store retries at all",
    "backoff-18h": "v0.10.3-v0.11.1: every store retry sleeps 65,536 s",
    "silent-s3-hang": "v0.8.2-v0.15.x: a silent S3 hangs sessions; bodies pile up in memory",
    "lost-write-after-250": "before v0.16.2, or with verifyAfterWrite off: a dropped write loses mail after the 250",
    "duplicate-past-final-dot": "the store loop outlasts a sender's final-dot wait: duplicates",
    "short-tolerance": "a 0.16 sending Stalwart delivers only outages up to about 28 h",
    "dropped-bounce": "a DSN queued while the sender's own store is down is lost",
    "purge-race": "the purge deletes a blob a sender holds a 250 for (a narrow race)",
    "spool-lost-with-disk": "a write-ahead spool (the contrast design) loses mail it answered 250 for with its disk",
}

HAZARD_IDS: tuple[str, ...] = tuple(HAZARD_TITLES)

#: The effects, worst first: the order :func:`applicable` sorts by.
EFFECTS: tuple[str, ...] = ("loss after a 250", "silent loss of a bounce", "memory", "bounce", "duplicate", "delay")

#: The senders a card speaks for (a Stalwart at the same version, Postfix, Exim).
SENDERS: tuple[str, ...] = ("stalwart", "postfix", "exim")


@dataclass(frozen=True)
class Settings:
    """Resolved store settings of one Stalwart: what a hazard rule reads."""

    version: str
    max_retries: int
    timeout: float
    verify: bool

    @classmethod
    def of(cls, version: str, max_retries: Optional[int] = None, timeout: Optional[float] = None,
           verify: Optional[bool] = None) -> "Settings":
        """Defaults filled in from the version's row and every value checked, as ``blobedu put`` does
        (past-horizon settings refused too, so no worst case is summed over billions of retries)."""
        from .store import StoreConfig

        resolved = StoreConfig(version=version, max_retries=max_retries, timeout=timeout,
                               verify=verify).check_horizon()
        return cls(version, resolved["max_retries"], resolved["timeout"], resolved["verify"])

    @property
    def behaviour(self):
        from .versions import behaviour

        return behaviour(self.version)

    def worst_case(self) -> dict[str, float]:
        """:func:`blobedu.policy.worst_case_seconds` for these settings."""
        from .policy import worst_case_seconds

        return worst_case_seconds(self.behaviour, self.max_retries, self.timeout, self.verify)

    def to_dict(self) -> dict:
        return {"version": self.version, "max_retries": self.max_retries, "timeout": self.timeout,
                "verify": self.verify}


# -- the rules: each returns None (does not apply) or one line saying why it applies here -------------

def _no_retries(s: Settings) -> Optional[str]:
    b = s.behaviour
    if not b.retries:
        return f"Stalwart {s.version} sends each S3 request once: a single 5xx is a 451"
    if s.max_retries == 0:
        return "maxRetries is 0: a single 5xx is a 451"
    return None


def _backoff_18h(s: Settings) -> Optional[str]:
    from .schedules import sender_schedule

    b = s.behaviour
    if not b.retries or s.max_retries == 0 or b.backoff is None:
        return None
    first = b.backoff.seconds(0)
    longest_wait = max(sender_schedule(x).final_dot_wait for x in SENDERS)
    if first <= longest_wait:
        return None
    return (f"the first retry sleeps {first:,.0f} s ({format_duration(first)}; {b.backoff.formula()}), "
            f"longer than any sender waits for the final-dot reply")


def _silent_hang(s: Settings) -> Optional[str]:
    b = s.behaviour
    if not b.hangs_on_silent_s3:
        return None
    return (f"the {format_duration(s.timeout)} timeout bounds only the TCP connect ({b.s3_client}): "
            "a silent S3 holds every session and its body until the socket drops")


def _lost_write(s: Settings) -> Optional[str]:
    b = s.behaviour
    if s.verify:
        return None
    if not b.verify_supported:
        return f"Stalwart {s.version} has no verifyAfterWrite: a 2xx PUT is trusted"
    return "verifyAfterWrite is off: a 2xx PUT is trusted"


def _duplicate(s: Settings) -> Optional[str]:
    from .schedules import sender_schedule

    worst = s.worst_case()["slow_verify"]
    late = [x for x in SENDERS if worst > sender_schedule(x).final_dot_wait]
    if not late:
        return None
    waits = ", ".join(f"{x} {format_duration(sender_schedule(x).final_dot_wait)}" for x in late)
    return (f"the worst-case store loop takes {format_duration(worst)} (slow 5xx"
            + (" and slow HEADs" if s.verify else "") + f"), longer than {waits} wait for the final-dot reply; "
            "a storm that ends inside the loop gives a 250 to nobody, and the sender's retry a second copy")


def last_try_gap(version: str) -> tuple[float, float]:
    """A sending Stalwart's (last try, bounce) in seconds against an S3 that never comes back (pure schedule)."""
    from .schedules import attempt_times, stalwart

    schedule = stalwart(version)
    expire = schedule.expire or 0.0
    return attempt_times(schedule, horizon=expire)[-1], expire


def _short_tolerance(s: Settings) -> Optional[str]:
    from .schedules import DAY

    last, expire = last_try_gap(s.version)
    if expire - last <= DAY:
        return None
    return (f"as a sender, Stalwart {s.version} tries last at {format_duration(last)} and bounces at "
            f"{format_duration(expire)}: an outage that ends in between still bounces")


def _dropped_bounce(s: Settings) -> Optional[str]:
    return "a delay warning or bounce is queued through the same blob write, and its failure is ignored"


def _not_stalwart(s: Settings) -> Optional[str]:
    """A hazard of another receiver design, found by the atlas: no Stalwart release has it."""
    return None


def _purge_race(s: Settings) -> Optional[str]:
    from .receiver import RESERVE_SECONDS

    w = s.worst_case()
    worst = max(w["slow_verify"], w["silent_endpoint"])
    if worst <= RESERVE_SECONDS:
        return None
    shown = "never ends" if math.isinf(worst) else f"can take {format_duration(worst)}"
    return f"the store loop {shown}, past its {RESERVE_SECONDS:g} s reservation"


@dataclass(frozen=True)
class Hazard:
    """One finding: what it is, whom it hits, what it does, how to see it, how to fix it, and where it is read."""

    id: str
    settings: str  # which settings it depends on, in words
    effects: tuple[str, ...]
    reproduce: str  # one line, runs as printed, shows the hazard in its --json output
    fix: str
    sources: tuple[str, ...]
    rule: Callable[[Settings], Optional[str]]
    narrow: bool = False  # a race, not the common path: sorts after hazards of the same severity
    notebooks: tuple[str, ...] = ()  # the notebooks that teach it (each should link to its README row)

    @property
    def title(self) -> str:
        return HAZARD_TITLES[self.id]

    @property
    def severity(self) -> int:
        """0 is the worst: the rank in :data:`EFFECTS` of its worst effect."""
        return min(EFFECTS.index(e) for e in self.effects)

    def applies(self, settings: Settings) -> Optional[str]:
        """Why this hazard applies to ``settings``, or None."""
        return self.rule(settings)

    @property
    def versions(self) -> str:
        """The releases it hits at their default settings, then the settings that bring it elsewhere."""
        return default_versions(self.id)


S3_MOD = "crates/store/src/backend/s3/mod.rs"

HAZARDS: tuple[Hazard, ...] = (
    Hazard(
        id="no-retries",
        settings="version; maxRetries 0 (TOML max-retries = 0) on later versions",
        effects=("delay",),
        reproduce="blobedu put --stalwart 0.9.0 --fault 503@0-1s --json",
        fix="upgrade to 0.16.2 or later (0.11.2 at least): a 5xx blip then costs seconds, not a sender's retry",
        sources=("facts §1 'Settings and defaults by version'", f"{S3_MOD}@v0.10.2 (one request, no loop)"),
        rule=_no_retries,
        notebooks=("01_retry_loop.ipynb",),
    ),
    Hazard(
        id="backoff-18h",
        settings="version; maxRetries above 0",
        effects=("duplicate", "memory"),
        reproduce="blobedu put --stalwart 0.10.5 --fault 503@0-5s --json",
        fix="upgrade to 0.11.2 or later; until then set `store.<id>.max-retries = 0` so a 5xx answers 451 at once",
        sources=("facts §1 (commit 3ac7cd0; fixed by bfba299e and 4901411 in v0.11.2)",
                 f"{S3_MOD}@v0.10.3:102-103 (`.max(16)`)"),
        rule=_backoff_18h,
        notebooks=("01_retry_loop.ipynb",),
    ),
    Hazard(
        id="silent-s3-hang",
        settings="version (the timeout bounds only the TCP connect)",
        effects=("memory", "duplicate"),
        reproduce="blobedu put --stalwart 0.15.5 --fault timeout@0-1h --json",
        fix="upgrade to 0.16.x, whose timeout bounds the whole request; until then front S3 with a proxy that "
            "times out slow requests, and watch memory and open SMTP sessions",
        sources=("facts §1 'timeout', §5 (8,192-connection cap on v0.15)",
                 "s3/src/request/tokio_backend.rs@v0.35.1:40,56,104 (rust-s3: set_connect_timeout only)",
                 "crates/common/src/config/server/listener.rs@v0.15.5:197-203 (server.max-connections 8192)"),
        rule=_silent_hang,
        notebooks=("01_retry_loop.ipynb", "05_tuning.ipynb", "07_fleet.ipynb"),
    ),
    Hazard(
        id="lost-write-after-250",
        settings="version before 0.16.2, or verifyAfterWrite false",
        effects=("loss after a 250",),
        reproduce="blobedu put --stalwart 0.16.18 --no-verify --fault lost-write@0 --json",
        fix="upgrade to 0.16.2 or later and keep verifyAfterWrite true (the default)",
        sources=("facts §1 'verifyAfterWrite' (commit 3e07a0f, first in v0.16.2), §4 item 6",
                 f"{S3_MOD}@v0.16.18:137-201"),
        rule=_lost_write,
        notebooks=("02_verify_after_write.ipynb", "04_no_wal.ipynb"),
    ),
    Hazard(
        id="duplicate-past-final-dot",
        settings="maxRetries, timeout, verifyAfterWrite (and the version's backoff)",
        effects=("duplicate",),
        reproduce="blobedu deliver --max-retries 10 --latency 29s --fault 503@0-4m --sender stalwart --json",
        fix="keep the worst-case store loop under the shortest final-dot wait, a Stalwart sender's 5 minutes: "
            "`blobedu advise` prints the largest maxRetries that does at your timeout",
        sources=("facts §3 (final-dot waits: Stalwart 5 min, Postfix and Exim 10 min), §4 item 5",
                 "crates/smtp/src/outbound/session.rs:164, outbound/client.rs:137-148@v0.16.18"),
        rule=_duplicate,
        notebooks=("05_tuning.ipynb",),
    ),
    Hazard(
        id="short-tolerance",
        settings="version of a *sending* Stalwart (its queue schedule)",
        effects=("bounce",),
        reproduce="blobedu deliver --sender stalwart --fault refused@0-29h --json",
        fix="on a sending 0.16 Stalwart, add queue retry intervals so a last try falls near its ttl; as a "
            "receiver, bring S3 back within the tolerance `blobedu advise` prints, or 0.16 senders bounce the mail",
        sources=("facts §3 (tries at 0 ... 4h02m, 1d04h02m; next at 4d04h, past the 3d ttl)",
                 "crates/smtp/src/outbound/delivery.rs:1588-1590@v0.16.18, queue/manager.rs:436-462"),
        rule=_short_tolerance,
        notebooks=("00_start_here.ipynb", "03_tempfail_flow.ipynb", "07_fleet.ipynb"),
    ),
    Hazard(
        id="dropped-bounce",
        settings="none: every version whose queue writes the blob store",
        effects=("silent loss of a bounce",),
        reproduce="blobedu deliver --sender stalwart --fault refused@0 --sender-fault refused@0 --json",
        fix="nothing to set: watch the sending side's own store and tell authors yourself when it fails",
        sources=("facts §3 'DSNs are queued through the same MessageWrapper::queue'",
                 "crates/smtp/src/queue/dsn.rs:34-66@v0.16.18 (the queue() result is ignored)",
                 "crates/smtp/src/queue/spool.rs:445-451@v0.16.18 ('Failed to write blob.')"),
        rule=_dropped_bounce,
        notebooks=("06_beyond_incoming_mail.ipynb",),
    ),
    Hazard(
        id="purge-race",
        settings="maxRetries, timeout, verifyAfterWrite (a store loop past the 120 s reservation)",
        effects=("loss after a 250",),
        reproduce="blobedu purge-race --max-retries 10 --fault 503@0-2m --scan 125s --delete 130s --json",
        fix="keep the worst-case store loop inside the 120 s reservation (a shorter timeout: `blobedu advise` "
            "computes the largest that does), or schedule the daily blob purge away from an outage",
        sources=("facts §5 'Verified: a narrow race'",
                 "crates/store/src/write/blob.rs:115-143, 146-191, 263-281@v0.16.18",
                 "crates/smtp/src/queue/spool.rs:415-426, 555-598@v0.16.18"),
        rule=_purge_race,
        narrow=True,
        notebooks=("06_beyond_incoming_mail.ipynb", "04_no_wal.ipynb"),
    ),
    Hazard(
        id="spool-lost-with-disk",
        settings="none in Stalwart: a receiver that answers 250 once the message is on one local disk (--receiver wal)",
        effects=("loss after a 250",),
        reproduce="blobedu deliver --receiver wal --fault refused@0-1h --fault disk-loss@30m --json",
        fix="nothing to set in Stalwart, which keeps no spool; a spool in front of S3 needs replicated storage",
        sources=("facts §4 item 7 (custody: a spool moves the only copy to one node's disk)",
                 "blobedu/spool.py (the contrast design; found by the hazard atlas, #22)"),
        rule=_not_stalwart,
        notebooks=("04_no_wal.ipynb",),
    ),
)

assert tuple(h.id for h in HAZARDS) == HAZARD_IDS, "every id has exactly one row, in the same order"
BY_ID: dict[str, Hazard] = {h.id: h for h in HAZARDS}


@dataclass(frozen=True)
class Finding:
    """A hazard that applies to given settings, and the one line that says why."""

    hazard: Hazard
    why: str

    def to_dict(self) -> dict:
        h = self.hazard
        return {"id": h.id, "title": h.title, "versions": h.versions, "effect": list(h.effects),
                "severity": EFFECTS[h.severity], "why": self.why, "reproduce": h.reproduce, "fix": h.fix,
                "sources": list(h.sources), "notebooks": list(h.notebooks)}


def _sort_key(h: Hazard) -> tuple:
    return (h.severity, h.narrow, HAZARD_IDS.index(h.id))


def applicable(version: str, max_retries: Optional[int] = None, timeout: Optional[float] = None,
               verify: Optional[bool] = None) -> list[Finding]:
    """The hazards that apply to these settings, worst first (defaults: the version's own)."""
    settings = Settings.of(version, max_retries, timeout, verify)
    return findings(settings)


def findings(settings: Settings) -> list[Finding]:
    """:func:`applicable` for settings already resolved."""
    out = []
    for h in sorted(HAZARDS, key=_sort_key):
        why = h.applies(settings)
        if why is not None:
            out.append(Finding(h, why))
    return out


def _label(v: tuple[int, int, int]) -> str:
    return ".".join(map(str, v))


def _ranges(releases: list[tuple[int, int, int]]) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """Consecutive runs of :data:`~blobedu.versions.RELEASES` as (first, last) pairs."""
    from .versions import RELEASES

    runs: list[list[tuple[int, int, int]]] = []
    for r in RELEASES:
        if r in releases:
            if runs and RELEASES.index(runs[-1][-1]) == RELEASES.index(r) - 1:
                runs[-1].append(r)
            else:
                runs.append([r])
    return [(run[0], run[-1]) for run in runs]


def default_versions(hazard_id: str) -> str:
    """The releases where ``hazard_id`` applies at the default settings, as ranges (``0.8.2 - 0.15.5``)."""
    from .versions import RELEASES

    hit = [r for r in RELEASES if hazard_id in defaults_at(_label(r))]
    text = ", ".join(_label(a) if a == b else f"{_label(a)} - {_label(b)}" for a, b in _ranges(hit))
    return text or "none at the defaults"


_DEFAULTS_CACHE: dict[str, tuple[str, ...]] = {}


def defaults_at(version: str) -> tuple[str, ...]:
    """The ids that apply to ``version`` at its default settings, worst first."""
    if version not in _DEFAULTS_CACHE:
        _DEFAULTS_CACHE[version] = tuple(f.hazard.id for f in applicable(version))
    return _DEFAULTS_CACHE[version]


def table_by_version() -> list[dict[str, str]]:
    """Releases grouped where the hazards at the default settings are the same: the README's table."""
    from .versions import RELEASES

    rows: list[dict[str, str]] = []
    groups: list[tuple[list, tuple[str, ...]]] = []
    for r in RELEASES:
        ids = defaults_at(_label(r))
        if groups and groups[-1][1] == ids:
            groups[-1][0].append(r)
        else:
            groups.append(([r], ids))
    for releases, ids in groups:
        a, b = releases[0], releases[-1]
        rows.append({"versions": _label(a) if a == b else f"{_label(a)} - {_label(b)}",
                     "hazards at the default settings, worst first": ", ".join(f"`{i}`" for i in ids)})
    return rows


def markdown_table() -> str:
    """:func:`table_by_version` as a markdown table (what the README holds, checked by a test)."""
    rows = table_by_version()
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row[k] for k in head) + " |" for row in rows]
    return "\n".join(lines)


def markdown_hazards() -> str:
    """One row per hazard, each with an anchor (``README.md#hazard-<id>``) the notebooks link to."""
    lines = ["| hazard | effect | releases hit at their defaults | see it | fix |", "|---|---|---|---|---|"]
    for h in sorted(HAZARDS, key=_sort_key):
        lines.append(f'| <a id="hazard-{h.id}"></a>`{h.id}` | {", ".join(h.effects)} | {h.versions} '
                     f"| `{h.reproduce}` | {h.fix} |")
    return "\n".join(lines)


def readme_block() -> str:
    """What the README holds between its ``hazards-table`` markers: both tables, generated."""
    return (markdown_table() + "\n\nEach hazard, worst first, with the command that shows it (notebooks link to "
            "these rows):\n\n" + markdown_hazards())
