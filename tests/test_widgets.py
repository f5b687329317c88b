"""Widget panels without a browser: values become scenarios, controls drive the verdict and the plotted lanes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import pytest  # noqa: E402

from blobedu import widgets as W  # noqa: E402
from blobedu.errors import BlobeduError  # noqa: E402

DAY = 86400.0


# -- plain functions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("values, specs", [
    ({"faults": ""}, []),
    ({"faults": "503@0-1h"}, ["503@0s-1h"]),
    ({"faults": "refused@30m"}, ["refused@30m"]),
    ({"faults": "refused@0-1h\ndisk-loss@30m"}, ["refused@0s-1h", "disk-loss@30m"]),
    ({"faults": " refused@0-1h ,  crash@30m \n\n"}, ["refused@0s-1h", "crash@30m"]),
    ({"faults": ["503@0-5", "lost-write@5s"]}, ["503@0s-5s", "lost-write@5s"]),
])
def test_fault_specs(values, specs):
    assert W.fault_specs(values) == specs


@pytest.mark.parametrize("text, messages", [
    ("503@1h-5m", ["fault line 1 (503@1h-5m): END must be after START"]),
    ("503@soon", ["fault line 1 (503@soon): bad duration"]),
    ("refused@0-1h\nboom@1m\ncrash@1m-2m", ["fault line 2 (boom@1m): unknown kind 'boom'",
                                               "fault line 3 (crash@1m-2m): crash happens at one moment"]),
])
def test_each_bad_fault_line_gets_its_own_message(text, messages):
    problems = W.fault_problems(text)
    assert len(problems) == len(messages)
    for problem, message in zip(problems, messages):
        assert problem.startswith(message)
    with pytest.raises(BlobeduError) as info:
        W.fault_specs({"faults": text})
    assert str(info.value).splitlines() == problems


def test_scenario_from_values():
    faults, config = W.scenario_from_values({"faults": "refused@0-4d", "sender": "postfix",
                                             "version": "0.15.5", "max_retries": 5, "verify": "off",
                                             "timeout": "10s", "latency": "2s", "data_timeout": "5m"})
    assert faults == ["refused@0s-4d"]
    assert (config.sender, config.receiver, config.data_timeout) == ("postfix", "stalwart", 300.0)
    store = config.store
    assert (store.version, store.max_retries, store.verify, store.timeout, store.latency) == \
        ("0.15.5", 5, False, 10.0, 2.0)
    # defaults: the version's own settings
    _, config = W.scenario_from_values({})
    assert (config.store.max_retries, config.store.verify) == (3, None)


@pytest.mark.parametrize("values, message", [
    ({"version": "0.16.1", "verify": "on"}, "no verifyAfterWrite"),
    ({"version": "0.16.18", "max_retries": 0}, "out of range for Stalwart 0.16.18: 1 to 10"),
    ({"version": "0.16.18", "max_retries": 11}, "1 to 10"),
    ({"version": "0.9.0", "max_retries": 3}, "no max-retries setting"),
    ({"timeout": "0"}, "timeout must be more than 0"),
    ({"data_timeout": "ten minutes"}, "final-dot wait: bad duration"),
    ({"version": "0.0.1"}, "no S3 blob store"),
    ({"version": "0.17.0"}, "not modelled"),
])
def test_invalid_combinations_raise_one_readable_error(values, message):
    with pytest.raises(BlobeduError, match=message):
        W.scenario_from_values(values)
    trace, text = W.run_panel(values)
    assert trace is None and text.startswith("⚠ cannot run this:") and message in text


def test_a_version_without_retries_takes_zero_or_nothing():
    for retries in (0, None):
        _, config = W.scenario_from_values({"version": "0.9.0", "max_retries": retries})
        assert config.store.resolved()["max_retries"] == 0


def test_unknown_controls_are_refused():
    with pytest.raises(BlobeduError, match="unknown control"):
        W.scenario_from_values({"colour": "red"})
    with pytest.raises(BlobeduError, match="unknown control"):
        W.put_panel(colour="red")


def test_put_panel_has_no_receiver_faults():
    trace, text = W.run_put_panel({"faults": "503@0-5\ncrash@1m"})
    assert trace is None and "fault line 2 (crash@1m)" in text and "delivery panel" in text


def test_missing_wal_receiver_is_a_message(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "blobedu.spool" else real(name, *a))
    trace, text = W.run_panel({"receiver": "wal"})
    assert trace is None and "wal receiver" in text


# -- the PUT panel ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def put_panel():
    return W.put_panel()


def test_put_panel_default_state(put_panel):
    p = put_panel
    assert isinstance(p, ipywidgets.VBox)
    assert p.verdict_text == "stored after 7s, 5 requests (4 PUT + 1 HEAD), durable in S3"
    assert "stored after 7s" in p.verdict.value
    assert p.error is None and p.trace.outcome == "stored"
    assert p.lanes.lane("requests:PUT").points() == [(0, "503"), (1, "503"), (3, "503"), (7, "200")]
    import base64

    assert isinstance(p.output, ipywidgets.Image) and p.output.format == "png"
    assert bytes(p.output.value) == base64.b64decode(p.png) and bytes(p.output.value).startswith(b"\x89PNG")
    assert p.output.layout.display is None
    bundle = p._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png"} <= set(bundle)
    assert bundle["text/plain"] == p.verdict_text


def test_put_panel_controls_run_once_per_change(put_panel):
    p = put_panel
    assert set(p.controls) == {"faults", "version", "max_retries", "verify", "timeout", "latency", "scale"}
    for name in ("max_retries", "faults", "timeout", "latency"):
        assert p.controls[name].continuous_update is False
    assert [o[1] for o in p.controls["version"].options] == ["0.8.1", "0.9.0", "0.10.5", "0.12.3", "0.15.5", "0.16.1",
                                                             "0.16.18"]


def test_put_panel_follows_its_controls(put_panel):
    p = put_panel
    p.update(version="0.15.5", faults="refused@0")
    assert p.verdict_text.startswith("failed after 0s, 1 request (1 PUT), not stored: S3Error")
    assert p.lanes.lane("sleeps").bars == []
    p.controls["version"].value = "0.16.18"  # one control: the observer reruns
    assert p.verdict_text.startswith("failed after 1s, 2 requests (2 PUT)")
    assert [b.kind for b in p.lanes.lane("sleeps").bars] == ["transport-retry"]
    p.update(version="0.9.0", faults="503@0-5s")
    assert p.controls["max_retries"].disabled and p.values()["max_retries"] is None
    assert p.verdict_text.startswith("failed after 0s, 1 request")
    p.update(version="0.16.18")
    assert not p.controls["max_retries"].disabled
    assert p.verdict_text.startswith("stored after 7s")


def test_put_panel_shows_problems_instead_of_raising(put_panel):
    p = put_panel
    p.update(version="0.16.1", verify="on")
    assert p.error and "no verifyAfterWrite" in p.verdict_text and "D55E00" in p.verdict.value
    assert p.trace is None and p.lanes is None and p.png is None
    assert bytes(p.output.value) == b"" and p.output.layout.display == "none"  # the message shows once, in the verdict
    assert "image/png" not in p._repr_mimebundle_()
    p.update(verify="default", max_retries=11)
    assert "1 to 10" in p.verdict_text
    p.update(max_retries=3, latency="fast")
    assert "latency: bad duration" in p.verdict_text
    p.update(latency="0", version="0.16.18")
    assert p.error is None and p.verdict_text.startswith("stored after 7s")


# -- the delivery panel ----------------------------------------------------------------------------------
def test_delivery_panel_follows_its_controls():
    p = W.delivery_panel()
    assert {"sender", "receiver", "data_timeout"} <= set(p.controls)
    assert p.verdict_text.startswith("delivered after 1h02m, 5 × 451")
    assert p.lanes.axis.unit == "min" and p.lanes.outage == [(0.0, 3600.0)]
    p.update(faults="refused@0-4d", sender="postfix")
    assert p.verdict_text.startswith("delivered after 4d")
    assert (p.lanes.axis.scale, p.lanes.axis.unit) == ("symlog", "d")
    assert p.lanes.outage == [(0.0, 4 * DAY)]
    assert p.lanes.lane("smtp").points()[-1][1] == "250"
    assert p.lanes.lane("custody:S3").bars[0].open
    p.update(sender="stalwart")
    assert p.verdict_text.startswith("bounced at 3d, 9 × 451, 0 copies")
    assert p.lanes.lane("custody:S3").bars == []
    assert (3 * DAY, "bounce") in p.lanes.lane("outcome").points()
    p.update(version="0.16.1", verify="on")
    assert "no verifyAfterWrite" in p.verdict_text and p.trace is None
    p.update(version="0.10.5", verify="default", faults="503@0-1m")
    assert "2 copies" in p.verdict_text
    assert (65536.0, "250 to nobody") in p.lanes.lane("smtp").points()


def test_delivery_panel_defaults_can_be_given():
    p = W.delivery_panel(faults="", sender="exim", scale="linear")
    assert p.controls["sender"].value == "exim"
    assert p.verdict_text.startswith("delivered after 0s, no 4xx, 1 copy")
    assert p.lanes.axis.scale == "linear" and p.lanes.outage == []


def test_delivery_panel_runs_several_faults_at_once():
    p = W.delivery_panel(faults="refused@0-1h\ndisk-loss@30m", receiver="wal")
    assert p.verdict_text.startswith("LOST after a 250")
    assert (1800.0, "disk-loss") in p.lanes.lane("disk").points()  # the receiver's lane, not the mailbox's
    assert (1800.0, "LOST") in p.lanes.lane("outcome").points()
    p.update(receiver="stalwart")
    assert p.verdict_text.startswith("delivered after 1h02m")
    p.controls["faults"].value = "refused@0-1h\nnope"
    assert p.error and p.verdict_text.endswith("fault line 2 (nope): write KIND@START[-END], e.g. 503@0-5, "
                                               "refused@30m-2h, crash@30m")


def test_a_reused_endpoint_starts_each_run_empty():
    stored = W.run_verify_panel({"verify": "on"})[0]
    assert stored.fate == "delivered"
    lost = W.run_verify_panel({"verify": "off"})[0]  # the same blob key: an old object must not count
    assert lost.fate == "bounced" and [e["result"] for e in lost.local][:1] == ["Blob not found."]


# -- notebook 02's verify panel and notebook 04's side-by-side panel ---------------------------------------
def test_verify_panel_shows_the_re_put_and_the_missing_blob():
    p = W.verify_panel()
    assert set(p.controls) == {"version", "verify", "lost_from", "lost_until", "max_retries", "scale"}
    lines = p.verdict_text.splitlines()
    assert lines[0].startswith("delivered after 1s")
    assert lines[1] == "the 250's store loop: PUT 200, HEAD 404, PUT 200, HEAD 200 (1 re-PUT after a HEAD 404)"
    p.update(verify="off")
    lines = p.verdict_text.splitlines()
    assert lines[0].startswith("bounced at 3d")
    assert lines[1] == "the 250's store loop: PUT 200"
    assert lines[2].startswith("after it: a 250 for a blob that is not in S3, then local delivery: "
                               "'Blob not found.' × ")
    p.update(version="0.16.1", verify="on")
    assert "no verifyAfterWrite" in p.verdict_text and p.trace is None
    p.update(verify="off", lost_until="5m")
    assert p.verdict_text.startswith("bounced at 3d")
    p.update(lost_until="")  # S3 loses writes for good: the receiver's bounce, stored the same way, too
    assert p.verdict_text.startswith("LOST after a 250")
    assert p.verdict_text.splitlines()[2].endswith("then the receiver's bounce at 3d was lost too")
    p.update(version="0.16.18", verify="on", lost_until="10s", max_retries=3)
    assert "4 × " not in p.verdict_text and p.verdict_text.startswith("delivered after 2m07s, 1 × 451")
    p.update(lost_until="1s", lost_from="5s")
    assert "the lost-write window: END must be after START" in p.verdict_text


def test_compare_panel_reproduces_the_readme_headline_from_its_preset():
    p = W.compare_panel(preset="S3 outage + disk loss")
    assert W.fault_lines(p.controls["faults"].value) == ["refused@0-1h", "disk-loss@30m"]
    stalwart, spool = p.verdict_text.splitlines()
    assert stalwart == "Stalwart (no spool): delivered after 1h02m · copy: sender 0s-1h02m → S3 from 1h02m"
    assert spool == ("write-ahead spool: LOST at 30m after a 250, author never told · "
                     "copy: sender until 0s → spool 0s-30m (disk lost)")
    assert isinstance(p.lanes, list) and len(p.lanes) == 2
    assert p.lanes[0].axis == p.lanes[1].axis  # one time axis for both
    assert p.lanes[1].lane("custody:spool").spans() == [(0.0, 1800.0, p.lanes[1].lane("custody:spool").bars[0].label)]
    assert len(p.figure.axes) == 2


def test_the_designs_runs_give_what_deliver_gives_alone():
    from blobedu.delivery import deliver

    faults, configs = W.compare_scenario_from_values({"faults": "lost-write@0-1h\ndisk-loss@30m"})
    both = W._deliver_both(faults, configs)
    for receiver, config in configs.items():
        alone = deliver(faults, config)
        spans = [[(c["holder"], c["from"], c["to"]) for c in t.custody] for t in (both[receiver], alone)]
        assert both[receiver].fate == alone.fate and spans[0] == spans[1]  # (the notes name the SMTP ports)
        assert [s.reply for s in both[receiver].sessions] == [s.reply for s in alone.sessions]


def test_compare_panel_presets_and_custom_faults():
    p = W.compare_panel()
    p.update(preset="S3 outage + receiver crash")
    assert p.controls["faults"].value == "refused@0-1h\ncrash@30m"
    assert all(line.split(": ")[1].startswith("delivered") for line in p.verdict_text.splitlines())
    p.update(preset="disk full (S3 up)")
    stalwart, spool = p.verdict_text.splitlines()
    assert stalwart.endswith("delivered after 0s · copy: sender until 0s → S3 from 0s")
    assert spool.endswith("delivered after 1h02m · copy: sender 0s-1h02m → spool at 1h02m → S3 from 1h02m")
    p.controls["faults"].value = "refused@0-4d"  # a reader's own faults: the case becomes custom
    assert p.controls["preset"].value == W.CUSTOM
    assert "bounced at 3d, author told" in p.verdict_text.splitlines()[0]
    p.controls["faults"].value = "refused@0-1h"
    assert p.controls["preset"].value == "S3 outage only"


def test_compare_panel_adds_the_fair_wal_on_request():
    p = W.compare_panel(preset="S3 outage + disk loss", spools="one disk + fair WAL")
    stalwart, spool, fair = p.verdict_text.splitlines()
    assert spool.startswith("write-ahead spool: LOST at 30m")
    assert fair.startswith("fair WAL (3 replicas, backoff): delivered after 1h")
    assert len(p.lanes) == 3 and p.lanes[0].axis == p.lanes[2].axis and len(p.figure.axes) == 3
    p.update(spools="one disk")
    assert len(p.verdict_text.splitlines()) == 2
    with pytest.raises(BlobeduError):
        W.compare_scenario_from_values({"spools": "five disks"})


def test_compare_panel_draws_the_lanes_04_teaches_and_nothing_of_the_store_loop():
    from blobedu.plots import LANE_SETS

    p = W.compare_panel(preset="S3 outage + receiver crash", spools="one disk + fair WAL")
    assert [[lane.key for lane in t.lanes] for t in p.lanes] == [
        ["smtp", "disk", "custody:sender queue", "custody:receiver memory", "custody:spool", "custody:S3", "outcome"]] * 3
    assert all(lane.key in LANE_SETS["spool"] for t in p.lanes for lane in t.lanes)
    # the full timelines still have the store loop's lanes: only the panel leaves them out
    assert "requests:PUT" in W.compare_lanes(p.trace)[0].keys()
    assert W.compare_lanes(p.trace, lanes="spool")[0].keys() == p.lanes[0].keys()
    # the caption's grammar: both designs, or each design
    assert p.lanes[0].title.startswith("the same faults through each design: top to bottom")
    p.update(spools="one disk")
    assert p.lanes[0].title.startswith("the same faults through both designs: top, Stalwart")


# -- the fault picker (#19 item 3): a kind and two sliders instead of typing KIND@START-END ----------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from blobedu.faults import RECEIVER_KINDS  # noqa: E402

_POINT = {k for k in RECEIVER_KINDS if k != "disk-full"}
#: Within the 30-day horizon the parser allows, so every generated window is one the typed box takes.
_starts = st.one_of(st.sampled_from(W.START_STOPS), st.integers(0, 10 * 86400).map(float))
_lengths = st.one_of(st.sampled_from(W.LENGTH_STOPS), st.integers(1, 10 * 86400).map(float))


def _typed(kind: str, start: float, length: float) -> str:
    """What a reader would type for the same fault, in plain seconds."""
    if kind in _POINT or length == W.FOREVER:
        return f"{kind}@{start:.0f}"
    return f"{kind}@{start:.0f}-{start + length:.0f}"


@given(kind=st.sampled_from(W.PICKER_KINDS), start=_starts, length=_lengths)
def test_the_picker_writes_exactly_the_fault_the_typed_box_would(kind, start, length):
    spec = W.picked_spec(kind, start, length)
    assert W.fault_specs({"faults": spec}) == W.fault_specs({"faults": _typed(kind, start, length)}) == [spec]
    # and the picker reads back what it wrote
    got_kind, got_start, got_length = W.picker_choice(spec)
    assert W.picked_spec(got_kind, got_start, got_length) == spec


@settings(max_examples=40)
@given(kind=st.sampled_from(W.PICKER_KINDS), start=_starts, length=_lengths, data=st.data())
def test_moving_the_picker_writes_one_fault_and_typing_moves_the_picker(kind, start, length, data):
    box = W._faults_box("")
    picker = W.FaultPicker(box)
    assert picker.kind.value == W.NO_FAULT and picker.start.disabled and box.value == ""
    # typed first: the picker shows it, sliders included (a value between two stops becomes a stop)
    box.value = _typed(kind, start, length)
    assert (picker.kind.value, picker.start.value) == (kind, start) and picker.matches()
    if kind not in _POINT:
        assert picker.length.value == length and not picker.length.disabled
    # then the reader moves the sliders: the box holds the one fault they show
    picker.start.value = data.draw(st.sampled_from([v for _, v in picker.start.options]))
    picker.length.value = data.draw(st.sampled_from([v for _, v in picker.length.options]))
    # (a move to the value already shown changes nothing: the box keeps the reader's own text)
    assert W.fault_specs({"faults": box.value}) == [picker.spec()] and picker.matches()
    assert W.fault_specs({"faults": box.value}) == W.fault_specs({"faults": _typed(
        picker.kind.value, picker.start.value, picker.length.value)})


def test_the_picker_leaves_what_it_cannot_show_to_the_typed_box():
    box = W._faults_box("refused@0-1h\ndisk-loss@30m")
    picker = W.FaultPicker(box)
    assert picker.kind.value == W.TYPED and picker.start.disabled and picker.length.disabled and picker.matches()
    for text in ("502@0-1h", "503@soon", "refused@0-1h, crash@30m"):  # a status it does not list, a bad line, two
        box.value = text
        assert picker.kind.value == W.TYPED and box.value == text  # the typed box wins, untouched
    picker.kind.value = W.TYPED  # choosing "as typed" keeps the box
    assert box.value == "refused@0-1h, crash@30m"
    picker.kind.value = "503"
    assert box.value == "503@0s-1h" and not picker.start.disabled
    picker.kind.value = W.NO_FAULT
    assert box.value == "" and picker.start.disabled
    picker.kind.value = "crash"  # a moment: no length
    assert box.value == "crash@0s" and picker.length.disabled
    put = W.FaultPicker(W._faults_box("crash@30m"), W.PICKER_S3_KINDS)  # the PUT panel offers S3 kinds only
    assert put.kind.value == W.TYPED and "crash" not in [v for _, v in put.kind.options]


#: What a reader might type: anything, and near-misses of a spec.
_hostile = st.one_of(
    # one line: no comma and nothing str.splitlines splits at (\x1c-\x1e, \u2028 ... each make a line of their own)
    st.text(max_size=40).filter(lambda t: len(t.splitlines()) == 1 and "," not in t and t.strip()),
    st.builds(lambda k, a, b: f"{k}@{a}-{b}", st.sampled_from(["503", "refused", "crash", "boom", "999", "", "5O3"]),
              st.sampled_from(["0", "1h", "-1", "1e309", "nan", "", "1" + "0" * 40, "30m"]),
              st.sampled_from(["1h", "0", "", "forever", "2d", "١٢"])),
)


@pytest.fixture(scope="module")
def picked_put_panel():
    return W.put_panel()


@settings(max_examples=60)
@given(text=_hostile)
def test_hostile_typed_faults_give_one_clear_message_and_the_picker_follows(picked_put_panel, text):
    p = picked_put_panel
    p.update(faults=text)  # never raises
    kind = p.picker.kind.value
    assert p.picker.matches()
    if p.error is None:  # it parsed: a fault the picker shows, or one it leaves typed
        assert p.trace is not None and (kind in W.PICKER_S3_KINDS or kind == W.TYPED)
    else:
        assert kind == W.TYPED and p.trace is None
        assert p.verdict_text.startswith("⚠ cannot run this: fault line 1 (") and "\n" not in p.verdict_text
        assert "Traceback" not in p.verdict_text


def test_a_simple_fault_given_as_faults_sets_the_picker_and_one_move_runs_once():
    p = W.delivery_panel(faults="timeout@0-30m", sender="postfix")
    assert (p.picker.kind.value, p.picker.start.value, p.picker.length.value) == ("timeout", 0.0, 1800.0)
    assert p.controls["faults"].value == "timeout@0-30m"  # the typed box keeps what was given
    assert p.advanced.selected_index is None and p.advanced.children[0].children[0] is p.controls["faults"]
    assert p.picker.box in p.children or any(p.picker.kind in getattr(c, "children", ()) for c in p.children)
    runs = []
    runner = p.runner
    p.runner = lambda values: runs.append(values["faults"]) or runner(values)
    p.picker.length.value = 3600.0
    assert runs == ["timeout@0s-1h"]  # one run per move, with the picker's one fault
    typed = W.delivery_panel(faults="timeout@0-1h", sender="postfix")
    assert p.verdict_text == typed.verdict_text and p.lanes.outage == typed.lanes.outage
    p.update(faults="refused@0-1h\ncrash@30m")
    assert p.picker.kind.value == W.TYPED and p.picker.matches()


def test_the_compare_panels_case_follows_the_picker():
    p = W.compare_panel(preset="S3 outage + receiver crash")
    assert p.picker.kind.value == W.TYPED  # a case of two faults stays typed
    p.picker.kind.value = "refused"  # refused@0s-1h: the same faults as the case "S3 outage only"
    assert p.controls["preset"].value == "S3 outage only"
    assert p.verdict_text.splitlines()[0].startswith("Stalwart (no spool): delivered after 1h02m")
    p.update(preset="disk full (S3 up)")
    assert (p.picker.kind.value, p.picker.length.value) == ("disk-full", 3600.0)
