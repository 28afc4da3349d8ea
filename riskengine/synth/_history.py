"""A year of declarations: ordinary goods, permit-backed CITES consignments and planted violations.

Every permit line is used by a few shipments in date order and never beyond its quantity, except by
the two violations that exist to exceed it (`quantity_exceeded`, `split_consignment`). The other
violations each break one thing a border check or an inspection can see.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskengine.synth._catalogue import (
    CONCEALMENTS,
    EXPORT_DESTINATIONS,
    EXPORT_GOODS,
    GOODS,
    HUBS,
    SEIZURE_SOURCES,
    Goods,
    legal_name,
    permit_number,
)
from riskengine.synth._context import Context
from riskengine.synth._permits import PermitRecord, unit_step

__all__ = ["CITES_SHARE", "VIOLATIONS", "VIOLATION_RATES", "Planned", "plan_history", "ordinary_body",
           "cites_body", "concealment_body", "split_steps"]

# Share of declarations that carry CITES specimens (declared or concealed).
CITES_SHARE = 0.25

# Planted violations, as a share of the CITES-relevant declarations, with the finding an officer records.
VIOLATION_RATES: dict[str, float] = {
    "permit_expired": 0.03,
    "permit_not_yet_valid": 0.015,
    "permit_cancelled": 0.01,
    "permit_lost_or_stolen": 0.012,
    "permit_unknown": 0.02,
    "quantity_exceeded": 0.02,
    "split_consignment": 0.016,
    "taxon_mismatch": 0.01,
    "species_misdeclared": 0.01,
    "appendix_i_commercial": 0.01,
    "permit_missing": 0.03,
    "concealment": 0.02,
    "undervalued": 0.02,
}
VIOLATIONS = tuple(VIOLATION_RATES)
IN_QUANTITY = ("permit_expired", "permit_not_yet_valid", "taxon_mismatch", "species_misdeclared", "undervalued")
OVER_QUANTITY = ("quantity_exceeded", "split_consignment")

_OFFICES = {"air": ("CHZRH", "CHZRH", "CHZRH", "CHGVA"), "road": ("CHBSL", "CHCHI", "CHGVA"),
            "rail": ("CHBSL", "CHCHI"), "post": ("CHZRH",)}
_AIR_HUBS = ("AE", "QA", "ET", "TR", "FR", "NL", "DE")
_PORT_ROUTES = (("BE", "DE"), ("NL", "DE"), ("FR",), ("IT",))
_EUROPE = {"IT", "DE", "FR", "AT", "PL", "PT", "ES", "NL", "BE", "IE", "GB", "NO", "IS", "CH"}
_SURNAMES = ("Keller", "Meier", "Brunner", "Favre", "Rossi", "Baumann", "Steiner", "Frei", "Huber", "Moser",
             "Gerber", "Bernasconi", "Rochat", "Schmid", "Widmer", "Bühler", "Fontana", "Morel", "Graf", "Käser")
_TRADES = ("Handels", "Import", "Trading", "Distribution", "Logistik", "Commerce")
_STEMS = ("Global", "Prime", "Sunrise", "Golden Star", "Eastern", "Atlas", "Delta", "Horizon", "Pacific",
          "Evergreen", "Unity", "Royal", "Summit", "Phoenix", "Silverline", "Orient")


@dataclass
class Planned:
    """A declaration body before it gets its id, with what the generator knows about it."""

    lodged_at: dt.datetime
    body: dict[str, Any]
    violation: str | None = None
    note: str | None = None
    endorse: float | None = None  # for the over-quantity kinds: what the permit still covered
    usable_permit: bool = True  # whether an officer could endorse the permit at all
    cites: bool = False


def split_steps(ctx: Context, total: int, k: int) -> list[int]:
    """`total` whole steps in `k` positive parts (fewer parts when there are fewer steps)."""
    k = min(k, total)
    if k <= 0:
        return []
    extra = ctx.rng.multinomial(total - k, ctx.rng.dirichlet(np.full(k, 3.0)))
    return [1 + int(e) for e in extra]


def _route(ctx: Context, mode: str, origin: str) -> list[str]:
    if origin in _EUROPE:
        return ["DE"] if mode != "air" and ctx.chance(0.3) else []
    if mode == "air":
        return [ctx.choice(_AIR_HUBS)] if ctx.chance(0.35) else []
    return list(ctx.choice(_PORT_ROUTES))


def _declarant(ctx: Context) -> str:
    # A few forwarding agents lodge most declarations.
    return f"D-{100 + 7 * int(90 * ctx.rng.random() ** 2)}"


def _envelope(ctx: Context, *, when: dt.datetime, direction: str, mode: str, importer, exporter,
              country_of_export: str, destination: str, transit: list[str], items: list[dict]) -> dict:
    return {
        "version": 1,
        "direction": direction,
        "lodged_at": when,
        "customs_office": ctx.choice(_OFFICES[mode]),
        "transport_mode": mode,
        "declarant_id": _declarant(ctx),
        "importer": importer,
        "exporter": exporter,
        "country_of_export": country_of_export,
        "country_of_destination": destination,
        "transit_countries": transit,
        "items": items,
    }


def _goods_line(ctx: Context, goods: Goods, line: int, origin: str) -> dict:
    lo, hi = goods.qty
    qty = math.exp(ctx.uniform(math.log(lo), math.log(hi)))
    qty = float(max(1, round(qty))) if goods.unit is None else round(qty, 1)
    return {
        "line": line, "hs_code": goods.hs_code, "description": goods.description, "country_of_origin": origin,
        "quantity": qty, "unit": goods.unit,
        "net_mass_kg": round(qty * goods.kg_per_unit * float(ctx.rng.lognormal(0, 0.1)), 1),
        "value": round(qty * goods.unit_value * float(ctx.rng.lognormal(0, 0.3)), 2), "currency": "USD",
    }


_BY_ORIGIN: dict[str, list[Goods]] = {}
for _g in GOODS:
    for _c in _g.origins:
        _BY_ORIGIN.setdefault(_c, []).append(_g)


def ordinary_body(ctx: Context, when: dt.datetime) -> dict:
    """An ordinary, non-CITES declaration: mostly imports, some Swiss exports and transits."""
    direction = ctx.weighted(("import", "export", "transit"), (0.86, 0.09, 0.05))
    n_lines = ctx.weighted((1, 2, 3, 4, 5), (0.45, 0.25, 0.15, 0.1, 0.05))
    if direction == "export":
        dest = ctx.choice(EXPORT_DESTINATIONS)
        goods = [ctx.weighted(EXPORT_GOODS, [g.weight for g in EXPORT_GOODS]) for _ in range(n_lines)]
        items = [_goods_line(ctx, g, i, "CH") for i, g in enumerate(goods, start=1)]
        mode = "air" if dest not in _EUROPE else ctx.choice(("road", "rail"))
        exporter = ctx.party(f"{_SURNAMES[int(len(_SURNAMES) * ctx.rng.random() ** 2)]} Export AG", "CH", "EXP")
        importer = ctx.party(legal_name(f"{ctx.choice(_STEMS)} Imports", dest), dest, "IMP")
        return _envelope(ctx, when=when, direction=direction, mode=mode, importer=importer, exporter=exporter,
                         country_of_export="CH", destination=dest, transit=[], items=items)
    first = ctx.weighted(GOODS, [g.weight for g in GOODS])
    origin = ctx.choice(first.origins)
    goods = [first] + [ctx.choice(_BY_ORIGIN[origin]) for _ in range(n_lines - 1)]
    items = [_goods_line(ctx, g, i, origin) for i, g in enumerate(goods, start=1)]
    if origin in _EUROPE:
        mode = ctx.weighted(("road", "rail", "air"), (0.6, 0.25, 0.15))
    else:
        mode = ctx.weighted(("air", "rail", "road", "post"), (0.35, 0.35, 0.25, 0.05))
    stem = _STEMS[int(len(_STEMS) * ctx.rng.random() ** 2)]
    exporter = ctx.party(legal_name(f"{stem} Export", origin), origin, "EXP")
    if direction == "transit":
        dest = ctx.choice(("IT", "DE", "FR", "AT"))
        importer = ctx.party(legal_name(f"{ctx.choice(_STEMS)} Distribution", dest), dest, "IMP")
        mode = ctx.choice(("road", "rail"))
    else:
        dest = "CH"
        rank = int(len(_SURNAMES) * len(_TRADES) * ctx.rng.random() ** 2)
        name = f"{_SURNAMES[rank % len(_SURNAMES)]} {_TRADES[rank // len(_SURNAMES)]} AG"
        importer = ctx.party(name, "CH", "IMP")
    return _envelope(ctx, when=when, direction=direction, mode=mode, importer=importer, exporter=exporter,
                     country_of_export=origin, destination=dest, transit=_route(ctx, mode, origin), items=items)


def cites_body(
    ctx: Context, rec: PermitRecord, idx: int, when: dt.datetime, qty: float, *,
    refs: list[tuple[str, str]] | None = None, taxon: str | None = None, description: str | None = None,
    origin: str | None = None, density: float = 1.0, value_factor: float = 1.0, declare_codes: bool = True,
) -> dict:
    """A declaration of the specimens on line `idx` of `rec`'s permit, citing it (or `refs`)."""
    permit, product, pline = rec.permit, rec.products[idx], rec.permit.lines[idx]
    mode = ctx.choice(rec.stream.modes)
    if permit.issuing_country == "CH":
        direction, mode = "re-export", "air"
    elif rec.importer.country != "CH":
        direction = "transit"
        mode = "rail" if mode == "air" else mode
    else:
        direction = "import"
    if product.unit == "KGM":
        mass = qty
    else:
        mass = qty * product.kg_per_unit * float(ctx.rng.lognormal(0, 0.05)) * density
    item = {
        "line": 1, "hs_code": product.hs_code, "description": description or product.description,
        "taxon": taxon or pline.taxon, "country_of_origin": origin or pline.country_of_origin,
        "quantity": qty, "unit": product.unit, "net_mass_kg": round(mass, 1),
        "value": round(qty * product.unit_value * float(ctx.rng.lognormal(0, 0.25)) * value_factor, 2),
        "currency": "USD",
        "permits": [{"number": n, "issuing_country": c} for c, n in (rec.numbers if refs is None else refs)],
    }
    if declare_codes:
        item["cites"] = {"term": pline.term, "purpose": pline.purpose, "source": pline.source}
    transit = [] if direction == "re-export" else _route(ctx, mode, permit.issuing_country)
    return _envelope(ctx, when=when, direction=direction, mode=mode, importer=rec.importer, exporter=rec.exporter,
                     country_of_export=permit.issuing_country, destination=rec.importer.country,
                     transit=transit, items=[item])


