"""The fault explorer (tests/integration/explorer): whole transactions through the real kiosk
core against the simulator, with faults on the kiosk's calls, the citizen's actions and power
cuts, checked against the gateway's and backends' own ledgers after each run and its recovery.

By default a fast slice: every fault kind, every citizen action, power cuts, every service, and
the sequences of issue 10 by name. The systematic space and the sampled combinations are `slow`
(and `python -m bench.money` runs them all with its figures).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.integration.explorer import Explorer
from tests.integration.explorer.plan import (
    ACTIONS,
    FAULT_KINDS,
    SERVICES,
    RunSpec,
    Totals,
    fast_slice,
    run_specs,
    systematic,
)
from tests.integration.explorer.worker import ROGUE

SLICE = fast_slice()


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    with Explorer(tmp_path_factory.mktemp("explorer")) as running:
        yield running


def test_the_slice_covers_every_fault_kind_action_and_service():
    assert {f.kind for spec in SLICE for f in spec.faults} == set(FAULT_KINDS)
    assert {spec.action for spec in SLICE} == set(ACTIONS)
    assert {spec.service for spec in SLICE} == set(SERVICES)
    assert sum(bool(spec.kill) for spec in SLICE) >= 6


@pytest.mark.parametrize("spec", SLICE, ids=[spec.label() for spec in SLICE])
def test_every_fen_is_delivered_or_refunded(explorer, spec):
    result = explorer.run(spec)
    assert result["violations"] == [], json.dumps(result, ensure_ascii=False, indent=1)
    assert (result["lost_fen"], result["double_fen"], result["unreconciled"]) == (0, 0, 0)
    if spec.faults:
        assert result["faults_hit"] >= 1, "the fault never met its call: the run proves nothing"
    if spec.kill:
        assert result["killed"], f"the power was never cut at {spec.kill}"


def test_the_checks_see_money_taken_behind_the_kiosks_back(explorer):
    """The explorer's checks can fail: a payment no journal knows of is lost money, missing
    from the reconciliation file."""
    result = explorer.run(RunSpec("bill", name=ROGUE))
    assert result["lost_fen"] == 8650 and result["unreconciled"] == 1
    assert any("ROGUE0001" in v for v in result["violations"])


@pytest.mark.slow
def test_the_systematic_space(tmp_path):
    totals = Totals()
    with Explorer(tmp_path) as running:
        for spec in systematic():
            totals.add(running.run(spec))
    print(json.dumps(totals.figures()))
    assert totals.violations == 0, json.dumps(totals.failures[:5], ensure_ascii=False, indent=1)


@pytest.mark.slow
def test_sampled_combinations(tmp_path_factory):
    with Explorer(tmp_path_factory.mktemp("sampled")) as running:

        @settings(max_examples=300, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @given(spec=run_specs())
        def every_fen(spec):
            result = running.run(spec)
            assert result["violations"] == [], json.dumps(result, ensure_ascii=False)

        every_fen()
