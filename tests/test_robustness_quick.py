"""The core `python -m benchmarks robustness --quick` cases as tests: the right copy named, nobody wrong.

Memo sample issued to 5 copies (session fixture); the leak is copy 000003's page 1 (collusion: copies 000003
and 000005), each quick attack of benchmarks/attacks.py with a fixed seed. The full sweep with 1,000 copies
is `python -m benchmarks robustness --copies 1000`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

import leakmark
from benchmarks import attacks as atk
from leakmark.rendering import render_page_array

SEED = 11
CASES = atk.cases(quick=True)
LEAKED = (3, 5)  # copy numbers: the single leak is the first, collusions use both


def _evidence(issued, attack: atk.Attack, strength, tmp_path: Path) -> tuple[list[Path], set[int]]:
    def page(copy_no: int, index: int = 0):
        return render_page_array(issued.copy_path(copy_no), index, 300)

    if attack.inputs == "image":
        imgs, truth = [attack.fn(page(LEAKED[0]), strength, SEED)], {LEAKED[0]}
    elif attack.inputs == "copies":
        n = int(strength)
        imgs, truth = [attack.fn([page(c) for c in LEAKED[:n]], strength, SEED)], set(LEAKED[:n])
    else:
        n = int(strength)
        by_copy = [[page(c, p) for p in range(2)] for c in LEAKED[:n]]
        imgs, truth = attack.fn(by_copy, strength, SEED), set(LEAKED[:atk.colluders_used(attack.name, n, 2)])
    paths = []
    for i, img in enumerate(imgs):
        p = tmp_path / f"evidence-{i}.png"
        assert cv2.imwrite(str(p), img)
        paths.append(p)
    return paths, truth


@pytest.mark.parametrize(("attack", "strength"), CASES, ids=[f"{a.name}-{s}" for a, s in CASES])
def test_quick_case_names_the_source_and_nobody_else(issued, tmp_path, attack, strength):
    paths, truth = _evidence(issued, attack, strength, tmp_path)
    r = leakmark.trace(issued.ws, leakmark.TraceOptions(evidence=tuple(paths)))
    named = {s.copy.copy_no for s in r.suspects[: r.named]}
    scores = [(s.copy.copy_no, round(s.score, 2)) for s in r.suspects]
    assert named <= truth, f"wrong copy named: {named - truth} {scores}"
    # collusion: every colluder named (the page mix per page, the cut page per region: `colluders`)
    assert r.verdict == "identified" and named == truth, scores
    assert all(s.fap < 1e-6 for s in r.suspects[: r.named])
    # every copy that did not contribute stays far from being named (a colluder left unnamed may not)
    assert all(s.fap > 1e-2 for s in r.suspects[r.named:] if s.copy.copy_no not in truth)


# a phone photo of the unmarked original is test_roundtrip's (simulate.phone_photo): this one with -m slow
@pytest.mark.parametrize("name", ["jpeg", "ps-error-diffusion",
                                  pytest.param("phone-perspective", marks=pytest.mark.slow)])
def test_quick_attack_on_unmarked_original_names_nobody(issued, tmp_path, name):
    a = atk.by_name(name)
    p = tmp_path / "original.png"
    assert cv2.imwrite(str(p), a.fn(render_page_array(issued.source, 0, 300), a.quick[0], SEED))
    r = leakmark.trace(issued.ws, leakmark.TraceOptions(evidence=(p,)))
    assert r.named == 0 and r.verdict != "identified"
    assert all(s.fap > 1e-6 for s in r.suspects)
