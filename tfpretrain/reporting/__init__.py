"""What a person reads: the self-contained HTML fairness report and the model card (Markdown, HTML, JSON).

    from tfpretrain import reporting
    reporting.write_report("out/report.html", rows, title="...", gate=gate)
    reporting.write_model_card("out/model_card.md", model_info=..., training=..., data=..., evaluation_rows=rows,
                               gate=gate)
"""

from tfpretrain.reporting.model_card.build import write_model_card
from tfpretrain.reporting.report.page import read_report_data, render_svg_chart, write_report

__all__ = ["read_report_data", "render_svg_chart", "write_model_card", "write_report"]
