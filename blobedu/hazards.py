"""The hazards an S3 outage poses to a Stalwart deployment, as one table of data (issue #18).

Skeleton: the ids and titles that `blobedu advise` (#18) and the hazard atlas (#22) share.  The
advise work fills in each row (versions and settings affected, effect, a one-line reproduction, the
fix, sources); the atlas maps every finding to one of these ids.
"""

from __future__ import annotations

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
}

HAZARD_IDS: tuple[str, ...] = tuple(HAZARD_TITLES)
