"""The evidence report (`trace --report`): self-contained HTML, the same as an A4 PDF, its numbers those of
`--json`, in Chinese and English; and the tracer's opt-in artifacts it is drawn from."""

from __future__ import annotations

import dataclasses
import json
import re

import cv2
import numpy as np
import pymupdf
import pytest
from lmtest import run_main

from leakmark import report
from leakmark.ledger import Document
from leakmark.report.model import choose_language, probability
from leakmark.trace import artifacts
from leakmark.trace.tracer import TraceOptions, trace

ROW = re.compile(r'<tr class="(named)?" data-copy="(\d{6})" data-score="([^"]+)" data-fap="([^"]+)"'
                 r'((?: data-layer-\w+="[^"]+")*)>')


@pytest.fixture(scope="module")
def traced(issued, copy3_page1, tmp_path_factory):
    """Copy 000003's page 1 as a JPEG, traced keeping the artifacts: (evidence path, result, options)."""
    ev = tmp_path_factory.mktemp("report") / "leak.jpg"
    assert cv2.imwrite(str(ev), copy3_page1, [cv2.IMWRITE_JPEG_QUALITY, 85])
    options = TraceOptions(evidence=(ev,), keep_artifacts=True)
    return ev, trace(issued.ws, options), options


@pytest.fixture(scope="module")
def html_en(issued, traced):
    _, result, options = traced
    return report.render(report.build_model(issued.ws, result, options)).decode("utf-8")


def _text(html: str) -> str:
    """The visible text of the markup, whitespace collapsed (the styles and the SVG left out)."""
    body = re.sub(r"<style>.*?</style>|<svg.*?</svg>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).replace("&#39;", "'").replace("&amp;", "&").split())


def test_html_is_self_contained(html_en):
    assert not re.search(r"(?i)\b(https?|file|ftp):", html_en)
    assert not re.search(r"(?i)<(link|script|iframe|object|embed)\b|@import|url\(", html_en)
    sources = re.findall(r'\bsrc="([^"]*)"', html_en)
    assert len(sources) == 5  # as received, page found, aligned, original, one overlay (one copy named)
    assert all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in sources)
    assert "<svg" in html_en and html_en.count("<circle") == 5  # the chart: one dot per issued copy
    assert 'font-family: "Noto Sans CJK SC"' in html_en  # the style sheet is not entity-escaped (it would not apply)


def test_html_holds_hashes_head_and_command(issued, traced, html_en):
    ev, result, _ = traced
    for e in result.to_json()["evidence"]:
        assert e["sha256"] in html_en
    assert result.register is not None and result.register.verified
    assert result.register.head in html_en
    assert issued.ws.key_fingerprint() in html_en
    assert f"leakmark trace {ev.resolve()} --home {issued.ws.home.resolve()} --threshold 1e-06" in html_en


def test_html_numbers_are_the_json_numbers(traced, html_en):
    _, result, _ = traced
    data = result.to_json()
    rows = ROW.findall(html_en)
    assert [r[1] for r in rows] == [s["copy_no"] for s in data["suspects"]]
    for (_named, _copy, score, fap, layers), s in zip(rows, data["suspects"], strict=True):
        assert float(score) == s["score"] and float(fap) == s["false_accusation_probability"]
        assert dict(re.findall(r'data-layer-(\w+)="([^"]+)"', layers)) == {k: str(v) for k, v in s["layers"].items()}
    assert [bool(r[0]) for r in rows] == [i < result.named for i in range(len(rows))]
    assert f'data-verdict="{data["verdict"]}"' in html_en
    text = _text(html_en)
    best = data["suspects"][0]
    assert data["verdict"] == "identified" and result.named == 1
    assert "Copy 000003 issued to Chen Jing (Test lab) is the source of this capture." in text
    assert f"False-accusation probability: {probability(best['false_accusation_probability'])}" in text
    assert f"{best['score']:.2f}" in text
    assert "leaked it" not in text


