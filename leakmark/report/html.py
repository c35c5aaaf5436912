"""The report as one self-contained HTML file: a Jinja2 template with autoescaping (every name, title, path
and note from the register or the evidence is escaped), pictures as `data:` URIs, the chart as inline SVG,
the style sheet inline. Nothing outside the file is referenced, so it opens offline.

The PDF (`pdf.py`) renders the same markup with MuPDF's HTML engine, which takes a simpler style sheet
(`for_pdf=True`)."""

from __future__ import annotations

import functools
import re

import jinja2

from leakmark.report import charts
from leakmark.report.model import ReportModel, probability

_FONTS = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", '
          '"Helvetica Neue", Arial, sans-serif')

SCREEN_CSS = """
body { margin: 0; background: #eceff1; color: #1d2329; font-family: FONTS; font-size: 14px; line-height: 1.5; }
.report { max-width: 900px; margin: 24px auto; background: #fff; padding: 28px 40px 40px;
          box-shadow: 0 1px 4px rgba(0,0,0,.15); }
h1 { font-size: 26px; margin: 0; }
.subtitle { color: #5b6770; margin: 2px 0 18px; }
h2 { font-size: 19px; border-bottom: 2px solid #1d2329; padding-bottom: 3px; margin: 30px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.verdict { border-left: 8px solid #888; background: #f4f5f6; padding: 10px 16px; }
.verdict.v-identified { border-color: #0072B2; background: #eef5fb; }
.verdict.v-inconclusive { border-color: #E69F00; background: #fdf6e6; }
.verdict.v-no-match { border-color: #8a949b; }
.verdict-label { font-size: 20px; font-weight: bold; margin: 0 0 4px; }
.statement { font-size: 16px; font-weight: bold; margin: 4px 0; }
.note { margin: 4px 0; }
.warning { border: 2px solid #c0392b; color: #8e1f14; background: #fdecea; padding: 8px 12px; font-weight: bold; }
.warning-text { color: #8e1f14; }
table { border-collapse: collapse; }
table.box { width: 100%; }
table.kv th { text-align: left; font-weight: normal; color: #5b6770; padding: 3px 16px 3px 0; vertical-align: top;
              white-space: nowrap; }
table.kv td { padding: 3px 0; word-break: break-all; }
table.grid { width: 100%; margin: 6px 0; }
table.grid th { background: #f0f2f4; text-align: left; padding: 4px 8px; border-bottom: 1px solid #c5ccd2;
                font-size: 13px; }
table.grid td { padding: 4px 8px; border-bottom: 1px solid #e3e7ea; vertical-align: top; }
tr.named td { background: #eef5fb; font-weight: bold; }
.badge { background: #0072B2; color: #fff; border-radius: 3px; padding: 0 5px; font-size: 11px; font-weight: normal; }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.copy, .hash, .mono, .time { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12.5px; }
.hash { word-break: break-all; margin: 0 0 8px; }
.file .path { margin: 4px 0 0; }
.path { word-break: break-all; }
td.name { word-break: keep-all; }
.detail { color: #5b6770; font-size: 12.5px; }
table.figures { width: 100%; margin: 6px 0; }
table.figures td { width: 50%; vertical-align: top; padding: 4px; text-align: center; }
table.figures img { max-width: 100%; max-height: 560px; border: 1px solid #c5ccd2; }
table.overlay td.wide { width: 62%; }
table.overlay td.legend { text-align: left; vertical-align: middle; }
table.overlay img { max-height: 720px; }
.caption { color: #5b6770; font-size: 12.5px; margin: 3px 0; }
.caption-title { font-weight: bold; margin: 3px 0; }
.page-view { border-top: 1px solid #e3e7ea; margin-top: 10px; }
.chart svg { max-width: 100%; height: auto; }
td.command { background: #f4f5f6; padding: 8px 10px; word-break: break-all;
             font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 12.5px; }
ul.meanings li { margin: 4px 0; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { background: #fff; font-size: 11px; }
  .report { box-shadow: none; margin: 0; padding: 0; max-width: none; }
  .page-view, table.kv, table.box, .chart { break-inside: avoid; }
  table.figures img { max-height: 330px; }
  table.overlay img { max-height: 520px; }
}
""".replace("FONTS", _FONTS)

# MuPDF's HTML engine: no max-width/max-height, no box-shadow, no media queries; sizes in pt on an A4 page
PDF_CSS = """
body { font-family: sans-serif; font-size: 9pt; color: #1d2329; }
h1 { font-size: 18pt; margin: 0; }
.subtitle { color: #5b6770; margin: 0 0 8pt 0; }
h2 { font-size: 13pt; margin: 14pt 0 4pt 0; border-bottom: 1pt solid #1d2329; }
h3 { font-size: 10.5pt; margin: 8pt 0 3pt 0; }
.verdict { border-left: 5pt solid #8a949b; background-color: #f4f5f6; padding: 5pt 8pt; }
.v-identified { border-left: 5pt solid #0072B2; background-color: #eef5fb; }
.v-inconclusive { border-left: 5pt solid #E69F00; background-color: #fdf6e6; }
.verdict-label { font-size: 13pt; font-weight: bold; margin: 0 0 2pt 0; }
.statement { font-size: 10.5pt; font-weight: bold; margin: 2pt 0; }
.note { margin: 2pt 0; }
.warning { border: 1.5pt solid #c0392b; color: #8e1f14; background-color: #fdecea; padding: 5pt; font-weight: bold; }
.warning-text { color: #8e1f14; }
th { text-align: left; }
table.kv th { font-weight: normal; color: #5b6770; padding: 1pt 10pt 1pt 0; }
table.kv td { padding: 1pt 0; }
table.grid { width: 100%; }
table.grid th { background-color: #f0f2f4; padding: 2pt 4pt; font-size: 8pt; }
table.grid td { padding: 2pt 4pt; border-bottom: 0.5pt solid #e3e7ea; }
tr.named td { background-color: #eef5fb; font-weight: bold; }
.badge { color: #0072B2; font-weight: normal; font-size: 7.5pt; }
.num { text-align: right; }
.copy, .hash, .mono, .time { font-family: monospace; font-size: 8pt; }
.hash { margin: 0 0 4pt 0; }
.file .path { margin: 2pt 0 0 0; }
.detail { color: #5b6770; font-size: 8pt; }
table.figures { width: 100%; }
table.figures td { vertical-align: top; padding: 2pt; text-align: center; }
table.overlay td.legend { text-align: left; padding-left: 8pt; }
.caption { color: #5b6770; font-size: 8pt; margin: 1pt 0; }
.caption-title { font-weight: bold; margin: 1pt 0; }
table.box { width: 100%; }
td.command { background-color: #f4f5f6; padding: 4pt; font-family: monospace; font-size: 7.5pt; }
"""


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("leakmark.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.filters["probability"] = probability
    env.filters["png_uri"] = charts.png_uri
    return env


_SUPERSCRIPTS = re.compile("[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_BASELINE = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def render(model: ReportModel, for_pdf: bool = False) -> str:
    """The report's HTML: for a browser (and Chromium's print to PDF), or for MuPDF's Story (`for_pdf`)."""
    html = _environment().get_template("report.html.j2").render(m=model, css=PDF_CSS if for_pdf else SCREEN_CSS,
                                                                pdf=for_pdf)
    if for_pdf:  # MuPDF's fonts lack the superscript digits of 10⁻⁷: set as <sup> there
        html = _SUPERSCRIPTS.sub(lambda m: f"<sup>{m.group().translate(_BASELINE)}</sup>", html)
    return html
