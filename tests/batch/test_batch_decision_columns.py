"""Decision columns built through Arrow are those pandas infers from the same lists."""
from __future__ import annotations

import pandas as pd
import pytest

from riskengine.batch._stages import _text_series


@pytest.mark.parametrize("values", [
    ["a", "b"], ["a", None, "é\u3000", ""], [None, None], [], ["x" * 5000], [None, '[{"source":"model"}]'],
    ["a", 1], [1.5, None], ["a", float("nan")],  # other values: pandas itself
])
def test_text_series_is_pandas_own_series_of_the_list(values):
    pd.testing.assert_series_equal(_text_series(values), pd.Series(values))
