"""The hazards table agrees with the version table, release by release (issue #18)."""

from __future__ import annotations

import pytest

from blobedu import hazards
from blobedu.experiments import TIMES_OUT, worst_case_table
from blobedu.versions import RELEASES, behaviour

ALL = [".".join(map(str, r)) for r in RELEASES]


def ids(version, **settings):
    return [f.hazard.id for f in hazards.applicable(version, **settings)]


def test_the_shared_ids_are_kept_and_every_row_is_complete():
    assert hazards.HAZARD_IDS == ("no-retries", "backoff-18h", "silent-s3-hang", "lost-write-after-250",
                                  "duplicate-past-final-dot", "short-tolerance", "dropped-bounce", "purge-race",
                                  "spool-lost-with-disk")  # the last: the WAL design's loss, found by the atlas (#22)
    for h in hazards.HAZARDS:
        assert h.title and h.fix and h.sources and h.settings
        assert h.reproduce.startswith("blobedu ") and "\n" not in h.reproduce and "--json" in h.reproduce
        assert set(h.effects) <= set(hazards.EFFECTS)


@pytest.mark.parametrize("version", ALL)
def test_hazards_at_the_defaults_follow_the_version_row(version):
    b = behaviour(version)
    found = ids(version)
    assert ("no-retries" in found) == (not b.retries)
    assert ("backoff-18h" in found) == (b.backoff is not None and b.backoff.op == "max")
    assert ("silent-s3-hang" in found) == (b.timeout_bounds == "connect")
    assert ("lost-write-after-250" in found) == (not b.verify_default)
    assert ("short-tolerance" in found) == (b.first >= (0, 16, 0))
    assert "dropped-bounce" in found


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("max_retries,timeout", [(None, 10.0), (None, 30.0), (10, 30.0), (5, 60.0)])
def test_duplicates_agree_with_the_worst_case_table(version, max_retries, timeout):
    b = behaviour(version)
    if max_retries is not None and not b.retries:
        max_retries = None
    n = b.default_max_retries if max_retries is None else max_retries
    row = worst_case_table(max_retries=(n,), timeouts=(timeout,), version=version)[0]
    late = sorted(k.split()[0] for k, v in row.items() if v == TIMES_OUT)
    findings = {f.hazard.id: f.why for f in hazards.applicable(version, max_retries=max_retries, timeout=timeout)}
    assert ("duplicate-past-final-dot" in findings) == bool(late)
    for sender in late:
        assert sender in findings["duplicate-past-final-dot"]


def test_worst_first_and_the_narrow_race_after_a_common_loss():
    found = hazards.applicable("0.15.5")
    ranks = [f.hazard.severity for f in found]
    assert ranks == sorted(ranks)
    assert [f.hazard.id for f in found][:2] == ["lost-write-after-250", "purge-race"]


def test_settings_move_the_hazards():
    assert "lost-write-after-250" in ids("0.16.18", verify=False)
    assert "lost-write-after-250" not in ids("0.16.18")
    assert "no-retries" in ids("0.15.5", max_retries=0)
    assert "backoff-18h" not in ids("0.10.5", max_retries=0)
    assert "purge-race" not in ids("0.16.18", timeout=10.0)
    assert "purge-race" in ids("0.16.18")


def test_the_versions_column_is_computed_from_the_releases():
    assert hazards.BY_ID["no-retries"].versions == "0.5.0 - 0.10.2"
    assert hazards.BY_ID["backoff-18h"].versions == "0.10.3 - 0.11.1"
    assert hazards.BY_ID["silent-s3-hang"].versions == "0.8.2 - 0.15.5"
    assert hazards.BY_ID["lost-write-after-250"].versions == "0.5.0 - 0.16.1"
    assert hazards.BY_ID["short-tolerance"].versions == "0.16.0 - 0.16.18"


def test_the_table_by_version_covers_every_release_once():
    rows = hazards.table_by_version()
    assert rows[0]["versions"].startswith("0.5.0") and rows[-1]["versions"].endswith("0.16.18")
    assert len(rows) == len({r["versions"] for r in rows})


def test_every_hazard_is_taught_by_a_notebook_that_exists():
    from pathlib import Path

    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    for h in hazards.HAZARDS:
        assert h.notebooks, h.id
        for name in h.notebooks:
            assert (notebooks / name).exists(), (h.id, name)