def concealment_body(ctx: Context, when: dt.datetime) -> tuple[dict, str]:
    """Wildlife under an innocuous description, from a seizure source country through a hub."""
    c = ctx.choice(CONCEALMENTS)
    source = ctx.choice(SEIZURE_SOURCES)
    hubs = [ctx.choice(HUBS)]
    if ctx.chance(0.25):
        hubs.append(ctx.choice([h for h in HUBS if h != hubs[0]]))
    kg = round(math.exp(ctx.uniform(math.log(c.kg[0]), math.log(c.kg[1]))), 1)
    via_hub = ctx.chance(0.4)
    export_country = hubs[0] if via_hub else source
    goods = next(g for g in GOODS if g.hs_code == c.hs_code)
    qty = float(max(1, round(kg / goods.kg_per_unit))) if goods.unit is None else kg
    exporter = ctx.party(legal_name(f"{ctx.choice(_STEMS)} {'General' if via_hub else 'Enterprises'}", export_country),
                         export_country, "EXP")
    rank = int(len(_SURNAMES) * ctx.rng.random())
    importer = ctx.party(f"{_SURNAMES[rank]} Trading GmbH", "CH", "IMP")
    item = {
        "line": 1, "hs_code": c.hs_code, "description": c.description,
        "country_of_origin": source if ctx.chance(0.5) else export_country,
        "quantity": qty, "unit": goods.unit, "net_mass_kg": kg,
        "value": round(kg * c.declared_value_per_kg * float(ctx.rng.lognormal(0, 0.3)), 2), "currency": "USD",
    }
    mode = "air" if ctx.chance(0.8) else "post"
    body = _envelope(ctx, when=when, direction="import", mode=mode, importer=importer, exporter=exporter,
                     country_of_export=export_country, destination="CH",
                     transit=hubs[1:] if via_hub else hubs, items=[item])
    return body, f"{c.hidden} under '{c.description}'"


