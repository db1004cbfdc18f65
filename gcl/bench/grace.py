"""``gcl bench grace``: GRACE node-level contrast evaluated by a linear probe."""
from __future__ import annotations

import torch

from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.eval import linear_probe
from gcl.methods.grace import GRACE, GRACEConfig
from gcl.train import TrainConfig, Trainer, resolve_device
from gcl.utils import seed_everything

DATASETS = ("cora", "citeseer", "pubmed")
PROTOCOL = (
    "Planetoid public split (20 labels per class for training, 500 validation, 1000 test); "
    "logistic-regression probe on frozen L2-normalised embeddings with weight decay chosen on "
    "validation accuracy; training epoch selected on validation probe accuracy; test reported "
    "once for the selected epoch; one seed"
)


def run(req: BenchRequest) -> BenchOutcome:
    """Train GRACE on ``req.dataset`` with the engine and probe the selected encoder."""
    from gcl.data import load

    overrides = dict(req.overrides)
    if req.epochs is not None:
        overrides["epochs"] = req.epochs
    cfg = GRACEConfig.for_dataset(req.dataset, overrides)
    device = resolve_device(req.device)
    data = load(req.dataset, root=req.root).to(device)
    x = data.x
    if cfg.normalize_features:  # PyG's NormalizeFeatures
        x = x / x.sum(1, keepdim=True).clamp(min=1e-12)
    x = x.to_sparse() if (x == 0).float().mean() > 0.9 else x  # bag-of-words: sparse products

    seed_everything(req.seed)
    gen = torch.Generator(device="cpu").manual_seed(req.seed)
    model = GRACE(x.size(1), cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def train_epoch(epoch: int) -> dict[str, float]:
        opt.zero_grad()
        loss = model.loss(x, data.edge_index, gen)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def validate(epoch: int) -> dict[str, float]:
        emb = model.embed(x, data.edge_index)
        res = linear_probe(emb, data.y, data.train_mask, data.val_mask)  # no test here
        return {"val_acc": res.val_acc}

    tcfg = TrainConfig(epochs=cfg.epochs, seed=req.seed, device=str(device), out_dir=str(req.out_dir),
                       eval_every=cfg.eval_every, monitor="val_acc", mode="max",
                       resume=req.resume, quiet=req.quiet)
    signature = {"method": "grace", "dataset": req.dataset, "seed": req.seed,
                 "config": {k: v for k, v in cfg.to_dict().items() if k != "epochs"}}
    result = Trainer(model, opt, train_epoch, validate, tcfg, generators={"views": gen},
                     signature=signature).fit()

    emb = model.embed(x, data.edge_index)  # the selected (best-validation) parameters
    final = linear_probe(emb, data.y, data.train_mask, data.val_mask, data.test_mask)
    metrics = {"val_acc": final.val_acc, "test_acc": final.test_acc,
               "probe_weight_decay": final.weight_decay, "best_epoch": float(result.best_epoch)}
    return BenchOutcome(PROTOCOL, cfg.to_dict(), metrics, result, str(device))
