"""What a person reads: the self-contained HTML fairness report and the model card (Markdown, HTML, JSON).

    from tfpretrain import reporting
    reporting.write_report("out/report.html", rows, title="...", gate=gate, sections=[...])
    reporting.write_model_card("out/model_card.md", model_info=..., training=..., data=..., evaluation_rows=rows,
                               gate=gate, sections=[...])
    reporting.render_svg_chart(rows, "false_positive_rate", 0.5, gate=gate)      # one chart, as SVG

Sections (tfpretrain.reporting.sections: bias probes, canary exposure, explanations, privacy, energy) are
`Section`s that both the report and the card take.
"""

from tfpretrain.reporting.model_card.render import write_model_card
from tfpretrain.reporting.report.charts import render_svg_chart
from tfpretrain.reporting.report.page import read_report_data, write_report
from tfpretrain.reporting.section import Section

__all__ = ["Section", "read_report_data", "render_svg_chart", "write_model_card", "write_report"]
