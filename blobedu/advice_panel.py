"""The admin's card in a notebook: a release dropdown over :func:`blobedu.advice.advise`. No logic here.

The card for the latest release is printed as plain text first (:func:`show`), so a reader without a
kernel (GitHub, nbviewer, a Binder still starting) reads it; the dropdown below it shows the card of
any other release once a kernel runs.
"""

from __future__ import annotations

import ipywidgets as widgets

from .advice import advise
from .versions import LATEST, RELEASES

_STYLE = {"description_width": "initial"}


def release_options() -> list[str]:
    """Every release with an S3 backend, newest first."""
    return [".".join(map(str, r)) for r in reversed(RELEASES)]


class CardPanel(widgets.VBox):
    """A dropdown of releases and, under it, the card of the one chosen."""

    def __init__(self, version: str = LATEST) -> None:
        self.dropdown = widgets.Dropdown(options=release_options(), value=version, description="Stalwart release",
                                         style=_STYLE, layout=widgets.Layout(width="280px"))
        self.output = widgets.Output()
        self.shown = version
        super().__init__([self.dropdown, self.output])
        self.dropdown.observe(lambda change: self.show(change["new"]), names="value")

    def show(self, version: str) -> None:
        """Replace the card under the dropdown with ``version``'s (computing a tolerance takes seconds)."""
        self.shown = version
        self._write(f"computing the card for Stalwart {version} ...")
        self._write(advise(version).text())

    def _write(self, text: str) -> None:
        # set the Output's outputs directly: works with a kernel and without one (tests)
        self.output.outputs = ({"output_type": "stream", "name": "stdout", "text": text + "\n"},)

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = (f"[a dropdown of Stalwart releases, at {self.shown}: with a kernel running, "
                                  "pick yours to see its card here]")
        return data


def card_panel(version: str = LATEST) -> CardPanel:
    """Print ``version``'s card as plain text, then return the dropdown for the other releases."""
    print(advise(version).text())
    return CardPanel(version)
