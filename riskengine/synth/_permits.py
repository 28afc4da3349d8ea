"""The permits Management Authorities issue in the synthetic world, with the role each plays."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from riskengine.schemas import Party, Permit, PermitLine, PermitParty
from riskengine.synth._catalogue import (
    ORIGIN_OF,
    REEXPORT_DESTINATIONS,
    STREAMS,
    TRANSIT_IMPORTERS,
    Product,
    Stream,
    legal_name,
    permit_number,
)
from riskengine.synth._context import Context, add_months

__all__ = ["PermitRecord", "issue_permit", "build_permits", "unit_step", "STREAM_BY_KEY"]

STREAM_BY_KEY = {s.key: s for s in STREAMS}

# Convention validity (Res. Conf. 12.3): 6 months for export permits and re-export certificates,
# 12 months for import permits.
_MONTHS = {"export": 6, "re-export": 6, "import": 12}

_PARROT_SMUGGLERS = Stream(
    "wild_parrots",
    (Product("Psittacus erithacus", "I", "LIV", None, "01063200", "live grey parrots",
             700, 0.5, (100, 600)),),
    ("CD", "CM"), ("T",), ("W",), 0, ("air",),
    ("Congo Birds Export", "Oiseaux du Bassin"), ("Zoofachhandel Vogelwelt AG", "Vogelpark Import GmbH"),
)


def unit_step(unit: str | None) -> float:
    """The smallest quantity a declaration states in `unit` (specimens are whole)."""
    return {None: 1.0, "MTQ": 0.001}.get(unit, 0.1)


@dataclass
class PermitRecord:
    """A permit plus what the generator knows about it: its stream, products and role in the history."""

    permit: Permit
    stream: Stream
    products: list[Product]
    role: str  # regular | cancelled | lost | stolen | app1_commercial | sample
    exporter: Party
    importer: Party
    companion: Permit | None = None  # Swiss import permit of an Appendix I export

    @property
    def expiry(self) -> dt.date:
        """The last day the permit (and its companion) may be used, on the conservative reading."""
        days = [_expiry(self.permit)]
        if self.companion is not None:
            days.append(_expiry(self.companion))
        return min(days)

    @property
    def first_day(self) -> dt.date:
        days = [self.permit.issued_on]
        if self.companion is not None:
            days.append(self.companion.issued_on)
        return max(days)

    @property
    def numbers(self) -> list[tuple[str, str]]:
        refs = [(self.permit.issuing_country, self.permit.number)]
        if self.companion is not None:
            refs.append((self.companion.issuing_country, self.companion.number))
        return refs


def _expiry(permit: Permit) -> dt.date:
    if permit.valid_until is not None:
        return permit.valid_until
    return add_months(permit.issued_on, _MONTHS.get(permit.type, 6)) - dt.timedelta(days=1)


def _quantity(ctx: Context, product: Product) -> float:
    lo, hi = product.permit_qty
    q = math.exp(ctx.uniform(math.log(lo), math.log(hi))) if hi > lo else lo
    step = unit_step(product.unit)
    if product.unit is None:
        return float(max(1, round(q)))
    return round(max(step, round(q / step) * step), 3) if step < 1 else round(q, 1)


def issue_permit(
    ctx: Context,
    stream: Stream,
    *,
    issued: dt.date,
    role: str = "regular",
    country: str | None = None,
    products: list[Product] | None = None,
    quantities: list[float] | None = None,
    importer_country: str | None = None,
    origin_permits: dict[str, tuple[str, str]] | None = None,
    status: str = "valid",
    explicit_validity: bool | None = None,
) -> PermitRecord:
    """Issue one permit of `stream` (with its Swiss import permit for an Appendix I stream)."""
    country = country or ctx.choice(stream.countries)
    if products is None:
        n = 1 + int(ctx.rng.integers(0, stream.max_lines))
        picks = ctx.rng.choice(len(stream.products), size=min(n, len(stream.products)), replace=False)
        products = [stream.products[int(i)] for i in sorted(picks)]
    quantities = quantities or [_quantity(ctx, p) for p in products]
    if stream.key == "ch_straps":
        importer_country = importer_country or ctx.choice(REEXPORT_DESTINATIONS)
        importer = ctx.party(legal_name(ctx.choice(("Asia Watch Distribution", "Timepiece Trading")),
                                        importer_country), importer_country, "IMP")
        exporter = ctx.party(ctx.choice(stream.importers), "CH", "EXP")
    else:
        if importer_country is None:
            importer_country = ctx.choice(TRANSIT_IMPORTERS) if ctx.chance(stream.transit_share) else "CH"
        if importer_country == "CH":
            importer = ctx.party(ctx.choice(stream.importers), "CH", "IMP")
        else:
            importer = ctx.party(legal_name(ctx.choice(("Legnami Europa", "Euro Exotic Trade")), importer_country),
                                 importer_country, "IMP")
        exporter = ctx.party(legal_name(ctx.choice(stream.exporter_stems), country), country, "EXP")
    source = ctx.choice(stream.sources)
    purpose = ctx.choice(stream.purposes)
    lines = []
    for i, (product, qty) in enumerate(zip(products, quantities, strict=True), start=1):
        if stream.permit_type == "re-export":
            known = (origin_permits or {}).get(product.taxon)
            if known is not None:
                origin, origin_permit = known
            else:
                origin, origin_permit = ctx.choice(ORIGIN_OF.get(product.taxon, (country,))), None
        else:
            origin, origin_permit = country, None
        if product.kingdom == "plant" and source not in ("W", "A"):
            source = "A"
        if product.kingdom == "animal" and source == "A":
            source = "C"
        lines.append(PermitLine(
            line=i, taxon=product.taxon, appendix=product.appendix, term=product.term, purpose=purpose,
            source=source, quantity=qty, unit=product.unit, country_of_origin=origin,
            origin_permit=origin_permit,
        ))
    if explicit_validity is None:
        explicit_validity = ctx.chance(0.6)
    valid_until = (add_months(issued, _MONTHS[stream.permit_type]) - dt.timedelta(days=1)
                   if explicit_validity else None)
    number = permit_number(country, stream.permit_type, issued.year, ctx.serial(country, issued.year))
    while (country, number) in ctx.known_numbers:
        number = permit_number(country, stream.permit_type, issued.year, ctx.serial(country, issued.year))
    permit = Permit(
        number=number, issuing_country=country, type=stream.permit_type, issued_on=issued,
        valid_until=valid_until, status=status,
        exporter=PermitParty(name=exporter.name, country=exporter.country),
        importer=PermitParty(name=importer.name, country=importer.country),
        lines=lines,
    )
    ctx.known_numbers.add((country, number))
    companion = None
    if stream.app1_import:
        # Art. III: the import permit is granted before the export permit.
        granted = issued - dt.timedelta(days=int(ctx.rng.integers(5, 45)))
        imp_number = permit_number("CH", "import", granted.year, ctx.serial("CH", granted.year))
        companion = Permit(
            number=imp_number, issuing_country="CH", type="import", issued_on=granted,
            valid_until=add_months(granted, 12) - dt.timedelta(days=1) if ctx.chance(0.5) else None,
            exporter=permit.exporter, importer=permit.importer,
            lines=[line.model_copy() for line in lines],
        )
        ctx.known_numbers.add(("CH", imp_number))
    return PermitRecord(permit, stream, list(products), role, exporter, importer, companion)


def build_permits(ctx: Context, *, n_permits: int) -> list[PermitRecord]:
    """Regular, stopped (cancelled/lost/stolen) and improperly issued Appendix I permits, ~n_permits in all."""
    n_stopped = max(3, round(0.045 * n_permits))
    n_app1 = max(2, round(0.02 * n_permits))
    regular_budget = max(1, n_permits - n_stopped - n_app1)
    streams = [s for s in STREAMS if s.origin_stream is None]
    reexports = [s for s in STREAMS if s.origin_stream is not None]
    weights = [s.weight for s in streams + reexports]
    kinds = [ctx.weighted(streams + reexports, weights) for _ in range(regular_budget)]
    # Permit documents per record: App. I exports come with a Swiss import permit.
    records: list[PermitRecord] = []
    lo = ctx.start - dt.timedelta(days=150)
    hi = ctx.end - dt.timedelta(days=25)
    count = 0
    for stream in sorted(kinds, key=lambda s: s.origin_stream is not None):  # originals before re-exports
        if count >= regular_budget:
            break
        issued = ctx.day_between(lo, hi)
        origins: dict[str, tuple[str, str]] = {}
        if stream.origin_stream is not None:
            for product in stream.products:
                # The origin permit must predate the re-export certificate (time to tan and ship).
                candidates = [(r.permit.issuing_country, r.permit.number) for r in records
                              if r.permit.type == "export" and r.products[0].taxon == product.taxon
                              and r.permit.issued_on <= issued - dt.timedelta(days=14)]
                if candidates:
                    origins[product.taxon] = ctx.choice(candidates)
        rec = issue_permit(ctx, stream, issued=issued, origin_permits=origins)
        records.append(rec)
        count += 2 if rec.companion is not None else 1
    stoppable = [s for s in streams if not s.app1_import]
    for i in range(n_stopped):
        status = ("cancelled", "lost", "stolen")[i % 3]
        issued = ctx.day_between(ctx.start - dt.timedelta(days=60), ctx.end - dt.timedelta(days=40))
        records.append(issue_permit(ctx, ctx.weighted(stoppable, [s.weight for s in stoppable]),
                                    issued=issued, role=status, status=status, importer_country="CH"))
    for _ in range(n_app1):
        issued = ctx.day_between(ctx.start - dt.timedelta(days=60), ctx.end - dt.timedelta(days=40))
        records.append(issue_permit(ctx, _PARROT_SMUGGLERS, issued=issued, role="app1_commercial",
                                    importer_country="CH"))
    return records
