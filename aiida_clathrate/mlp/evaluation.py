"""Label many configurations with a committee: in this process, or split over worker processes.

On a machine with few cores, two single-threaded processes predict more 112-atom configurations
per second than one process with two torch threads (benchmarks/mlp_throughput.py). Each worker
takes one contiguous block of the configurations, so that a population of one supercell keeps
reusing its neighbour lists; the results come back in the input order, and do not depend on the
split beyond the rounding of torch's thread count.
"""

from __future__ import annotations

import multiprocessing
import pathlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .frames import Frame
from .potential import CommitteePotential, Prediction, load_potential


def predict_frames(
    model: CommitteePotential, frames: Sequence[Frame], member_forces: bool = False
) -> list[Prediction]:
    """One prediction per frame, in this process."""
    return [model.predict_frame(frame, member_forces=member_forces) for frame in frames]


def predict_frames_in_workers(
    model_path: str | pathlib.Path,
    frames: Sequence[Frame],
    workers: int,
    threads_per_worker: int = 1,
    dtype: str | None = None,
    member_forces: bool = False,
) -> list[Prediction]:
    """:func:`predict_frames` over ``workers`` processes (spawned: each loads the model file and
    runs ``threads_per_worker`` torch threads), one contiguous block of frames each."""
    if workers < 1 or threads_per_worker < 1:
        raise ValueError(
            f"workers and threads per worker must be at least 1, got {workers} and "
            f"{threads_per_worker}"
        )
    blocks = [
        [frames[i] for i in block]
        for block in np.array_split(np.arange(len(frames)), min(workers, max(len(frames), 1)))
        if len(block)
    ]
    if len(blocks) <= 1:
        model = _load(model_path, dtype, threads_per_worker)
        return predict_frames(model, frames, member_forces)
    context = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
    with ProcessPoolExecutor(max_workers=len(blocks), mp_context=context) as pool:
        futures = [
            pool.submit(
                _predict_block, str(model_path), block, threads_per_worker, dtype, member_forces
            )
            for block in blocks
        ]
        return [prediction for future in futures for prediction in future.result()]


def _load(model_path, dtype: str | None, threads: int) -> CommitteePotential:
    import torch

    torch.set_num_threads(threads)
    model = load_potential(model_path)
    if dtype:
        model.set_dtype(dtype)
    return model.eval()


def _predict_block(
    model_path: str, frames: list[Frame], threads: int, dtype: str | None, member_forces: bool
) -> list[Prediction]:
    return predict_frames(_load(model_path, dtype, threads), frames, member_forces)
