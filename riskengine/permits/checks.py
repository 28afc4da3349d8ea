"""Permit checks at the border (Convention Arts. III-V, Res. Conf. 12.3): one function per concern.

Every function is pure: it reads the declaration line, what the reference data says of its taxon,
and the registry as read for this assessment, and returns findings. Dates are judged at the
declaration's `lodged_at`, so a replay months later finds the same.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from riskengine.schemas import Declaration, DeclarationItem
from riskengine.store.permits import RegisteredLine, RegisteredPermit

__all__ = [
    "Finding",
    "LineContext",
    "PermitCheckResult",
    "QuantityClaim",
    "check_declaration",
    "check_line",
    "unknown_permit",
    "same_party",
    "taxon_covers",
]

WILD_SOURCES = frozenset("WXFR")
PermitKey = tuple[str, str]


@dataclass(frozen=True)
class Finding:
    """A permit problem on a line (or the whole declaration when line is None)."""

    code: str
    line: int | None
    permit: str | None
    message: str


@dataclass(frozen=True)
class LineContext:
    """A declaration line with what the reference data says of it."""

    item: DeclarationItem
    taxon: object | None  # riskengine.reference.TaxonInfo
    appendix: str | None  # after split listings by population
    hs_sensitive: bool  # under any CITES-sensitive heading
    hs_presumed: bool = False  # under a heading whose goods are CITES specimens as a rule

    @property
    def effective_appendix(self) -> str | None:
        """The appendix the permit rules apply: Art. VII(4) treats Appendix I specimens bred in captivity
        for commercial purposes (source D) and artificially propagated plants (source A) as Appendix II."""
        source = self.item.cites.source if self.item.cites else None
        if self.appendix == "I" and (source == "D" or (source == "A" and getattr(self.taxon, "kingdom", None) == "Plantae")):
            return "II"
        return self.appendix

    @property
    def cites_relevant(self) -> bool:
        return self.appendix is not None or bool(self.item.permits) or (self.hs_presumed and not self.item.taxon)


@dataclass(frozen=True)
class QuantityClaim:
    """The quantity a line takes from one permit line, in that permit line's unit."""

    line: int
    permit: PermitKey
    permit_line_id: int
    quantity: float


@dataclass
class PermitCheckResult:
    findings: list[Finding] = field(default_factory=list)
    claims: list[QuantityClaim] = field(default_factory=list)


_LEGAL_FORMS = re.compile(
    r"\b(s\.?a\.?r\.?l|sarl|s\.?a|sas|ltd|limited|llc|inc|gmbh|ag|bv|nv|plc|co|company|corp|corporation|pty|sdn bhd|sdn|bhd|srl|spa|oy|ab|as|kg)\b\.?"
)


@functools.lru_cache(maxsize=65_536)
def _normalise_party(name: str) -> str:
    # A registry names few parties many times: a batch of 20,000 lines citing registered permits
    # spent a quarter of its permit checks normalising the same names again.
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace(".", "")
    text = re.sub(r"[^\w\s]", " ", text)
    text = _LEGAL_FORMS.sub(" ", text)
    return " ".join(text.split())


def same_party(a: str | None, b: str | None, *, threshold: float = 88.0) -> bool:
    """Whether two trader names denote the same party (case, punctuation and legal form ignored)."""
    if not a or not b:
        return True  # nothing to compare: absence is not a mismatch
    left, right = _normalise_party(a), _normalise_party(b)
    if left == right:
        return True
    return fuzz.token_sort_ratio(left, right) >= threshold


def check_declaration(
    declaration: Declaration,
    lines: list[LineContext],
    registry: Mapping[PermitKey, RegisteredPermit] | None,
    *,
    reference,
    quota_used: Callable[[object, str, int], float] | None = None,
    tolerance: float = 0.001,
) -> PermitCheckResult:
    """All permit findings of a declaration, and the quantities its lines would take from permits.

    `registry` holds the cited permits (and the origin permits of cited re-export certificates)
    that exist; None means the registry could not be read.
    """
    result = PermitCheckResult()
    on = declaration.lodged_at.date()
    for ctx in lines:
        if not ctx.cites_relevant:
            continue
        if registry is None:
            result.findings.append(
                Finding("PERMIT_REGISTRY_UNAVAILABLE", ctx.item.line, None, "the permit registry could not be read; permits not verified")
            )
            continue
        result.findings += check_line(ctx, reference)
        result.findings += check_suspensions(declaration, ctx, reference, on)
        if quota_used is not None:
            result.findings += check_quotas(declaration, ctx, reference, on, quota_used)
        cited_types = set()
        for ref in ctx.item.permits:
            permit = registry.get((ref.issuing_country, ref.number))
            if permit is None:
                result.findings.append(unknown_permit(ctx.item.line, ref))
                continue
            cited_types.add(permit.type)
            findings, claim = check_permit(declaration, ctx, permit, reference=reference, on=on, tolerance=tolerance)
            result.findings += findings
            if claim is not None:
                result.claims.append(claim)
            if permit.type == "re-export":
                result.findings += check_reexport_origin(ctx, permit, registry, reference)
        result.findings += check_document_types(declaration, ctx, cited_types)
        result.findings += check_import_permit(declaration, ctx, cited_types)
    return result


