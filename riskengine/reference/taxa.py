"""The taxonomy tree with CITES listings: resolving a declared name to the listing that covers it.

Listings sit at any rank. A species that is not itself in the tree still resolves when its genus
is there (e.g. "Amazona aestiva" falls under Psittaciformes II), and an explicit exclusion
("NL", such as the budgerigar under Psittaciformes) stops the climb.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

__all__ = ["LISTED", "RANKS", "PopulationListing", "TaxonInfo", "Taxonomy", "TaxonRow", "normalise_name"]

RANKS = ("KINGDOM", "PHYLUM", "CLASS", "ORDER", "FAMILY", "SUBFAMILY", "GENUS", "SPECIES", "SUBSPECIES", "VARIETY")
LISTED = ("I", "II", "III")
NOT_LISTED = "NL"
_STRICTNESS = {"I": 0, "II": 1, "III": 2}
_DROP = frozenset({"spp.", "spp", "sp.", "sp", "ssp.", "subsp.", "var."})
_CACHE_LIMIT = 100_000


@lru_cache(maxsize=65_536)  # a pure function of the text, called per taxon, suspension and quota on every check
def normalise_name(name: str) -> str:
    """The lookup key of a scientific name: lower case, single spaces, no subgenus and no 'spp.'."""
    key = name.strip().lower()
    if "(" in key:
        key = re.sub(r"\([^)]*\)", " ", key)
    tokens = [t for t in key.replace("\u00a0", " ").split() if t not in _DROP]
    return " ".join(tokens)


@dataclass(frozen=True, slots=True)
class PopulationListing:
    """A split listing: the populations of `countries` are in `appendix` (e.g. L. africana of BW in II)."""

    appendix: str
    countries: frozenset[str]
    note: str = ""


@dataclass(slots=True)
class TaxonRow:
    """One taxon as read from taxa.csv, with the line it came from (for error messages)."""

    kingdom: str
    name: str
    rank: str
    parent: str | None
    appendix: str | None = None
    annotation: str | None = None
    common_name: str | None = None
    origin: str = ""


@dataclass(frozen=True, slots=True)
class TaxonInfo:
    """What the reference data says of a taxon: accepted name, appendix and the listing that covers it.

    `appendix` is None when the taxon is known but not listed (or explicitly excluded);
    `listed_under` names the taxon whose listing applies (the taxon itself, or e.g. "Psittaciformes").
    """

    accepted_name: str
    rank: str
    appendix: str | None
    listed_under: str | None
    kingdom: str | None
    phylum: str | None = None
    class_: str | None = None
    order: str | None = None
    family: str | None = None
    genus: str | None = None
    annotation: str | None = None
    populations: str | None = None
    common_name: str | None = None
    lineage: tuple[str, ...] = field(default=())

    @property
    def is_listed(self) -> bool:
        return self.appendix is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as printed by `riskengine reference lookup` (`class_` appears as "class")."""
        return {
            "accepted_name": self.accepted_name,
            "rank": self.rank,
            "appendix": self.appendix,
            "listed_under": self.listed_under,
            "kingdom": self.kingdom,
            "phylum": self.phylum,
            "class": self.class_,
            "order": self.order,
            "family": self.family,
            "genus": self.genus,
            "annotation": self.annotation,
            "populations": self.populations,
            "common_name": self.common_name,
            "lineage": list(self.lineage),
        }


@dataclass(eq=False, slots=True)
class _Node:
    name: str
    rank: str
    kingdom: str
    appendix: str | None
    annotation: str | None
    common_name: str | None
    parent: _Node | None = None
    populations: tuple[PopulationListing, ...] = ()

    def chain(self) -> Iterable[_Node]:
        node: _Node | None = self
        for _ in range(len(RANKS) + 8):  # guards against a cycle in a merged tree
            if node is None:
                return
            yield node
            node = node.parent


