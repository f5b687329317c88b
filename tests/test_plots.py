"""The plots draw what the traces say: lanes, marks, outage bands and time axes, asserted as data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from blobedu import plots  # noqa: E402
from blobedu.delivery import DeliveryConfig, deliver  # noqa: E402
from blobedu.errors import BlobeduError  # noqa: E402
from blobedu.schedules import attempt_times, stalwart  # noqa: E402
from blobedu.store import StoreConfig, put  # noqa: E402
from blobedu.trace import DeliveryTrace  # noqa: E402
from blobedu.versions import VERSIONS, behaviour  # noqa: E402

HOUR, DAY = 3600.0, 86400.0


@pytest.fixture(scope="module")
def put_503():
    return put(faults=["503@0-5"])


@pytest.fixture(scope="module")
def deliver_1h():
    return deliver(["503@0-1h"])


@pytest.fixture(scope="module")
def deliver_4d():
    return deliver(["refused@0-4d"])


@pytest.fixture(scope="module")
def duplicate():
    return deliver(["503@0-1m"], DeliveryConfig(store=StoreConfig(version="0.10.5")))


# -- the time axis ------------------------------------------------------------------------------------
@pytest.mark.parametrize("horizon, scale, unit", [
    (7.0, "linear", "s"),
    (3755.0, "linear", "min"),
    (18 * HOUR, "symlog", "h"),
    (4 * DAY, "symlog", "d"),
])
def test_time_axis_picks_scale_and_unit_by_span(horizon, scale, unit):
    axis = plots.time_axis(horizon)
    assert (axis.scale, axis.unit) == (scale, unit)
    assert axis.lo < 0 <= axis.ticks[0] and axis.hi > horizon
    assert len(axis.ticks) == len(axis.labels) <= 10


def test_tick_labels_are_durations():
    assert plots.time_axis(7).labels == ["0s", "1s", "2s", "3s", "4s", "5s", "6s", "7s"]
    assert plots.time_axis(3755).labels == ["0s", "10m", "20m", "30m", "40m", "50m", "1h"]
    four_days = plots.time_axis(4 * DAY, linthresh=60)
    assert {"0s", "1m", "1h", "1d", "3d"} <= set(four_days.labels)


def test_symlog_ticks_never_crowd():
    axis = plots.time_axis(5 * DAY, min_gap=0.065)
    fractions = [axis.fraction(t) for t in axis.ticks]
    assert all(b - a >= 0.065 - 1e-9 for a, b in zip(fractions, fractions[1:]))
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1


def test_scale_can_be_chosen():
    assert plots.time_axis(7, "symlog").scale == "symlog"
    assert plots.time_axis(4 * DAY, "linear").scale == "linear"
    assert plots.time_axis(4 * DAY, "log").scale == "symlog"  # a trace starts at 0
    assert plots.time_axis(4 * DAY, "log", start=600).scale == "log"
    with pytest.raises(BlobeduError, match="unknown time scale"):
        plots.time_axis(7, "weird")


# -- one PUT ------------------------------------------------------------------------------------------
def test_put_lanes_for_503_then_up(put_503):
    tl = plots.put_lanes(put_503)
    assert tl.keys() == ["s3", "requests:PUT", "requests:HEAD", "sleeps", "outcome"]
    assert (tl.axis.scale, tl.axis.unit) == ("linear", "s")
    s3 = tl.lane("s3").bars
    assert [(b.start, b.end, b.label, b.kind) for b in s3] == [(0, 5, "503", "s3-5xx"), (5, tl.axis.hi, "up", "s3-up")]
    assert tl.outage == [(0.0, 5.0)]
    assert tl.lane("requests:PUT").points() == [(0, "503"), (1, "503"), (3, "503"), (7, "200")]
    assert [m.kind for m in tl.lane("requests:PUT").marks] == ["5xx", "5xx", "5xx", "2xx"]
    assert tl.lane("requests:HEAD").points() == [(7, "200")]
    assert tl.lane("sleeps").spans() == [(0, 1, "1s"), (1, 3, "2s"), (3, 7, "4s")]
    assert {b.kind for b in tl.lane("sleeps").bars} == {"backoff"}
    assert tl.lane("outcome").points() == [(7, "stored, durable")]
    assert tl.subtitle.startswith("stored after 7s")


def test_transport_retry_sleeps_are_their_own_kind():
    new = plots.put_lanes(put(faults=["refused@0"], config=StoreConfig(version="0.16.18")))
    old = plots.put_lanes(put(faults=["refused@0"], config=StoreConfig(version="0.15.5")))
    assert [(b.start, b.end, b.kind) for b in new.lane("sleeps").bars] == [(0, 1, "transport-retry")]
    assert [m.kind for m in new.lane("requests:PUT").marks] == ["refused", "refused"]
    assert old.lane("sleeps").bars == [] and old.lane("sleeps").note
    assert old.lane("requests:PUT").points() == [(0, "refused")]
    # a fault with no end runs to the edge of the plot
    assert old.outage == [(0.0, old.axis.hi)] and old.lane("s3").spans() == [(0, old.axis.hi, "refused")]
    assert "transport-retry" in new.kinds() and "transport-retry" not in old.kinds()


def test_timeouts_carry_their_duration():
    tl = plots.put_lanes(put(faults=["timeout@0"]))
    marks = tl.lane("requests:PUT").marks
    assert [(m.kind, m.duration) for m in marks] == [("timeout", 30.0), ("timeout", 30.0)]


# -- deliveries ---------------------------------------------------------------------------------------
def test_delivery_lanes_one_hour_of_503(deliver_1h):
    tl = plots.delivery_lanes(deliver_1h)
    assert tl.keys()[:2] == ["s3", "requests:PUT"]
    assert {"sleeps", "smtp", "custody:sender queue", "custody:receiver memory", "custody:spool", "custody:S3",
            "outcome"} <= set(tl.keys())
    assert (tl.axis.scale, tl.axis.unit) == ("linear", "min")
    assert tl.outage == [(0.0, HOUR)]
    smtp = tl.lane("smtp")
    assert [label for _, label in smtp.points()] == ["451"] * 5 + ["250"]
    assert [m.kind for m in smtp.marks] == ["4xx"] * 5 + ["2xx"]
    assert smtp.marks[-1].t == deliver_1h.delivered_at == 3755.0
    assert tl.lane("custody:sender queue").spans()[0][:2] == (0.0, 3755.0)
    (s3_copy,) = tl.lane("custody:S3").bars
    assert (s3_copy.start, s3_copy.end, s3_copy.open) == (3755.0, tl.axis.hi, True)
    assert tl.lane("custody:spool").bars == [] and "no spool" in tl.lane("custody:spool").note
    assert len(tl.lane("requests:PUT").marks) == 5 * 4 + 1
    assert tl.lane("outcome").points() == [(3755.0, "mailbox")]
    assert tl.subtitle.startswith("delivered after 1h02m")


def test_delivery_lanes_four_days_refused(deliver_4d):
    tl = plots.delivery_lanes(deliver_4d)
    assert (tl.axis.scale, tl.axis.unit) == ("symlog", "d")
    assert tl.outage == [(0.0, 4 * DAY)]  # the plot reaches the end of the outage, past the bounce
    assert tl.horizon == 4 * DAY
    assert tl.lane("custody:sender queue").spans()[0][:2] == (0.0, 3 * DAY)
    assert tl.lane("custody:S3").bars == []
    assert tl.lane("outcome").points() == [(DAY, "delay DSN"), (3 * DAY, "bounce")]
    assert {m.kind for m in tl.lane("requests:PUT").marks} == {"refused"}
    assert {b.kind for b in tl.lane("sleeps").bars} == {"transport-retry"}


def test_delivery_lanes_postfix_waits_out_the_outage():
    trace = deliver(["refused@0-4d"], DeliveryConfig(sender="postfix"))
    tl = plots.delivery_lanes(trace)
    smtp = tl.lane("smtp").points()
    assert smtp[-1] == (trace.delivered_at, "250") and trace.delivered_at > 4 * DAY
    assert len(smtp) == len(trace.sessions)
    assert tl.lane("custody:S3").bars[0].open


def test_duplicate_shows_the_hung_up_session_and_both_copies(duplicate):
    tl = plots.delivery_lanes(duplicate)
    smtp = tl.lane("smtp")
    assert (300.0, "timeout") in smtp.points()  # a Stalwart sender waits 5 min for the final dot
    assert (65536.0, "250 to nobody") in smtp.points()
    assert [b.kind for b in smtp.bars] == ["session-timeout", "session"]
    assert tl.lane("sleeps").spans() == [(0.0, 65536.0, "18h12m")]
    assert [b.start for b in tl.lane("custody:S3").bars] == [420.0, 65536.0]
    assert plots._rows(tl.lane("custody:S3").bars) == [0, 1]  # two copies stack in two rows
    assert [t for t, label in tl.lane("outcome").points() if label == "mailbox"] == [420.0, 65536.0]
    assert (tl.axis.scale, tl.axis.unit) == ("symlog", "h")


def test_faults_can_be_given_explicitly(deliver_1h):
    tl = plots.delivery_lanes(deliver_1h, faults=["429@0-30m"])
    assert tl.outage == [(0.0, 1800.0)]
    assert tl.lane("s3").bars[0][:4] == (0.0, 1800.0, "429", "s3-4xx")


def test_spool_lane_from_a_wal_trace_without_running_one():
    config = {"store": {"version": "0.16.18", "max_retries": 3, "timeout": 30.0, "verify": True},
              "sender": "stalwart", "sender_version": None, "data_timeout": 600.0, "receiver": "wal",
              "faults": ["refused@0-1h"]}
    trace = DeliveryTrace(config=config, fate="delivered", delivered_at=3630.0, copies=1,
                          custody=[{"holder": "spool", "from": 0.0, "to": 3630.0, "note": "x.eml"},
                                   {"holder": "S3", "from": 3630.0, "to": None, "note": "blob"}],
                          local=[{"t": 3630.0, "queue_id": "1", "result": "delivered"}], ended=3630.0)
    tl = plots.delivery_lanes(trace)
    assert tl.lane("custody:spool").spans() == [(0.0, 3630.0, "x.eml")]
    assert "spool" in tl.kinds()
    assert "not traced" in tl.lane("requests:PUT").note
    assert plots.draw(tl).timeline is tl


# -- figures -------------------------------------------------------------------------------------------
def test_figures_are_drawn_from_their_lanes(put_503, deliver_1h):
    for fig, n_lanes in ((plots.plot_put(put_503), 5), (plots.plot_delivery(deliver_1h), 10)):
        assert len(fig.timeline.lanes) == n_lanes
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == [lane.name for lane in fig.timeline.lanes]
        assert [t.get_text() for t in ax.get_xticklabels()] == fig.timeline.axis.labels
        assert fig._repr_png_().startswith(b"\x89PNG")


def test_plot_into_a_given_axes(put_503):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert plots.plot_put(put_503, ax=ax) is fig
    assert ax.get_xscale() == "linear"
    assert plots.plot_put(put_503, scale="symlog").axes[0].get_xscale() == "symlog"


def test_legend_names_every_kind_drawn(deliver_4d):
    fig = plots.plot_delivery(deliver_4d)
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    # instant SMTP sessions are drawn as their reply marks only, so the legend does not name a grey bar
    # nobody can see; everything else the timeline holds is drawn and named
    held = {plots.STYLES[k].legend for k in fig.timeline.kinds()} | {plots.OUTAGE_LEGEND}
    assert held - {plots.STYLES["session"].legend} == legend


def test_a_progressive_figure_draws_and_names_only_its_lanes(deliver_4d):
    """00's first figure: who holds the copy and the replies; the legend lists only what those lanes draw."""
    tl = plots.delivery_lanes(deliver_4d, lanes="copy", headline="what to notice")
    assert tl.keys() == ["smtp", "custody:sender queue", "custody:receiver memory", "custody:S3"]
    fig = plots.draw(tl)
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert plots.STYLES["transport-retry"].legend not in legend  # the sleeps lane is not drawn
    assert plots.STYLES["refused"].legend not in legend          # nor the S3 requests
    assert plots.STYLES["sender queue"].legend in legend
    texts = [t.get_text() for t in fig.texts]
    assert texts[0] == "what to notice"                          # the bold title says what to notice
    assert "faults: refused@0s-4d" in texts[1].replace("\n", " ")  # the configuration is the caption
    with pytest.raises(KeyError):
        tl.only(["no such lane"])
    # a lane set's name is read as that set, not as the letters of a key
    whole = plots.delivery_lanes(deliver_4d)
    assert whole.only("copy").keys() == whole.only(plots.LANE_SETS["copy"]).keys() == tl.keys()
    with pytest.raises(KeyError, match="no lane set 'smtp'"):
        whole.only("smtp")


