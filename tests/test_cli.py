"""The ``aiida-clathrate`` command line: bad input is refused before anything is stored."""

from __future__ import annotations

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["K", "Xx"], "'Xx'"),
        (["K", "O"], "'O'"),
        (["B"], "framework"),
        (["K", "Rb", "--lattice-parameter", "-1"], "-1"),
    ],
)
def test_launch_harmonic_rejects_bad_input(clathrate_setup, args, message):
    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(cmd_root, ["launch", "harmonic", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_launch_harmonic_rejects_unknown_protocol(clathrate_setup):
    result = CliRunner().invoke(cmd_root, ["launch", "harmonic", "K", "Rb", "--protocol", "ultra"])
    assert result.exit_code == 2
    assert "ultra" in result.output


def test_show_refuses_foreign_process(clathrate_setup):
    from aiida.engine import calcfunction

    @calcfunction
    def add(a, b):
        return a + b

    _, node = add.run_get_node(orm.Int(1), orm.Int(2))
    result = CliRunner().invoke(cmd_root, ["show", str(node.pk)])
    assert result.exit_code != 0
    assert "not an aiida-clathrate workflow" in result.output


def test_pressures_after_the_metals_are_split_from_them():
    from aiida_clathrate.cli.params import metals_and_pressures

    assert metals_and_pressures(("K", "Rb", "10", "20"), (0.0,)) == (["K", "Rb"], [0.0, 10.0, 20.0])
    assert metals_and_pressures(("Sr",), ()) == (["Sr"], [])
