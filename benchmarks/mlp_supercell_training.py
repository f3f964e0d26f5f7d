"""Cost of training the committee on 112-atom supercells: descriptors, seconds per epoch, memory.

Issue 27 asks that 200 supercells train in under 30 minutes within 8 GB. This script trains on
``--frames`` 2x2x2 supercells (``--repeat``) of the shared KRbB6C6 frames (each frame repeated, its labels
repeated with it: energy x8, forces tiled, same stress) plus ``--valid`` more for validation,
and prints the featurisation time, the wall time of each epoch and per training frame, the path
the forces were trained on and the peak resident memory of the process.

    .venv/bin/python benchmarks/mlp_supercell_training.py [--frames 8] [--valid 2]
        [--epochs 3] [--members 1] [--threads 1] [--parameters '{"dtype": "float64"}']

Defaults: the shipped ``TrainingSettings`` with one member, three epochs and no fine-tune (the
cost of an epoch does not depend on how many there are). Compare versions in one session.

With ``--split SEED`` the supercells are those of the training frames of ``benchmarks/mlp.py``'s
split (170 frames, or the first ``--frames``; no ``--valid``: every member holds out its own, as
shipped) and the trained committee is scored on the split's test frames. A supercell repeats a
14-atom frame, so its descriptors, energy per atom and forces are the frame's: the scores say
what a training on supercells reaches in the time it took, against ``benchmarks/mlp.py`` on the
14-atom cells of the same split.

    .venv/bin/python benchmarks/mlp_supercell_training.py --split 0 --frames 170 --members 4
        --threads 2 --epochs 200 --parameters '{"finetune_epochs": 20, "max_time_per_member_s": 300}'
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import time

import numpy as np
import torch
from mlp import split

DATA = (
    pathlib.Path(__file__).resolve().parents[2]
    / "shared/datasets/krbb6c6-displaced/krbb6c6_dft.xyz"
)


def supercell(frame, repeat: int = 2):
    """The frame repeated ``repeat`` times along each axis, with its labels."""
    from aiida_clathrate.mlp import Frame

    n = repeat**3
    shifts = np.array(
        [(a, b, c) for a in range(repeat) for b in range(repeat) for c in range(repeat)],
        dtype=float,
    )
    positions = (shifts @ frame.cell_angstrom)[:, None, :] + frame.positions_angstrom[None]
    return Frame(
        list(frame.symbols) * n,
        positions.reshape(-1, 3),
        frame.cell_angstrom * repeat,
        frame.pbc,
        energy_ev=frame.energy_ev * n,
        forces_ev_per_angstrom=np.tile(frame.forces_ev_per_angstrom, (n, 1)),
        stress_ev_per_angstrom3=frame.stress_ev_per_angstrom3,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--valid", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2, help="supercell: repeat x repeat x repeat")
    parser.add_argument("--parameters", default="{}", help="TrainingSettings fields as JSON")
    parser.add_argument(
        "--split", type=int, help="train on supercells of this mlp.py split, score its test frames"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from aiida_clathrate.mlp import TrainingSettings, read_frames, train_committee

    shared = read_frames(DATA)
    test = []
    if args.split is None:
        chosen = shared[: args.frames + args.valid]
    else:
        train_idx, test_idx = split(len(shared), args.split)
        chosen = [shared[i] for i in train_idx[: args.frames]]
        test = [shared[i] for i in test_idx]
        args.frames, args.valid = len(chosen), 0
    frames = [supercell(f, args.repeat) for f in chosen]
    settings = TrainingSettings.from_dict(
        {
            "committee_size": args.members,
            "max_epochs": args.epochs,
            "finetune_epochs": 0,
            **json.loads(args.parameters),
        }
    )
    start = time.perf_counter()
    result = train_committee(
        frames[: args.frames], settings, validation_frames=frames[args.frames :] or None
    )
    wall = time.perf_counter() - start
    metrics = result.metrics
    per_member = []
    for member in range(args.members):
        ends = [row["elapsed_s"] for row in result.learning_curve if row.get("member") == member]
        per_member.append(np.diff([0.0, *ends]))
    epochs = per_member[0]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"{args.frames} + {args.valid} supercells of {frames[0].n_atoms} atoms, {args.threads} thread(s), dtype {settings.dtype}"
    )
    print(
        f"force training path: {metrics['force_training']} (Jacobians would take {metrics['jacobian_memory_estimate_gb']:.2f} GB)"
    )
    print(f"descriptors: {metrics['featurise_time_s']:.1f} s")
    for member, times in enumerate(per_member):
        print(f"epochs of member {member} (s): " + ", ".join(f"{e:.1f}" for e in times))
    if "kernel" in metrics:
        kernel = metrics["kernel"]
        print(f"kernel member fit: {kernel['fit_time_s']:.1f} s on {kernel['n_frames']} frames")
    later = epochs[1:] if len(epochs) > 1 else epochs
    print(f"per training frame and epoch (after the first): {np.median(later) / args.frames:.3f} s")
    print(f"training wall: {wall:.1f} s; peak resident memory: {peak_gb:.2f} GB")
    print(f"epochs per member: {metrics['epochs_per_member']}")
    if test:
        from aiida_clathrate.mlp.training import error_metrics, featurise_committee

        scores = error_metrics(featurise_committee(test, result.committee), result.committee)
        print(
            f"{len(test)} test frames of split {args.split}: "
            f"energy {scores['energy_rmse_mev_per_atom']:.3f} meV/atom, "
            f"forces {scores['forces_rmse_mev_per_angstrom']:.1f} meV/Å RMSE"
        )


if __name__ == "__main__":
    main()
