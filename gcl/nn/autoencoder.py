"""The SDCN / DEC autoencoder and its pretraining, whose encoder initialises SCGC* and PamC.

Architecture (SDCN): encoder ``F-500-500-2000-10`` and the mirrored decoder ``10-2000-500-500-F``,
ReLU between layers, linear outputs on both ends:

    Z = f(X),   X̂ = g(Z),   L_AE = (1/(N F)) Σ_i ‖x_i − x̂_i‖²   (mean squared error)

Pretraining recipe (SDCN): Adam (lr 1e-3), mini-batches of 256 rows drawn by a shuffled pass
over the nodes, 30 epochs. The trained weights are cached per input and seed under
``$GCL_CACHE/autoencoder/`` (key: a hash of the features and every setting), written
atomically, so the ten seeds of a benchmark pretrain once each and every method that starts
from the same seed starts from the same encoder.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from gcl.data.paths import cache_root
from gcl.nn.mlp import MLP
from gcl.utils.atomic import atomic_write


class AutoEncoder(nn.Module):
    """MLP autoencoder with a mirrored decoder (ReLU between layers).

    Args:
        in_channels: F.
        hidden: encoder hidden sizes (SDCN: 500, 500, 2000); the decoder uses them reversed.
        latent: embedding size d (10).

    Shapes:
        ``forward(x [N, F]) -> (x_hat [N, F], z [N, d])``
    """

    def __init__(self, in_channels: int, hidden: Sequence[int] = (500, 500, 2000), latent: int = 10):
        super().__init__()
        self.encoder = MLP([in_channels, *hidden, latent], nn.ReLU)
        self.decoder = MLP([latent, *reversed(tuple(hidden)), in_channels], nn.ReLU)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)
        return self.decoder(z), z


@dataclass(frozen=True)
class PretrainConfig:
    """SDCN's autoencoder pretraining recipe.

    Attributes:
        hidden: encoder hidden sizes.
        latent: embedding size.
        epochs: passes over the nodes.
        batch_size: rows per step.
        lr: Adam learning rate.
    """

    hidden: tuple[int, ...] = (500, 500, 2000)
    latent: int = 10
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or not self.lr > 0 or self.latent < 1:
            raise ValueError(f"invalid pretraining settings {self}")


def _cache_path(x: Tensor, cfg: PretrainConfig, seed: int) -> Path:
    h = hashlib.sha1()
    h.update(x.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    h.update(json.dumps({**asdict(cfg), "shape": list(x.shape), "seed": seed}, sort_keys=True).encode())
    return cache_root() / "autoencoder" / f"ae-{h.hexdigest()[:20]}.pt"


def pretrain_autoencoder(x: Tensor, config: PretrainConfig | None = None, *, seed: int = 0,
                         cache: bool = True) -> AutoEncoder:
    """Pretrain (or load from the cache) an :class:`AutoEncoder` on the rows of ``x``.

    Weights are initialised and the batches shuffled from ``seed`` alone (torch's global RNG is
    left untouched), so the result depends only on ``x``, ``config`` and ``seed``.

    Args:
        x: [N, F] dense float features (the device of training and of the result).
        config: recipe (SDCN's by default).
        seed: seed of the initialisation and of the shuffling.
        cache: read and write the cache (``$GCL_CACHE/autoencoder``).

    Returns:
        the trained autoencoder in eval mode, on ``x``'s device.
    """
    cfg = config or PretrainConfig()
    if x.dim() != 2 or x.is_sparse:
        raise ValueError(f"x must be a dense [N, F] tensor, got {tuple(x.shape)} ({x.layout})")
    x = x.float()
    path = _cache_path(x, cfg, seed) if cache else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoEncoder(x.size(1), cfg.hidden, cfg.latent)
    model = model.to(x.device)
    if path is not None and path.exists():
        model.load_state_dict(torch.load(path, map_location=x.device, weights_only=True))
        return model.eval()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    n = x.size(0)
    with torch.enable_grad():
        for _ in range(cfg.epochs):
            order = torch.randperm(n, generator=gen).to(x.device)
            for start in range(0, n, cfg.batch_size):  # a loop over mini-batches
                batch = x[order[start:start + cfg.batch_size]]
                x_hat, _ = model(batch)
                loss = torch.nn.functional.mse_loss(x_hat, batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
    model.eval()
    if path is not None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        with atomic_write(path, "wb") as fh:
            torch.save(state, fh)
    return model
