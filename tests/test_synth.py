"""The synthetic world: deterministic, valid against the contracts, and planted where it says."""
from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, defaultdict

import pandas as pd
import pytest

from riskengine.history import HISTORY_COLUMNS
from riskengine.schemas import Declaration, Outcome, Permit
from riskengine.synth import (
    VIOLATION_RATES,
    VIOLATIONS,
    World,
    generate_history_frame,
    generate_world,
    history_frame,
    write_world,
)
from riskengine.synth._catalogue import HUBS, SEIZURE_SOURCES

LABELS = ["fraud", "critical_fraud", "outcome", "violation"]
OVER_QUANTITY = {"quantity_exceeded", "split_consignment"}


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world()


def _expiry(permit: Permit) -> dt.date:
    """Last valid day, reading 'six months from issue' as ending the day before the same date."""
    if permit.valid_until is not None:
        return permit.valid_until
    months = 12 if permit.type == "import" else 6
    m = permit.issued_on.month - 1 + months
    year, month = permit.issued_on.year + m // 12, m % 12 + 1
    day = min(permit.issued_on.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day) - dt.timedelta(days=1)


def _registry(world: World) -> dict[tuple[str, str], Permit]:
    return {(p.issuing_country, p.number): p for p in world.permits}


def _cites_relevant(entry) -> bool:
    return entry.violation is not None or any(i.taxon or i.permits for i in entry.declaration.items)


def _line_of(permit: Permit, item):
    """The permit line a declaration item draws on: same taxon and term, else the only line."""
    term = item.cites.term if item.cites else None
    matches = [line for line in permit.lines if line.taxon == item.taxon and line.term == term]
    return matches[0] if matches else (permit.lines[0] if len(permit.lines) == 1 else None)


def test_the_same_seed_writes_byte_identical_files(tmp_path):
    kwargs = dict(seed=11, days=45, declarations_per_day=20, n_permits=80)
    a = write_world(generate_world(**kwargs), tmp_path / "a")
    b = write_world(generate_world(**kwargs), tmp_path / "b")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {"permits.jsonl", "history.parquet", "outcomes.jsonl"} <= {str(f) for f in files}
    assert len([f for f in files if f.parts[0] == "samples"]) == len(generate_world(**kwargs).samples)
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert set(a) == set(b) == {"permits", "history", "samples", "outcomes"}
    other = write_world(generate_world(**(kwargs | {"seed": 12})), tmp_path / "c")
    assert other["permits"].read_bytes() != a["permits"].read_bytes()


def test_every_permit_declaration_and_outcome_validates_against_the_schemas(world):
    assert len(world.permits) == pytest.approx(400, abs=2)
    assert len(world.history) == 365 * 40
    for permit in world.permits:
        Permit.model_validate_json(permit.model_dump_json())
    for entry in world.history:
        Declaration.model_validate_json(entry.declaration.model_dump_json())
        assert entry.inspected == (entry.outcome is not None)
        if entry.outcome is not None:
            Outcome.model_validate_json(entry.outcome.model_dump_json())
    ids = [e.declaration.declaration_id for e in world.history] + [d.declaration_id for _, d in world.samples]
    assert len(ids) == len(set(ids))
    lodged = [e.declaration.lodged_at for e in world.history]
    assert lodged == sorted(lodged)
    assert all(world.start <= t.date() < world.end for t in lodged)


def test_permits_look_like_what_management_authorities_issue(world):
    types = Counter(p.type for p in world.permits)
    assert types["export"] > types["re-export"] > 0 and types["import"] > 0
    statuses = Counter(p.status for p in world.permits)
    assert 0.02 <= (len(world.permits) - statuses["valid"]) / len(world.permits) <= 0.08
    assert 0.2 < sum(p.valid_until is None for p in world.permits) / len(world.permits) < 0.6
    registry = _registry(world)
    for permit in world.permits:
        if permit.type == "import":
            assert permit.issuing_country == "CH" and all(line.appendix == "I" for line in permit.lines)
        if permit.type == "re-export":
            origin = [line.origin_permit for line in permit.lines if line.origin_permit]
            assert all(any(n == o for (_, n) in registry) for o in origin)
    assert any(p.number.startswith("CM/EX/") for p in world.permits)


