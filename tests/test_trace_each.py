"""`trace --each`: every evidence file (every file of a folder) traced as its own leak."""

from __future__ import annotations

import io

from leakmark._progress import NoteProgress, TextBar


# -- progress ----------------------------------------------------------------------------------------------
def test_progress_counts_files_and_notes_a_long_files_pages():
    buf = io.StringIO()
    bar = TextBar(buf)
    bar.start(3, "files")
    pages = NoteProgress(bar, "long\x1b[2J.pdf")
    pages.start(40, "evidence pages")
    pages.advance(5)
    assert buf.getvalue().split("\r")[-1].startswith("[---")
    assert "0/3 files" in buf.getvalue().split("\r")[-1]
    assert "long\\x1b[2J.pdf: 5/40 evidence pages" in buf.getvalue().split("\r")[-1]  # a name cannot drive the terminal
    pages.finish()
    last = buf.getvalue().split("\r")[-1]
    assert "evidence pages" not in last and last.endswith(" ")  # blanks over the longer line before
    with bar.paused():
        buf.write("a result block\n")
    assert buf.getvalue().endswith("a result block\n" + "\r" + buf.getvalue().split("\r")[-1])
    single = NoteProgress(bar, "photo.jpg")
    single.start(1, "evidence pages")
    assert "photo.jpg" not in buf.getvalue()  # a one-page file: the bar alone
    bar.finish()
    assert buf.getvalue().endswith("\n")
