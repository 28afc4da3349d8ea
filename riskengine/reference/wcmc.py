"""Importer for the UNEP-WCMC exports (Species+/SAPI): listings, taxonomy, code lists, trade controls.

`import_wcmc(src, out)` reads the folder a Management Authority downloads (the layout of
../shared/data/cites/) and writes our normalised CSV files into `out`, which
`Reference.load(imported_dir=out)` then lays over the shipped data/.

Known limits of the 2013 exports, handled here rather than guessed at:
- suspensions carry notification numbers, not dates: current ones are imported with an open
  window; source and purpose restrictions are read from the wording of the note;
- taxa marked N (not accepted) carry no link to their accepted name: they are kept as names
  under their genus, so they still resolve to a genus-level listing.
"""
from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from riskengine.reference.codes import TERM_CODES, UNIT_ALIASES
from riskengine.reference.errors import ReferenceDataError
from riskengine.reference.loader import FILES, default_data_dir

__all__ = ["ImportReport", "import_wcmc"]

_KINGDOMS = {"animalia": "Animalia", "plantae": "Plantae"}
_RANK_FIX = {"SUBFAMILY": "SUBFAMILY"}
_BASES = {"KGM": "mass", "MTQ": "volume", "MTK": "area", "MTR": "length"}
_TAG = re.compile(r"<[^>]+>")


@dataclass
class ImportReport:
    """What an import read and wrote, with the rows it had to skip and why."""

    out_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        parts = ", ".join(f"{v} {k}" for k, v in self.counts.items())
        text = f"imported {parts} in {self.seconds:.1f}s"
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s):\n  " + "\n  ".join(self.warnings)
        return text

    def __rich__(self) -> str:  # `console.print(report)` in the CLI shows the summary, not the dataclass
        return str(self)