def check_line(ctx: LineContext, reference) -> list[Finding]:
    """The findings of a CITES-relevant line that read only its codes, unit, taxon, appendix and HS code
    and whether it cites a permit (batch checks them once per distinct such line)."""
    return check_codes(ctx, reference) + check_presence(ctx) + check_appendix_i_commercial(ctx) + check_source_for_kingdom(ctx)


def unknown_permit(line: int, ref) -> Finding:
    """The finding of a cited permit that is not in the registry."""
    return Finding("PERMIT_UNKNOWN", line, ref.number, f"no permit {ref.number} issued by {ref.issuing_country} is registered")


def check_document_types(declaration: Declaration, ctx: LineContext, cited_types: set[str]) -> list[Finding]:
    """At least one registered cited document is of a type that covers this movement and appendix.

    Extra documents (an import permit under stricter domestic measures) are not a fault; only the
    absence of the document the Convention requires is.
    """
    if not cited_types:
        return []
    expected = _expected_types(declaration.direction, ctx.effective_appendix) - {"import"}
    if cited_types & expected:
        return []
    return [Finding("PERMIT_WRONG_TYPE", ctx.item.line, None,
                    f"{', '.join(sorted(cited_types))} document(s) cited; a {declaration.direction} of an Appendix "
                    f"{ctx.effective_appendix or '-'} specimen needs {' or '.join(sorted(expected))}")]


def check_import_permit(declaration: Declaration, ctx: LineContext, cited_types: set[str]) -> list[Finding]:
    """Art. III(3): an Appendix I import needs an import permit besides the export document."""
    if ctx.effective_appendix != "I" or declaration.direction != "import" or not ctx.item.permits:
        return []
    if "import" not in cited_types:
        return [Finding("IMPORT_PERMIT_REQUIRED", ctx.item.line, None, "Appendix I import without a registered import permit of the importing country")]
    return []


def check_codes(ctx: LineContext, reference) -> list[Finding]:
    """Term, purpose, source and unit exist in the CITES lists and the term-unit pair is possible."""
    item, cites = ctx.item, ctx.item.cites
    found = []
    if cites is not None and cites.term and item.unit and not reference.term_unit_allowed(cites.term, item.unit):
        found.append(Finding("CODE_INVALID", item.line, None, f"unit {item.unit} is not used with term {cites.term}"))
    if cites is not None:
        for kind, code in (("purpose", cites.purpose), ("source", cites.source), ("term", cites.term)):
            if code and not reference.is_valid_code(kind, code):
                found.append(Finding("CODE_INVALID", item.line, None, f"{kind} code {code} is not in the CITES list"))
    return found


def check_presence(ctx: LineContext) -> list[Finding]:
    """A CITES-relevant line cites a document (the import permit of App. I is `check_import_permit`'s)."""
    item = ctx.item
    if not item.permits:
        what = f"{ctx.taxon.accepted_name} is listed in Appendix {ctx.appendix}" if ctx.appendix else f"goods under HS {item.hs_code} are CITES specimens as a rule and no taxon is declared"
        return [Finding("PERMIT_REQUIRED", item.line, None, f"{what}, but no CITES permit is cited")]
    return []


def check_appendix_i_commercial(ctx: LineContext) -> list[Finding]:
    """Appendix I specimens from the wild may not be traded for primarily commercial purposes (Art. III)."""
    cites = ctx.item.cites
    if ctx.appendix == "I" and cites and cites.purpose == "T" and cites.source in WILD_SOURCES:
        return [Finding("APPENDIX_I_COMMERCIAL", ctx.item.line, None, f"Appendix I specimen with purpose T and source {cites.source}")]
    return []


