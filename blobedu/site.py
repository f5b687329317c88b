"""The static site: ``make site`` writes ``site/`` from the stored notebooks, sliders working, no CDN.

Theory of operation
-------------------
A forum link lands where no kernel runs (teaching.md, 5).  This module turns every
``notebooks/NN_name.ipynb`` (a glob: new notebooks are picked up) into ``site/NN_name.html`` with
nbconvert's HTML exporter, from the STORED notebook (its outputs are the real runs CI re-executes;
nothing is executed here), and writes ``site/index.html``, the README's question table with a
"read" link to each page and a "run" link to Binder.  ``notebooks/glossary.md``, the one glossary
the notebooks link as ``glossary.md#term``, becomes ``site/glossary.html`` (markdown by mistune, the
renderer nbconvert itself uses, each heading with GitHub's anchor), and the pages' links to it are
pointed at that page.

The pages' widgets (the kernel-less sliders of :mod:`blobedu.frames`, and the panels' stored default
figures) are drawn from the widget state saved in each notebook by the widget manager's
``embed.js``, from the npm package ``@jupyter-widgets/html-manager`` (version 1, the line that
ipywidgets 8 speaks to).  It is obtained at build time with ``npm pack`` (the tarball is checked
against the registry's pinned sha512 and kept in ``build/site-npm/``, so a second build needs no
network) and copied into ``site/`` with its licence: the page loads nothing from a CDN.  The
exporter's template is nbconvert's ``lab`` one with the require.js, MathJax and Mermaid script tags
taken out (no page needs them: the notebooks have no maths, and ``embed.js`` is not an AMD module),
and a header linking back to the index, naming where the controls run.  The Binder badge's image is a
local copy (``binder-badge.svg``), so not even that request leaves the site.

``BLOBEDU_HTML_MANAGER_TGZ`` may point at a copy of the same tarball (checked the same way) for a
machine without npm.

Run: ``python -m blobedu.site [--out site] [--notebooks notebooks]`` (``make site`` does).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Optional

from .errors import BlobeduError
from .links import NOTEBOOKS, SITE_REF, SITE_REPO, binder_url

ROOT = Path(__file__).resolve().parent.parent
#: The widget manager: npm ``@jupyter-widgets/html-manager``, its version and the registry's integrity.
HTML_MANAGER = "@jupyter-widgets/html-manager"
HTML_MANAGER_VERSION = "1.0.15"
HTML_MANAGER_INTEGRITY = ("sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bC"
                          "rJ3CQA==")
HTML_MANAGER_LICENSE = "BSD-3-Clause"
#: What of the package's ``dist/`` the pages use: the non-AMD bundle, its third-party notices, its fonts.
_DIST_KEEP = re.compile(r"^(embed\.js|embed\.js\.LICENSE\.txt|[0-9a-f]{20}\.(woff2?|ttf|eot|svg))$")

_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}
{{ super() }}
<nav class="blobedu-nav" style="font: 14px sans-serif; margin: 8px 0 16px 0; padding: 8px 12px;
  background: #f4f4f4; border-radius: 4px">
<a href="index.html">&larr; all notebooks</a> &middot;
this page is static: its sliders switch between figures of real runs stored with the notebook, in your
browser, with no kernel; the full panels run the model on
{%- if resources.blobedu_binder %} <a href="{{ resources.blobedu_binder }}">Binder</a>{% else %} Binder{% endif %}.
</nav>
{%- endblock body_header -%}
"""