def test_a_long_caption_is_wrapped_not_cut(put_503):
    tl = plots.put_lanes(put_503, headline="x " * 120)
    fig = plots.draw(tl)
    for text in fig.texts:
        for line in text.get_text().splitlines():
            assert len(line) * 0.068 <= fig.get_figwidth()  # each line fits the figure's width


def test_a_failed_read_is_not_called_a_bounce():
    from blobedu.store import get

    tl = plots.put_lanes(get(faults=["503@0"]))
    assert {m.kind for m in tl.lane("outcome").marks} == {"failed"}
    legend = {t.get_text() for t in plots.draw(tl).legends[0].get_texts()}
    assert not any("bounce" in text for text in legend)


def test_a_lying_200_is_not_drawn_as_a_success():
    from blobedu import put

    tl = plots.put_lanes(put(faults=["lost-write@0"]))
    assert {m.kind for m in tl.lane("requests:PUT").marks} == {"2xx-lost"}
    assert {m.kind for m in tl.lane("requests:HEAD").marks} == {"4xx"}


def test_lost_mail_is_marked_lost_and_a_disk_loss_is_not_in_the_mailbox_lane():
    from blobedu.delivery import DeliveryConfig, deliver
    from blobedu.store import StoreConfig

    lost = plots.delivery_lanes(deliver(["lost-write@0"], DeliveryConfig(store=StoreConfig(version="0.16.1"))))
    assert ("LOST" in [label for _, label in lost.lane("outcome").points()])
    wal = plots.delivery_lanes(deliver(["refused@0-1h", "disk-loss@30m"], DeliveryConfig(receiver="wal")))
    assert "disk-loss" not in [label for _, label in wal.lane("outcome").points()]
    assert (1800.0, "disk-loss") in wal.lane("disk").points()
    assert "LOST" in [label for _, label in wal.lane("outcome").points()]


