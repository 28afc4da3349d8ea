"""Key columns factorised while deriving give the features a fresh factorisation gives."""
from __future__ import annotations

import numpy as np
import pandas as pd

from riskengine.model._features import Derived


def test_features_from_the_codes_derive_kept_equal_those_from_fresh_codes(supervised, history):
    space = supervised.estimator.features_
    cols = supervised.estimator._cols(supervised._aligned(history))
    assert len(history) >= 1_000  # large enough for keys to be factorised rather than looked up row by row
    derived = space.derive(cols)
    fresh = Derived(dict(derived))  # same columns, none of the codes derive kept
    assert np.array_equal(space.transform(cols, derived), space.transform(cols, fresh), equal_nan=True)
    assert np.array_equal(space.transform(cols, derived), space.transform(cols, dict(derived)), equal_nan=True)


def test_a_column_under_two_names_is_factorised_once(supervised, history):
    cols = supervised.estimator._cols(supervised._aligned(history))
    derived = supervised.estimator.features_.derive(cols)
    assert derived["key:importer"] is derived["importer"]
    assert derived.codes("key:importer") is derived.codes("importer")


def test_arrow_text_keys_are_those_pandas_cleans_from_the_same_values():
    import pandas as pd
    import pyarrow as pa

    from riskengine.model._features import NA_KEY, _frame_keys

    values = ["IMP-1", " IMP-1 ", "", "   ", None, "\u3000IMP-2\xa0", "imp-1", "IMP-1", None, "\tX\n"]
    arrow = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values[:4], values[4:]], type=pa.large_string())))
    assert isinstance(arrow.array, pd.arrays.ArrowStringArray)  # the Arrow path, two chunks
    plain = pd.Series(values, dtype=object)  # pandas' own astype, factorize and str.strip
    keys = _frame_keys(arrow)
    assert keys.dtype == object and keys.tolist() == _frame_keys(plain).tolist()
    assert keys.tolist()[:5] == ["IMP-1", "IMP-1", NA_KEY, NA_KEY, NA_KEY]


def test_codes_handed_over_from_arrow_keys_give_the_features_of_fresh_codes(supervised, history):
    from riskengine.model._features import columns_from_frame

    frame = supervised._aligned(history).copy()
    padded = frame["customs_office"].astype(object).to_numpy().copy()
    padded[::3] = [f" {v} " if isinstance(v, str) else v for v in padded[::3]]  # same key, another Arrow value
    padded[1::7] = ""
    frame["customs_office"] = pd.Series(padded, index=frame.index, dtype="string")
    space = supervised.estimator.features_
    cols = columns_from_frame(frame, space.passthrough)
    index, uniques = cols.codes["customs_office"]
    assert len(set(uniques.tolist())) < uniques.size  # the codes' uniques repeat keys
    assert np.array_equal(uniques[index], cols["customs_office"])
    plain = dict(cols)  # no codes: derive factorises afresh
    assert np.array_equal(space.transform(cols, space.derive(cols)), space.transform(plain, space.derive(plain)),
                          equal_nan=True)
