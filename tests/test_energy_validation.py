"""The validation table (docs/energy.md): published measurements reconstructed with the chips' own cost models."""
from __future__ import annotations

from pathlib import Path

import pytest

from neurodeploy.energy.ranges import Span, range_key, spec_span
from neurodeploy.energy.validation import markdown_table, validations
from neurodeploy.errors import SpecError

DOC = Path(__file__).resolve().parents[1] / "docs" / "energy.md"


def test_table_has_published_measurements_and_keeps_its_tolerances():
    rows = validations()
    assert len(rows) >= 4 and {r.chip for r in rows} >= {"loihi1", "truenorth", "spinnaker1"}
    for r in rows:
        low, high = r.tolerance
        assert low <= r.ratio <= high, (r.workload, r.quantity, r.ratio, r.tolerance)
        assert r.low <= r.estimate <= r.high, (r.workload, r.low, r.estimate, r.high)
        # every measurement lies inside its estimate's range, or the row says why not
        assert r.inside or (r.outside_reason and len(r.outside_reason) > 40), (r.workload, r.quantity)
        assert r.source and r.assumptions


def test_docs_hold_the_generated_table():
    assert markdown_table(validations()) in DOC.read_text(), "regenerate: python -m neurodeploy.energy.validation"


def test_spans_add_and_multiply_end_to_end():
    a, b = Span(2.0, 1.0, 3.0), Span(10.0, 5.0, 20.0)
    assert a + b == Span(12.0, 6.0, 23.0) and a * b == Span(20.0, 5.0, 60.0)
    assert 3 * a == Span(6.0, 3.0, 9.0) and (a + 1).as_range() == [2.0, 4.0]
    assert range_key("energy_pj.synaptic_op_dense") == "energy_pj_range.synaptic_op_dense"
    assert range_key("static_power_mw_per_chip") == "static_power_mw_per_chip_range"


def test_a_range_that_does_not_hold_its_nominal_is_refused():
    from neurodeploy.backends import get_backend

    spec = get_backend("loihi1").spec
    assert spec_span(spec, "energy_pj.synaptic_op_dense") == Span(35.5, 23.6, 35.5)
    broken = type(spec)(**{**spec.__dict__, "values": {**spec.values, "energy_pj_range": {
        **spec.values["energy_pj_range"], "synaptic_op_dense": [40, 50]}}})
    with pytest.raises(SpecError, match="outside its range"):
        spec_span(broken, "energy_pj.synaptic_op_dense")
    broken.values["energy_pj_range"]["synaptic_op_dense"] = "wide"
    with pytest.raises(SpecError, match=r"must be \[low, high\]"):
        spec_span(broken, "energy_pj.synaptic_op_dense")