def check_source_for_kingdom(ctx: LineContext) -> list[Finding]:
    """Source A is for plants only; C and R for animals only (Res. Conf. 12.3 Annex 5)."""
    cites, taxon = ctx.item.cites, ctx.taxon
    if not cites or not cites.source or taxon is None:
        return []
    kingdom = getattr(taxon, "kingdom", None)
    if (kingdom == "Animalia" and cites.source == "A") or (kingdom == "Plantae" and cites.source in ("C", "R")):
        return [Finding("SOURCE_INVALID_FOR_KINGDOM", ctx.item.line, None, f"source {cites.source} cannot apply to {kingdom}")]
    return []


def check_suspensions(declaration: Declaration, ctx: LineContext, reference, on: dt.date) -> list[Finding]:
    """A CITES trade suspension covers the taxon (or a higher taxon), the exporting country and the date."""
    if ctx.taxon is None:
        return []
    cites = ctx.item.cites
    countries = {declaration.country_of_export}
    if ctx.item.country_of_origin:
        countries.add(ctx.item.country_of_origin)
    found = []
    for country in sorted(countries):
        for suspension in reference.suspensions(
            ctx.taxon, country, source=cites.source if cites else None, purpose=cites.purpose if cites else None, on=on
        ):
            found.append(
                Finding("TRADE_SUSPENDED", ctx.item.line, None, f"trade in {ctx.taxon.accepted_name} from {country} is suspended: {suspension}")
            )
    return found


def check_quotas(declaration: Declaration, ctx: LineContext, reference, on: dt.date, quota_used) -> list[Finding]:
    """The exporting country's annual export quota for the taxon is not exceeded by this line."""
    if ctx.taxon is None or declaration.direction == "transit":
        return []
    cites = ctx.item.cites
    country = ctx.item.country_of_origin or declaration.country_of_export
    found = []
    for quota in reference.quotas(ctx.taxon, country, on.year, term=cites.term if cites else None, source=cites.source if cites else None):
        quantity = reference.convert(ctx.item.quantity, ctx.item.unit, quota.unit)
        if quantity is None:
            continue
        used = quota_used(quota, country, on.year)
        if used + quantity > quota.quantity:
            found.append(
                Finding(
                    "QUOTA_EXCEEDED",
                    ctx.item.line,
                    None,
                    f"{country} {on.year} export quota for {ctx.taxon.accepted_name}: {used:g} + {quantity:g} exceeds {quota.quantity:g} {quota.unit or 'specimens'}",
                )
            )
    return found


def _expected_types(direction: str, appendix: str | None) -> set[str]:
    if direction in ("import", "transit"):
        if appendix == "III":
            return {"export", "re-export", "certificate_of_origin"}
        return {"export", "re-export", "import"} if appendix == "I" else {"export", "re-export"}
    if direction == "re-export":
        return {"re-export"}
    return {"export", "certificate_of_origin"} if appendix == "III" else {"export"}


def check_permit(
    declaration: Declaration, ctx: LineContext, permit: RegisteredPermit, *, reference, on: dt.date, tolerance: float
) -> tuple[list[Finding], QuantityClaim | None]:
    """Status, validity, type, countries, parties, taxon and quantity of one cited, registered permit."""
    item, number = ctx.item, permit.number
    found: list[Finding] = []

    def add(code: str, message: str) -> None:
        found.append(Finding(code, item.line, number, message))

    if permit.status == "cancelled":
        add("PERMIT_CANCELLED", f"permit {number} was cancelled by the issuing Management Authority")
    elif permit.status in ("lost", "stolen"):
        add("PERMIT_LOST_OR_STOLEN", f"permit {number} was reported {permit.status}")
    if on < permit.issued_on:
        add("PERMIT_NOT_YET_VALID", f"{permit.type} permit issued on {permit.issued_on}, after the declaration date {on}")
    elif on > permit.valid_until:
        add("PERMIT_EXPIRED", f"{permit.type} permit expired on {permit.valid_until}")
    found += _check_countries(declaration, permit, add)
    line = _matching_line(ctx, permit, reference)
    if line is None:
        declared = item.taxon or "(no taxon declared)"
        add("PERMIT_TAXON_MISMATCH", f"permit {number} covers {', '.join(sorted({l.taxon for l in permit.lines}))}, not {declared}")
        return found, None
    quantity = reference.convert(item.quantity, item.unit, line.unit)
    if quantity is None:
        add("CODE_INVALID", f"declared unit {item.unit or 'specimens'} cannot be compared with the permit's {line.unit or 'specimens'}")
        return found, None
    if line.remaining <= line.quantity * tolerance:
        add("PERMIT_ALREADY_USED", f"permit {number} line {line.line} is already used in full ({line.used:g} used, {line.reserved:g} reserved)")
        return found, None
    if quantity > line.remaining * (1 + tolerance) + 1e-9:
        add(
            "PERMIT_QUANTITY_EXCEEDED",
            f"declared {quantity:g} {line.unit or 'specimens'} but permit {number} line {line.line} has {line.remaining:g} left of {line.quantity:g}",
        )
        return found, None
    return found, QuantityClaim(item.line, permit.key, line.id, quantity)