def import_wcmc(src_dir: Path, out_dir: Path, progress: bool = True) -> ImportReport:
    """Read the UNEP-WCMC files in `src_dir` and write normalised reference files into `out_dir`."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    listings_file = src_dir / "sapi_2013_current_cites_listings_flat.csv"
    if not listings_file.is_file():
        raise ReferenceDataError("not a UNEP-WCMC export folder: the flat listings file is missing", path=listings_file)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = ImportReport(out_dir)
    started = time.perf_counter()
    trees: dict[str, pd.DataFrame] = {}
    steps = [
        ("code lists", lambda: _codes(src_dir, out_dir, report)),
        ("taxonomy", lambda: trees.update({k: _tree(src_dir, k, report) for k in _KINGDOMS.values()})),
        ("listings", lambda: _taxa(src_dir, out_dir, report, trees)),
        ("suspensions", lambda: _suspensions(src_dir, out_dir, report, trees)),
        ("quotas", lambda: _quotas(src_dir, out_dir, report)),
        ("reservations", lambda: _reservations(src_dir, out_dir, report)),
    ]
    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("importing UNEP-WCMC data", total=len(steps))
            for label, step in steps:
                bar.update(task, description=f"importing {label}")
                step()
                bar.advance(task)
    else:
        for _, step in steps:
            step()
    report.seconds = time.perf_counter() - started
    return report


# -- writing ------------------------------------------------------------------------------------


def _write(out_dir: Path, name: str, frame: pd.DataFrame) -> int:
    columns = list(FILES[name]) + [c for c in frame.columns if c not in FILES[name]]
    frame = frame.reindex(columns=columns).fillna("")
    frame.to_csv(out_dir / name, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return len(frame)


def _read(path: Path, **kwargs) -> pd.DataFrame:
    # keep_default_na=False: "NA" is Namibia, not a missing value.
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", **kwargs)


def _clean(text: str) -> str:
    return " ".join(_TAG.sub(" ", text.replace("<p>", " ")).split())


def _date(value: str) -> str:
    value = value.strip()
    if not value or value.lower() in ("present", "null"):
        return ""
    parsed = pd.to_datetime(value[:10], format="%d/%m/%Y", errors="coerce")
    return "" if pd.isna(parsed) else parsed.date().isoformat()


# -- code lists ---------------------------------------------------------------------------------


def _codes(src: Path, out: Path, report: ImportReport) -> None:
    consolidated = _read(src / "cites_code_lists_consolidated.csv")
    consolidated["status"] = consolidated["status"].str.replace(r"\s*\(older\)", "", regex=True)
    for kind, legacy, code_col, name_col in (
        ("purpose", "purpose_codes_utf8.csv", "Purpose_code", "English_Purpose_Name"),
        ("source", "source_codes_utf8.csv", "Source_code", "Source_English_Name"),
        ("term", "term_codes_utf8.csv", "Term_code", "English_Term_Name"),
        ("unit", "unit_codes_utf8.csv", "Unit_code", "English_Unit_Name"),
    ):
        rows = consolidated[consolidated["field"].str.lower() == kind][["code", "description", "status"]]
        if (src / legacy).is_file():
            old = _read(src / legacy).rename(columns={code_col: "code", name_col: "description"})[["code", "description"]]
            old["status"] = "historical"
            rows = pd.concat([rows, old[~old["code"].isin(rows["code"])]])
        rows = rows.assign(code=rows["code"].str.strip().str.upper(), description=rows["description"].map(_clean))
        rows = rows[rows["code"] != ""].drop_duplicates("code")
        if kind == "term":
            # Keep the term list in step with what the schema accepts (TERM_CODES); SAPI's old
            # catch-alls OTH and PIE are not CITES terms a permit can carry.
            unknown = sorted(set(rows["code"]) - TERM_CODES)
            if unknown:
                report.warnings.append(f"term codes not accepted by the schema were left out: {', '.join(unknown)}")
            rows = rows[rows["code"].isin(TERM_CODES)]
        if kind == "unit":
            rows = _unit_dimensions(src, rows)
        report.counts[f"{kind} codes"] = _write(out, f"{kind}s.csv", rows)
    pairs = _read(src / "term_unit_pairs_utf8.csv").rename(columns={"TERM_CODE": "term", "UNIT_CODE": "unit"})
    pairs["unit"] = pairs["unit"].str.strip().str.upper().map(lambda u: "" if u in ("", "NAR") else UNIT_ALIASES.get(u, u))
    report.counts["term-unit pairs"] = _write(out, "term_units.csv", pairs[["term", "unit"]].drop_duplicates())


def _unit_dimensions(src: Path, units: pd.DataFrame) -> pd.DataFrame:
    """Canonical code, dimension and factor to base for each unit, from the Trade Plus conversions."""
    factor: dict[str, tuple[str, float]] = {code: (dim, 1.0) for code, dim in _BASES.items()}
    factor["LTR"] = ("volume", 0.001)
    conversions = src / "trade_plus_term_unit_conversions_2022.csv"
    if conversions.is_file():
        table = _read(conversions)
        table = table[(table["term_code"] == "") & (table["unit_modifier_value"] != "")]
        for _ in range(2):  # MLT -> LTR -> MTQ needs two passes
            for row in table.itertuples():
                target = factor.get(row.output_unit_code)
                if target is None:
                    continue
                value = float(row.unit_modifier_value)
                ratio = 1 / value if row.unit_quantity_modifier == "/" else value
                factor.setdefault(row.unit_code, (target[0], ratio * target[1]))
    shipped = default_data_dir() / "units.csv"
    known = _read(shipped).set_index("code") if shipped.is_file() else pd.DataFrame()
    canonical, dimension, to_base = [], [], []
    for code in units["code"]:
        canon = UNIT_ALIASES.get(code, code)
        dim, base = factor.get(code, factor.get(canon, (None, None)))
        if dim is None and code in known.index:
            dim, base = known.at[code, "dimension"], known.at[code, "to_base"]
        canonical.append("" if code == "NAR" else canon)
        dimension.append("count" if code == "NAR" else (dim or "piece"))
        to_base.append("1" if code == "NAR" else ("" if base in (None, "") else repr(float(base))))
    return units.assign(canonical=canonical, dimension=dimension, to_base=to_base)


# -- taxonomy and listings ------------------------------------------------------------------------


def _tree(src: Path, kingdom: str, report: ImportReport) -> pd.DataFrame:
    """Every taxon of one kingdom with its full name and its parent's full name."""
    taxa = _read(src / "taxonomy_2013" / f"{kingdom.lower()}_taxa_utf8.csv")
    taxa = taxa.rename(columns={"Scientific name": "part", "Rank": "rank", "RecID": "id", "ParentRank": "prank",
                                "ParentRecID": "pid", "Status": "status"})
    taxa["rank"] = taxa["rank"].str.upper()
    taxa["prank"] = taxa["prank"].str.upper()
    taxa = taxa[taxa["rank"] != "RANK"]
    taxa["key"] = taxa["rank"] + ":" + taxa["id"]
    taxa["pkey"] = taxa["prank"] + ":" + taxa["pid"]
    above_genus = ~taxa["rank"].isin(["GENUS", "SPECIES", "SUBSPECIES", "VARIETY"])
    taxa["name"] = taxa["part"].str.strip()
    taxa.loc[above_genus, "name"] = taxa.loc[above_genus, "name"].str.capitalize()
    taxa.loc[taxa["rank"] == "KINGDOM", "name"] = kingdom
    taxa.loc[taxa["rank"] == "GENUS", "name"] = taxa.loc[taxa["rank"] == "GENUS", "name"].str.capitalize()
    names = dict(zip(taxa["key"], taxa["name"]))
    for rank in ("SPECIES", "SUBSPECIES", "VARIETY"):  # children take their parent's full name first
        rows = taxa["rank"] == rank
        sep = " var. " if rank == "VARIETY" else " "
        parents = taxa.loc[rows, "pkey"].map(names)
        taxa.loc[rows, "name"] = parents.fillna("?") + sep + taxa.loc[rows, "part"].str.strip().str.lower()
        names.update(zip(taxa.loc[rows, "key"], taxa.loc[rows, "name"]))
    taxa["parent"] = taxa["pkey"].map(names).fillna("")
    orphans = (taxa["parent"] == "") & (taxa["rank"] != "KINGDOM")
    if orphans.any():
        report.warnings.append(f"{kingdom}: {int(orphans.sum())} taxa without a known parent were attached to the kingdom")
        taxa.loc[orphans, "parent"] = kingdom
    taxa = taxa[~taxa["name"].str.startswith("?")]
    # An accepted name wins over a not-accepted homonym of the same kingdom.
    taxa = taxa.sort_values("status").drop_duplicates("name", keep="first")
    taxa["kingdom"] = kingdom
    return taxa


