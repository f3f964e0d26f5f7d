"""``aiida-clathrate launch compound``: bad input is refused before anything is stored."""

from __future__ import annotations

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["K", "Xx"], "'Xx'"),
        (["K", "Rb", "--wait"], "--wait only applies with --daemon"),
        (["K", "Rb", "--sscha-engine", "mlp"], "mlp_model"),
        (["K", "Rb", "--mustar", "1.5"], "mustar"),
    ],
)
def test_launch_compound_rejects_bad_input(clathrate_setup, args, message):
    before = orm.QueryBuilder().append(orm.Node).count()
    result = CliRunner().invoke(cmd_root, ["launch", "compound", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_launch_compound_is_listed(clathrate_setup):
    result = CliRunner().invoke(cmd_root, ["launch", "--help"])
    assert result.exit_code == 0
    assert "compound" in result.output


def test_two_passes_flag_reaches_the_builder(clathrate_setup, monkeypatch):
    """``--two-passes`` asks the builder for separate ph.x runs (the run itself is not started)."""
    from aiida_clathrate.workflows import compound

    seen = {}

    def fake_builder(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop before anything runs")

    monkeypatch.setattr(
        compound.ClathrateSuperconductorWorkChain, "get_builder_from_protocol", fake_builder
    )
    for flag, expected in (("--two-passes", False), ("--one-pass", True)):
        result = CliRunner().invoke(cmd_root, ["launch", "compound", "K", "Rb", flag])
        assert result.exit_code != 0 and "stop before anything runs" in result.output
        assert seen["one_pass"] is expected
