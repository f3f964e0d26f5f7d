"""``aiida-clathrate export``: an archive of tagged nodes with their provenance, imported into a
fresh profile with the same nodes and extras."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_clathrate.cli import cmd_root

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "eliashberg_al_qe67"
MUSTAR = [0.10, 0.13]


@pytest.fixture(scope="module")
def al_eliashberg(aiida_profile):
    """The Eliashberg calcfunction on real QE 6.7 Al alpha^2F, its result tagged as a compound."""
    from aiida_clathrate.calculations.eliashberg import alpha2f_xydata, eliashberg
    from aiida_clathrate.eliashberg import read_alpha2f
    from aiida_clathrate.query import tag_compound

    spectrum = read_alpha2f(EXAMPLE / "a2F.dos3")
    alpha2f = alpha2f_xydata(spectrum.omega_mev, spectrum.a2f, "meV")
    results, process = eliashberg.run_get_node(
        alpha2f=alpha2f, mustar=orm.List(MUSTAR), settings=orm.Dict({"gap_curve_points": 3})
    )
    assert process.is_finished_ok, process.exit_message
    result = results["result"].get_dict()
    tag_compound(
        process,
        pair=["Al"],
        pressure_gpa=0.0,
        stability_category="stable",
        stable=True,
        mustar=MUSTAR,
        tc_harmonic_kelvin=result["tc_eliashberg_kelvin"],
        lambda_harmonic=result["lambda"],
    )
    return process, results


def _provenance_uuids(process) -> set[str]:
    """The calcfunction, its inputs and its outputs: what the archive must hold."""
    nodes = [process, *process.base.links.get_incoming().all_nodes()]
    nodes += process.base.links.get_outgoing().all_nodes()
    return {node.uuid for node in nodes}


#: Runs in a subprocess with an empty AIIDA_PATH: a fresh configuration, a fresh SQLite profile,
#: ``import_archive`` and a JSON dump of what arrived. (Switching profiles inside the test session
#: would close the storage under the ORM objects other session fixtures hold.)
IMPORT_SCRIPT = """
import json, pathlib, sys
from aiida import orm
from aiida.manage.configuration import create_profile, get_config, load_profile
from aiida.tools.archive import import_archive

root = pathlib.Path(sys.argv[2])
config = get_config(create=True)
profile = create_profile(config, storage_backend="core.sqlite_dos",
    storage_config={"filepath": str(root / "storage")}, name="fresh", email="fresh@localhost")
config.set_default_profile("fresh")
config.store()
load_profile("fresh")
before = orm.QueryBuilder().append(orm.Node).count()
import_archive(sys.argv[1])
rows = orm.QueryBuilder().append(orm.Node, project=["uuid", "extras"]).all()
groups = {g.label: sorted(n.uuid for n in g.nodes) for g in orm.Group.collection.all()}
print("RESULT" + json.dumps({"before": before, "nodes": {u: e for u, e in rows}, "groups": groups}))
"""


def _import_into_fresh_profile(archive: pathlib.Path, root: pathlib.Path) -> dict:
    root.mkdir()
    env = dict(os.environ, AIIDA_PATH=str(root))
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, str(archive), str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


def test_export_then_import_into_fresh_profile(al_eliashberg, tmp_path):
    process, results = al_eliashberg
    archive = tmp_path / "al.aiida"
    # The result Dict alone: its creator, the creator's inputs and siblings come along.
    result = CliRunner().invoke(cmd_root, ["export", str(results["result"].pk), "-o", str(archive)])
    assert result.exit_code == 0, result.output
    assert archive.is_file() and archive.stat().st_size > 0
    expected = _provenance_uuids(process)
    assert len(expected) == 6  # alpha2f, mu*, settings -> calcfunction -> result, gap_curve
    assert f"({len(expected)} nodes" in result.output
    extras = dict(process.base.extras.all)
    tc_kelvin = extras["tc_harmonic_kelvin"]
    assert len(tc_kelvin) == 2 and tc_kelvin[0] > 0 and tc_kelvin[0] >= tc_kelvin[1] >= 0

    imported = _import_into_fresh_profile(archive, tmp_path / "fresh")
    assert imported["before"] == 0
    assert set(imported["nodes"]) == expected
    copy = imported["nodes"][process.uuid]
    assert copy["tc_harmonic_kelvin"] == tc_kelvin
    assert copy["tc_harmonic_kelvin_mustar_010"] == tc_kelvin[0]
    assert copy["formula"] == extras["formula"] and copy["stable"] is True


def test_refuses_existing_file_unless_overwrite(al_eliashberg, tmp_path):
    process, _ = al_eliashberg
    archive = tmp_path / "exists.aiida"
    archive.write_text("not an archive")
    result = CliRunner().invoke(cmd_root, ["export", str(process.pk), "--output", str(archive)])
    assert result.exit_code != 0 and "--overwrite" in result.output
    assert archive.read_text() == "not an archive"
    result = CliRunner().invoke(
        cmd_root, ["export", str(process.pk), "--output", str(archive), "--overwrite"]
    )
    assert result.exit_code == 0, result.output
    assert archive.read_bytes()[:2] == b"PK"  # a zip file now


def test_unknown_pk_writes_nothing(al_eliashberg, tmp_path):
    process, _ = al_eliashberg
    archive = tmp_path / "never.aiida"
    missing = orm.QueryBuilder().append(orm.Node, project="id").all(flat=True)
    unknown = max(missing) + 1000
    result = CliRunner().invoke(
        cmd_root, ["export", str(process.pk), str(unknown), "-o", str(archive)]
    )
    assert result.exit_code != 0
    assert f"no node with PK {unknown}" in result.output
    assert not archive.exists()


def test_group_export_carries_membership(al_eliashberg, tmp_path):
    from aiida_clathrate.query import COMPOUNDS_GROUP, STABLE_GROUP

    process, _ = al_eliashberg
    archive = tmp_path / "groups.aiida"
    result = CliRunner().invoke(
        cmd_root, ["export", "--group", COMPOUNDS_GROUP, "-g", STABLE_GROUP, "-o", str(archive)]
    )
    assert result.exit_code == 0, result.output
    assert "2 group(s)" in result.output
    imported = _import_into_fresh_profile(archive, tmp_path / "fresh")
    for label in (COMPOUNDS_GROUP, STABLE_GROUP):
        members = sorted(n.uuid for n in orm.Group.collection.get(label=label).nodes)
        assert process.uuid in members
        assert imported["groups"][label] == members
    assert imported["nodes"][process.uuid]["stable"] is True


def test_export_needs_nodes_or_groups(aiida_profile, tmp_path):
    archive = tmp_path / "none.aiida"
    result = CliRunner().invoke(cmd_root, ["export", "-o", str(archive)])
    assert result.exit_code != 0 and "--group" in result.output
    result = CliRunner().invoke(cmd_root, ["export", "-g", "no/such/group", "-o", str(archive)])
    assert result.exit_code != 0 and "no group labelled no/such/group" in result.output
    assert not archive.exists()