def test_artifacts_scores_are_the_verdicts(traced):
    """The chart's scores are the ones the verdict fused: the named copy's equals its JSON score."""
    _, result, _ = traced
    art = result.artifacts
    assert art is not None and len(art.scores) == result.candidates == 5
    best = result.suspects[0]
    i = art.numbers.tolist().index(best.copy.copy_no)
    assert art.scores[i] == pytest.approx(best.score, abs=1e-9) and art.faps[i] == pytest.approx(best.fap)
    page = art.pages[0]
    assert max(page.received.shape) <= artifacts.MAX_SIDE and page.original is not None
    assert page.aligned is not None and page.aligned.shape == page.original.shape
    agreement = page.agreement[best.copy.copy_no]
    assert len(agreement) == len(page.boxes) == len(page.kinds)
    # the copy that is the source: nearly every measured unit moved as its code says
    assert np.count_nonzero(agreement > 0) > 0.9 * np.count_nonzero(agreement)


def test_normal_trace_keeps_no_artifacts(issued, traced):
    ev, _, _ = traced
    assert trace(issued.ws, TraceOptions(evidence=(ev,))).artifacts is None


def test_artifacts_keep_at_most_max_pages():
    kept = artifacts.TraceArtifacts()
    page = np.full((3000, 2000), 255, np.uint8)
    got = [artifacts.capture_received(kept, i, page) for i in range(artifacts.MAX_PAGES + 3)]
    assert sum(g is not None for g in got) == artifacts.MAX_PAGES and kept.dropped == 3
    assert max(kept.pages[0].received.shape) == artifacts.MAX_SIDE


def test_chinese_report(issued, traced):
    _, result, options = traced
    html = report.render(report.build_model(issued.ws, result, options, lang="zh")).decode("utf-8")
    text = _text(html)
    assert '<html lang="zh-CN">' in html and "取证溯源报告" in text
    assert "发给Chen Jing（Test lab）的第 000003 号分发件是本证据所示内容的来源。" in text
    assert "泄露了" not in text
    for s in result.to_json()["suspects"]:
        assert f'data-copy="{s["copy_no"]}" data-score="{s["score"]}"' in html


def test_names_and_titles_are_escaped(issued, traced):
    _, result, options = traced
    evil = "<script>alert(1)</script>"
    suspects = [dataclasses.replace(s, copy=dataclasses.replace(s.copy, recipient=evil)) for s in result.suspects]
    assert result.document is not None
    changed = dataclasses.replace(result, suspects=suspects,
                                  document=dataclasses.replace(result.document, title='<img src="x">&'))
    html = report.render(report.build_model(issued.ws, changed, options)).decode("utf-8")
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<img src="x">' not in html and "&lt;img src=&#34;x&#34;&gt;&amp;" in html


@pytest.mark.parametrize("lang, verdict", [("en", "Copy 000003 issued to Chen Jing (Test lab) is the source of "
                                                  "this capture."),
                                           ("zh", "发给ChenJing（Testlab）的第000003号分发件是本证据所示内容的来源。")])
def test_pdf_is_a4_with_the_verdict_as_text(issued, traced, lang, verdict):
    _, result, options = traced
    # a long path squeezes table columns: every hash must still be there whole
    long = "/cases/" + "evidence-received-from-the-field-office-" * 3 + "/leak.jpg"
    result = dataclasses.replace(result, evidence=[dataclasses.replace(e, path=long) for e in result.evidence])
    pdf = report.render(report.build_model(issued.ws, result, options, lang=lang), pdf=True)
    assert len(pdf) < 3_000_000  # the CJK fallback font subset, not embedded whole on every page
    with pymupdf.open("pdf", pdf) as doc:
        assert doc.page_count >= 2
        a4 = pymupdf.paper_rect("a4")
        assert all(abs(p.rect.width - a4.width) < 1 and abs(p.rect.height - a4.height) < 1 for p in doc)
        text = "".join(p.get_text() for p in doc)
    flat = " ".join(text.split()) if lang == "en" else "".join(text.split())
    assert verdict in flat
    assert result.register is not None and result.register.head in "".join(text.split())
    assert all(e.sha256 in "".join(text.split()) for e in result.evidence)


