"""Each declaration's worst line is the one np.argmax picks online."""
from __future__ import annotations

import numpy as np

from riskengine.batch._model import _worst_lines


def test_worst_line_is_the_first_highest_of_each_declaration_as_argmax_online():
    rng = np.random.default_rng(3)
    scores = rng.choice([0.1, 0.5, 0.9], size=2_000)  # many ties
    starts = np.flatnonzero(np.r_[True, rng.random(1_999) < 0.4])
    ends = np.append(starts[1:], scores.size)
    expected = [lo + int(np.argmax(scores[lo:hi])) for lo, hi in zip(starts, ends)]
    assert _worst_lines(scores, starts).tolist() == expected


def test_a_nan_score_never_beats_a_number_and_an_all_nan_declaration_gives_its_first_line():
    scores = np.array([np.nan, 0.2, 0.7, np.nan, np.nan, 0.4])
    starts = np.array([0, 3, 5])
    assert _worst_lines(scores, starts).tolist() == [2, 3, 5]
