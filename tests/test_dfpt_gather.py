"""``gather_qpoint_outputs``: the q-point jobs' files in one ph.x layout, and clear failures."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_clathrate.calculations.phonon_functions import gather_qpoint_outputs


def _job_folder(iq: int, elph: bool = True, dyn: bool = True) -> orm.FolderData:
    """What a ph.x job with ``start_q = last_q = iq`` retrieves (contents are placeholders)."""
    folder = orm.FolderData()
    folder.base.repository.put_object_from_bytes(
        b"   2   2   2\n   3\n", "DYN_MAT/dynamical-matrix-0"
    )
    if dyn:
        folder.base.repository.put_object_from_bytes(
            f"dyn {iq}\n".encode(), f"DYN_MAT/dynamical-matrix-{iq}"
        )
    if elph:
        for sigma in (51, 52):
            folder.base.repository.put_object_from_bytes(
                f"gamma {sigma} {iq}\n".encode(), f"elph_dir/a2Fq2r.{sigma}.{iq}"
            )
        folder.base.repository.put_object_from_bytes(b"x\n", f"elph_dir/elph.inp_lambda.{iq}")
    folder.base.repository.put_object_from_bytes(b"stdout\n", "aiida.out")
    return folder


def test_gathers_each_jobs_own_files(aiida_profile):
    gathered = gather_qpoint_outputs(**{f"q_{iq}": _job_folder(iq) for iq in (1, 2, 3)})
    names = sorted(gathered.base.repository.list_object_names("DYN_MAT"))
    assert names == [f"dynamical-matrix-{i}" for i in range(4)]
    for iq in (1, 2, 3):
        text = gathered.base.repository.get_object_content(f"DYN_MAT/dynamical-matrix-{iq}")
        assert text == f"dyn {iq}\n"
        assert gathered.base.repository.get_object_content(f"elph_dir/a2Fq2r.52.{iq}") == (
            f"gamma 52 {iq}\n"
        )
    assert len(gathered.base.repository.list_object_names("elph_dir")) == 9
    assert "aiida.out" not in gathered.base.repository.list_object_names()
    assert gathered.base.attributes.get("nqirr") == 3


def test_phonons_only_jobs_gather_without_elph_dir(aiida_profile):
    gathered = gather_qpoint_outputs(q_1=_job_folder(1, elph=False), q_2=_job_folder(2, elph=False))
    assert gathered.base.repository.list_object_names() == ["DYN_MAT"]


@pytest.mark.parametrize(
    "folders, match",
    [
        ({"q_1": 1, "q_3": 3}, r"not the complete set 1..2"),
        ({"q_1": 1, "q_2": -2}, "the ph.x job of q-point 2 left no DYN_MAT/dynamical-matrix-2"),
    ],
)
def test_incomplete_jobs_are_refused(aiida_profile, folders, match):
    inputs = {label: _job_folder(abs(iq), dyn=iq > 0) for label, iq in folders.items()}
    with pytest.raises(ValueError, match=match):
        gather_qpoint_outputs(**inputs)
