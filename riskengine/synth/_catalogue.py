"""The facts the synthetic world is drawn from: CITES trade streams, ordinary goods, permit numbering.

Listings follow the CITES Appendices in force in 2025 (e.g. Psittacus erithacus and Manis spp. in
Appendix I since 2017; Crocodylus niloticus of ZA, ZM and ZW in Appendix II; Loxodonta africana of
BW, NA, ZA and ZW in Appendix II). Values are rough USD prices per unit, masses kg per unit; they only
need to be plausible enough that a model can tell a normal consignment from an odd one.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONCEALMENTS",
    "GOODS",
    "HUBS",
    "SEIZURE_SOURCES",
    "STREAMS",
    "Concealment",
    "Goods",
    "Product",
    "Stream",
    "legal_name",
    "permit_number",
]


@dataclass(frozen=True)
class Product:
    """One kind of specimen a stream trades: taxon, CITES term and unit, HS code, price and mass."""

    taxon: str
    appendix: str
    term: str
    unit: str | None  # None = number of specimens
    hs_code: str
    description: str
    unit_value: float  # USD per unit
    kg_per_unit: float
    permit_qty: tuple[float, float]
    kingdom: str = "animal"


@dataclass(frozen=True)
class Stream:
    """A recurring legal trade flow: who issues the permits, for what, to whom."""

    key: str
    products: tuple[Product, ...]
    countries: tuple[str, ...]  # issuing Management Authorities
    purposes: tuple[str, ...]
    sources: tuple[str, ...]
    weight: float
    modes: tuple[str, ...]
    exporter_stems: tuple[str, ...]
    importers: tuple[str, ...]  # Swiss importers (or, for CH re-exports, the CH exporter)
    permit_type: str = "export"
    max_lines: int = 1
    uses: float = 1.0  # relative number of shipments per permit line
    transit_share: float = 0.0  # share of permits made out to an importer beyond CH
    origin_stream: str | None = None  # re-exports: the stream whose export permits they re-export
    app1_import: bool = False  # Appendix I: a Swiss import permit is issued first


def _p(*args, **kw) -> Product:
    return Product(*args, **kw)


_TIMBER_IMPORTERS = ("Holzhandel Meier AG", "Tropenholz Import Brunner AG", "Bois Précieux Favre SA",
                     "Schreinerei Zürcher Holz AG")
_LEATHER_IMPORTERS = ("Lederwaren Keller AG", "Tannerie Romande SA", "Exotic Leather Lugano SA")

STREAMS: tuple[Stream, ...] = (
    Stream("afrormosia", (
        _p("Pericopsis elata", "II", "SAW", "MTQ", "44072900", "sawn afrormosia (Pericopsis elata) lumber, KD",
           1100, 700, (40, 300), "plant"),
        _p("Pericopsis elata", "II", "LOG", "MTQ", "44034900", "afrormosia logs (Pericopsis elata)",
           450, 780, (60, 400), "plant"),
    ), ("CM", "CD", "CG", "GA"), ("T",), ("W",), 14, ("rail", "road"),
        ("Exotic Woods", "Bois Tropicaux", "Grumes et Sciages", "Forêt Equatoriale"), _TIMBER_IMPORTERS,
        uses=1.4, transit_share=0.15),
    Stream("blackwood", (
        _p("Dalbergia melanoxylon", "II", "SAW", "MTQ", "44072900", "African blackwood billets (Dalbergia melanoxylon)",
           9000, 1250, (2, 20), "plant"),
    ), ("TZ", "MZ"), ("T",), ("W",), 3, ("road", "air"),
        ("Mpingo Tonewoods", "Blackwood Mills"), ("Holzblasinstrumente Hug AG", "Clarinettes Leman SA")),
    Stream("agarwood", (
        _p("Aquilaria malaccensis", "II", "CHP", "KGM", "12119086", "agarwood chips (gaharu), Aquilaria malaccensis",
           250, 1, (100, 2000), "plant"),
        _p("Aquilaria malaccensis", "II", "EXT", "KGM", "33012990", "agarwood oil (oud), Aquilaria malaccensis",
           12000, 1, (2, 20), "plant"),
        _p("Aquilaria crassna", "II", "CHP", "KGM", "12119086", "agarwood chips, Aquilaria crassna, plantation",
           180, 1, (100, 1500), "plant"),
    ), ("ID", "MY", "VN"), ("T",), ("W", "A"), 6, ("air",),
        ("Gaharu Jaya", "Oud Harvest", "Agar Sentosa"), ("Duftmanufaktur Oud Genève SA", "Parfums Rhône SA"),
        max_lines=2, uses=1.5),
    Stream("reptile_skins", (
        _p("Python reticulatus", "II", "SKI", None, "41039000", "reticulated python skins, crust",
           70, 1.2, (500, 5000)),
        _p("Varanus salvator", "II", "SKI", None, "41039000", "water monitor skins, salted",
           25, 0.4, (500, 4000)),
    ), ("ID", "MY", "VN"), ("T",), ("W", "C"), 8, ("air", "rail", "road"),
        ("Reptil Jaya", "Sumber Kulit", "Borneo Skins"), _LEATHER_IMPORTERS,
        max_lines=2, uses=2.0, transit_share=0.1),
    Stream("crocodile", (
        _p("Crocodylus niloticus", "II", "SKI", None, "41039000", "Nile crocodile skins, wet salted",
           350, 3, (200, 3000)),
    ), ("ZW", "ZA", "ZM"), ("T",), ("R", "C"), 6, ("air",),
        ("Crocodile Ranch", "Zambezi Skins", "Lowveld Croc Farm"), _LEATHER_IMPORTERS + ("Montres Favre SA",),
        uses=2.0, transit_share=0.1),
    Stream("alligator", (
        _p("Alligator mississippiensis", "II", "SKI", None, "41039000", "American alligator skins, salted",
           280, 2.5, (300, 4000)),
    ), ("US",), ("T",), ("W", "R", "C"), 5, ("air",),
        ("Bayou Hides", "Gulf Coast Alligator"), _LEATHER_IMPORTERS + ("Montres Favre SA",), uses=2.0),
    Stream("trophies", (
        _p("Loxodonta africana", "II", "TRO", None, "97052200", "hunting trophy: elephant (tusks, skull, skin)",
           18000, 90, (1, 2)),
        _p("Panthera leo", "II", "TRO", None, "97052200", "hunting trophy: lion (skin, skull)",
           6000, 25, (1, 2)),
    ), ("ZA", "NA", "BW", "ZW"), ("H",), ("W",), 4, ("air",),
        ("Safari Outfitters", "Kalahari Hunting Safaris"), ("Präparatorium Steiner GmbH", "Jagdreisen Wyss AG"),
        uses=0.5),
    # Only the ZA and NA white rhinoceros populations are in Appendix II (for trophies and live trade).
    Stream("rhino_trophies", (
        _p("Ceratotherium simum simum", "II", "TRO", None, "97052200", "hunting trophy: white rhinoceros",
           25000, 120, (1, 1)),
    ), ("ZA", "NA"), ("H",), ("W",), 0.6, ("air",),
        ("Safari Outfitters", "Bushveld Trophy Hunts"), ("Präparatorium Steiner GmbH", "Jagdreisen Wyss AG"),
        uses=0.5),
    Stream("leopard", (
        _p("Panthera pardus", "I", "TRO", None, "97052200", "hunting trophy: leopard (skin, skull)",
           9000, 20, (1, 1)),
    ), ("NA", "ZA", "ZM", "MZ"), ("H",), ("W",), 2, ("air",),
        ("Safari Outfitters", "Big Five Hunting"), ("Präparatorium Steiner GmbH", "Jagdreisen Wyss AG"),
        uses=0.5, app1_import=True),
    Stream("parrots", (
        _p("Psittacus erithacus", "I", "LIV", None, "01063200", "live grey parrots, captive bred (registered operation)",
           900, 0.5, (10, 60)),
        _p("Ara ararauna", "II", "LIV", None, "01063200", "live blue-and-yellow macaws, captive bred",
           1500, 1.1, (4, 30)),
    ), ("ZA",), ("T",), ("D",), 2, ("air",),
        ("Avian Breeders", "Parrot Paradise"), ("Zoofachhandel Vogelwelt AG", "Zoo Basel"), uses=1.0),
    Stream("orchids", (
        _p("Phalaenopsis amabilis", "II", "LIV", None, "06029050", "live orchid plants, artificially propagated",
           3, 0.08, (1000, 20000), "plant"),
        _p("Dendrobium nobile", "II", "LIV", None, "06029050", "live orchid plants, artificially propagated",
           3.5, 0.08, (1000, 15000), "plant"),
        _p("Vanda coerulea", "II", "LIV", None, "06029050", "live orchid plants in flasks, artificially propagated",
           6, 0.1, (500, 8000), "plant"),
    ), ("TH", "TW"), ("T",), ("A",), 6, ("air",),
        ("Orchid Nursery", "Tropical Flora"), ("Orchideen Gärtnerei Brunner", "Jardinerie du Léman SA"),
        max_lines=3, uses=2.0),
    Stream("corals", (
        _p("Acropora millepora", "II", "LIV", None, "03089000", "live stony corals for aquaria (fragments)",
           18, 0.3, (100, 2000)),
        _p("Euphyllia glabrescens", "II", "LIV", None, "03089000", "live stony corals for aquaria",
           25, 0.4, (100, 1500)),
        _p("Scleractinia spp.", "II", "COR", "KGM", "05080000", "coral rock (raw coral) for aquaria",
           6, 1, (200, 3000)),
    ), ("ID", "FJ"), ("T",), ("W", "F"), 5, ("air",),
        ("Marine Ornamentals", "Coral Garden Exports"), ("Aquaristik Huber GmbH", "Récifs Vivants SA"),
        max_lines=3, uses=1.5),
    Stream("caviar", (
        _p("Acipenser baerii", "II", "CAV", "KGM", "16043100", "caviar of Siberian sturgeon, aquaculture",
           900, 1, (20, 400)),
        _p("Huso dauricus x Acipenser schrenckii", "II", "CAV", "KGM", "16043100", "caviar (kaluga hybrid), aquaculture",
           1200, 1, (20, 300)),
    ), ("CN", "IT"), ("T",), ("C",), 4, ("air", "road"),
        ("Sturgeon Aquafarm", "Caviale del Ticino"), ("Kaviar Haus Zürich AG", "Épicerie Fine Genève SA"),
        uses=2.0),
    Stream("prunus", (
        _p("Prunus africana", "II", "BAR", "KGM", "12119086", "dried bark of Prunus africana (pygeum)",
           4, 1, (8000, 60000), "plant"),
    ), ("CM", "CD"), ("T",), ("W",), 2, ("rail",),
        ("Plantecam Médicinal", "Ecorces du Mont Cameroun"), ("Phytopharma Basel AG",), uses=1.5),
    Stream("reexport_leather", (
        _p("Python reticulatus", "II", "SKI", None, "41139000", "reticulated python skins, tanned and finished",
           140, 0.8, (200, 2000)),
        _p("Alligator mississippiensis", "II", "SKI", None, "41139000", "American alligator skins, tanned",
           520, 1.8, (100, 1500)),
    ), ("SG", "FR", "IT"), ("T",), ("W", "C", "R"), 4, ("air", "road"),
        ("Heng Long Leather", "Tannerie Exotique", "Conceria Rettili"), _LEATHER_IMPORTERS + ("Montres Favre SA",),
        permit_type="re-export", uses=2.0, origin_stream="reptile_skins"),
    Stream("ch_straps", (
        _p("Alligator mississippiensis", "II", "LPS", None, "91139000", "watch straps of American alligator leather",
           120, 0.02, (200, 3000)),
        _p("Crocodylus niloticus", "II", "LPS", None, "91139000", "watch straps of Nile crocodile leather",
           150, 0.02, (200, 2000)),
    ), ("CH",), ("T",), ("C", "R", "W"), 5, ("air",),
        ("Montres Favre", "Bracelets Jura"), ("Montres Favre SA", "Bracelets Jura SA"),
        permit_type="re-export", uses=2.5, origin_stream="alligator"),
)

# Countries where re-exported / ch-strap specimens originate, by taxon.
ORIGIN_OF: dict[str, tuple[str, ...]] = {
    "Python reticulatus": ("ID", "MY", "VN"),
    "Alligator mississippiensis": ("US",),
    "Crocodylus niloticus": ("ZW", "ZA", "ZM"),
}

# Where CH re-exports go.
REEXPORT_DESTINATIONS = ("HK", "US", "JP", "SG", "CN", "AE")
TRANSIT_IMPORTERS = ("IT", "DE", "FR", "AT")


@dataclass(frozen=True)
class Goods:
    """Ordinary, non-CITES goods; the bulk of what a customs office sees."""

    hs_code: str
    description: str
    origins: tuple[str, ...]
    unit: str | None
    unit_value: float
    kg_per_unit: float
    qty: tuple[float, float]
    weight: float


GOODS: tuple[Goods, ...] = (
    Goods("94036090", "wooden furniture (dining tables, cabinets)", ("IT", "DE", "PL", "CN", "VN"), None, 180, 35, (5, 200), 8),
    Goods("94016100", "upholstered seats with wooden frame", ("IT", "PL", "CN"), None, 220, 30, (5, 150), 4),
    Goods("84713000", "portable computers", ("CN", "TW"), None, 650, 2, (20, 800), 6),
    Goods("84798997", "machinery for packaging, parts", ("DE", "IT", "JP", "AT"), None, 14000, 600, (1, 6), 5),
    Goods("62034200", "men's cotton trousers", ("BD", "CN", "TR", "IN"), None, 9, 0.5, (200, 5000), 6),
    Goods("61091000", "cotton T-shirts, knitted", ("BD", "TR", "CN", "PT"), None, 3.5, 0.2, (500, 10000), 6),
    Goods("03038900", "frozen fish, whole (Nile perch, tilapia)", ("NO", "VN", "IS", "UG", "CN"), "KGM", 4.5, 1, (500, 18000), 5),
    Goods("03044300", "frozen fish fillets (pangasius)", ("VN", "CN"), "KGM", 3.2, 1, (1000, 20000), 3),
    Goods("02023000", "frozen boneless beef", ("AR", "BR", "UY", "AU"), "KGM", 9.5, 1, (1000, 20000), 4),
    Goods("95030070", "plastic toys", ("CN", "VN"), None, 2.5, 0.15, (500, 20000), 6),
    Goods("44209000", "wooden handicrafts and ornaments", ("ID", "IN", "VN", "KE"), None, 6, 0.4, (100, 3000), 3),
    Goods("39264000", "resin statuettes and ornaments", ("CN", "ID"), None, 3, 0.3, (200, 5000), 2),
    Goods("09011100", "green coffee beans", ("BR", "CO", "ET", "VN", "UG"), "KGM", 4.8, 1, (5000, 19200), 5),
    Goods("08013200", "cashew nuts, shelled", ("VN", "IN", "NG", "MZ"), "KGM", 7.5, 1, (2000, 16000), 2),
    Goods("87032319", "passenger cars, petrol", ("DE", "JP", "FR"), None, 32000, 1400, (1, 8), 4),
    Goods("30049000", "medicaments, packaged", ("DE", "US", "IE", "IN"), "KGM", 350, 1, (50, 2000), 6),
    Goods("08039010", "fresh bananas", ("EC", "CO", "CR"), "KGM", 0.9, 1, (5000, 20000), 3),
    Goods("22042100", "wine in bottles", ("FR", "IT", "ES"), "LTR", 8, 1.3, (200, 9000), 5),
    Goods("64039900", "leather footwear", ("IT", "VN", "CN", "PT"), None, 35, 1, (50, 2000), 4),
    Goods("42022100", "handbags of bovine leather", ("IT", "FR", "CN"), None, 90, 0.9, (20, 600), 3),
    Goods("44079190", "sawn oak, kiln dried", ("DE", "FR", "AT", "PL"), "MTQ", 700, 720, (10, 40), 3),
    Goods("44072990", "sawn sapelli (Entandrophragma cylindricum)", ("CM", "CG", "CD"), "MTQ", 650, 650, (10, 35), 2),
    Goods("06029050", "live pot plants", ("NL", "DE"), None, 2, 0.6, (500, 8000), 2),
    Goods("33012990", "essential oils (lavender, vetiver)", ("FR", "IN", "HT"), "KGM", 60, 1, (5, 300), 1),
)

# Ordinary goods Switzerland sends out (export declarations).
EXPORT_GOODS: tuple[Goods, ...] = (
    Goods("91021100", "wrist-watches, mechanical", ("CH",), None, 1500, 0.1, (20, 2000), 5),
    Goods("30049000", "medicaments, packaged", ("CH",), "KGM", 900, 1, (20, 3000), 6),
    Goods("18063200", "chocolate bars", ("CH",), "KGM", 9, 1, (500, 15000), 3),
    Goods("84596100", "milling machines, CNC", ("CH",), None, 90000, 4000, (1, 3), 3),
)

EXPORT_DESTINATIONS = ("DE", "US", "FR", "IT", "CN", "GB", "JP", "HK", "AE")

# Source countries of the big pangolin-scale and ivory seizures, and the hubs they move through.
SEIZURE_SOURCES = ("NG", "CM", "CD", "MZ", "UG")
HUBS = ("AE", "QA", "SG", "HK", "ET", "TR")


@dataclass(frozen=True)
class Concealment:
    """Wildlife hidden under an innocuous declaration."""

    hs_code: str
    description: str
    hidden: str
    hidden_taxon: str
    kg: tuple[float, float]
    declared_value_per_kg: float


CONCEALMENTS: tuple[Concealment, ...] = (
    Concealment("95030070", "plastic toys", "pangolin scales (Manis spp.)", "Manis spp.", (150, 3000), 0.4),
    Concealment("95030070", "plastic toys", "worked ivory (Loxodonta africana)", "Loxodonta africana", (50, 800), 0.6),
    Concealment("39264000", "resin handicraft", "ivory carvings (Loxodonta africana)", "Loxodonta africana", (20, 400), 0.8),
    Concealment("44209000", "wooden handicraft", "rhinoceros horn pieces (Rhinocerotidae)", "Ceratotherium simum", (5, 60), 1.0),
    Concealment("03038900", "frozen fish", "pangolin scales (Manis spp.)", "Manis spp.", (300, 5000), 0.5),
    Concealment("08013200", "cashew nuts", "pangolin scales (Manis spp.)", "Manis spp.", (500, 6000), 0.7),
)

_LEGAL_FORM = {
    "CM": "{} SARL", "CD": "{} SARL", "CG": "{} SARL", "GA": "{} SA", "MG": "{} SARL", "TZ": "{} Ltd",
    "MZ": "{} Lda", "ID": "PT {}", "MY": "{} Sdn Bhd", "VN": "{} Co., Ltd", "ZA": "{} (Pty) Ltd",
    "NA": "{} (Pty) Ltd", "BW": "{} (Pty) Ltd", "ZW": "{} (Pvt) Ltd", "ZM": "{} Ltd", "TH": "{} Co., Ltd",
    "TW": "{} Co., Ltd", "FJ": "{} Ltd", "US": "{} Inc.", "CN": "{} Co., Ltd", "IT": "{} S.r.l.",
    "FR": "{} SAS", "SG": "{} Pte Ltd", "CH": "{} SA", "DE": "{} GmbH", "AT": "{} GmbH", "NG": "{} Ltd",
    "UG": "{} Ltd", "AE": "{} General Trading LLC", "HK": "{} Ltd",
}


def legal_name(stem: str, country: str) -> str:
    """A company name in the country's usual legal form ("PT Reptil Jaya", "Bayou Hides Inc.")."""
    return _LEGAL_FORM.get(country, "{} Ltd").format(stem)