@dataclass
class _Slot:
    rec: PermitRecord
    idx: int
    lo: dt.date
    hi: dt.date
    kind: str | None = None
    uses: list[dt.date] = field(default_factory=list)


def _slots(ctx: Context, records: list[PermitRecord]) -> list[_Slot]:
    out = []
    for rec in records:
        if rec.role != "regular":
            continue
        lo = max(rec.first_day + dt.timedelta(days=2), ctx.start)
        hi = min(rec.expiry - dt.timedelta(days=2), ctx.end - dt.timedelta(days=1))
        for idx in range(len(rec.permit.lines)):
            out.append(_Slot(rec, idx, lo, hi))
    return out


def _eligible(ctx: Context, kind: str, s: _Slot) -> bool:
    usable = s.lo <= s.hi
    if kind in ("taxon_mismatch", "species_misdeclared"):
        return usable and s.rec.stream.key == "afrormosia"
    if kind == "permit_not_yet_valid":
        return s.rec.first_day - dt.timedelta(days=1) >= ctx.start
    if kind == "permit_expired":
        return s.rec.expiry + dt.timedelta(days=3) <= ctx.end - dt.timedelta(days=1)
    if kind in OVER_QUANTITY:
        return usable and (s.hi - s.lo).days >= 4 and s.rec.permit.lines[s.idx].quantity >= 5
    return usable


