"""The project's command scripts (run as ``python scripts/NAME.py``; the tests import them as ``scripts.NAME``)."""