def permit_number(country: str, kind: str, year: int, serial: int) -> str:
    """A permit number in the issuing Management Authority's usual format."""
    yy = year % 100
    code = {"export": "EX", "re-export": "RE", "import": "IM"}.get(kind, "OT")
    formats = {
        "CM": f"CM/{code}/{year}/{serial:05d}",
        "CD": f"{serial:04d}/MECNDD/CITES/{code}/{year}",
        "CG": f"CG/CITES/{code}/{year}/{serial:04d}",
        "GA": f"GA-{year}-{serial:05d}",
        "TZ": f"TZ/{code}/{year}/{serial:04d}",
        "MZ": f"MZ/{year}/{serial:05d}",
        "ID": f"{serial:05d}/IV/SATS-LN/{year}",
        "MY": f"MY-{year}-{serial:06d}",
        "VN": f"{yy:02d}VN{serial:04d}N/CT-QLCITES",
        "ZA": f"ZA {serial:05d}/{year}",
        "NA": f"NA {serial:05d}/{year}",
        "BW": f"BW/{year}/{serial:05d}",
        "ZW": f"ZW {serial:06d}",
        "ZM": f"ZM/{code}/{year}/{serial:04d}",
        "TH": f"{serial:05d}/{year + 543}",  # Thai Buddhist era
        "TW": f"TW{yy:02d}-{serial:05d}",
        "FJ": f"FJ/{year}/{serial:04d}",
        "US": f"{yy:02d}US{serial:06d}/9",
        "CN": f"{year}CN/{code}{serial:05d}/BJ",
        "IT": f"IT/{code}/{year}/{serial:06d}",
        "FR": f"FR{yy:02d}075{serial:05d}-{code[0]}",
        "SG": f"{yy:02d}SG{serial:06d}{code[0]}",
        "CH": f"CH-{code}-{year}-{serial:05d}",
        "MG": f"MG/{year}/{serial:04d}",
    }
    return formats.get(country, f"{country}/{code}/{year}/{serial:05d}")
