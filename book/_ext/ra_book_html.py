"""Sphinx extension of the book.

- Alt text of notebook figures: an image output whose metadata carries ``alt`` (IPython's
  ``Image(..., alt=...)``, as ``ra_lib.core.plots.show`` writes it) gets that alt text on its ``<img>``.
  myst-nb 1.x copies only ``width`` and ``height`` from output metadata; it names each image file by
  the SHA-256 of its bytes, which is how the outputs are matched to the image nodes here.
- Drop script tags that an extension registered twice: sphinx-thebe 0.3.1 adds its inline
  configuration script once per ``env-before-read-docs``; when that event fires twice the page
  declares ``const THEBE_JS_URL`` twice (once with filename ``None``, once ``""``, so Sphinx's own
  de-duplication keeps both) and the browser reports a SyntaxError on every page.
"""
import hashlib
import json
from binascii import a2b_base64
from pathlib import Path

from docutils import nodes

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")


def _output_alt_texts(notebook: Path) -> dict[str, str]:
    """SHA-256 of each image output's bytes -> the alt text in its metadata."""
    alts = {}
    for cell in json.loads(notebook.read_text()).get("cells", []):
        for output in cell.get("outputs", []):
            for mime in IMAGE_TYPES:
                data = output.get("data", {}).get(mime)
                alt = output.get("metadata", {}).get(mime, {}).get("alt")
                if data and alt:
                    content = "".join(data) if isinstance(data, list) else data
                    alts[hashlib.sha256(a2b_base64(content)).hexdigest()] = alt
    return alts


def _alt_from_outputs(app, doctree):
    source = Path(app.env.doc2path(app.env.docname))
    if source.suffix != ".ipynb":
        return
    alts = _output_alt_texts(source)
    for image in doctree.findall(nodes.image):
        alt = alts.get(Path(image["uri"]).stem)
        if alt and not image.get("alt"):
            image["alt"] = alt


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("doctree-read", _alt_from_outputs)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
