"""The study's categories across pressures and its scan rule, against hand-made verdicts."""

from __future__ import annotations

from aiida_clathrate.study import FAILED, STABLE_UNDER_PRESSURE, next_pressure, study_category

PRESSURES = [0.0, 5.0, 10.0, 15.0, 20.0]


def test_stable_at_the_lowest_pressure_needs_no_other():
    assert study_category({0.0: "stable"}) == ("stable", 0.0)
    assert next_pressure(PRESSURES, {0.0: "stable"}) is None


def test_stable_only_under_pressure_names_the_lowest_stabilising_pressure():
    verdicts = {0.0: "unstable", 5.0: "auxiliary_stable_hessian_imaginary", 10.0: "stable"}
    assert study_category(verdicts) == (STABLE_UNDER_PRESSURE, 10.0)
    assert next_pressure(PRESSURES, verdicts) is None


def test_never_stable_keeps_the_verdict_at_the_lowest_pressure():
    verdicts = {p: "unstable" for p in PRESSURES}
    verdicts[0.0] = "flat_soft_mode"
    assert study_category(verdicts) == ("flat_soft_mode", None)
    assert next_pressure(PRESSURES, verdicts) is None


def test_the_scan_goes_up_one_pressure_at_a_time_and_skips_failures():
    assert next_pressure(PRESSURES, {}) == 0.0
    assert next_pressure(PRESSURES, {0.0: "unstable"}) == 5.0
    verdicts = {0.0: None, 5.0: "stable"}  # 0 GPa failed: the category starts where a verdict is
    assert study_category(verdicts) == (STABLE_UNDER_PRESSURE, 5.0)
    assert next_pressure(PRESSURES, {0.0: None}) == 5.0
    assert study_category({0.0: None, 5.0: None}) == (FAILED, None)


def test_all_pressures_goes_on_past_the_first_stable_one():
    assert next_pressure(PRESSURES, {0.0: "stable"}, stop_at_stable=False) == 5.0
    verdicts = {p: "stable" for p in PRESSURES}
    assert next_pressure(PRESSURES, verdicts, stop_at_stable=False) is None
    verdicts[5.0] = "unstable"  # the category still comes from the lowest pressure
    assert study_category(verdicts) == ("stable", 0.0)