def test_every_colour_is_okabe_ito_or_grey():
    allowed = set(plots.OKABE_ITO.values()) | {plots.GREY}
    assert {s.color for s in plots.STYLES.values()} <= allowed
    # the answers differ by marker, not only by colour
    answers = ["2xx", "4xx", "5xx", "refused", "timeout"]
    assert len({plots.STYLES[k].marker for k in answers}) == len(answers)
    fault_bars = [k for k in plots.STYLES if k.startswith("s3-") and k != "s3-up"]
    assert len({plots.STYLES[k].hatch for k in fault_bars}) == len(fault_bars)


# -- schedules, delay curve, versions -----------------------------------------------------------------
def test_schedule_lanes_side_by_side():
    tl = plots.schedule_lanes(["stalwart", "postfix", "exim", "rfc5321"], horizon="5d")
    assert (tl.axis.scale, tl.axis.unit) == ("symlog", "d")
    lanes = {lane.key.split(":", 1)[1]: lane for lane in tl.lanes}
    sw = lanes["Stalwart 0.16.18"]
    # each attempt fails after 1 s, as a 0.16 receiver answers a refused S3: the deliver() run's times
    assert [m.t for m in sw.marks if m.kind == "attempt"] == attempt_times(stalwart(), 5 * DAY, attempt_cost=1.0)
    assert [(m.t, m.label) for m in sw.marks if m.kind == "bounce"] == [(3 * DAY, "bounce 3d")]
    # facts §3 rev 3: the gap between the last try (1d04h) and the 3 d bounce is drawn and named
    (gap,) = [b for b in sw.bars if b.kind == "no-more-tries"]
    assert (gap.start, gap.end) == (100928.0, 3 * DAY) and tl.subtitle.startswith("Stalwart 0.16.18's last try is at 1d04h")
    assert [m.t for m in sw.marks if m.kind == "dsn-delayed"] == [DAY]
    assert lanes["Postfix"].bars[0].open  # still trying at 5 days
    assert not any(m.kind == "bounce" for m in lanes["Postfix"].marks)
    assert [m.t for m in lanes["RFC 5321 minimum"].marks if m.kind == "bounce"] == [4 * DAY]
    assert plots.plot_schedules(horizon="5d").timeline.keys() == tl.keys()


