"""The history facts the batch counts in a store snapshot."""
from __future__ import annotations

import pandas as pd

from riskengine.batch import empty_snapshot
from riskengine.batch._frame import normalise_lines
from riskengine.batch._history import history_facts
from riskengine.synth import generate_history_frame


def test_history_facts_of_an_empty_snapshot_are_those_counted_in_history_that_never_matches():
    frame = generate_history_frame(500, seed=5)
    frame.loc[::7, "importer_id"] = None
    frame.loc[::11, ["importer_id", "importer_name"]] = None
    frame.loc[::5, "exporter_id"] = None
    lines = normalise_lines(frame)
    empty = empty_snapshot().history
    later = lines.copy()  # lodged after every line, under other ids, keys and permits: counts nothing
    later["declaration_id"] = "other-" + later["declaration_id"]
    later["lodged_at"] = later["lodged_at"] + pd.Timedelta(days=3650)
    for name in ("importer_id", "importer_name", "exporter_id", "exporter_name", "country_of_export"):
        later[name] = "Z-" + later[name]
    later["permits"] = "ZZ:none"
    later["hs4"] = later["hs_code"].str.slice(0, 4)
    never = later[list(empty.columns)].astype({c: empty[c].dtype for c in empty.columns if c != "lodged_at"})
    counted = history_facts(never, lines)
    assert counted["history.route_seen_before"].dtype == bool
    pd.testing.assert_frame_equal(history_facts(empty, lines), counted)
