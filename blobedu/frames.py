"""A figure that moves where no kernel runs: a slider over frames that are real model runs.

Theory of operation
-------------------
A forum link lands on a static page or on nbviewer, where no Python runs, so a panel's controls are
dead there (teaching.md, 5).  :class:`Frames` runs the model once per value of ONE parameter when the
notebook is executed (an outage length, maxRetries, verify on or off), draws each run with
:mod:`blobedu.plots` into a small PNG, and shows the PNGs as a ``Stack`` of ``Image`` widgets with a
``SelectionSlider`` over the values.  The slider's ``index`` is linked to the stack's
``selected_index`` with :func:`ipywidgets.jslink`: the link lives in the browser, so moving the
slider swaps the picture with no kernel at all.

The frames survive in the notebook because the notebook is executed with its widget state stored
(``jupyter nbconvert --execute`` stores it by default; ``make site`` renders it with the widget
manager's ``embed.js``).  In JupyterLab the same widgets run as ordinary widgets.  Renderers that
cannot draw widgets at all (GitHub) get the default frame as a plain PNG and the default run's
verdict as text, through the display bundle.

Nothing here decides what a frame shows: the caller passes ``run(value) -> result`` and
``draw(value, result) -> Figure``, so every frame is a real run, the same ones a test can check
(:attr:`Frames.results`).  Frames are drawn small (``DPI``, zlib level 9) so that a notebook with a
slider or two stays well under 3 MB.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Optional, Sequence

import ipywidgets as widgets
import matplotlib

from . import plots

#: Frames are rasterised at this many dots per inch: an 11-inch timeline is 880 px wide.
DPI = 80
#: The HTML class of a Frames box on a page.
CSS_CLASS = "blobedu-frames"


class Frames(widgets.VBox):
    """A ``SelectionSlider`` jslinked to a ``Stack`` of ``Image`` frames, one real run per value.

    ``values``: the parameter's values, in slider order; ``labels``: what the slider shows for each
    (default ``str(value)``); ``run(value)``: runs the model; ``draw(value, result)``: a matplotlib
    Figure of that run; ``verdict(value, result)``: one line of text for the run (optional, shown to
    renderers without widgets); ``value``: the one shown first (default: the first).

    Attributes for tests and notebooks: ``values``, ``labels``, ``results`` (one per value),
    ``pngs`` (the frames' PNG bytes), ``slider``, ``stack``, ``link``.
    """

    def __init__(self, values: Sequence[Any], run: Callable[[Any], Any], draw: Callable[[Any, Any], Any],
                 description: str, labels: Optional[Sequence[str]] = None,
                 verdict: Optional[Callable[[Any, Any], str]] = None, value: Any = None, dpi: int = DPI) -> None:
        self.values = list(values)
        if not self.values:
            raise ValueError("Frames needs at least one value")
        self.labels = [str(v) for v in self.values] if labels is None else [str(label) for label in labels]
        if len(self.labels) != len(self.values) or len(set(self.labels)) != len(self.labels):
            raise ValueError("Frames needs one distinct label per value")
        first = 0 if value is None else self.values.index(value)
        self.results = [run(v) for v in self.values]
        self.pngs: list[bytes] = []
        with matplotlib.rc_context(plots.PANEL_RC):
            for v, result in zip(self.values, self.results):
                figure = draw(v, result)
                self.pngs.append(_png(figure, dpi))
        self.verdicts = [verdict(v, r) if verdict else "" for v, r in zip(self.values, self.results)]
        images = [widgets.Image(value=png, format="png", layout=widgets.Layout(max_width="100%", height="auto"))
                  for png in self.pngs]
        self.stack = widgets.Stack(children=images, selected_index=first)
        self.slider = widgets.SelectionSlider(options=self.labels, index=first, description=description,
                                              continuous_update=True, style={"description_width": "initial"},
                                              layout=widgets.Layout(width="520px"))
        # the link runs in the browser: the slider moves the picture with no kernel
        self.link = widgets.jslink((self.slider, "index"), (self.stack, "selected_index"))
        self.png = base64.b64encode(self.pngs[first]).decode("ascii")
        self.verdict_text = self.verdicts[first]
        super().__init__([self.slider, self.stack])
        self.add_class(CSS_CLASS)  # how the site's browser test finds a kernel-less slider on a page

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        data["text/plain"] = self.verdict_text or f"{self.slider.description}: {self.labels[self.slider.index]}"
        data["image/png"] = self.png  # for renderers without widgets: the default frame still shows
        return data


def _png(figure, dpi: int) -> bytes:
    import io

    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 9, "optimize": True})
    return buf.getvalue()


__all__ = ["CSS_CLASS", "DPI", "Frames"]
