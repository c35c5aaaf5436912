"""leakmark's benchmarks, run from a checkout (not installed): `python -m benchmarks NAME [options]`.

`python -m benchmarks` lists the scripts; `python -m benchmarks NAME --help` shows one's options; each
also runs as `python -m benchmarks.NAME`. Results go to benchmarks/results/ (layer_crops and visual_check:
docs/), each file stamped with the commit, machine and command that produced it (`benchmarks.common`);
`python -m benchmarks stale` lists the results older than the code they measure.
"""

from __future__ import annotations

from typing import NamedTuple


class Script(NamedTuple):
    summary: str
    uses: tuple[str, ...] = ()  # other benchmarks modules whose code shapes this script's results


SCRIPTS: dict[str, Script] = {
    "robustness": Script("every attack × strength on many copies, traced; null calibration, blind-watermark beside",
                         ("attacks", "null_calibration", "bwm_baseline", "report")),
    "lowtext": Script("low-text pages (photo, chart, form): each layer alone and fused under issue 4's leaks",
                      ("attacks",)),
    "throughput": Script("speed of issuing and tracing, by copies, jobs, dpi and evidence size (throughput.md)",
                         ("_issue_probe", "null_calibration", "bwm_baseline", "printrun")),
    "printrun": Script("a 30-page print run into one merged PDF: page-copies/s, floor, peak memory"),
    "layer_cost": Script("issue cost per layer set and page type against `shift` alone (layer-cost.md)"),
    "layer_crops": Script("crops of each layer and 600 dpi halftones, to docs/ (prints the numbers docs quote)"),
    "null_calibration": Script("innocent copies' scores against N(0,1), the null phase of robustness alone",
                               ("attacks", "report")),
    "roundtrip": Script("issue both samples, leak random pages eight ways, trace, count (roundtrip.md)"),
    "bwm_baseline": Script("blind-watermark alone on the same page and attacks, the baseline phase of robustness",
                           ("attacks", "report")),
    "blind_layer": Script("the `blind` layer on A4 pages: reads, false reads, cost, change (blind-layer.md)"),
    "visual_check": Script("original / marked copy / 10× difference crops at 100 %, to docs/"),
    "report": Script("rebuild the robustness and null-calibration tables and plots from their CSVs"),
    "import_time": Script("wall time of import leakmark, --version and --help; which heavy modules they load"),
    "archive_scale": Script("trace time and index size as the archive grows to N registered pages (archive-scale.md)"),
    "locate_recall": Script("every robustness attack traced against a registered archive: is the right page found",
                            ("attacks", "robustness")),
    "first_pass": Script("the page index's first pass alone: which settings hand the right page on, among N pages",
                         ("archive_scale", "attacks")),
    "first_pass_rank": Script("where the first pass ranks a leak's own page among a registered archive, idf or not",
                              ("locate_recall", "attacks", "robustness")),
    "index_upgrade": Script("an index of the previous format at the first trace: upgraded in place against rebuilt",
                            ()),
    "index_entries": Script("which keypoints a page's index entry keeps: hard evidence located with each choice",
                            ("archive_scale", "attacks", "robustness")),
    "register_verify": Script("full log verify against the incremental checks as the register grows to 1M copies"),
    "geometry": Script("phone photos with strong lens distortion and curl, traced with and without the bend",
                       ("attacks", "robustness")),
    "fragments": Script("crops of 4–50 % of issued pages traced among 1,000 copies: how much text names a copy"),
    "captures": Script("several captures of one leaked page traced alone and together: what a second one adds",
                       ("attacks", "robustness")),
    "fuzz_loaders": Script("bounded seeded-mutation fuzzing of the PDF, image and recipient-CSV loaders"),
    "vector_speed": Script("page-copies/s of vector copies against page-image copies, on the same pages"),
    "corpus": Script("build the real-PDF corpus (TeX Live, LibreOffice, Chromium, Ghostscript, PyMuPDF, scans)"),
    "fidelity": Script("issue copies of every corpus PDF and compare each with its original, aspect by aspect",
                       ("corpus", "corpus_sources")),
    "stale": Script("list results files with the commit they record, and whether the code changed since"),
}