def _taxa(src: Path, out: Path, report: ImportReport, trees: dict[str, pd.DataFrame]) -> None:
    flat = _read(src / "sapi_2013_current_cites_listings_flat.csv")
    flat["rank"] = flat["rank"].str.upper()
    flat["kingdom"] = flat["kingdom"].map(lambda k: _KINGDOMS.get(k.lower(), k))
    flat["key"] = flat["rank"] + ":" + flat["rec_id"]
    flat["listing"] = flat["listing"].str.strip()
    hashes = _hash_annotations(src)
    taxa = pd.concat(list(trees.values()), ignore_index=True)
    known = set(zip(taxa["kingdom"], taxa["name"]))
    name_of = {(k, key): n for k, key, n in zip(taxa["kingdom"], taxa["key"], taxa["name"])}
    appendix: dict[tuple[str, str], str] = {}
    annotation: dict[tuple[str, str], str] = {}
    populations: list[dict[str, str]] = []
    unknown = 0
    for row in flat[flat["listing"].isin(["I", "II", "III"])].itertuples():
        name = name_of.get((row.kingdom, row.key))
        if name is None:
            unknown += 1
            continue
        ident = (row.kingdom, name)
        note = _clean(row.short_note_en) or _clean(row.full_note_en)[:400]
        hash_text = hashes.get(row.hash_note.strip(), "")
        text = "; ".join(t for t in (f"{row.hash_note.strip()} {hash_text}".strip() if row.hash_note.strip() else "", note) if t)
        if row.populations_iso2 and row.listing != "III":
            populations.append({"name": name, "appendix": row.listing, "countries": row.populations_iso2.replace(",", " "), "note": note})
            annotation.setdefault(ident, text)
            continue
        if row.is_inclusion == "1":  # listed through a higher taxon: let the lookup climb to it
            continue
        if ident not in appendix or row.listing < appendix[ident]:  # "I" < "II" < "III": keep the strictest
            appendix[ident] = row.listing
        if text:
            annotation[ident] = text
    if unknown:
        report.warnings.append(f"{unknown} listing rows name a taxon missing from the taxonomy files")
    for row in flat[flat["short_note_en"].str.startswith("Excludes")].itertuples():
        for name in re.findall(r"[A-Z][a-z]+ [a-z]{3,}", _clean(row.short_note_en)):
            ident = (row.kingdom, name)
            if ident in known:
                appendix[ident] = "NL"
                annotation[ident] = f"Not covered by the listing ({_clean(row.short_note_en)})"
    idents = list(zip(taxa["kingdom"], taxa["name"]))
    taxa["appendix"] = [appendix.get(i, "") for i in idents]
    taxa["annotation"] = [annotation.get(i, "") for i in idents]
    taxa["common_name"] = ""
    taxa["status"] = taxa["status"].map({"A": "accepted", "N": "not accepted", "H": "hybrid"}).fillna("")
    taxa["wcmc_id"] = taxa["key"]
    report.counts["taxa"] = _write(out, "taxa.csv", taxa[["kingdom", "name", "rank", "parent", "appendix", "annotation", "common_name", "status", "wcmc_id"]])
    report.counts["listed taxa"] = int((taxa["appendix"].isin(["I", "II", "III"])).sum())
    report.counts["split listings"] = _write(out, "populations.csv", pd.DataFrame(populations, columns=["name", "appendix", "countries", "note"]).drop_duplicates())
    _write(out, "synonyms.csv", pd.DataFrame(columns=["synonym", "accepted_name", "note"]))


