"""The HTML page and table builders of :mod:`ct_safety_nlp.report`."""

from __future__ import annotations

import html
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

__all__ = ["Page", "html_table", "escape"]

#: One stylesheet for every report: readable tables, print-friendly, high contrast.
STYLE = """
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --bg:#ffffff; --band:#f6f8fa; --accent:#0b5cad; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; }
header { padding: 18px 28px 12px; border-bottom: 1px solid var(--line); background: var(--band); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: var(--muted); }
nav { padding: 8px 28px; border-bottom: 1px solid var(--line); font-size: 13px; }
nav a { margin-right: 14px; }
main { padding: 8px 28px 40px; max-width: 1400px; }
section { margin: 22px 0 30px; }
h2 { font-size: 18px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 8px; }
a { color: var(--accent); }
table.report { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
table.report caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.report th, table.report td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
table.report th { background: var(--band); text-align: left; position: sticky; top: 0; }
table.report td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.report tr:nth-child(even) td { background: #fbfcfd; }
.note { color: var(--muted); font-size: 12.5px; }
.chart { margin: 8px 0 16px; overflow-x: auto; }
.chart svg { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; padding: 12px 28px; border-top: 1px solid var(--line); }
@media print { nav { display: none; } table.report th { position: static; } }
"""


def escape(value: Any) -> str:
    """HTML-escape any value (None -> empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def html_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    headers: Optional[Mapping[str, str]] = None,
    links: Optional[Mapping[str, Union[str, Callable[[Mapping[str, Any]], Optional[str]]]]] = None,
    caption: Optional[str] = None,
    number_format: str = "{:,}",
    float_format: str = "{:.1f}",
) -> str:
    """An HTML table of ``rows`` (dicts) showing ``columns`` in order.

    headers: column -> header text (default: the column name).
    links: column -> either the name of a row key holding the URL, or a
        function of the row returning the URL (or None for no link); the cell
        then links to the documents / sentences behind it.
    Numbers are right-aligned; ints use ``number_format``, floats ``float_format``.
    """
    headers = dict(headers or {})
    links = dict(links or {})
    out = ['<table class="report">']
    if caption:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{escape(headers.get(c, c))}</th>' for c in columns) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            numeric = _is_number(value)
            if numeric:
                shown = (float_format if isinstance(value, float) else number_format).format(value)
            else:
                shown = "" if value is None else str(value)
            text = escape(shown)
            link = links.get(column)
            href = (row.get(link) if isinstance(link, str) else link(row)) if link is not None else None
            if href:
                text = f'<a href="{escape(href)}">{text}</a>'
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


class Page:
    """A self-contained HTML report page: a title, a table of contents, sections.

    >>> page = Page("Safety summary", subtitle="Study CT-01")
    >>> page.section("Overview", "<p>...</p>", anchor="overview")
    >>> path = page.write("out/report.html")  # doctest: +SKIP
    """

    def __init__(self, title: str, *, subtitle: Optional[str] = None, footer: Optional[str] = None):
        if not isinstance(title, str) or not title.strip():
            raise ValueError("Page title must be a non-empty string")
        self.title = title
        self.subtitle = subtitle
        self.footer = footer
        self._sections: List[Dict[str, str]] = []

    def section(self, heading: str, body_html: str, *, anchor: Optional[str] = None, note: Optional[str] = None) -> "Page":
        """Append a section. ``body_html`` is trusted HTML (built with :func:`html_table`,
        the chart functions or :func:`escape`); ``note`` is plain text shown under it."""
        anchor = anchor or f"s{len(self._sections) + 1}"
        if any(s["anchor"] == anchor for s in self._sections):
            raise ValueError(f"Page: duplicate section anchor {anchor!r}")
        self._sections.append({"heading": heading, "body": body_html, "anchor": anchor, "note": note or ""})
        return self

    def render(self) -> str:
        from .. import __version__

        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(self.title)}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<header><h1>{escape(self.title)}</h1>" + (f"<p>{escape(self.subtitle)}</p>" if self.subtitle else "") + "</header>",
        ]
        if len(self._sections) > 1:
            parts.append("<nav>" + "".join(f'<a href="#{escape(s["anchor"])}">{escape(s["heading"])}</a>' for s in self._sections) + "</nav>")
        parts.append("<main>")
        for s in self._sections:
            parts.append(f'<section id="{escape(s["anchor"])}"><h2>{escape(s["heading"])}</h2>')
            parts.append(s["body"])
            if s["note"]:
                parts.append(f'<p class="note">{escape(s["note"])}</p>')
            parts.append("</section>")
        parts.append("</main>")
        foot = escape(self.footer) + " · " if self.footer else ""
        parts.append(f"<footer>{foot}ct-safety-nlp {escape(__version__)} · generated {generated}</footer>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def write(self, path: Union[str, Path]) -> Path:
        """Write the page atomically (temporary file, fsync, rename); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.render().encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path
