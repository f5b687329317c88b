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
    ({"kind": "none"}, []),
    ({"kind": "503", "start": "0", "end": "1h"}, ["503@0s-1h"]),
    ({"kind": "refused", "start": "30m", "end": ""}, ["refused@30m"]),
    ({"kind": "refused", "start": "0", "end": "4d"}, ["refused@0s-4d"]),
    ({"kind": "crash", "start": "30m", "end": "1h"}, ["crash@30m"]),  # a moment: 'until' is ignored
])
def test_fault_specs(values, specs):
    assert W.fault_specs(values) == specs


@pytest.mark.parametrize("values, message", [
    ({"kind": "503", "start": "1h", "end": "5m"}, "before it starts"),
    ({"kind": "503", "start": "soon", "end": ""}, "from: bad duration"),
    ({"kind": "503", "start": "", "end": ""}, "from is empty"),
])
def test_fault_specs_refuse_bad_windows(values, message):
    with pytest.raises(BlobeduError, match=message):
        W.fault_specs(values)


def test_scenario_from_values():
    faults, config = W.scenario_from_values({"kind": "refused", "end": "4d", "sender": "postfix",
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
    trace, text = W.run_put_panel({"kind": "crash", "start": "1m"})
    assert trace is None and "delivery panel" in text


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
    (shown,) = p.output.outputs
    assert shown["data"]["image/png"] == p.png and p.png
    bundle = p._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png"} <= set(bundle)
    assert bundle["text/plain"] == p.verdict_text


def test_put_panel_controls_run_once_per_change(put_panel):
    p = put_panel
    assert set(p.controls) == {"kind", "start", "end", "version", "max_retries", "verify", "timeout", "latency",
                               "scale"}
    for name in ("max_retries", "start", "end", "timeout", "latency"):
        assert p.controls[name].continuous_update is False
    assert [o[1] for o in p.controls["version"].options] == ["0.8.1", "0.9.0", "0.10.5", "0.12.3", "0.15.5", "0.16.1",
                                                             "0.16.18"]


def test_put_panel_follows_its_controls(put_panel):
    p = put_panel
    p.update(version="0.15.5", kind="refused", end="")
    assert p.verdict_text.startswith("failed after 0s, 1 request (1 PUT), not stored: S3Error")
    assert p.lanes.lane("sleeps").bars == []
    p.controls["version"].value = "0.16.18"  # one control: the observer reruns
    assert p.verdict_text.startswith("failed after 1s, 2 requests (2 PUT)")
    assert [b.kind for b in p.lanes.lane("sleeps").bars] == ["transport-retry"]
    p.update(version="0.9.0", kind="503", end="5s")
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
    assert p.output.outputs[0]["data"] == {"text/plain": p.verdict_text}
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
    p.update(kind="refused", end="4d", sender="postfix")
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
    p.update(version="0.10.5", verify="default", kind="503", end="1m")
    assert "2 copies" in p.verdict_text
    assert (65536.0, "250 to nobody") in p.lanes.lane("smtp").points()


def test_delivery_panel_defaults_can_be_given():
    p = W.delivery_panel(kind="none", sender="exim", scale="linear")
    assert p.controls["sender"].value == "exim"
    assert p.verdict_text.startswith("delivered after 0s, no 4xx, 1 copy")
    assert p.lanes.axis.scale == "linear" and p.lanes.outage == []
