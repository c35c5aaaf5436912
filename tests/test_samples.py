"""The sample documents are the same bytes on every run."""

from __future__ import annotations

from leakmark.samples import write_lowtext_samples, write_samples


def test_samples_are_the_same_bytes_every_time(tmp_path):
    # a document's id is its SHA-256 and every copy's marks derive from it: with a new trailer /ID on each
    # save, the test fixtures issued the memo under a new id each session, so the fixed-key workspaces still
    # drew new marks each run (and an "every innocent above FAP 1e-2" assert failed now and then)
    for write in (write_samples, write_lowtext_samples):
        first = {p.name: p.read_bytes() for p in write(tmp_path / write.__name__ / "a")}
        again = {p.name: p.read_bytes() for p in write(tmp_path / write.__name__ / "b")}
        assert first == again and first