class Taxonomy:
    """Name -> TaxonInfo resolution over the listing tree, with a bounded cache for the hot path."""

    def __init__(self, rows: Iterable[TaxonRow], *, synonyms: dict[str, str] | None = None,
                 populations: dict[str, list[PopulationListing]] | None = None) -> None:
        from riskengine.reference.errors import ReferenceDataError

        rows = list(rows)
        self._nodes: dict[tuple[str, str], _Node] = {}
        for row in rows:  # a later row for the same name replaces an earlier one (imported over shipped)
            node = _Node(row.name, row.rank.upper(), row.kingdom, row.appendix, row.annotation, row.common_name)
            self._nodes[(row.kingdom, normalise_name(row.name))] = node
        self._by_name: dict[str, list[_Node]] = {}
        for (_, key), node in self._nodes.items():
            self._by_name.setdefault(key, []).append(node)
        for row in rows:
            if not row.parent:
                continue
            node = self._nodes[(row.kingdom, normalise_name(row.name))]
            parent = self._nodes.get((row.kingdom, normalise_name(row.parent)))
            if parent is None:
                raise ReferenceDataError(f"parent {row.parent!r} of {row.name!r} is not a taxon of {row.kingdom}",
                                         path=row.origin.rpartition(":")[0] or None,
                                         line=int(row.origin.rpartition(":")[2]) if row.origin else None, field="parent")
            node.parent = parent
        for name, listings in (populations or {}).items():
            for node in self._by_name.get(normalise_name(name), ()):
                node.populations = tuple(listings)
        self._synonyms: dict[str, str] = {normalise_name(s): normalise_name(a) for s, a in (synonyms or {}).items()}
        self._cache: dict[str, TaxonInfo | None] = {}
        self._info: dict[int, TaxonInfo] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def count_listed(self) -> int:
        """How many taxa carry a listing of their own (excluding explicit exclusions)."""
        return sum(1 for n in self._nodes.values() if n.appendix in LISTED or n.populations)

    def lookup(self, name: str) -> TaxonInfo | None:
        """The accepted taxon for `name` (any case, spacing, synonym, author suffix), or None if unknown."""
        try:
            return self._cache[name]
        except KeyError:
            pass
        info = self._resolve(name)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[name] = info
        return info

    def appendix_for(self, name: str, country: str | None = None) -> str | None:
        """The appendix that applies to specimens of `name` from `country`, honouring split listings."""
        found = self._find(normalise_name(name))
        if found is None:
            return None
        node, _ = found
        if country is None:
            return self._info_for(node).appendix
        country = country.strip().upper()
        for current in node.chain():
            if current.appendix == NOT_LISTED:
                return None
            for listing in current.populations:
                if country in listing.countries:
                    return listing.appendix
            if current.appendix in LISTED:
                return current.appendix
        return None

    # -- resolution ---------------------------------------------------------------------------

    def _resolve(self, name: str) -> TaxonInfo | None:
        key = normalise_name(name)
        if not key:
            return None
        found = self._find(key)
        if found is None:
            return None
        node, virtual = found
        info = self._info_for(node)
        if virtual is None:
            return info
        rank = "species" if len(virtual.split()) == 2 else "subspecies"
        return TaxonInfo(
            accepted_name=virtual, rank=rank, appendix=info.appendix, listed_under=info.listed_under,
            kingdom=info.kingdom, phylum=info.phylum, class_=info.class_, order=info.order, family=info.family,
            genus=info.genus, annotation=info.annotation, populations=info.populations,
            lineage=info.lineage + (virtual,),
        )

    def _find(self, key: str) -> tuple[_Node, str | None] | None:
        """The node for `key`, or the genus node plus the properly written name of an unlisted species."""
        node = self._node(key)
        if node is not None:
            return node, None
        tokens = key.split()
        for n in (3, 2):
            if len(tokens) > n:
                node = self._node(" ".join(tokens[:n]))
                if node is not None and node.rank in ("SPECIES", "SUBSPECIES", "VARIETY"):
                    return node, None
        if len(tokens) in (2, 3) and all(t.isalpha() or "-" in t for t in tokens):
            genus = self._node(tokens[0])
            if genus is not None and genus.rank == "GENUS":
                return genus, " ".join([genus.name] + tokens[1:])
        return None

    def _node(self, key: str) -> _Node | None:
        nodes = self._by_name.get(key)
        if nodes is None:
            accepted = self._synonyms.get(key)
            nodes = self._by_name.get(accepted) if accepted else None
            if nodes is None:
                return None
        if len(nodes) == 1:
            return nodes[0]
        # The same name in both kingdoms (hemihomonyms): prefer the one a listing covers.
        return min(nodes, key=lambda n: self._info_for(n).appendix is None)

    def _info_for(self, node: _Node) -> TaxonInfo:
        cached = self._info.get(id(node))
        if cached is not None:
            return cached
        chain = list(node.chain())
        listing = next((n for n in chain if n.appendix in LISTED or n.appendix == NOT_LISTED or n.populations), None)
        appendix = listed_under = populations = None
        annotation = node.annotation
        if listing is not None:
            annotation = listing.annotation or (node.annotation if listing is node else None)
            if listing.appendix != NOT_LISTED:
                listed_under = listing.name
                appendix = listing.appendix if listing.appendix in LISTED else None
                if listing.populations:
                    populations = "; ".join(
                        f"{p.appendix}: {' '.join(sorted(p.countries))}" + (f" ({p.note})" if p.note else "")
                        for p in listing.populations
                    )
                    if appendix is None:  # only some populations are listed
                        appendix = min((p.appendix for p in listing.populations), key=_STRICTNESS.__getitem__)
        by_rank = {n.rank: n.name for n in chain}
        info = TaxonInfo(
            accepted_name=node.name, rank=node.rank.lower(), appendix=appendix, listed_under=listed_under,
            kingdom=node.kingdom, phylum=by_rank.get("PHYLUM"), class_=by_rank.get("CLASS"),
            order=by_rank.get("ORDER"), family=by_rank.get("FAMILY"), genus=by_rank.get("GENUS"),
            annotation=annotation or None, populations=populations, common_name=node.common_name or None,
            lineage=tuple(n.name for n in reversed(chain)),
        )
        self._info[id(node)] = info
        return info
