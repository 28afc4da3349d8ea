"""A dozen fresh declarations for the demo, lodged the days after the history, each showing one case."""
from __future__ import annotations

import datetime as dt

from riskengine.schemas import Declaration
from riskengine.synth._catalogue import GOODS
from riskengine.synth._context import Context
from riskengine.synth._history import cites_body
from riskengine.synth._permits import _PARROT_SMUGGLERS, STREAM_BY_KEY, PermitRecord, issue_permit

__all__ = ["SAMPLE_PERMITS", "build_samples"]

SAMPLE_PERMITS = 9  # permit documents the samples bring into the world


def _product(stream_key: str, taxon: str, term: str | None = None):
    return next(p for p in STREAM_BY_KEY[stream_key].products if p.taxon == taxon and (term is None or p.term == term))


def build_samples(ctx: Context, records: list[PermitRecord], *, first_sequence: int
                  ) -> tuple[list[PermitRecord], list[tuple[str, Declaration]]]:
    """The samples' own permits and the labelled sample declarations."""
    end = ctx.end
    issued = {"recent": end - dt.timedelta(days=30), "older": end - dt.timedelta(days=60)}
    own: list[PermitRecord] = []

    def permit(stream, *, keep: bool = True, **kw) -> PermitRecord:
        rec = issue_permit(ctx, stream, importer_country=kw.pop("importer_country", "CH"), **kw)
        if keep:
            own.append(rec)
        return rec

    afrormosia = STREAM_BY_KEY["afrormosia"]
    saw = _product("afrormosia", "Pericopsis elata", "SAW")
    timber = permit(afrormosia, issued=issued["recent"], country="CM", products=[saw], quantities=[120.0])
    leopard = permit(STREAM_BY_KEY["leopard"], issued=issued["older"], country="NA")
    stolen = permit(STREAM_BY_KEY["reptile_skins"], issued=issued["older"], country="ID",
                    products=[_product("reptile_skins", "Python reticulatus")], quantities=[2000.0], status="stolen")
    expired = permit(STREAM_BY_KEY["crocodile"], issued=end - dt.timedelta(days=200), country="ZW",
                     quantities=[1500.0], explicit_validity=True)
    parrots = permit(_PARROT_SMUGGLERS, issued=issued["recent"], country="CD", quantities=[200.0])
    caviar = permit(STREAM_BY_KEY["caviar"], issued=issued["recent"], country="CN",
                    products=[_product("caviar", "Acipenser baerii")], quantities=[20.0])
    rosewood_cover = permit(afrormosia, issued=issued["older"], country="CM", products=[saw], quantities=[60.0])
    us_origin = [r.permit for r in records if r.permit.issuing_country == "US" and r.role == "regular"
                 and r.permit.issued_on <= issued["recent"] - dt.timedelta(days=14)]
    origins = {"Alligator mississippiensis": ("US", us_origin[0].number)} if us_origin else None
    straps = permit(STREAM_BY_KEY["ch_straps"], issued=issued["recent"], country="CH", importer_country="HK",
                    products=[_product("ch_straps", "Alligator mississippiensis")], quantities=[800.0],
                    origin_permits=origins)
    never_issued = permit(STREAM_BY_KEY["agarwood"], keep=False, issued=issued["recent"], country="MY",
                          products=[_product("agarwood", "Aquilaria malaccensis", "CHP")], quantities=[300.0])
    no_permit = permit(STREAM_BY_KEY["agarwood"], keep=False, issued=issued["recent"], country="ID",
                       products=[_product("agarwood", "Aquilaria malaccensis", "CHP")], quantities=[300.0])

    def when(i: int) -> dt.datetime:
        return ctx.moment(end + dt.timedelta(days=i // 4))

    bodies: list[tuple[str, dict]] = [
        ("clean afrormosia timber with valid permit", cites_body(ctx, timber, 0, when(0), 24.5)),
        ("ordinary furniture from Italy", _furniture(ctx, when(1))),
        ("leopard hunting trophy with export and Swiss import permits", cites_body(ctx, leopard, 0, when(2), 1.0)),
        ("ivory declared as plastic toys via AE", _ivory_toys(ctx, when(3))),
        ("stolen permit cited", cites_body(ctx, stolen, 0, when(4), 600.0)),
        ("expired permit", cites_body(ctx, expired, 0, when(5), 300.0)),
        ("App. I parrot for commercial purpose", cites_body(ctx, parrots, 0, when(6), 120.0)),
        ("unknown permit number", cites_body(ctx, never_issued, 0, when(7), 80.0)),
        ("quantity over the permit", cites_body(ctx, caviar, 0, when(8), 35.0)),
        ("rosewood declared against an afrormosia permit",
         cites_body(ctx, rosewood_cover, 0, when(9), 18.0, taxon="Dalbergia louvelii", origin="MG",
                    description="sawn rosewood (Dalbergia louvelii)", density=1.6)),
        ("agarwood chips without a permit", cites_body(ctx, no_permit, 0, when(10), 45.0, refs=[])),
        ("alligator watch straps re-exported from Switzerland", cites_body(ctx, straps, 0, when(11), 150.0)),
    ]
    samples = []
    for seq, (label, body) in enumerate(bodies, start=first_sequence):
        body["declaration_id"] = f"SW-{body['lodged_at'].year}-{seq:06d}"
        samples.append((label, Declaration.model_validate(body)))
    return own, samples


def _furniture(ctx: Context, when: dt.datetime) -> dict:
    goods = next(g for g in GOODS if g.hs_code == "94036090")
    return {
        "version": 1, "direction": "import", "lodged_at": when, "customs_office": "CHCHI", "transport_mode": "road",
        "declarant_id": "D-107", "importer": ctx.party("Keller Import AG", "CH", "IMP"),
        "exporter": ctx.party("Mobili Brianza S.r.l.", "IT", "EXP"), "country_of_export": "IT",
        "country_of_destination": "CH", "transit_countries": [],
        "items": [{"line": 1, "hs_code": goods.hs_code, "description": goods.description, "country_of_origin": "IT",
                   "quantity": 40.0, "net_mass_kg": 1380.0, "value": 7450.0, "currency": "USD"}],
    }


def _ivory_toys(ctx: Context, when: dt.datetime) -> dict:
    return {
        "version": 1, "direction": "import", "lodged_at": when, "customs_office": "CHZRH", "transport_mode": "air",
        "declarant_id": "D-611", "importer": ctx.party("Moser Trading GmbH", "CH", "IMP"),
        "exporter": ctx.party("Golden Star Enterprises Ltd", "NG", "EXP"), "country_of_export": "NG",
        "country_of_destination": "CH", "transit_countries": ["AE"],
        "items": [{"line": 1, "hs_code": "95030070", "description": "plastic toys", "country_of_origin": "NG",
                   "quantity": 2800.0, "net_mass_kg": 420.0, "value": 250.0, "currency": "USD"}],
    }