def _check_countries(declaration: Declaration, permit: RegisteredPermit, add) -> list[Finding]:
    if permit.type == "import":
        if permit.issuing_country != declaration.country_of_destination:
            add("PERMIT_COUNTRY_MISMATCH", f"import permit issued by {permit.issuing_country}, but the goods go to {declaration.country_of_destination}")
        if not same_party(permit.importer_name, declaration.importer.name):
            add("PERMIT_PARTY_MISMATCH", f"importer on permit is {permit.importer_name!r}, declared {declaration.importer.name!r}")
        return []
    if permit.issuing_country != declaration.country_of_export:
        add("PERMIT_COUNTRY_MISMATCH", f"{permit.type} permit issued by {permit.issuing_country}, but the goods are exported from {declaration.country_of_export}")
    if not same_party(permit.exporter_name, declaration.exporter.name):
        add("PERMIT_PARTY_MISMATCH", f"exporter on permit is {permit.exporter_name!r}, declared {declaration.exporter.name!r}")
    elif not same_party(permit.importer_name, declaration.importer.name):
        add("PERMIT_PARTY_MISMATCH", f"importer on permit is {permit.importer_name!r}, declared {declaration.importer.name!r}")
    elif permit.importer_country and permit.importer_country != declaration.country_of_destination:
        add("PERMIT_PARTY_MISMATCH", f"permit is for an importer in {permit.importer_country}, the goods go to {declaration.country_of_destination}")
    return []


def _matching_line(ctx: LineContext, permit: RegisteredPermit, reference) -> RegisteredLine | None:
    """The permit line that covers the declared taxon (synonyms resolved, higher taxa cover species)."""
    if not ctx.item.taxon:
        return permit.lines[0] if len(permit.lines) == 1 else None
    for line in permit.lines:
        if taxon_covers(reference, line.taxon, ctx.item.taxon):
            return line
    return None


def check_reexport_origin(
    ctx: LineContext, permit: RegisteredPermit, registry: Mapping[PermitKey, RegisteredPermit], reference
) -> list[Finding]:
    """A re-export certificate names the origin permit; when that permit is registered it must be valid."""
    line = next((l for l in permit.lines if l.origin_permit), None)
    if line is None:
        return [Finding("REEXPORT_ORIGIN_INVALID", ctx.item.line, permit.number, "re-export certificate cites no permit of the country of origin")]
    origin = registry.get((line.country_of_origin or "", line.origin_permit))
    if origin is None:
        return []  # issued abroad and not in our registry: nothing to contradict it
    if origin.status != "valid":
        return [Finding("REEXPORT_ORIGIN_INVALID", ctx.item.line, permit.number, f"origin permit {origin.number} is {origin.status}")]
    if permit.issued_on < origin.issued_on:
        return [Finding("REEXPORT_ORIGIN_INVALID", ctx.item.line, permit.number, f"re-export certificate issued before its origin permit {origin.number}")]
    if not any(taxon_covers(reference, o.taxon, line.taxon) for o in origin.lines):
        return [Finding("REEXPORT_ORIGIN_INVALID", ctx.item.line, permit.number, f"origin permit {origin.number} does not cover {line.taxon}")]
    return []


def _bare(name: str) -> str:
    return " ".join(name.replace(" spp.", "").replace(" spp", "").split()).lower()


def taxon_covers(reference, permitted: str, declared: str) -> bool:
    """Whether a permit line for `permitted` covers specimens declared as `declared`.

    Synonyms resolve to the accepted name; a genus-, family- or order-level line (e.g. "Dalbergia
    spp.") covers every species below it.
    """
    if _bare(permitted) == _bare(declared):
        return True
    upper, lower = reference.lookup(permitted), reference.lookup(declared)
    if upper is not None and lower is not None and upper.accepted_name == lower.accepted_name:
        return True
    higher = _bare(upper.accepted_name if upper is not None else permitted)
    if lower is not None:
        ancestors = (lower.genus, lower.family, lower.order, getattr(lower, "class_", None))
        return any(a and a.lower() == higher for a in ancestors)
    return _bare(declared).split(" ")[0] == higher
