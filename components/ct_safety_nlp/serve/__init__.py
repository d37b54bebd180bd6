"""``en-clinical-trials serve``: a REST API for systems and a review page for people.

* :mod:`.settings` - the settings (standard library only);
* :mod:`.service` - the pipeline behind the endpoints (no web framework);
* the CTCAE look-up behind ``/v1/kb/search`` is :mod:`ct_safety_nlp.kb.search` (shared with ``en-clinical-trials kb search``);
* :mod:`.app` - the FastAPI app (needs the ``serve`` extra:
  ``pip install 'ct-safety-nlp[serve]'``);
* ``static/`` - the review page (plain HTML, CSS and a script; no build step,
  nothing fetched from the internet).

Nothing here is imported by the rest of the library; FastAPI is imported only
when an app is built.
"""

from .settings import ServeSettings, SettingsError

__all__ = ["ServeSettings", "SettingsError", "create_app"]


def create_app(settings: ServeSettings, service=None):
    """Build the FastAPI app (see :func:`ct_safety_nlp.serve.app.create_app`)."""
    from .app import create_app as _create_app

    return _create_app(settings, service)
