"""Self-contained HTML reports with inline-SVG charts, shared by every report
the library writes (trial safety tables, design simulations, allocation
balance, tumour response).

A page is one HTML5 file: inline CSS, inline SVG, no script needed and
nothing fetched from the internet, so it opens from a file share, an e-mail
attachment or an archive years later. Charts are plain SVG with ``<title>``
tooltips and optional links, readable without JavaScript and printable.

>>> from ct_safety_nlp.report import Page, bar_chart
>>> page = Page("Example")
>>> page.section("Counts", bar_chart(["A", "B"], {"n": [3, 5]}, title="Subjects"))
>>> html = page.render()
"""

from .charts import bar_chart, line_chart, timeline_chart
from .page import Page, html_table

__all__ = ["Page", "bar_chart", "html_table", "line_chart", "timeline_chart"]
