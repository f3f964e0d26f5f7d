"""Stress tensors from strain derivatives, and their traceless (deviatoric) part, shared by the
networks' loss, the metrics, the predictions and the kernel member's fit."""

from __future__ import annotations

import torch

#: row and column indices of the six components of a symmetric 3x3 tensor (upper triangle)
UPPER_TRIANGLE = ((0, 1, 2, 0, 0, 1), (0, 1, 2, 1, 2, 2))


def deviatoric(stress: torch.Tensor) -> torch.Tensor:
    """The traceless part of stress tensors (..., 3, 3)."""
    trace = torch.diagonal(stress, dim1=-2, dim2=-1).sum(-1)
    return stress - trace[..., None, None] / 3 * torch.eye(3, dtype=stress.dtype)


def virial_stress(strain_gradient: torch.Tensor, volume: torch.Tensor | float) -> torch.Tensor:
    """The stress ``sym(∂E/∂ε) / V`` (ASE sign) of energy gradients with respect to the strain
    (..., 3, 3); ``volume`` broadcasts against them."""
    return 0.5 * (strain_gradient + strain_gradient.transpose(-1, -2)) / volume