def plan_history(ctx: Context, records: list[PermitRecord], *, n_declarations: int) -> list[Planned]:
    """The whole history, unsorted: CITES uses of the permits, planted violations, ordinary goods."""
    budget = round(CITES_SHARE * n_declarations)
    counts = {k: round(rate * budget) for k, rate in VIOLATION_RATES.items()}
    slots = _slots(ctx, records)
    planned: list[Planned] = []
    # 1. one violation at most per permit line, for the kinds that abuse a genuine permit
    per_slot_kinds = ("taxon_mismatch", "species_misdeclared", "permit_not_yet_valid", "permit_expired",
                      "quantity_exceeded", "split_consignment", "undervalued")
    for kind in per_slot_kinds:
        want = math.ceil(counts[kind] / 4) if kind == "split_consignment" else counts[kind]
        free = [i for i, s in enumerate(slots) if s.kind is None and _eligible(ctx, kind, s)]
        for i in ctx.rng.choice(len(free), size=min(want, len(free)), replace=False) if free else []:
            slots[free[int(i)]].kind = kind
    n_violations = sum(counts.values())
    # 2. clean uses, spread over usable lines by each stream's shipping habit
    usable = [s for s in slots if s.lo <= s.hi]
    weights = np.array([s.rec.stream.uses for s in usable]) * ctx.rng.lognormal(0, 0.5, len(usable))
    expected = max(0, budget - n_violations) * weights / max(weights.sum(), 1e-9)
    for s, lam in zip(usable, expected, strict=True):
        k = int(ctx.rng.poisson(lam))
        if s.kind in OVER_QUANTITY:
            k = max(k, 1)
        planned.extend(_use_slot(ctx, s, k))
    for s in slots:
        if s.lo > s.hi and s.kind is not None:  # expired / not-yet-valid on a line with no clean window
            planned.extend(_use_slot(ctx, s, 0))
    # 3. violations citing stopped, improperly issued or invented permits, or none at all
    planned.extend(_cite_records(ctx, [r for r in records if r.role == "cancelled"], counts["permit_cancelled"],
                                 "permit_cancelled"))
    planned.extend(_cite_records(ctx, [r for r in records if r.role in ("lost", "stolen")],
                                 counts["permit_lost_or_stolen"], "permit_lost_or_stolen"))
    planned.extend(_cite_records(ctx, [r for r in records if r.role == "app1_commercial"],
                                 counts["appendix_i_commercial"], "appendix_i_commercial"))
    regular = [r for r in records if r.role == "regular" and r.permit.issuing_country != "CH"]
    for _ in range(counts["permit_unknown"]):
        planned.append(_unknown_permit(ctx, ctx.choice(regular)))
    for _ in range(counts["permit_missing"]):
        rec = ctx.choice(regular)
        when = ctx.moment(ctx.day_between(ctx.start, ctx.end - dt.timedelta(days=1)))
        qty = _shipment(ctx, rec, 0)
        body = cites_body(ctx, rec, 0, when, qty, refs=[], declare_codes=ctx.chance(0.5))
        planned.append(Planned(when, body, "permit_missing", note=f"{rec.permit.lines[0].taxon} without a permit",
                               usable_permit=False, cites=True))
    for _ in range(counts["concealment"]):
        when = ctx.moment(ctx.day_between(ctx.start, ctx.end - dt.timedelta(days=1)))
        body, note = concealment_body(ctx, when)
        planned.append(Planned(when, body, "concealment", note=note, usable_permit=False, cites=True))
    # 4. ordinary goods fill the rest, fewer at weekends
    n_ordinary = max(0, n_declarations - len(planned))
    days = np.array([(ctx.start + dt.timedelta(days=d)).weekday() for d in range((ctx.end - ctx.start).days)])
    p = np.where(days == 5, 0.35, np.where(days == 6, 0.15, 1.0))
    for d in np.sort(ctx.rng.choice(len(days), size=n_ordinary, p=p / p.sum())):
        when = ctx.moment(ctx.start + dt.timedelta(days=int(d)))
        planned.append(Planned(when, ordinary_body(ctx, when)))
    return planned


