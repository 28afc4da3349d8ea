"""The history as a table: from a generated world, written to disk, or drawn directly by the million."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from riskengine.history import HISTORY_COLUMNS, declaration_rows
from riskengine.synth._catalogue import (
    CONCEALMENTS,
    EXPORT_DESTINATIONS,
    GOODS,
    HUBS,
    SEIZURE_SOURCES,
    STREAMS,
    legal_name,
    permit_number,
)
from riskengine.synth._history import CITES_SHARE, VIOLATION_RATES, VIOLATIONS
from riskengine.synth._permits import _PARROT_SMUGGLERS
from riskengine.synth._world import _INSPECT, _SEVERE, World

__all__ = ["FRAME_COLUMNS", "generate_history_frame", "history_frame", "write_world"]

# The canonical history columns, then the labels: fraud and critical_fraud are NA when not inspected.
FRAME_COLUMNS: dict[str, str] = HISTORY_COLUMNS | {
    "fraud": "Int64",
    "critical_fraud": "Int64",
    "outcome": "string",
    "violation": "string",
}


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name, dtype in FRAME_COLUMNS.items():
        col = df[name]
        if dtype.startswith("datetime"):
            out[name] = pd.to_datetime(col, utc=True).astype(dtype)
        elif dtype == "string":
            out[name] = col.astype(object).where(col.notna(), None).astype(dtype)
        else:
            out[name] = col.astype(dtype)
    return pd.DataFrame(out)


def history_frame(world: World) -> pd.DataFrame:
    """One row per declaration line of the world's history, canonical columns plus labels."""
    rows = []
    for entry in world.history:
        result = entry.outcome.result if entry.outcome is not None else None
        labels = {
            "fraud": None if result is None else int(result != "no_discrepancy"),
            "critical_fraud": None if result is None else int(result == "seizure"),
            "outcome": result,
            "violation": entry.violation,
        }
        rows.extend(row | labels for row in declaration_rows(entry.declaration))
    return _typed(pd.DataFrame(rows, columns=list(FRAME_COLUMNS)))


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:60]


def write_world(world: World, directory: Path) -> dict[str, Path]:
    """Write permits.jsonl, history.parquet, samples/*.json and outcomes.jsonl under `directory`."""
    directory = Path(directory)
    samples_dir = directory / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "permits": directory / "permits.jsonl",
        "history": directory / "history.parquet",
        "samples": samples_dir,
        "outcomes": directory / "outcomes.jsonl",
    }
    paths["permits"].write_text("".join(p.model_dump_json(exclude_none=True) + "\n" for p in world.permits))
    history_frame(world).to_parquet(paths["history"], index=False)
    for old in samples_dir.glob("*.json"):
        old.unlink()
    for i, (label, declaration) in enumerate(world.samples, start=1):
        (samples_dir / f"{i:02d}-{_slug(label)}.json").write_text(
            declaration.model_dump_json(indent=2, exclude_none=True) + "\n")
    lines = []
    for entry in world.history:
        if entry.outcome is not None:
            record = {"declaration_id": entry.declaration.declaration_id,
                      "declaration_version": entry.declaration.version,
                      "outcome": entry.outcome.model_dump(mode="json", exclude_none=True)}
            lines.append(json.dumps(record, sort_keys=True) + "\n")
    paths["outcomes"].write_text("".join(lines))
    return paths


# --- the vectorised generator -------------------------------------------------------------------

def _catalogue() -> pd.DataFrame:
    """One row per (stream product, exporting country): the CITES lines the fast generator draws."""
    rows = []
    for stream in STREAMS + (_PARROT_SMUGGLERS,):
        if stream.permit_type != "export":
            continue
        for product in stream.products:
            for country in stream.countries:
                rows.append({
                    "stream": stream.key, "hs_code": product.hs_code, "description": product.description,
                    "taxon": product.taxon, "term": product.term, "unit": product.unit,
                    "unit_value": product.unit_value, "kg": product.kg_per_unit,
                    "q_lo": product.permit_qty[0], "q_hi": product.permit_qty[1],
                    "purpose": stream.purposes[0], "sources": "".join(stream.sources), "country": country,
                    "mode": stream.modes[0], "app1": stream.app1_import,
                    "exporter": legal_name(stream.exporter_stems[len(rows) % len(stream.exporter_stems)], country),
                    "importer": stream.importers[len(rows) % len(stream.importers)],
                    "weight": stream.weight / len(stream.products) / len(stream.countries),
                })
    return pd.DataFrame(rows)


