"""Declaration documents built from column-wise clean records equal those of pandas' records."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


_BAD = {  # values each of which may or may not pass validation; the certainty check must never be wrong
    "declaration_id": ["a b", "", "x" * 101, "SW/1:2-3.4_5", "é1"],
    "version": [0, -1, 2],
    "direction": ["IMPORT", "exports", "transit", None],
    "lodged_at": [None, "2026-01-01T00:00:00.000000001Z", "2026-03-01T10:00:00+05:00"],
    "customs_office": ["", "X" * 21, " CHZRH ", None],
    "transport_mode": ["boat", "AIR", "air", None],
    "declarant_id": ["D" * 201, "", None],
    "importer_id": ["I" * 201, "", None], "importer_name": ["N" * 201, " spaced  name ", None],
    "importer_country": ["ZZZ", "xx", "", None, "ch", " CH"],
    "exporter_country": ["QQ", "C", None], "country_of_export": ["cm", "ZZZ", None],
    "country_of_destination": ["XK", "1A", None],
    "transit_countries": ["AE;XX", ";".join(["AE"] * 21), "ae; fr", ";;AE;", "A"],
    "line": [0, 10000, 1, 2, None],
    "hs_code": ["12a4", "123", "12345678901", "٠١٢٣٤", "440349", None],
    "description": ["d" * 2001, " padded ", None],
    "taxon": ["T" * 201, "", None, "Pericopsis elata"],
    "country_of_origin": ["ZZZ", "cm", "", None],
    "quantity": [-1.0, float("inf"), float("nan"), None, 0.0, -0.0, 1e300],
    "unit": ["XXX", "kil", "NAR", "", None, "KGM"],
    "net_mass_kg": [-1.0, float("inf"), None], "value": [-0.5, float("-inf"), None],
    "currency": ["usd", "US", "USDX", "", None, "EUR"],
    "term": ["ZZZ", "tim", "", None], "purpose": ["X", "t", None], "source": ["Q", "w", None],
    "permits": ["CM:", "cm:A/1", "CM:A/1;CM: B", ":X", ";".join(["CM:A"] * 21), "CM:" + "N" * 101, "CMA/1", "",
                "XX:A;ZZ:B"],
}


def _same(view, model, path="declaration"):
    from riskengine.batch._frame import _View

    for name in type(view).__slots__:
        a, b = getattr(view, name), getattr(model, name)
        if isinstance(a, _View):
            _same(a, b, f"{path}.{name}")
        elif isinstance(a, list):
            assert len(a) == len(b), f"{path}.{name}"
            for k, (x, y) in enumerate(zip(a, b)):
                _same(x, y, f"{path}.{name}[{k}]") if isinstance(x, _View) else None
                assert isinstance(x, _View) or (x == y and type(x) is type(y)), f"{path}.{name}[{k}]"
        else:
            assert a == b and type(a) is type(b), (f"{path}.{name}", a, b)
            if name == "lodged_at":
                assert a.utcoffset() == b.utcoffset() and a.date() == b.date()


def test_declarations_the_certainty_check_accepts_validate_to_the_view_s_values():
    from riskengine.batch._frame import certain_declarations, declaration_view, to_declaration

    frame = generate_history_frame(3000, seed=5).astype(object)
    rng = np.random.default_rng(5)
    for name, values in _BAD.items():
        at = np.flatnonzero(rng.random(len(frame)) < 0.03)
        frame.loc[at, name] = pd.Series([values[k] for k in rng.integers(0, len(values), len(at))], index=at,
                                        dtype=object)
    lines = normalise_lines(frame)
    starts = declaration_bounds(lines)
    ends = np.append(starts[1:], len(lines))
    certain = certain_declarations(lines, starts)
    rows = clean_records(lines)
    outcomes = {"certain": 0, "uncertain valid": 0, "uncertain invalid": 0}
    for sure, start, end in zip(certain, starts, ends):
        chunk = rows[start:end]
        if sure:
            _same(declaration_view(chunk), to_declaration(chunk, clean=True))
            outcomes["certain"] += 1
            continue
        try:
            to_declaration(chunk, clean=True)
            outcomes["uncertain valid"] += 1
        except Exception:
            outcomes["uncertain invalid"] += 1
    assert min(outcomes.values()) > 20, outcomes


def test_text_pydantic_would_reject_or_strip_is_not_certain():
    from riskengine.batch._frame import _stripped

    assert _stripped("Zoo Basel", 1, 200)
    assert not _stripped("lone \udc80 surrogate", 0, 200)  # pydantic: string_unicode error
    assert not _stripped("\u3000name", 1, 200) and not _stripped("name\x85", 1, 200)  # Unicode white space
    assert not _stripped("", 1, 200) and not _stripped("x" * 201, 1, 200)


def _normalised_with_pandas_methods(frame: pd.DataFrame) -> pd.DataFrame:
    """normalise_lines as it was written before its text columns went through Arrow's kernels directly."""
    from riskengine.batch._frame import _OPTIONAL_TEXT, _UPPER, _unit
    from riskengine.history import HISTORY_COLUMNS

    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name, dtype in HISTORY_COLUMNS.items():
        col = frame[name].reset_index(drop=True) if name in frame.columns else pd.Series(pd.NA, index=out.index)
        if dtype == "string":
            col = col.astype("string").str.strip()
            if name in _UPPER:
                col = col.str.upper()
            if name in _OPTIONAL_TEXT:
                col = col.mask(col == "")
            if name == "unit":
                codes, uniques = pd.factorize(col, use_na_sentinel=True)
                table = np.array([_unit(u) for u in uniques] + [None], dtype=object)
                col = pd.Series(table[codes], index=out.index).astype("string")
            if name in ("description", "transit_countries", "permits"):
                col = col.fillna("")
        elif dtype == "Int64":
            col = pd.to_numeric(col, errors="coerce").astype("Int64")
        elif dtype == "float64":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            col = pd.to_datetime(col, utc=True, errors="coerce").astype("datetime64[ns, UTC]")
        out[name] = col
    out["version"] = out["version"].fillna(1)
    out["declaration_id"] = out["declaration_id"].fillna("")
    return out


