"""Atomic energy network with attention coupling between element-resolved descriptor channels.

Each atom's descriptor is split into tokens, one per neighbour species (radial block) and, in the
angular block, one per pair of neighbour channels (``angular_tokens="channel_pairs"``) or one per
species pair holding all its channel pairs (``"species_pairs"``; the same tokens when the angular
channels are not resolved by bond length). Tokens are projected to a small width, tagged with
learned channel and centre-element embeddings, coupled by one multi-head self-attention layer
(residual), and the flattened result feeds an MLP whose last layer has one output per centre
element.
With ``message_layers > 0`` a :class:`~.messages.MessageBlock` (learned message passing between
neighbours within ``message_cutoff_angstrom``) adds its energy; it needs the pairs of every
configuration.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from .descriptors import DescriptorSpec
from .messages import MessageBlock, PairBatch


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """Hyperparameters of :class:`AttentionAtomicNetwork`."""

    token_dim: int = 16
    n_heads: int = 2
    hidden: tuple[int, ...] = (64, 64)
    attention: bool = True
    angular_tokens: str = "channel_pairs"
    #: message-passing layers between neighbours (0: none, the descriptor network alone)
    message_layers: int = 0
    message_width: int = 32
    message_basis_size: int = 8
    message_cutoff_angstrom: float = 4.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.angular_tokens not in ANGULAR_TOKENS:
            raise ValueError(
                f"angular_tokens must be one of {ANGULAR_TOKENS}, got {self.angular_tokens!r}"
            )
        if self.token_dim <= 0 or self.n_heads <= 0 or self.token_dim % self.n_heads:
            raise ValueError(
                f"token_dim ({self.token_dim}) must be a positive multiple of n_heads ({self.n_heads})"
            )
        if not self.hidden or min(self.hidden) <= 0:
            raise ValueError(f"hidden layer sizes must be positive: {self.hidden}")
        if self.message_layers < 0 or self.message_width <= 0 or self.message_basis_size <= 0:
            raise ValueError(
                "message_layers must be >= 0, message_width and message_basis_size positive: "
                f"{self.message_layers}, {self.message_width}, {self.message_basis_size}"
            )
        if not self.message_cutoff_angstrom > 0:
            raise ValueError(
                f"message_cutoff_angstrom must be positive, got {self.message_cutoff_angstrom}"
            )

    def as_dict(self) -> dict:
        return {
            "token_dim": self.token_dim,
            "n_heads": self.n_heads,
            "hidden": list(self.hidden),
            "attention": self.attention,
            "angular_tokens": self.angular_tokens,
            "message_layers": self.message_layers,
            "message_width": self.message_width,
            "message_basis_size": self.message_basis_size,
            "message_cutoff_angstrom": self.message_cutoff_angstrom,
        }

    @property
    def pair_cutoff_angstrom(self) -> float | None:
        """Cutoff of the pairs the network needs (``None``: no message passing)."""
        return self.message_cutoff_angstrom if self.message_layers else None


#: ways of cutting the angular block into attention tokens (see the module docstring)
ANGULAR_TOKENS = ("channel_pairs", "species_pairs")


def species_pair_groups(descriptor: DescriptorSpec) -> list[list[int]]:
    """Angular channel pairs (indices into the descriptor's angular tokens) grouped by shell and
    unordered species pair, in the order of the channel pairs' first appearance."""
    per_species = descriptor.angular_radial_order + 1
    rows, cols = torch.triu_indices(descriptor.n_angular_radial, descriptor.n_angular_radial)
    keys = list(zip((rows // per_species).tolist(), (cols // per_species).tolist(), strict=True))
    groups: list[list[int]] = []
    for shell in range(len(descriptor.angular_cutoffs)):
        offset = shell * len(keys)
        found: dict[tuple[int, int], list[int]] = {}
        for index, key in enumerate(keys):
            found.setdefault(key, []).append(offset + index)
        groups += list(found.values())
    return groups


class AttentionAtomicNetwork(nn.Module):
    """Per-atom energies (dimensionless) from normalised descriptors and centre species."""

    def __init__(self, descriptor: DescriptorSpec, spec: NetworkSpec) -> None:
        super().__init__()
        self.descriptor = descriptor
        self.spec = spec
        n_species, width = descriptor.n_species, spec.token_dim
        n_l = descriptor.angular_order + 1
        self.radial_projection = nn.Linear(descriptor.radial_order + 1, width)
        groups = species_pair_groups(descriptor)
        if spec.angular_tokens == "channel_pairs" or max(len(g) for g in groups) == 1:
            self.grouped = False
            self.n_tokens = n_species + descriptor.n_angular_channels
            self.angular_projection = nn.Linear(n_l, width)
        else:  # one token per species pair; its own projection of its channel pairs
            self.grouped = True
            self.n_tokens = n_species + len(groups)
            size = max(len(g) for g in groups)
            padding = descriptor.n_angular_channels  # index of an all-zero row
            index = [g + [padding] * (size - len(g)) for g in groups]
            self.register_buffer("group_index", torch.tensor(index), persistent=False)
            bound = 1.0 / math.sqrt(size * n_l)
            self.group_weight = nn.Parameter(
                torch.empty(len(groups), size * n_l, width).uniform_(-bound, bound)
            )
            self.group_bias = nn.Parameter(torch.empty(len(groups), width).uniform_(-bound, bound))
        self.channel_embedding = nn.Parameter(0.1 * torch.randn(self.n_tokens, width))
        self.centre_embedding = nn.Embedding(n_species, width)
        nn.init.normal_(self.centre_embedding.weight, std=0.1)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.attention_output = nn.Linear(width, width)
        layers: list[nn.Module] = []
        size = self.n_tokens * width
        for hidden in spec.hidden:
            layers += [nn.Linear(size, hidden), nn.SiLU()]
            size = hidden
        self.body = nn.Sequential(*layers)
        self.heads = nn.Linear(size, n_species)
        nn.init.zeros_(
            self.heads.weight
        )  # start from the linear model; the network learns the rest
        nn.init.zeros_(self.heads.bias)
        self.messages = None
        if spec.message_layers:
            self.messages = MessageBlock(
                descriptor.size,
                n_species,
                spec.message_layers,
                spec.message_width,
                spec.message_basis_size,
                spec.message_cutoff_angstrom,
            )

    def forward(
        self, features: torch.Tensor, species: torch.Tensor, pairs: PairBatch | None = None
    ) -> torch.Tensor:
        """``features`` (..., D) normalised descriptors, ``species`` (...) indices -> energies (...).

        With message passing ``features`` is (B, N, D) and ``pairs`` the batch's pairs.
        """
        energies = self._atomic(features, species)
        if self.messages is None:
            return energies
        if pairs is None or features.dim() != 3:
            raise ValueError("a network with message passing needs (B, N, D) features and pairs")
        return energies + self.messages(features, species, pairs)

    def _atomic(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        shape = features.shape[:-1]
        x = features.reshape(-1, features.shape[-1])
        z = species.reshape(-1)
        d = self.descriptor
        n_radial = d.radial_size
        radial = x[:, :n_radial].reshape(len(x), d.n_species, d.radial_order + 1)
        angular = x[:, n_radial:].reshape(len(x), d.n_angular_channels, d.angular_order + 1)
        if self.grouped:
            padded = torch.cat([angular, angular.new_zeros(len(x), 1, angular.shape[-1])], 1)
            gathered = padded[:, self.group_index].reshape(len(x), len(self.group_index), -1)
            angular_tokens = torch.einsum("bgk,gkw->bgw", gathered, self.group_weight)
            angular_tokens = angular_tokens + self.group_bias
        else:
            angular_tokens = self.angular_projection(angular)
        tokens = torch.cat([self.radial_projection(radial), angular_tokens], 1)
        tokens = tokens + self.channel_embedding + self.centre_embedding(z)[:, None, :]
        heads, width = self.spec.n_heads, self.spec.token_dim // self.spec.n_heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(len(x), self.n_tokens, heads, width).transpose(1, 2)

        if not self.spec.attention:
            hidden = self.body(tokens.reshape(len(x), -1))
            return self.heads(hidden).gather(1, z[:, None]).squeeze(1).reshape(shape)
        q, k, v = split(self.query(tokens)), split(self.key(tokens)), split(self.value(tokens))
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(width), dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(len(x), self.n_tokens, -1)
        tokens = tokens + self.attention_output(mixed)
        hidden = self.body(tokens.reshape(len(x), -1))
        energies = self.heads(hidden).gather(1, z[:, None]).squeeze(1)
        return energies.reshape(shape)