def _shipment(ctx: Context, rec: PermitRecord, idx: int) -> float:
    q = rec.permit.lines[idx].quantity
    step = unit_step(rec.products[idx].unit)
    return round(max(step, math.floor(q * ctx.uniform(0.1, 0.4) / step) * step), 3)


def _use_slot(ctx: Context, s: _Slot, k: int) -> list[Planned]:
    rec, idx = s.rec, s.idx
    step = unit_step(rec.products[idx].unit)
    q_steps = int(round(rec.permit.lines[idx].quantity / step))
    room = s.kind in IN_QUANTITY or s.kind in OVER_QUANTITY
    used_share = ctx.uniform(0.4, 0.75) if room else ctx.uniform(0.55, 0.97)
    total = int(used_share * q_steps)
    if room:
        total = min(total, q_steps - 1)
    parts = split_steps(ctx, total, k) if k > 0 else []
    out = []
    clean_hi = s.hi - dt.timedelta(days=3) if s.kind in OVER_QUANTITY else s.hi
    days = sorted(ctx.day_between(s.lo, clean_hi) for _ in parts)
    for day, n in zip(days, parts, strict=True):
        when = ctx.moment(day)
        out.append(Planned(when, cites_body(ctx, rec, idx, when, round(n * step, 3)), cites=True))
    remaining = q_steps - sum(parts)
    last = days[-1] if days else s.lo
    if s.kind in IN_QUANTITY and remaining > 0:
        n = max(1, int(remaining * ctx.uniform(0.3, 0.9)))
        qty = round(n * step, 3)
        if s.kind == "permit_expired":
            day = min(rec.expiry + dt.timedelta(days=int(ctx.rng.integers(3, 61))), ctx.end - dt.timedelta(days=1))
        elif s.kind == "permit_not_yet_valid":
            day = max(rec.first_day - dt.timedelta(days=int(ctx.rng.integers(1, 26))), ctx.start)
        else:
            day = ctx.day_between(s.lo, s.hi)
        when = ctx.moment(day)
        kw: dict[str, Any] = {}
        note = None
        usable = s.kind in ("undervalued", "species_misdeclared")
        if s.kind == "taxon_mismatch":
            taxon = ctx.choice(("Dalbergia louvelii", "Dalbergia baronii", "Pterocarpus erinaceus"))
            kw = {"taxon": taxon, "description": f"sawn rosewood ({taxon})", "density": 1.6,
                  "origin": "MG" if taxon.startswith("Dalbergia") else None}
            note = f"{taxon} declared against a {rec.permit.lines[idx].taxon} permit"
        elif s.kind == "species_misdeclared":
            kw = {"density": 1.6}
            note = "Dalbergia, not Pericopsis"
        elif s.kind == "undervalued":
            kw = {"value_factor": ctx.uniform(0.05, 0.2)}
            note = "declared value far below the market price"
        out.append(Planned(when, cites_body(ctx, rec, idx, when, qty, **kw), s.kind, note=note,
                           usable_permit=usable, cites=True))
    elif s.kind == "quantity_exceeded":
        n = remaining + max(1, math.ceil(q_steps * ctx.uniform(0.1, 0.6)))
        when = ctx.moment(ctx.day_between(last, s.hi))
        out.append(Planned(when, cites_body(ctx, rec, idx, when, round(n * step, 3)), s.kind,
                           note=f"declared {round(n * step, 3)} with {round(remaining * step, 3)} left on the permit",
                           endorse=round(remaining * step, 3), cites=True))
    elif s.kind == "split_consignment" and remaining > 0:
        first = ctx.day_between(last, s.hi - dt.timedelta(days=2))
        left = remaining
        for j in range(int(ctx.rng.integers(3, 6))):
            n = max(1, int(remaining * ctx.uniform(0.4, 0.8)))
            when = ctx.moment(first + dt.timedelta(days=min(j // 2, 2)))
            body = cites_body(ctx, rec, idx, when, round(n * step, 3))
            out.append(Planned(when, body, s.kind, note="one consignment split to reuse a permit",
                               endorse=round(min(n, left) * step, 3), cites=True))
            left = max(0, left - n)
    return out


def _cite_records(ctx: Context, records: list[PermitRecord], count: int, kind: str) -> list[Planned]:
    """`count` declarations citing `records` (stopped or improperly issued), within their validity."""
    windows = []
    for rec in records:
        lo = max(rec.first_day + dt.timedelta(days=3), ctx.start)
        hi = min(rec.expiry - dt.timedelta(days=2), ctx.end - dt.timedelta(days=1))
        if lo <= hi:
            windows.append((rec, lo, hi))
    if not windows or count <= 0:
        return []
    out = []
    per_record = ctx.rng.multinomial(count, np.full(len(windows), 1 / len(windows)))
    for (rec, lo, hi), n in zip(windows, per_record, strict=True):
        step = unit_step(rec.products[0].unit)
        q_steps = int(round(rec.permit.lines[0].quantity / step))
        parts = split_steps(ctx, int(q_steps * ctx.uniform(0.5, 1.0)), int(n))
        for part in parts:
            when = ctx.moment(ctx.day_between(lo, hi))
            body = cites_body(ctx, rec, 0, when, round(part * step, 3))
            note = {"appendix_i_commercial": "wild-caught Appendix I specimens for commercial purposes"}.get(
                kind, f"permit reported {rec.permit.status}")
            out.append(Planned(when, body, kind, note=note, usable_permit=False, cites=True))
    return out


def _unknown_permit(ctx: Context, rec: PermitRecord) -> Planned:
    country = rec.permit.issuing_country
    when = ctx.moment(ctx.day_between(ctx.start, ctx.end - dt.timedelta(days=1)))
    while True:
        number = permit_number(country, rec.permit.type, when.year, int(ctx.rng.integers(1, 99999)))
        if (country, number) not in ctx.known_numbers:
            ctx.known_numbers.add((country, number))  # so no permit issued later takes it
            break
    body = cites_body(ctx, rec, 0, when, _shipment(ctx, rec, 0), refs=[(country, number)])
    return Planned(when, body, "permit_unknown", note=f"no permit {number} was issued by {country}",
                   usable_permit=False, cites=True)