def _pick(values, idx) -> np.ndarray:
    return np.asarray(values, dtype=object)[idx]


def generate_history_frame(n_lines: int, seed: int = 7, *, start: dt.date = dt.date(2025, 11, 1),
                           days: int = 365) -> pd.DataFrame:
    """`n_lines` history rows drawn directly (no declaration objects), canonical columns plus labels.

    The same world in miniature: ordinary goods, CITES lines citing permits, the planted violations at
    the rates of `generate_world` and noisy inspection labels. Permit numbers are only well formed;
    there is no permit registry behind them.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    # Declarations: CITES ones carry one line, ordinary ones one to five.
    n_decl_guess = int(n_lines / 1.7) + 16
    is_cites = rng.random(n_decl_guess) < CITES_SHARE
    sizes = np.where(is_cites, 1, rng.choice(5, size=n_decl_guess, p=[0.45, 0.25, 0.15, 0.1, 0.05]) + 1)
    ends = np.cumsum(sizes)
    n_decl = int(np.searchsorted(ends, n_lines) + 1)
    if n_decl > n_decl_guess:  # pragma: no cover - the guess is generous
        raise RuntimeError("declaration size guess too small")
    sizes = sizes[:n_decl].copy()
    sizes[-1] -= int(ends[n_decl - 1] - n_lines)
    is_cites = is_cites[:n_decl]

    # When: weekdays busier; declarations sorted so ids follow time.
    weekday = (np.arange(days) + start.weekday()) % 7
    p_day = np.where(weekday == 5, 0.35, np.where(weekday == 6, 0.15, 1.0))
    day = rng.choice(days, size=n_decl, p=p_day / p_day.sum())
    second = rng.integers(5 * 3600, 21 * 3600, size=n_decl)
    order = np.argsort(day.astype(np.int64) * 86400 + second, kind="stable")
    day, second, is_cites, sizes = day[order], second[order], is_cites[order], sizes[order]
    start_ns = pd.Timestamp(start, tz="UTC").value
    lodged = start_ns + (day.astype(np.int64) * 86400 + second) * 1_000_000_000
    decl = np.repeat(np.arange(n_decl), sizes)
    first_row = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    line = np.arange(n_lines) - first_row[decl] + 1

    # Violations: per CITES declaration, at the world's rates.
    kinds = np.array((None,) + VIOLATIONS, dtype=object)
    rates = np.array([VIOLATION_RATES[k] for k in VIOLATIONS])
    kind_idx = np.where(is_cites, rng.choice(len(kinds), size=n_decl, p=np.r_[1 - rates.sum(), rates]), 0)
    violation = kinds[kind_idx]

    cat = _catalogue()
    w = cat["weight"].to_numpy()
    prod = rng.choice(len(cat), size=n_decl, p=w / w.sum())
    afrormosia = np.flatnonzero(cat["taxon"].to_numpy() == "Pericopsis elata")
    wild_parrots = np.flatnonzero(cat["stream"].to_numpy() == "wild_parrots")
    timber_kind = np.isin(violation, ["taxon_mismatch", "species_misdeclared"])
    prod[timber_kind] = rng.choice(afrormosia, size=int(timber_kind.sum()))
    parrot_kind = violation == "appendix_i_commercial"
    prod[parrot_kind] = rng.choice(wild_parrots, size=int(parrot_kind.sum()))

    # Ordinary goods, per line.
    goods_w = np.array([g.weight for g in GOODS])
    goods = rng.choice(len(GOODS), size=n_lines, p=goods_w / goods_w.sum())
    n_orig = np.array([len(g.origins) for g in GOODS])
    origins = np.array([[g.origins[i % len(g.origins)] for i in range(5)] for g in GOODS], dtype=object)
    g_origin = origins[goods, rng.integers(0, 5, size=n_lines) % n_orig[goods]]

    # Declaration-level fields.
    cites_row = is_cites[decl]
    p_row = prod[decl]
    exp_country = np.where(is_cites, cat["country"].to_numpy()[prod], g_origin[first_row])
    direction = np.where(is_cites, np.where(rng.random(n_decl) < 0.93, "import", "transit"),
                         rng.choice(np.array(["import", "export", "transit"]), size=n_decl, p=[0.86, 0.09, 0.05]))
    exporting_ch = direction == "export"
    exp_country = np.where(exporting_ch, "CH", exp_country)
    destination = np.where(direction == "import", "CH",
                           np.where(exporting_ch, rng.choice(np.array(EXPORT_DESTINATIONS), size=n_decl),
                                    rng.choice(np.array(["IT", "DE", "FR", "AT"]), size=n_decl)))
    concealed = violation == "concealment"
    hub = rng.choice(np.array(HUBS), size=n_decl)
    source_country = rng.choice(np.array(SEIZURE_SOURCES), size=n_decl)
    via_hub = rng.random(n_decl) < 0.4
    exp_country = np.where(concealed, np.where(via_hub, hub, source_country), exp_country)
    europe = np.isin(exp_country, ["IT", "DE", "FR", "AT", "PL", "PT", "ES", "NL", "IS", "NO", "IE", "CH"])
    mode = np.where(is_cites, cat["mode"].to_numpy()[prod],
                    np.where(europe, rng.choice(np.array(["road", "rail", "air"]), size=n_decl, p=[0.6, 0.25, 0.15]),
                             rng.choice(np.array(["air", "rail", "road"]), size=n_decl, p=[0.45, 0.3, 0.25])))
    mode = np.where(concealed, "air", mode)
    office = np.where(mode == "air", np.where(rng.random(n_decl) < 0.75, "CHZRH", "CHGVA"),
                      rng.choice(np.array(["CHBSL", "CHCHI", "CHGVA"]), size=n_decl))
    transit = np.where(concealed & ~via_hub, hub,
                       np.where((mode == "air") & ~europe & (rng.random(n_decl) < 0.35), hub, ""))
    declarant = _pick([f"D-{100 + 7 * k}" for k in range(90)], (90 * rng.random(n_decl) ** 2).astype(int))

    # Parties: Swiss importers (a few big ones), exporters by country.
    ch_names = [f"{s} {t} AG" for t in ("Handels", "Import", "Trading", "Distribution", "Logistik")
                for s in ("Keller", "Meier", "Brunner", "Favre", "Rossi", "Baumann", "Steiner", "Frei", "Huber",
                          "Moser", "Gerber", "Bernasconi", "Rochat", "Schmid", "Widmer")]
    ch_idx = (len(ch_names) * rng.random(n_decl) ** 2).astype(int)
    imp_name = np.where(is_cites, cat["importer"].to_numpy()[prod], _pick(ch_names, ch_idx))
    foreign = direction != "import"
    imp_name = np.where(foreign, np.char.add("Euro Distribution ", destination.astype(str)), imp_name)
    imp_country = np.where(foreign, destination, "CH")
    stem = rng.integers(0, 12, size=n_decl)
    exp_name = np.where(is_cites & ~concealed, cat["exporter"].to_numpy()[prod],
                        np.char.add(np.char.add(exp_country.astype(str), " Export Trading "), stem.astype(str)))
    exp_name = np.where(exporting_ch, "Schweizer Export AG", exp_name)
    imp_id = pd.factorize(pd.Series(imp_name) + "|" + imp_country)[0]
    exp_id = pd.factorize(pd.Series(exp_name) + "|" + exp_country)[0]

    # Lines.
    g = GOODS
    hs = np.where(cites_row, cat["hs_code"].to_numpy()[p_row], _pick([x.hs_code for x in g], goods))
    desc = np.where(cites_row, cat["description"].to_numpy()[p_row], _pick([x.description for x in g], goods))
    taxon = np.where(cites_row, cat["taxon"].to_numpy()[p_row], None)
    unit = np.where(cites_row, cat["unit"].to_numpy()[p_row], _pick([x.unit for x in g], goods))
    origin = np.where(cites_row, cat["country"].to_numpy()[p_row], g_origin)
    origin = np.where(exporting_ch[decl], "CH", origin)
    u = rng.random(n_lines)
    lo = np.where(cites_row, cat["q_lo"].to_numpy()[p_row] * 0.1, np.array([x.qty[0] for x in g])[goods])
    hi = np.where(cites_row, cat["q_hi"].to_numpy()[p_row] * 0.4, np.array([x.qty[1] for x in g])[goods])
    qty = np.exp(np.log(lo) + u * (np.log(np.maximum(hi, lo)) - np.log(lo)))
    counted = pd.isna(unit)
    qty = np.where(counted, np.maximum(1, np.round(qty)), np.round(qty, 1))
    qty = np.where(unit == "MTQ", np.round(np.maximum(qty, 0.5), 3), qty)
    kg_unit = np.where(cites_row, cat["kg"].to_numpy()[p_row], np.array([x.kg_per_unit for x in g])[goods])
    uv = np.where(cites_row, cat["unit_value"].to_numpy()[p_row], np.array([x.unit_value for x in g])[goods])
    mass = np.where(unit == "KGM", qty, qty * kg_unit * rng.lognormal(0, 0.1, n_lines))
    value = qty * uv * rng.lognormal(0, 0.3, n_lines)
    vrow = violation[decl]
    value = np.where(vrow == "undervalued", value * rng.uniform(0.05, 0.2, n_lines), value)
    mass = np.where(vrow == "species_misdeclared", mass * 1.6, mass)
    mismatch = vrow == "taxon_mismatch"
    taxon = np.where(mismatch, "Dalbergia louvelii", taxon)
    desc = np.where(mismatch, "sawn rosewood (Dalbergia louvelii)", desc)
    origin = np.where(mismatch, "MG", origin)
    # Concealment: innocuous goods, heavy and cheap.
    conc = cites_row & (vrow == "concealment")
    c_idx = rng.integers(0, len(CONCEALMENTS), size=n_lines)
    c_kg = np.exp(rng.uniform(np.log(50), np.log(3000), n_lines))
    c_goods = {c.hs_code: next(x for x in g if x.hs_code == c.hs_code) for c in CONCEALMENTS}
    c_unit = _pick([c_goods[c.hs_code].unit for c in CONCEALMENTS], c_idx)
    c_kgu = np.array([c_goods[c.hs_code].kg_per_unit for c in CONCEALMENTS])[c_idx]
    hs = np.where(conc, _pick([c.hs_code for c in CONCEALMENTS], c_idx), hs)
    desc = np.where(conc, _pick([c.description for c in CONCEALMENTS], c_idx), desc)
    taxon = np.where(conc, None, taxon)
    unit = np.where(conc, c_unit, unit)
    qty = np.where(conc, np.where(pd.isna(c_unit), np.maximum(1, np.round(c_kg / c_kgu)), np.round(c_kg, 1)), qty)
    mass = np.where(conc, c_kg, mass)
    value = np.where(conc, c_kg * np.array([c.declared_value_per_kg for c in CONCEALMENTS])[c_idx], value)
    origin = np.where(conc, np.where(rng.random(n_lines) < 0.5, source_country[decl], exp_country[decl]), origin)

    # CITES codes and permits.
    sources = cat["sources"].to_numpy()[p_row].astype(str)
    pick_src = (rng.random(n_lines) * np.char.str_len(sources)).astype(int)
    source = np.array([s[i] for s, i in zip(sources[cites_row], pick_src[cites_row], strict=True)], dtype=object)
    codes = cites_row & ~conc & ~((vrow == "permit_missing") & (rng.random(n_lines) < 0.5))
    term = np.where(codes, cat["term"].to_numpy()[p_row], None)
    purpose = np.where(codes, cat["purpose"].to_numpy()[p_row], None)
    src = np.full(n_lines, None, dtype=object)
    src[cites_row] = source
    src = np.where(codes, src, None)
    permits = _permit_column(rng, cat, p_row, lodged[decl], cites_row & ~conc & (vrow != "permit_missing"),
                             unknown=vrow == "permit_unknown")

    # Labels.
    p_inspect = np.where(is_cites, 0.12, 0.05)
    for k in VIOLATIONS:
        p_inspect = np.where(violation == k, _INSPECT[k], p_inspect)
    inspected = rng.random(n_decl) < p_inspect
    r = rng.random(n_decl)
    severe = np.isin(violation, sorted(_SEVERE))
    clean = violation == None  # noqa: E711 - element-wise on an object array
    seizure = np.where(clean, r < 0.005, np.where(severe, r < 0.75, r < 0.2))
    discrepancy = ~seizure & np.where(clean, r < 0.07, r < 0.85 + 0.05 * severe)
    result = np.where(seizure, "seizure", np.where(discrepancy, "discrepancy", "no_discrepancy"))
    result = np.where(inspected, result, None)

    ids = pd.Series(np.arange(1, n_decl + 1)).astype(str).str.zfill(8)
    frame = pd.DataFrame({
        "declaration_id": ("SWB-" + ids).to_numpy()[decl],
        "version": 1,
        "lodged_at": pd.to_datetime(lodged[decl], utc=True),
        "direction": direction[decl],
        "customs_office": office[decl],
        "transport_mode": mode[decl],
        "declarant_id": declarant[decl],
        "importer_id": np.char.add(np.char.add(imp_country.astype(str), "-IMP-"), imp_id.astype(str))[decl],
        "importer_name": imp_name[decl],
        "importer_country": imp_country[decl],
        "exporter_id": np.char.add(np.char.add(exp_country.astype(str), "-EXP-"), exp_id.astype(str))[decl],
        "exporter_name": exp_name[decl],
        "exporter_country": exp_country[decl],
        "country_of_export": exp_country[decl],
        "country_of_destination": destination[decl],
        "transit_countries": transit[decl],
        "line": line,
        "hs_code": hs,
        "description": desc,
        "taxon": taxon,
        "country_of_origin": origin,
        "quantity": qty.astype(float),
        "unit": unit,
        "net_mass_kg": np.round(mass.astype(float), 1),
        "value": np.round(value.astype(float), 2),
        "currency": "USD",
        "term": term,
        "purpose": purpose,
        "source": src,
        "permits": permits,
        "fraud": np.where(inspected, result != "no_discrepancy", None)[decl],
        "critical_fraud": np.where(inspected, result == "seizure", None)[decl],
        "outcome": result[decl],
        "violation": violation[decl],
    })
    return _typed(frame)


def _permit_column(rng: np.random.Generator, cat: pd.DataFrame, p_row: np.ndarray, lodged: np.ndarray,
                   cited: np.ndarray, *, unknown: np.ndarray) -> np.ndarray:
    """'CC:NUMBER' per CITES line from a pool of well-formed numbers per catalogue row and year."""
    pool_size = 64
    years = pd.to_datetime(lodged, utc=True).year.to_numpy()
    year0 = int(years.min())
    n_years = int(years.max()) - year0 + 1
    pool = np.empty((len(cat), n_years, pool_size + 8), dtype=object)
    for r, row in enumerate(cat.itertuples()):
        for y in range(n_years):
            for k in range(pool_size + 8):
                serial = 100 + 37 * k + 5 * r if k < pool_size else 90000 + 13 * k + r  # last 8: never issued
                number = permit_number(row.country, "export", year0 + y, serial)
                ref = f"{row.country}:{number}"
                if row.app1 and k < pool_size:
                    ref += f";CH:{permit_number('CH', 'import', year0 + y, serial)}"
                pool[r, y, k] = ref
    k = np.where(unknown, pool_size + rng.integers(0, 8, size=len(p_row)), rng.integers(0, pool_size, size=len(p_row)))
    refs = pool[p_row, years - year0, k]
    return np.where(cited, refs, "")
