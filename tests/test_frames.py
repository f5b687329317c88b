"""blobedu.frames: a slider over frames that are real runs, linked in the browser (no kernel needed)."""

from __future__ import annotations

from ipywidgets.widgets.widget_link import Link
import pytest

from blobedu import StoreConfig, put
from blobedu.frames import CSS_CLASS, Frames
from blobedu.plots import plot_put
from blobedu.widgets import put_verdict


@pytest.fixture(scope="module")
def bursts():
    return Frames(["2s", "8s"], lambda b: put(faults=[f"503@0-{b}"]),
                  lambda b, t: plot_put(t, lanes="retry", horizon=10, headline=f"a {b} burst"),
                  description="burst", value="8s", verdict=lambda b, t: put_verdict(t))


def test_each_frame_is_a_real_run(bursts):
    short, long = bursts.results
    assert short.outcome == "stored" and long.outcome == "failed"  # 7 s of retries absorb 2 s, not 8 s
    assert bursts.verdicts == [put_verdict(short), put_verdict(long)]
    assert all(png.startswith(b"\x89PNG") for png in bursts.pngs) and bursts.pngs[0] != bursts.pngs[1]


def test_the_slider_is_linked_to_the_stack_in_the_browser(bursts):
    assert isinstance(bursts.link, Link)  # what jslink makes: a link kept in the browser
    assert bursts.link.source == (bursts.slider, "index") and bursts.link.target == (bursts.stack, "selected_index")
    assert list(bursts.slider.options) == ["2s", "8s"] and bursts.slider.index == 1  # value="8s"
    assert bursts.stack.selected_index == 1
    assert [child.value for child in bursts.stack.children] == bursts.pngs
    assert CSS_CLASS in bursts._dom_classes


def test_renderers_without_widgets_get_the_default_frame_and_its_verdict(bursts):
    import base64

    data = bursts._repr_mimebundle_()
    assert data["text/plain"] == bursts.verdicts[1]
    assert base64.b64decode(data["image/png"]) == bursts.pngs[1]
    assert "application/vnd.jupyter.widget-view+json" in data


def test_frames_are_small(bursts):
    assert max(len(png) for png in bursts.pngs) < 80_000  # a notebook with two sliders stays far under 3 MB


@pytest.mark.parametrize("kwargs", [dict(values=[]), dict(values=[1, 2], labels=["a"]), dict(values=[1, 2], labels=["a", "a"])])
def test_bad_frames_are_refused(kwargs):
    with pytest.raises(ValueError):
        Frames(run=lambda v: None, draw=lambda v, r: None, description="x", **kwargs)


def test_a_value_not_offered_is_refused():
    with pytest.raises(ValueError):
        Frames([3], lambda n: put(faults=["503@0"], config=StoreConfig(max_retries=n)),
               lambda n, t: plot_put(t), description="n", value=5)
