"""One mu* default and one range: the plain check, the kernel, the port validator and the CLI."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from aiida_clathrate.eliashberg import einstein_spectrum, run_eliashberg
from aiida_clathrate.eliashberg.mustar import (
    DEFAULT_MUSTAR,
    MUSTAR_RANGE,
    check_mustar,
    check_mustar_value,
    mustar_error,
    mustar_value_error,
)


def test_default_and_range():
    assert DEFAULT_MUSTAR == (0.10, 0.13, 0.15)
    assert MUSTAR_RANGE == (0.0, 0.5)
    assert mustar_error(DEFAULT_MUSTAR) is None
    assert check_mustar(DEFAULT_MUSTAR) == [0.10, 0.13, 0.15]
    # half-open: 0 is allowed, 0.5 is not
    assert check_mustar([0, 0.499]) == [0.0, 0.499]
    assert all(isinstance(m, float) for m in check_mustar([0, np.float64(0.1)]))
    assert check_mustar_value(np.float32(0.25)) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], r"at least one mu\* is needed \(each in \[0, 0.5\)\)"),
        ([0.7], r"^mu\* must lie in \[0, 0.5\), got 0.7$"),
        ([0.5], r"^mu\* must lie in \[0, 0.5\), got 0.5$"),
        ([-0.01], r"^mu\* must lie in \[0, 0.5\), got -0.01$"),
        ([math.nan], r"^mu\* must lie in \[0, 0.5\), got nan \(not a finite number\)$"),
        ([math.inf], r"got inf \(not a finite number\)"),
        (["abc"], r"^mu\* must be a number in \[0, 0.5\), got 'abc'$"),
        ([None], r"must be a number in \[0, 0.5\), got None"),
        ([True], r"must be a number in \[0, 0.5\), got True"),
        ([0.1, 0.7, 0.2], r"got 0.7 \(value 1 of \[0.1, 0.7, 0.2\]\)"),
        (0.1, r"mu\* must be a list of numbers, got 0.1"),
        ("0.1", r"mu\* must be a list of numbers"),
    ],
)
def test_messages(values, message):
    error = mustar_error(values)
    assert error is not None
    assert re.search(message, error), error
    with pytest.raises(ValueError, match=message):
        check_mustar(values)


def test_single_value_messages():
    assert mustar_value_error(0.13) is None
    assert mustar_value_error(0.7) == "mu* must lie in [0, 0.5), got 0.7"
    with pytest.raises(ValueError, match=r"mu\* must lie in \[0, 0.5\), got 0.5"):
        check_mustar_value(0.5)


def test_kernel_uses_the_same_range():
    from aiida_clathrate.eliashberg import mcmillan_tc, rescale_mustar, validate_mustar

    omega, a2f = einstein_spectrum(30.0, 1.0)
    for bad in ([0.7], [], [math.nan]):
        with pytest.raises(ValueError, match=re.escape(mustar_error(bad))):
            run_eliashberg(omega, a2f, bad, with_gap=False, with_curve=False)
    with pytest.raises(ValueError, match=r"\[0, 0.5\)"):
        validate_mustar(0.5)
    with pytest.raises(ValueError, match=r"\[0, 0.5\)"):
        mcmillan_tc(1.0, 20.0, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 0.5\)"):
        rescale_mustar(0.6, 100.0, 50.0)
    assert validate_mustar(MUSTAR_RANGE[1] - 1e-9) < 0.5


def test_run_eliashberg_default_is_the_default():
    import inspect

    from aiida_clathrate.eliashberg import solver

    default = inspect.signature(solver.run_eliashberg).parameters["mustar_values"].default
    assert default is DEFAULT_MUSTAR


def test_query_key_uses_the_same_range():
    from aiida_clathrate.query import mustar_key

    assert mustar_key("anharmonic", 0.13) == "tc_anharmonic_kelvin_mustar_013"
    with pytest.raises(ValueError, match=r"mu\* must lie in \[0, 0.5\), got 0.7"):
        mustar_key("anharmonic", 0.7)


def test_port_validator(aiida_profile):
    from aiida import orm

    from aiida_clathrate.validators import validate_mustar

    assert validate_mustar(None) is None
    assert validate_mustar(orm.List(list(DEFAULT_MUSTAR))) is None
    assert validate_mustar(orm.List([0.1, 0.7]), None) == (
        "mu* must lie in [0, 0.5), got 0.7 (value 1 of [0.1, 0.7])"
    )
    assert "at least one mu*" in validate_mustar(orm.List([]))
    assert "must be a number" in validate_mustar(orm.List(["x"]))
    assert "List" in validate_mustar(orm.Float(0.1))


def test_calcfunction_port_has_the_validator(aiida_profile):
    from aiida import orm

    from aiida_clathrate.calculations.eliashberg import alpha2f_xydata, eliashberg
    from aiida_clathrate.validators import validate_mustar

    assert eliashberg.spec().inputs["mustar"].validator is validate_mustar
    node = alpha2f_xydata(*einstein_spectrum(30.0, 1.0), "meV")
    before = orm.QueryBuilder().append(orm.CalcFunctionNode).count()
    with pytest.raises(ValueError, match=r"mu\* must lie in \[0, 0.5\), got -0.1"):
        eliashberg.run_get_node(alpha2f=node, mustar=orm.List([-0.1]))
    assert orm.QueryBuilder().append(orm.CalcFunctionNode).count() == before


def _assert_usage_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # click's usage error, not a crash
    assert "Traceback" not in result.output
    assert "Invalid value for '--mustar'" in result.output
    assert text in result.output


def test_cli_eliashberg_rejects_bad_mustar(aiida_profile, tmp_path):
    from aiida_clathrate.cli import cmd_root

    path = tmp_path / "a2f.dat"
    omega, a2f = einstein_spectrum(30.0, 1.0)
    np.savetxt(path, np.column_stack([omega, a2f]))
    runner = CliRunner()
    result = runner.invoke(cmd_root, ["eliashberg", str(path), "--mustar", "0.1", "0.7"])
    _assert_usage_error(result, "mu* must lie in [0, 0.5), got 0.7")
    result = runner.invoke(cmd_root, ["eliashberg", str(path), "--mustar", "nan"])
    _assert_usage_error(result, "not a finite number")
    result = runner.invoke(cmd_root, ["eliashberg", "--help"])
    assert "0.1, 0.13, 0.15" in result.output and "[0, 0.5)" in result.output


def test_cli_launch_compound_rejects_bad_mustar(clathrate_setup):
    from aiida import orm

    from aiida_clathrate.cli import cmd_root

    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(
        cmd_root, ["launch", "compound", "K", "Rb", "--mustar", "0.1", "--mustar", "0.7"]
    )
    _assert_usage_error(result, "mu* must lie in [0, 0.5), got 0.7")
    assert orm.QueryBuilder().append(orm.Node).count() == before
    result = CliRunner().invoke(cmd_root, ["launch", "compound", "--help"])
    assert "0.10, 0.13, 0.15" in result.output


def test_cli_query_rejects_bad_mustar(aiida_profile):
    from aiida_clathrate.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ["query", "--mustar", "0.7"])
    _assert_usage_error(result, "mu* must lie in [0, 0.5), got 0.7")
