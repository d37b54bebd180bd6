"""Bulk annotation of document folders (``en-clinical-trials annotate``).

The subpackage is split by concern so that each piece can be tested alone:

* :mod:`.readers`   - find input files (files, folders, globs), decode them
  honestly and turn them into document items or error items;
* :mod:`.records`   - turn an annotated ``Doc`` into the ``docs.jsonl`` record;
* :mod:`.journal`   - the output directory: append-only, fsync'd commits and
  ``--resume`` (exactly-once across crashes);
* :mod:`.exporters` - CSV tables (AEs, regimens, SDTM-style AE), DocBin, HTML;
* :mod:`.engine_local` / :mod:`.engine_ray` - where the pipeline runs;
* :mod:`.progress`  - progress bar / periodic lines and the summary;
* :mod:`.run`       - ties them together; the CLI calls :func:`.run.annotate`.

Nothing heavy is imported here: spaCy is imported by the modules that need it,
Ray only inside the Ray engine.
"""

#: Exit codes of ``en-clinical-trials annotate`` (the README documents them).
EXIT_OK = 0
#: an unexpected Python exception (Python's own status for an uncaught one)
EXIT_CRASH = 1
EXIT_USAGE = 2
EXIT_DOC_ERRORS = 3
#: the output folder could not be written part-way (disk full, made read-only)
EXIT_WRITE_FAILED = 4
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_OK", "EXIT_CRASH", "EXIT_USAGE", "EXIT_DOC_ERRORS", "EXIT_WRITE_FAILED", "EXIT_INTERRUPTED"]
