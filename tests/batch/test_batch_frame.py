"""Declaration documents built from column-wise clean records equal those of pandas' records."""
from __future__ import annotations

import numpy as np

from riskengine.batch._frame import clean_records, declaration_bounds, declaration_document, normalise_lines
from riskengine.synth import generate_history_frame


def _document_or_error(rows, **kwargs):
    try:
        return repr(declaration_document(rows, **kwargs))  # repr: the value types must match too
    except Exception as exc:  # a missing line number fails the same way on both paths
        return repr(exc)


def test_clean_records_give_the_documents_of_to_dict_records_with_missing_values_of_every_column():
    frame = generate_history_frame(3000, seed=4)
    rng = np.random.default_rng(4)
    for name in frame.columns:
        if name != "declaration_id":
            frame.loc[rng.random(len(frame)) < 0.05, name] = None
    lines = normalise_lines(frame)
    records, clean = lines.to_dict("records"), clean_records(lines)
    starts = declaration_bounds(lines)
    ends = np.append(starts[1:], len(lines))
    for start, end in zip(starts, ends):
        assert _document_or_error(clean[start:end], clean=True) == _document_or_error(records[start:end])