def test_delay_curve_runs_one_delivery_per_outage():
    points = plots.delay_curve(["10m", "2d"], sender="stalwart")
    assert [p["outage"] for p in points] == [600.0, 2 * DAY]
    short, long = points
    assert short["fate"] == "delivered" and short["delay"] >= 600.0 and short["copies"] == 1
    assert long["fate"] == "bounced" and long["bounced_at"] == 3 * DAY and long["delay"] is None
    series = plots.delay_series({"stalwart": points})
    assert series["stalwart"]["delivered"] == [(600.0, short["delay"])]
    assert series["stalwart"]["bounced"] == [(2 * DAY, 3 * DAY)]
    fig = plots.plot_delay_curve(points)
    assert fig.axes[0].get_xscale() == "log"
    labels = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"stalwart: delivered", "stalwart: bounced (strip above)"} <= labels


def test_representative_versions_cover_each_row_once():
    rows = [behaviour(v) for v in plots.REPRESENTATIVE_VERSIONS]
    assert rows == list(VERSIONS)


def test_version_lanes():
    traces = plots.version_traces(["503@0-5"], versions=["0.9.0", "0.15.5"])
    tl = plots.version_lanes(traces)
    old, new = tl.lanes
    assert old.name.endswith("failed after 0s") and old.points() == [(0.0, "PUT 503")]
    assert new.spans() == [(0, 1, "1s"), (1, 3, "2s"), (3, 7, "4s")]
    assert plots.plot_versions(traces).timeline.keys() == tl.keys()


