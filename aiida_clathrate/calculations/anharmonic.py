"""``anharmonic_on_fine_grid``: the SSCHA correction interpolated onto a fine harmonic q-grid.

A calcfunction so the provenance graph shows which three matrices the result came from
(:func:`aiida_clathrate.sscha.interpolation.add_anharmonic_correction` does the work).
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from ..data.dynamical_matrices import dynamical_matrices_info, from_phonons, to_phonons


@calcfunction
def anharmonic_on_fine_grid(
    anharmonic: orm.FolderData,
    harmonic_coarse: orm.FolderData,
    harmonic_fine: orm.FolderData,
) -> dict[str, orm.Data]:
    """``harmonic_fine`` + (``anharmonic`` − ``harmonic_coarse``) interpolated to the fine grid.

    Outputs ``dynamical_matrices`` (the project's dyn ``FolderData`` convention, on the fine
    grid) and ``frequencies_cm1`` (arrays ``qpoints_crystal`` (nq, 3) and ``frequencies_cm1``
    (nq, 3N), negative = imaginary).
    """
    from ..sscha.interpolation import add_anharmonic_correction, frequencies_per_qpoint_cm1

    prefix = dynamical_matrices_info(harmonic_fine)["prefix"]
    result = add_anharmonic_correction(
        to_phonons(harmonic_fine), to_phonons(harmonic_coarse), to_phonons(anharmonic)
    )
    qpoints, frequencies = frequencies_per_qpoint_cm1(result)
    array = orm.ArrayData()
    array.set_array("qpoints_crystal", qpoints)
    array.set_array("frequencies_cm1", frequencies)
    return {"dynamical_matrices": from_phonons(result, prefix), "frequencies_cm1": array}
