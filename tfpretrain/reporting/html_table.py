"""The escaped HTML table that the report's extra sections (probes, exposure, privacy, energy) are built from."""

import html
from collections.abc import Sequence
from typing import Any


def escape(value: Any) -> str:
    """Text for HTML element content or a quoted attribute; None is empty."""
    return html.escape("" if value is None else str(value), quote=True)


def html_table(head: Sequence[str], rows: Sequence[Sequence[Any]], *, css_class: str, caption: str | None = None,
               row_headers: bool = False) -> str:
    """Cells are shown as given (format numbers first), all escaped; `row_headers`: each row's first cell is a
    <th scope="row">."""
    out = [f'<table class="{escape(css_class)}">']
    if caption is not None:
        out.append(f"<caption>{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{escape(h)}</th>' for h in head) + "</tr></thead><tbody>")
    for row in rows:
        first = f'<th scope="row">{escape(row[0])}</th>' if row_headers else f"<td>{escape(row[0])}</td>"
        out.append("<tr>" + first + "".join(f"<td>{escape(c)}</td>" for c in row[1:]) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