def test_fixed_layout_draws_the_same_lanes_inside_the_figure(deliver_4d):
    tl = plots.delivery_lanes(deliver_4d)
    fig = plots.draw(tl, layout="fixed")
    (ax,) = fig.axes
    assert fig.get_layout_engine() is None
    assert [t.get_text() for t in ax.get_yticklabels()] == [lane.name for lane in tl.lanes]
    assert [t.get_text() for t in ax.get_xticklabels()] == tl.axis.labels
    fig.canvas.draw()
    inside = fig.bbox
    for artist in [ax, fig.legends[0], *fig.texts, *ax.get_yticklabels()]:  # fig.texts: title and caption
        box = artist.get_window_extent()
        assert box.x0 >= inside.x0 - 1 and box.y0 >= inside.y0 - 1 and box.x1 <= inside.x1 + 1, artist
        assert box.y1 <= inside.y1 + 1, artist
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    held = {plots.STYLES[k].legend for k in tl.kinds()} | {plots.OUTAGE_LEGEND}
    assert legend == held - {plots.STYLES["session"].legend}  # instant sessions are their reply marks


def test_draw_stack_puts_timelines_on_one_time_axis(deliver_1h, deliver_4d):
    short, long = plots.delivery_lanes(deliver_1h), plots.delivery_lanes(deliver_4d)
    fig = plots.draw_stack([long, short])
    top, bottom = fig.axes
    assert top.get_xlim() == bottom.get_xlim() == (long.axis.lo, long.axis.hi)
    assert top.get_position().y0 > bottom.get_position().y1  # one above the other, not overlapping
    assert [t.get_text() for t in bottom.get_xticklabels()] == long.axis.labels
    assert not any(tick.label1.get_visible() for tick in top.xaxis.get_major_ticks())  # tick labels once, below
    assert (top.get_title(loc="left"), bottom.get_title(loc="left")) == (long.subtitle, short.subtitle)
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {plots.STYLES[k].legend for k in set(long.kinds()) | set(short.kinds())} <= legend
    with pytest.raises(ValueError):
        plots.draw_stack([])


def _pixels(fig):
    import io

    import numpy
    from PIL import Image

    with matplotlib.rc_context(plots.PANEL_RC):
        return numpy.asarray(Image.open(io.BytesIO(plots.png_bytes(fig, dpi=72, fast=True))))


def test_draw_stack_redrawn_in_place_is_the_picture_a_new_figure_gives(deliver_1h, deliver_4d, duplicate):
    spool = deliver(["refused@0-1h", "disk-loss@30m"], DeliveryConfig(receiver="wal"))
    stacks = []
    for scale in ("symlog", "linear", "auto"):  # a symlog axis, then a linear one, in the same axes
        one_hour, four_days, dup, spooled = (plots.delivery_lanes(t, scale=scale)
                                             for t in (deliver_1h, deliver_4d, duplicate, spool))
        stacks += [[four_days, one_hour], [spooled, dup], [one_hour, four_days], [dup, spooled, four_days],
                   [spooled, one_hour.only(plots.LANE_SETS["spool"])]]  # fewer lanes after more, and more after fewer
    fig = None
    for stack in stacks:
        redrawn = plots.draw_stack(stack, figure=fig)
        assert redrawn is fig or fig is None or len(fig.axes) != len(stack)  # in place when the count matches
        assert len(redrawn.axes) == len(stack)
        assert (_pixels(redrawn) == _pixels(plots.draw_stack(stack))).all(), [t.subtitle for t in stack]
        fig = redrawn


def test_a_disk_full_window_has_its_own_lane():
    trace = deliver(["disk-full@0-1h"], DeliveryConfig(receiver="wal"))
    tl = plots.delivery_lanes(trace)
    disk = tl.lane("disk")
    assert disk.spans() == [(0.0, 3600.0, "full")] and disk.bars[0].kind == "disk-full"
    assert "disk-full" in tl.kinds() and tl.outage == []  # the receiver's disk, not an S3 outage
    assert "disk" not in plots.delivery_lanes(deliver(["refused@0-1m"], DeliveryConfig())).keys()
