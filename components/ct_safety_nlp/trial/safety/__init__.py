"""Trial-level safety: AE episodes per subject, the treatment-emergent flag
(admiral semantics), the CSR AE tables by arm, reconciliation with an SDTM AE /
ADAE table and the HTML report. :func:`.run.summarize` ties them together
(``en-clinical-trials trial summarize``).

Modules: :mod:`.teae` (flag), :mod:`.episodes` (merging rules),
:mod:`.tables` (counting rules), :mod:`.reconcile`, :mod:`.report`, :mod:`.run`.
Nothing heavy is imported here."""
