"""Sphinx extension of the book: drop script tags that an extension registered twice.

sphinx-thebe 0.3.1 adds its inline configuration script once per ``env-before-read-docs``; when that
event fires twice the page declares ``const THEBE_JS_URL`` twice (once with filename ``None``, once
``""``, so Sphinx's own de-duplication keeps both) and the browser reports a SyntaxError on every page.
"""


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
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