def test_no_match_report(issued, samples_dir, tmp_path):
    """A page never registered: no-match, nobody named, no pictures of an alignment, still the hashes."""
    from leakmark.rendering import render_page_array

    ev = tmp_path / "other.png"
    cv2.imwrite(str(ev), render_page_array(samples_dir / "notice-zh.pdf", 0, 150))
    options = TraceOptions(evidence=(ev,), keep_artifacts=True)
    result = trace(issued.ws, options)
    assert result.verdict == "no-match"
    html = report.render(report.build_model(issued.ws, result, options, lang="en")).decode("utf-8")
    text = _text(html)
    assert "The evidence shows no page of any registered document, so it indicates no issued copy." in text
    assert 'data-verdict="no-match"' in html and "is the source" not in text
    assert result.evidence[0].sha256 in html and len(re.findall(r'\bsrc="data:', html)) == 1  # as received only


def test_cli_report_and_json_agree(capsys, issued, traced, tmp_path, ws_copy):
    ev, _, _ = traced
    out_html = tmp_path / "case.html"
    code, out, err = run_main(capsys, "trace", ev, "--json", "--report", out_html, "--home", ws_copy.home)
    assert code == 0, err
    data = json.loads(out)  # stdout stays one JSON document
    assert f"report written: {out_html}" in err
    html = out_html.read_text(encoding="utf-8")
    assert [(r[1], float(r[2]), float(r[3])) for r in ROW.findall(html)] == [
        (s["copy_no"], s["score"], s["false_accusation_probability"]) for s in data["suspects"]]
    assert data["register"]["head"] in html and '<html lang="en">' in html
    assert (out_html.stat().st_mode & 0o777) == 0o600


def test_cli_refuses_a_report_path_it_must_not_write_before_tracing(capsys, issued, traced, tmp_path, ws_copy):
    ev, _, _ = traced
    target = tmp_path / "no-such-folder" / "case.pdf"
    code, out, err = run_main(capsys, "trace", ev, "--report", target, "--home", ws_copy.home)
    assert code == 9 and out == ""
    assert "the folder" in err and "does not exist" in err and not target.parent.exists()
    before = ev.read_bytes()
    code, out, err = run_main(capsys, "trace", ev, "--report", ev, "--home", ws_copy.home)
    assert code == 9 and "is an evidence file" in err and ev.read_bytes() == before


def test_language_follows_the_document_and_the_register():
    def doc(title: str, level: str = "") -> Document:
        return Document(id="d", sha256="0" * 64, title=title, level=level, period="", pages=1, source_name="x.pdf",
                        kind="pdf", dpi=300, created_at="2026-01-01T00:00:00+00:00")

    memo, notice = doc("Quarterly memo"), doc("关于开展清查工作的通知")
    assert choose_language(None, memo, [memo]) == "en"
    assert choose_language(None, notice, [notice]) == "zh"
    assert choose_language(None, doc("Memo", "机密"), []) == "zh"
    assert choose_language(None, None, [memo, notice]) == "zh"  # nothing located: the register's documents
    assert choose_language("en", notice, [notice]) == "en"


def test_probability_wording():
    assert probability(0.0123) == "0.0123" and probability(1.0) == "1"
    assert probability(2.51e-23) == "2.51 × 10⁻²³" and probability(1e-6) == "10⁻⁶"
    assert probability(0.0) == "< 10⁻³⁰⁸"


def test_overlays_show_the_named_else_the_suggestive_copies(traced):
    _, result, _ = traced
    s = result.suspects[:4]
    numbers = [x.copy.copy_no for x in s]
    with_faps = [dataclasses.replace(x, fap=f) for x, f in zip(s, (1e-9, 1e-3, 5e-3, 0.5), strict=True)]
    assert artifacts.overlay_copies(with_faps, 1) == numbers[:1]
    assert artifacts.overlay_copies(with_faps, 0) == numbers[:3]  # every copy in the inconclusive band
    weak = [dataclasses.replace(x, fap=0.5) for x in s]
    assert artifacts.overlay_copies(weak, 0) == numbers[:1]  # else the best-scoring one
    assert artifacts.overlay_copies([], 0) == []
