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


# -- the one glossary (#19 item 6) --------------------------------------------------------------------------
GLOSSARY = NOTEBOOKS / "glossary.md"
#: The anchors the notebooks link (briefing: exactly one ``## Term`` heading each).
TERMS = ["dsn", "final-dot", "data-store-and-blob-store", "custody", "jitter", "virtual-time", "tempfail",
         "backoff", "queue-lifetime", "wal", "spool", "verify", "orphan-blob", "sending-server"]


def _glossary_anchors() -> list[str]:
    return [site.github_anchor(h) for h in re.findall(r"(?m)^## (.+)$", GLOSSARY.read_text(encoding="utf-8"))]


def test_github_anchor_is_githubs_slug():
    assert site.github_anchor("Data store and blob store") == "data-store-and-blob-store"
    assert site.github_anchor("WAL") == "wal"
    assert site.github_anchor("Sending server's <code>queue</code>, again!") == "sending-servers-queue-again"


def test_the_glossary_has_exactly_one_heading_per_term():
    anchors = _glossary_anchors()
    assert sorted(anchors) == sorted(TERMS), anchors


def test_every_glossary_link_in_the_notebooks_and_readme_lands_on_a_term():
    anchors = set(_glossary_anchors())
    sources = {p.name: p.read_text(encoding="utf-8") for p in NOTEBOOKS.glob("*.ipynb")}
    sources["README.md"] = (NOTEBOOKS.parent / "README.md").read_text(encoding="utf-8")
    sources["glossary.md"] = GLOSSARY.read_text(encoding="utf-8")
    for name, text in sources.items():
        for anchor in re.findall(r"glossary\.(?:md|html)#([\w-]+)", text):
            assert anchor in anchors, f"{name} links glossary#{anchor}, which no heading gives"
        for anchor in re.findall(r"\]\(#([\w-]+)\)", text) if name == "glossary.md" else []:
            assert anchor in anchors, f"the glossary links #{anchor} to itself, which no heading gives"


def test_the_glossary_page_has_githubs_anchors_and_the_pages_link_to_it():
    page = site.glossary_html(GLOSSARY.read_text(encoding="utf-8"))
    for term in TERMS:
        assert page.count(f'id="{term}"') == 1, term
    assert 'href="#custody"' in page and 'href="index.html"' in page
    assert not re.findall(r"""(?:src|href)=["']?https?://""", page)  # nothing from a CDN
    linked = site.link_glossary('<a href="glossary.md#dsn">DSN</a> <a href="glossary.md">all</a> '
                                '<a href="other.md#dsn">x</a>')
    assert linked == '<a href="glossary.html#dsn">DSN</a> <a href="glossary.html">all</a> <a href="other.md#dsn">x</a>'
    assert 'href="glossary.html"' in site.index_html([])


def test_build_writes_the_glossary_page_and_rewrites_a_notebooks_links(tmp_path, monkeypatch):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# 00 · Q?\n\nThe sender writes a [DSN](glossary.md#dsn).")])
    nbformat.write(nb, nbs / "00_start_here.ipynb")
    (nbs / "glossary.md").write_text("# Glossary\n\n## DSN\n\nA delivery status notification.\n")
    monkeypatch.setattr(site, "install_html_manager", lambda out, cache: [])
    pages = site.build(tmp_path / "site", nbs, tmp_path / "cache")
    names = [p.name for p in pages]
    assert names == ["index.html", "00_start_here.html", "glossary.html"]
    assert 'href="glossary.html#dsn"' in (tmp_path / "site" / "00_start_here.html").read_text()
    assert 'id="dsn"' in (tmp_path / "site" / "glossary.html").read_text()
