"""blobedu.site without a browser: page names, the index, and a page that asks no CDN for anything.

The pages in a real browser, offline, with their sliders moved: ``tests/test_site.py`` (marker browser).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from blobedu import site
from blobedu.errors import BlobeduError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_page_names_and_the_glob_picks_up_every_notebook(tmp_path):
    for name in ("00_a.ipynb", "08_new.ipynb", "09_more.ipynb"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    assert [p.name for p in site.notebooks_in(tmp_path)] == ["00_a.ipynb", "08_new.ipynb", "09_more.ipynb"]
    assert site.page_name(Path("notebooks/08_new.ipynb")) == "08_new.html"


def test_a_new_notebook_takes_its_question_from_its_heading():
    nb = {"cells": [{"cell_type": "markdown", "source": "# 08 · How fast does it drain?\n\ntext"}]}
    assert site._question(Path("08_x.ipynb"), nb) == "How fast does it drain?"
    assert site._question(Path("01_retry_loop.ipynb"), nb).startswith("How does Stalwart retry")


def test_the_index_links_each_page_and_binder():
    page = site.index_html([("Q<1>?", "01_x.html", "01_x.ipynb", "https://mybinder.org/v2/gh/o/r/v1", "A."),
                            ("Q2?", "08_y.html", "08_y.ipynb", None, "")])
    assert 'href="01_x.html">read</a>' in page and 'href="08_y.html">read</a>' in page
    assert "Q&lt;1&gt;?" in page and page.count("Binder</a>") == 1


def test_a_page_loads_nothing_from_a_cdn_and_uses_the_local_embed_js():
    body, _ = site._exporter().from_notebook_node(nbformat.read(NOTEBOOKS / "01_retry_loop.ipynb", as_version=4),
                                                  resources={"metadata": {"name": "01_retry_loop"}})
    srcs = re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", body)
    assert not [s for s in srcs if "mybinder.org/badge" not in s and "mybinder.org/v2" not in s], srcs
    assert "var widgetRendererSrc = 'embed.js'" in body
    assert "require.min.js" not in body and "mathjax" not in body.lower().replace("mathjax_url", "")
    assert 'href="index.html"' in body  # back to the index


def test_a_tampered_tarball_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "html-manager.tgz"
    bad.write_bytes(b"not the package")
    monkeypatch.setenv("BLOBEDU_HTML_MANAGER_TGZ", str(bad))
    with pytest.raises(BlobeduError, match="differs"):
        site.html_manager_tarball(tmp_path / "cache")
