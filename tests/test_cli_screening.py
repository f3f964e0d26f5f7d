"""The screening command line's own pieces: the codes it resolves and the compound builders of
``--launch-compounds`` (the command itself runs in test_screening_qe.py)."""

from __future__ import annotations

from aiida import orm

CODES = {name: f"{name}@localhost" for name in ("pw", "dos", "projwfc")}


def test_screening_codes_resolve_on_localhost(aiida_profile, clathrate_setup):
    """The codes `launch screening` asks for exist after the localhost set-up."""
    from aiida_clathrate.cli.checks import codes_on
    from aiida_clathrate.pseudo_family import SHIPPED_FAMILY_LABEL

    codes = codes_on("localhost", SHIPPED_FAMILY_LABEL, ["pw", "dos", "projwfc"])
    assert codes == CODES
    for label in codes.values():
        orm.load_code(label)


def test_launch_compounds_builds_the_top_pairs(aiida_profile, clathrate_setup, monkeypatch):
    """`--launch-compounds TOP`: a compound builder for each of the TOP ranked pairs, XB3C3 for a
    single guest. The submission itself is replaced by a recorder (a real one needs the daemon
    and runs the whole chain; `launch compound --daemon` is tested in test_compound_cli.py)."""
    from aiida_clathrate.cli import cmd_launch_screening

    submitted = []

    class Node:
        pk = 0

    def record(builder):
        submitted.append(builder)
        return Node()

    monkeypatch.setattr("aiida.engine.submit", record)
    ranking = {"pairs": ["KRb", "Rb", "K"]}
    cmd_launch_screening._launch_compounds(ranking, 2, "fast", 0.0, 1, "localhost")
    guests = [sorted(b.structure.get_ase().get_chemical_symbols())[12:] for b in submitted]
    assert guests == [["K", "Rb"], ["Rb", "Rb"]]
    assert all(b.pressure_gpa.value == 0.0 for b in submitted)