def _hash_annotations(src: Path) -> dict[str, str]:
    path = src / "taxonomy_2013" / "hash_annotations_cites_utf8.csv"
    if not path.is_file():
        return {}
    table = _read(path)
    return {display.strip(): _clean(text)[:300] for display, text in zip(table["For Display"], table["Text"])}


# -- trade controls -------------------------------------------------------------------------------


def _restrictions(note: str) -> tuple[str, str]:
    """Sources and purposes a suspension note restricts itself to, from its wording."""
    text = note.lower()
    purposes = "T" if "commercial" in text else ""
    sources = "W" if re.search(r"wild[- ](taken|caught|collected)|wild specimens", text) else ""
    return sources, purposes


def _suspensions(src: Path, out: Path, report: ImportReport, trees: dict[str, pd.DataFrame]) -> None:
    path = src / "taxonomy_2013" / "cites_suspensions_utf8.csv"
    # This export ends its lines with a bare CR; normalise before parsing.
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    table.columns = [c.strip().replace(" ", "_") for c in table.columns]
    table = table[table["IsCurrent"].str.strip() == "1"]
    names = {(kingdom, k): n for kingdom, tree in trees.items() for k, n in zip(tree["key"], tree["name"])}
    rows, unresolved = [], 0
    for r in table.itertuples():
        taxon = ""
        if r.RecID.strip():
            key = f"{r.Rank.strip().upper()}:{r.RecID.strip()}"
            kingdoms = [_KINGDOMS.get(r.Kingdom.strip().lower())] if r.Kingdom.strip() else list(_KINGDOMS.values())
            taxon = next((names[(k, key)] for k in kingdoms if (k, key) in names), "")
            if not taxon:
                unresolved += 1
                continue
        excluded = []
        for item in r.ExcludedTaxa.split(","):
            rank, _, rec = item.strip().partition(":")
            found = next((names[(k, f"{rank.upper()}:{rec}")] for k in _KINGDOMS.values() if (k, f"{rank.upper()}:{rec}") in names), None)
            if found:
                excluded.append(found)
        sources, purposes = _restrictions(r.Notes)
        rows.append({"country": r.ISO_code.strip().upper(), "taxon": taxon, "source": sources, "purpose": purposes,
                     "start": "", "end": "", "notification": r.StartNotificationID.strip(),
                     "notes": _clean(r.Notes), "excluded_taxa": ";".join(excluded)})
    if unresolved:
        report.warnings.append(f"{unresolved} suspensions name a taxon missing from the taxonomy files")
    report.counts["suspensions"] = _write(out, "suspensions.csv", pd.DataFrame(rows, columns=list(FILES["suspensions.csv"]) + ["notification", "excluded_taxa"]))


def _codes_list(value: str) -> str:
    value = value.strip()
    return "" if value.lower() in ("all", "") else ";".join(v.strip().upper() for v in value.split(";") if v.strip())


def _quotas(src: Path, out: Path, report: ImportReport) -> None:
    table = _read(src / "quotas_current.csv")
    frame = pd.DataFrame({
        "country": table["iso_code2"].map(lambda c: "" if c.strip().lower() == "all" else c.strip().upper()),
        "taxon": table["taxon_name"].str.strip(),
        "year": "",
        "start": table["start_date"].map(_date),
        "end": table["end_date"].map(_date),
        "quantity": table["quota"].str.strip(),
        "unit": table["unit"].map(lambda u: "" if u.strip().lower() in ("all", "nar", "") else UNIT_ALIASES.get(u.strip().upper(), u.strip().upper())),
        "term": table["term"].map(_codes_list),
        "source": table["source"].map(_codes_list),
        "purpose": table["purpose"].map(_codes_list),
        "notes": table["notes"].map(_clean).str.slice(0, 400),
        "quota_type": table["quota_type"],
    })
    bad = pd.to_numeric(frame["quantity"], errors="coerce").isna()
    if bad.any():
        report.warnings.append(f"{int(bad.sum())} quotas without a numeric quantity were skipped")
    report.counts["quotas"] = _write(out, "quotas.csv", frame[~bad])


def _reservations(src: Path, out: Path, report: ImportReport) -> None:
    table = _read(src / "reservations.csv")
    table.columns = [c.strip() for c in table.columns]
    frame = pd.DataFrame({
        "country": table["iso_code2"].str.strip().str.upper(),
        "taxon": table["taxon_name"].str.strip(),
        "start": table["start_date"].map(_date),
        "end": table["end_date"].map(_date),
        "notes": table["notes"].map(_clean),
    })
    report.counts["reservations"] = _write(out, "reservations.csv", frame)