def test_planted_violation_shares_are_a_few_per_cent_each(world):
    relevant = [e for e in world.history if _cites_relevant(e)]
    assert 0.2 <= len(relevant) / len(world.history) <= 0.3
    counts = Counter(e.violation for e in world.history if e.violation)
    assert set(counts) == set(VIOLATIONS)
    for kind, rate in VIOLATION_RATES.items():
        share = counts[kind] / len(relevant)
        assert 0.5 * rate <= share <= 1.5 * rate, (kind, share, rate)
    assert 0.15 <= sum(counts.values()) / len(relevant) <= 0.3


def test_permit_lines_are_overused_only_by_the_violations_that_say_so(world):
    registry = _registry(world)
    within: dict[tuple, float] = defaultdict(float)
    over: dict[tuple, float] = defaultdict(float)
    for entry in world.history:
        for item in entry.declaration.items:
            for ref in item.permits:
                permit = registry.get((ref.issuing_country, ref.number))
                if permit is None:
                    continue
                line = _line_of(permit, item)
                key = (ref.issuing_country, ref.number, line.line)
                (over if entry.violation in OVER_QUANTITY else within)[key] += item.quantity
    for key, used in within.items():
        permit = registry[key[:2]]
        assert used <= permit.lines[key[2] - 1].quantity + 1e-9, key
    assert over
    for key, extra in over.items():
        assert within[key] + extra > registry[key[:2]].lines[key[2] - 1].quantity, key


def test_clean_cites_declarations_cite_valid_permits_within_their_validity(world):
    registry = _registry(world)
    clean = [e for e in world.history if e.violation is None and any(i.permits for i in e.declaration.items)]
    assert len(clean) > 2000
    for entry in clean:
        day = entry.declaration.lodged_at.date()
        for item in entry.declaration.items:
            for ref in item.permits:
                permit = registry[(ref.issuing_country, ref.number)]
                assert permit.status == "valid"
                assert permit.issued_on <= day <= _expiry(permit)
                assert _line_of(permit, item).taxon == item.taxon


def test_each_planted_violation_breaks_what_its_name_says(world):
    registry = _registry(world)
    for entry in world.history:
        kind = entry.violation
        if kind is None:
            continue
        decl = entry.declaration
        item = decl.items[0]
        day = decl.lodged_at.date()
        cited = [registry.get((r.issuing_country, r.number)) for r in item.permits]
        if kind == "permit_expired":
            assert any(p and day > _expiry(p) for p in cited)
        elif kind == "permit_not_yet_valid":
            assert any(p and day < p.issued_on for p in cited)
        elif kind == "permit_cancelled":
            assert cited[0].status == "cancelled"
        elif kind == "permit_lost_or_stolen":
            assert cited[0].status in ("lost", "stolen")
        elif kind == "permit_unknown":
            assert item.permits and cited == [None]
        elif kind == "taxon_mismatch":
            assert item.taxon != cited[0].lines[0].taxon == "Pericopsis elata"
        elif kind == "species_misdeclared":
            assert item.taxon == "Pericopsis elata" and item.net_mass_kg / item.quantity > 900
        elif kind == "appendix_i_commercial":
            line = cited[0].lines[0]
            assert (line.appendix, line.purpose, line.source) == ("I", "T", "W")
            assert item.cites.purpose == "T" and item.cites.source == "W"
        elif kind == "permit_missing":
            assert item.taxon and not item.permits
        elif kind == "concealment":
            assert item.taxon is None and not item.permits and item.cites is None
            assert decl.country_of_export in SEIZURE_SOURCES + HUBS
            assert set(decl.transit_countries) <= set(HUBS)
            assert item.value / item.net_mass_kg < 3
        elif kind == "undervalued":
            assert cited[0] is not None and cited[0].status == "valid"


def test_inspections_are_rare_and_labels_noisy_as_in_real_life(world):
    inspected = [e for e in world.history if e.inspected]
    assert 0.05 <= len(inspected) / len(world.history) <= 0.12
    clean = [e for e in world.history if e.violation is None]
    planted = [e for e in world.history if e.violation is not None]
    assert sum(e.inspected for e in planted) / len(planted) > 3 * sum(e.inspected for e in clean) / len(clean)
    found = [e for e in planted if e.inspected and e.outcome.result != "no_discrepancy"]
    missed = [e for e in planted if e.inspected and e.outcome.result == "no_discrepancy"]
    assert found and missed
    assert any(e.outcome.result == "seizure" for e in found if e.violation == "concealment")
    assert any(e.inspected and e.outcome.result != "no_discrepancy" for e in clean)


