"""The book's Sphinx extension (book/_ext/ra_book_html.py) copies a figure output's alt text to its image."""
import base64
import hashlib
import importlib.util
import json
from types import SimpleNamespace

from docutils import nodes

from book_pages import REPO

_spec = importlib.util.spec_from_file_location("ra_book_html", REPO / "book" / "_ext" / "ra_book_html.py")
ra_book_html = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ra_book_html)


def test_alt_text_reaches_the_image_node_of_its_output(tmp_path):
    png, other = b"\x89PNG fake one", b"\x89PNG fake two"
    output = lambda data, metadata: {"output_type": "display_data", "data": {"image/png": data}, "metadata": metadata}
    notebook = tmp_path / "page.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [
        output(base64.b64encode(png).decode(), {"image/png": {"alt": "Grades per joint group."}}),
        output(base64.b64encode(other).decode(), {})]}]}))
    images = [nodes.image(uri=f"../jupyter_execute/{hashlib.sha256(b).hexdigest()}.png") for b in (png, other)]
    doctree = nodes.document(None, None)
    doctree.extend(images)
    env = SimpleNamespace(docname="page", doc2path=lambda name: str(tmp_path / f"{name}.ipynb"))
    ra_book_html._alt_from_outputs(SimpleNamespace(env=env), doctree)
    assert images[0]["alt"] == "Grades per joint group." and "alt" not in images[1]
