"""The typed records the register keeps per copy and per run: read back exactly as written, old records
(before `format` existed) still readable, and newer ones refused rather than misread."""

from __future__ import annotations

import json

import pytest

from leakmark.errors import BadRequestError
from leakmark.issuing import RunRecord, copy_settings
from leakmark.layers import CopySettings, LayerName

# as leakmark 0.1.0 wrote them (tests/test_golden.py pins the current writer)
OLD_COPY = ('{"dpi": 300, "file": {"token": "hmac-sha256-128/v1", "where": ["trailer-id", "xmp-documentid"]}, '
            '"layers": ["shift", "tone", "file"], "shift": {"delta_px": 1}, "tone": {"alpha": 2.0, '
            '"cell_mm": 4.0, "pages": [2], "version": "v1"}}')
OLD_RUN = ('{"delta": 1, "encrypted": false, "layers": ["shift", "tone", "file"], "merge": null, '
           '"output_dir": "/tmp/out", "separator": false, "source_stem": "memo", "tone_pages": [1]}')


def test_an_old_copy_record_reads_with_its_layers_and_pages():
    s = CopySettings.from_json(OLD_COPY)
    assert s.format == 1 and s.layers == (LayerName.shift, LayerName.tone, LayerName.file) and s.dpi == 300
    assert s.shift.delta_px == 1 and s.tone is not None and s.tone.pages == (2,) and s.blind is None
    assert s.carries("tone", 1) and not s.carries("tone", 0) and s.carries("shift", 0)
    assert not s.carries("blind", 0)
    assert json.loads(s.to_json()) == {**json.loads(OLD_COPY), "format": 1}  # only the version field is added


def test_the_earliest_record_without_layers_means_shift_only():
    s = CopySettings.from_json('{"shift": {"delta_px": 2}}')
    assert s.layers == (LayerName.shift,) and s.shift.delta_px == 2 and s.dpi is None


def test_records_round_trip_for_every_layer_set():
    for chosen, pages in (((LayerName.shift,), None), ((LayerName.shift, LayerName.tone, LayerName.file), [0, 2]),
                          ((LayerName.shift, LayerName.blind, LayerName.file), None)):
        s = copy_settings(chosen, 1, 300, pages)
        assert CopySettings.from_json(s.to_json()) == s


def test_a_newer_record_or_an_unknown_layer_is_refused():
    with pytest.raises(BadRequestError, match="newer leakmark"):
        CopySettings.from_json('{"format": 99, "layers": ["shift"]}')
    with pytest.raises(BadRequestError, match="does not know"):
        CopySettings.from_json('{"layers": ["shift", "ink"]}')


def test_a_run_record_reads_an_old_run_and_writes_it_back_the_same():
    r = RunRecord.from_json(OLD_RUN)
    assert r.layers == (LayerName.shift, LayerName.tone, LayerName.file) and r.tone_pages == (1,)
    assert r.page_layers(0) == (LayerName.shift, LayerName.file)
    assert r.page_layers(1) == (LayerName.shift, LayerName.tone, LayerName.file)
    assert r.to_json() == OLD_RUN