#: The Binder badge the notebooks show, and the local stand-in the pages use (no request leaves the site).
BINDER_BADGE_URL = "https://mybinder.org/badge_logo.svg"
BINDER_BADGE = "binder-badge.svg"
_BINDER_BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="109" height="20" role="img" aria-label="launch binder">
<rect width="64" height="20" fill="#555"/><rect x="64" width="45" height="20" fill="#579aca"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="6" y="14">launch</text><text x="69" y="14">binder</text></g></svg>
"""


def page_name(notebook: Path) -> str:
    """``NN_name.html`` for ``notebooks/NN_name.ipynb``."""
    return Path(notebook).with_suffix(".html").name


def notebooks_in(directory: Path) -> list[Path]:
    """Every ``*.ipynb`` in ``directory``, sorted by name (so 08, 09 ... are picked up when they appear)."""
    return sorted(p for p in Path(directory).glob("*.ipynb") if p.is_file())


def _question(notebook: Path, nb: dict) -> str:
    """The question a notebook answers: its row of :data:`NOTEBOOKS`, else its first heading."""
    if notebook.name in NOTEBOOKS:
        return NOTEBOOKS[notebook.name].question
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return re.sub(r"^#+\s*(\d+\s*·\s*)?", "", line).strip()
    return notebook.stem


# -- the widget manager -------------------------------------------------------------------------------
def _check_integrity(tgz: Path) -> None:
    algo, _, expected = HTML_MANAGER_INTEGRITY.partition("-")
    digest = base64.b64encode(hashlib.new(algo, tgz.read_bytes()).digest()).decode("ascii")
    if digest != expected:
        raise BlobeduError(f"{tgz} is not {HTML_MANAGER}@{HTML_MANAGER_VERSION}: its {algo} differs from the "
                           "registry's; delete it and build again")


def html_manager_tarball(cache: Path) -> Path:
    """The npm tarball of the widget manager, checked against its pinned sha512: cached, else ``npm pack``."""
    override = os.environ.get("BLOBEDU_HTML_MANAGER_TGZ")
    if override:
        tgz = Path(override)
        _check_integrity(tgz)
        return tgz
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"jupyter-widgets-html-manager-{HTML_MANAGER_VERSION}.tgz"
    if not tgz.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise BlobeduError(f"npm is needed once to fetch {HTML_MANAGER}@{HTML_MANAGER_VERSION} (apt-get install "
                               "npm), or set BLOBEDU_HTML_MANAGER_TGZ to its tarball")
        done = subprocess.run([npm, "pack", f"{HTML_MANAGER}@{HTML_MANAGER_VERSION}", "--pack-destination",
                               str(cache)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not tgz.exists():
            raise BlobeduError(f"npm pack {HTML_MANAGER}@{HTML_MANAGER_VERSION} failed: "
                               f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    _check_integrity(tgz)
    return tgz


def install_html_manager(out: Path, cache: Path) -> list[str]:
    """Copy ``embed.js``, its fonts and its licences into ``out``; the names written."""
    tgz = html_manager_tarball(cache)
    written = []
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if name == "package/package.json":
                meta = json.load(tar.extractfile(member))
            elif name.startswith("package/dist/") and member.isfile() and _DIST_KEEP.match(name[len("package/dist/"):]):
                target = out / name[len("package/dist/"):]
                target.write_bytes(tar.extractfile(member).read())
                written.append(target.name)
    notice = out / "embed.js.NOTICE.txt"
    notice.write_text(
        f"embed.js and its fonts are from the npm package {meta['name']}@{meta['version']}\n"
        f"({meta.get('homepage', 'https://github.com/jupyter-widgets/ipywidgets')}), licence "
        f"{meta.get('license', HTML_MANAGER_LICENSE)} (the Jupyter Development Team's BSD 3-Clause licence,\n"
        "https://github.com/jupyter-widgets/ipywidgets/blob/main/LICENSE). The third-party code bundled in\n"
        "embed.js is listed with its licences in embed.js.LICENSE.txt.\n")
    written.append(notice.name)
    return written


# -- pages --------------------------------------------------------------------------------------------
def _exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="blobedu_site.html.j2",
                        extra_loaders=[DictLoader({"blobedu_site.html.j2": _TEMPLATE})],
                        widget_renderer_url="embed.js")


def _binder(name: str, repo: str, ref: str) -> Optional[str]:
    try:
        return binder_url(repo, ref, name)
    except BlobeduError:  # a notebook the links table does not know yet
        return None


# -- the glossary --------------------------------------------------------------------------------------
#: The one glossary the notebooks link as ``glossary.md#term`` (#19 item 6), and its page.
GLOSSARY = "glossary.md"
GLOSSARY_PAGE = "glossary.html"
_GLOSSARY_LINK = re.compile(r'(href=")glossary\.md(#[\w-]*)?"')


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: ``Data store and blob store`` -> ``data-store-and-blob-store``."""
    text = re.sub(r"<[^>]+>", "", html.unescape(heading)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def link_glossary(page: str) -> str:
    """A page's links to ``glossary.md#x`` pointed at the site's ``glossary.html#x``."""
    return _GLOSSARY_LINK.sub(lambda m: f'{m.group(1)}{GLOSSARY_PAGE}{m.group(2) or ""}"', page)


def glossary_html(markdown_text: str) -> str:
    """The glossary as a page: markdown by mistune (nbconvert's own renderer), each heading with GitHub's anchor."""
    import mistune

    body = mistune.html(markdown_text)
    body = re.sub(r"<h([1-6])>(.*?)</h\1>",
                  lambda m: f'<h{m.group(1)} id="{github_anchor(m.group(2))}">{m.group(2)}</h{m.group(1)}>', body,
                  flags=re.S)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>blobedu: glossary</title>
<style>
body {{ font: 15px/1.5 sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; color: #222 }}
h2 {{ margin-top: 2rem; border-bottom: 1px solid #ddd }}
h2:target {{ background: #fff6c8 }}
code {{ font-size: 85%; background: #f4f4f4; padding: 0 .2em }}
</style></head><body>
<nav style="font: 14px sans-serif; margin-bottom: 1rem"><a href="index.html">&larr; all notebooks</a></nav>
{body}
</body></html>
"""


def index_html(rows: list[tuple[str, str, str, Optional[str], str]]) -> str:
    """The index page: the README's question table, each row with its "read" and "run" links."""
    body = []
    for question, page, name, binder, answer in rows:
        run = f'<a href="{html.escape(binder)}">Binder</a>' if binder else ""
        body.append(f"<tr><td>{html.escape(question)}<div class=a>{html.escape(answer)}</div></td>"
                    f'<td><a href="{html.escape(page)}">read</a></td><td>{run}</td>'
                    f"<td><code>{html.escape(name)}</code></td></tr>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>blobedu: what Stalwart does with a message when S3 is down</title>
<style>
body {{ font: 15px/1.45 sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222 }}
table {{ border-collapse: collapse; width: 100% }}
td, th {{ border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; vertical-align: top }}
.a {{ color: #555; font-size: 90%; margin-top: .2rem }}
</style></head><body>
<h1>What does Stalwart do with a message when it can't reach S3?</h1>
<p>Each notebook answers one question from a forum thread that asked whether Stalwart keeps a WAL or a
memory cache when its S3 blob store is unreachable. <b>read</b> opens the notebook as a static page, with
its stored outputs: its sliders move between figures of real model runs, in your browser, with no kernel.
<b>Binder</b> runs the notebook itself, with every control (the first start takes a few minutes).</p>
<p>The terms the notebooks use (DSN, final dot, custody, backoff, …) are defined in the
<a href="{GLOSSARY_PAGE}">glossary</a>.</p>
<table><thead><tr><th>question</th><th>read</th><th>run</th><th>notebook</th></tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""


def build(out: Path = ROOT / "site", notebooks: Path = ROOT / "notebooks", cache: Path = ROOT / "build" / "site-npm",
          repo: str = SITE_REPO, ref: str = SITE_REF) -> list[Path]:
    """Write the site into ``out`` (emptied first); returns the pages written, index first."""
    import nbformat

    paths = notebooks_in(notebooks)
    if not paths:
        raise BlobeduError(f"no notebooks in {notebooks}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    install_html_manager(out, cache)
    (out / BINDER_BADGE).write_text(_BINDER_BADGE_SVG, encoding="utf-8")
    exporter = _exporter()
    rows, pages = [], []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        binder = _binder(path.name, repo, ref)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem},
                                                             "blobedu_binder": binder})
        page = out / page_name(path)
        page.write_text(link_glossary(body.replace(BINDER_BADGE_URL, BINDER_BADGE)), encoding="utf-8")
        pages.append(page)
        answer = NOTEBOOKS[path.name].answer if path.name in NOTEBOOKS else ""
        rows.append((_question(path, nb), page.name, path.name, binder, answer))
    glossary = notebooks / GLOSSARY
    if glossary.is_file():
        page = out / GLOSSARY_PAGE
        page.write_text(glossary_html(glossary.read_text(encoding="utf-8")), encoding="utf-8")
        pages.append(page)
    index = out / "index.html"
    index.write_text(index_html(rows), encoding="utf-8")
    return [index] + pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blobedu.site", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "site-npm")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        pages = build(args.out, args.notebooks, args.cache)
    except BlobeduError as exc:
        print(f"blobedu.site: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(pages)} pages to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