def test_samples_are_fresh_labelled_and_valid(world):
    assert 8 <= len(world.samples) <= 12
    labels = [label for label, _ in world.samples]
    assert len(set(labels)) == len(labels)
    registry = _registry(world)
    for label, declaration in world.samples:
        Declaration.model_validate_json(declaration.model_dump_json())
        assert declaration.lodged_at.date() >= world.end
    by_label = dict(world.samples)
    clean = by_label["clean afrormosia timber with valid permit"]
    permit = registry[(clean.items[0].permits[0].issuing_country, clean.items[0].permits[0].number)]
    assert permit.status == "valid" and clean.lodged_at.date() <= _expiry(permit)
    assert clean.items[0].quantity <= permit.lines[0].quantity
    stolen = by_label["stolen permit cited"].items[0].permits[0]
    assert registry[(stolen.issuing_country, stolen.number)].status == "stolen"
    expired = by_label["expired permit"]
    ref = expired.items[0].permits[0]
    assert expired.lodged_at.date() > _expiry(registry[(ref.issuing_country, ref.number)])
    unknown = by_label["unknown permit number"].items[0].permits[0]
    assert (unknown.issuing_country, unknown.number) not in registry
    toys = by_label["ivory declared as plastic toys via AE"]
    assert toys.transit_countries == ["AE"] and toys.items[0].taxon is None


def test_history_frame_has_the_canonical_columns_and_labels(world):
    frame = history_frame(world)
    assert list(frame.columns) == list(HISTORY_COLUMNS) + LABELS
    for name, dtype in HISTORY_COLUMNS.items():
        assert str(frame[name].dtype) == dtype, name
    assert len(frame) == sum(len(e.declaration.items) for e in world.history)
    inspected = frame["outcome"].notna()
    assert frame.loc[~inspected, "fraud"].isna().all()
    assert set(frame.loc[inspected, "fraud"].unique()) == {0, 1}
    assert (frame["critical_fraud"] == (frame["outcome"] == "seizure").astype("Int64")).fillna(True).all()
    assert (frame["fraud"] == 1).sum() > 0


def test_fast_frame_matches_the_world_frame_layout_and_is_deterministic(world):
    small = generate_history_frame(20_000, seed=5)
    assert small.shape == (20_000, len(HISTORY_COLUMNS) + len(LABELS))
    assert small.dtypes.to_dict() == history_frame(world).dtypes.to_dict()
    pd.testing.assert_frame_equal(small, generate_history_frame(20_000, seed=5))
    assert not small.equals(generate_history_frame(20_000, seed=6))
    per_decl = small.groupby("declaration_id")["line"]
    assert (per_decl.min() == 1).all() and (per_decl.max() == per_decl.count()).all()
    assert small.groupby("declaration_id")["taxon"].count().max() == 1  # CITES declarations carry one line
    assert set(small["violation"].dropna()) == set(VIOLATIONS)
    assert small["lodged_at"].is_monotonic_increasing


@pytest.mark.slow
def test_a_million_lines_for_benchmarks():
    frame = generate_history_frame(1_000_000, seed=1)
    assert frame.shape == (1_000_000, len(HISTORY_COLUMNS) + len(LABELS))
    for name, dtype in HISTORY_COLUMNS.items():
        assert str(frame[name].dtype) == dtype, name
    share = frame["taxon"].notna().mean()
    assert 0.05 < share < 0.3
    assert frame["outcome"].notna().mean() == pytest.approx(0.08, abs=0.05)


def test_the_package_exports_exactly_its_public_surface():
    import riskengine.synth as synth

    assert sorted(synth.__all__) == sorted(
        ["FINDING_CODES", "VIOLATIONS", "VIOLATION_RATES", "HistoryEntry", "World", "generate_history_frame",
         "generate_world", "history_frame", "write_world"])
    assert all(hasattr(synth, name) for name in synth.__all__)
    assert set(synth.FINDING_CODES) == set(synth.VIOLATIONS)
