"""``tc_uncertainty`` calcfunction: Tc ± its spread for one electron-phonon branch (provenance
wrapper of :mod:`aiida_clathrate.eliashberg.uncertainty`)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ExitCode, calcfunction

from ..eliashberg import EliashbergSettings
from ..eliashberg.uncertainty import plateau_indices
from ..eliashberg.uncertainty import tc_uncertainty as tc_uncertainty_kernel
from .eliashberg import xydata_to_alpha2f
from .epc_functions import BROADENING_LABEL, DEFAULT_PLATEAU_TOLERANCE

#: Array of the Hessian frequencies output that holds the bootstrap samples.
BOOTSTRAP_ARRAY = "bootstrap_frequencies_cm1"


@calcfunction
def tc_uncertainty(
    eliashberg: orm.Dict,
    epc_summary: orm.Dict,
    settings: orm.Dict,
    hessian_frequencies: orm.ArrayData | None = None,
    tolerance_cm1: orm.Float | None = None,
    **alpha2f_broadenings: orm.XyData,
) -> orm.Dict:
    """Tc at the middle mu* with its mu*, broadening-plateau and SSCHA-bootstrap spreads.

    ``eliashberg``: the ``eliashberg`` output of the branch (mu*, Tc per mu*); ``epc_summary``:
    its broadenings and chosen one; ``settings``: the solver settings it used;
    ``hessian_frequencies``: the SSCHA ``hessian_frequencies_cm1`` with the array
    ``bootstrap_frequencies_cm1`` (anharmonic branch only); ``alpha2f_broadenings``: the
    ``broadening_NN`` spectra. Exit code 300 when an input is inconsistent.
    """
    try:
        result = eliashberg.get_dict()
        summary = epc_summary.get_dict()
        rows = summary["broadenings"]
        chosen = int(summary["chosen_index"]) - 1
        indices = plateau_indices(
            [row["lambda_qe"] for row in rows],
            chosen,
            float(summary.get("plateau_tolerance", DEFAULT_PLATEAU_TOLERANCE)),
        )
        spectra = {}
        for i in indices:
            label = BROADENING_LABEL.format(rows[i]["index"])
            if label in alpha2f_broadenings:
                spectra[i] = xydata_to_alpha2f(alpha2f_broadenings[label])
        if chosen not in spectra:
            raise ValueError(f"no alpha^2F for the chosen broadening {chosen + 1}")
        hessian = bootstrap = None
        if hessian_frequencies is not None and (
            BOOTSTRAP_ARRAY in hessian_frequencies.get_arraynames()
        ):
            hessian = hessian_frequencies.get_array("frequencies_cm1")
            bootstrap = hessian_frequencies.get_array(BOOTSTRAP_ARRAY)
        uncertainty = tc_uncertainty_kernel(
            result["tc_eliashberg_kelvin"],
            result["mustar"],
            list(spectra.values()),
            spectra[chosen],
            EliashbergSettings.from_dict(settings.get_dict()),
            hessian,
            bootstrap,
            plateau_broadening_indices=[rows[i]["index"] for i in spectra],
            **({} if tolerance_cm1 is None else {"tolerance_cm1": tolerance_cm1.value}),
        )
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        return ExitCode(300, f"no Tc uncertainty: {exc}")
    return orm.Dict(uncertainty.as_dict())
