"""Notebook 06's two sliders: a read under each S3 fault, and a sender's own store when its DSNs fall due.

Every frame is a real run (the store model against moto, or ``deliver()`` over loopback); these tests
check what each run shows and that its figure says it without a false legend entry (teaching.md's 06
defect: a "bounce" legend entry for a read).
"""

from __future__ import annotations

import pytest

from blobedu import operations, plots
from blobedu.experiments import OWN_STORE_DOWN, own_store_headline, own_store_run, plot_own_store
from blobedu.errors import BlobeduError


def _legend(fig) -> set[str]:
    return {t.get_text() for t in fig.legends[0].get_texts()}


@pytest.mark.parametrize("label, outcome, after", [
    ("refused", "failed", 1.0), ("503 storm", "failed", 7.0), ("429", "failed", 0.0),
    ("silent, 0.16.18", "failed", 61.0), ("silent, 0.15.5", "hung", None), ("blob missing", "not-found", 0.0)])
def test_each_read_frame_is_the_run_its_label_names(label, outcome, after):
    v = operations.read_case(label)
    assert (v.operation, v.outcome, v.after) == (operations.READ_OPERATION, outcome, after)
    legend = _legend(operations.read_figure(label, v))
    assert not any("bounce" in text for text in legend)  # a read sends no DSN
    if outcome == "failed":
        assert plots.STYLES["failed"].legend in legend
    headline = operations.read_headline(label, v)
    assert ("never ends" in headline) == (outcome == "hung")


def test_a_hung_read_is_drawn_as_hung_not_as_refused():
    v = operations.read_case("silent, 0.15.5")
    tl = operations.operation_lanes(v, headline="x")
    assert [m.kind for m in tl.lane("requests:GET").marks] == ["hung"]
    assert tl.lane("outcome").marks[0].kind == "hung" and tl.heading() == "x"
    assert plots.STYLES["refused"].legend not in _legend(plots.draw(tl))


def test_an_unknown_read_case_is_refused():
    with pytest.raises(BlobeduError, match="no read case"):
        operations.read_case("nope")


@pytest.fixture(scope="module")
def own_store():
    return {window: own_store_run(window) for window in OWN_STORE_DOWN}


def test_only_a_dsn_due_while_the_own_store_is_down_is_dropped(own_store):
    told = {w: (t.author_told, [d["kind"] for d in t.dsns if d.get("queued") is False]) for w, t in own_store.items()}
    assert told == {"5h-6h": (True, []), "23h-25h": (True, ["delayed"]), "71h-4d": (False, ["failed"])}
    assert "never told" in own_store_headline("71h-4d", own_store["71h-4d"])
    assert "warning is dropped" in own_store_headline("23h-25h", own_store["23h-25h"])


def test_a_dropped_bounce_is_drawn_as_dropped_with_the_senders_own_s3(own_store):
    fig = plot_own_store("71h-4d", own_store["71h-4d"])
    tl = fig.timeline
    assert tl.keys() == ["smtp", "custody:sender queue", "outcome", "sender-s3"]
    kinds = [m.kind for m in tl.lane("outcome").marks]
    assert kinds == ["dsn-delayed", "dsn-dropped"]  # no bounce mark, and no LOST (nothing was acknowledged)
    assert [b.kind for b in tl.lane("sender-s3").bars] == ["sender-s3-down"]
    legend = _legend(fig)
    assert plots.STYLES["dsn-dropped"].legend in legend and plots.STYLES["bounce"].legend not in legend
    told = plot_own_store("5h-6h", own_store["5h-6h"]).timeline
    assert [m.kind for m in told.lane("outcome").marks] == ["dsn-delayed", "bounce"]