def test_normalised_text_columns_equal_those_of_pandas_string_methods_on_messy_text():
    frame = generate_history_frame(2000, seed=9)
    rng = np.random.default_rng(9)
    messy = ["", " ", "\u3000x\u3000", "\x1cab\x1f", " kil ", "kgm", "NAR", "nar", "é", "ß", "cm", " ch ", None,
             float("nan"), 12, "a\u00a0", "XXX", ";", "CM:A/1 "]
    for name in frame.columns:
        if name in ("lodged_at", "version", "line", "quantity", "net_mass_kg", "value"):
            continue
        col = frame[name].astype(object)
        at = rng.random(len(frame)) < 0.3
        col[at] = [messy[k] for k in rng.integers(0, len(messy), at.sum())]
        frame[name] = col
    for variant in (frame, frame.drop(columns=["unit", "permits", "taxon"]), frame.astype({"term": "string"})):
        pd.testing.assert_frame_equal(normalise_lines(variant), _normalised_with_pandas_methods(variant))
    with pd.option_context("mode.string_storage", "python"):  # pandas 2's default: pandas' own methods
        pd.testing.assert_frame_equal(normalise_lines(frame), _normalised_with_pandas_methods(frame))


def test_declaration_bounds_compared_in_arrow_are_those_of_the_object_comparison():
    ids = ["a", "a", "b", "b", "b", "a", "", "", "é", "e\u0301", "e\u0301", "a", "a"]
    versions = [1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, None, None]
    lines = pd.DataFrame({"declaration_id": pd.array(ids, dtype="string[pyarrow]"),
                          "version": pd.array(versions, dtype="Int64")})
    expected = [0, 2, 3, 5, 6, 8, 9, 11]
    assert declaration_bounds(lines).tolist() == expected
    assert declaration_bounds(lines.astype({"declaration_id": object})).tolist() == expected
    assert declaration_bounds(lines.iloc[:0]).tolist() == []


_PERMIT_TEXTS = ["", ";", ";;", "CM:1", "CM:ZA 02091/2025", "CM: 1", "CM:1 ", " CM:1", "cm:1", "ZZ:1", "CM:", ":1",
                 "CM:a:b", "CM:1;;ZA:2", ";CM:1;", "CM:1CM:2", ";".join(["CM:1"] * 20), ";".join(["CM:1"] * 21),
                 ";;".join(["CM:1"] * 20) + ";", "CM:" + "x" * 100, "CM:" + "x" * 101, "CM:x" + " " * 98 + "y",
                 "CM:\u00e91", "CM:1\u3000", "CM:1\n", "CM:1\t2", "CM:a b", "CM:a  b", "CM:-/._", "CM:1;ZZ:2", None]
_IDS = ["SWB-1", "a/b:c.d_e-f", "", "x" * 100, "x" * 101, "with space", "\u00e9", "id\n", "\nid", None]


@pytest.mark.parametrize("dtype", ["string[pyarrow]", object])
def test_permit_and_declaration_id_checks_in_arrow_are_those_of_the_python_predicates(dtype):
    from riskengine.batch._frame import _ASCII_ID, _PERMITS_SURE, _each, _each_sure, _permit_tokens

    def valid_id(u):
        return isinstance(u, str) and _ASCII_ID.fullmatch(u) is not None

    permits = pd.Series(_PERMIT_TEXTS * 2, dtype=dtype)
    ids = pd.Series(_IDS * 2, dtype=dtype)
    assert (_each_sure(permits, _PERMITS_SURE, _permit_tokens, most=20) == _each(permits, _permit_tokens)).all()
    assert (_each_sure(ids, "^" + _ASCII_ID.pattern + "$", valid_id) == _each(ids, valid_id)).all()
    assert 0 < _each(permits, _permit_tokens).sum() < len(permits) and 0 < _each(ids, valid_id).sum() < len(ids)


def test_text_arrow_cannot_hold_is_checked_by_the_python_predicate():
    from riskengine.batch._frame import _PERMITS_SURE, _each, _each_sure, _permit_tokens

    permits = pd.Series(["CM:1", "CM:\udc80", None], dtype=object)  # a lone surrogate: no Arrow text
    assert (_each_sure(permits, _PERMITS_SURE, _permit_tokens, most=20) == _each(permits, _permit_tokens)).all()
