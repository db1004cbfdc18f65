"""``gcl bench grace``: GRACE node-level contrast evaluated by a linear probe."""
from __future__ import annotations

import torch

from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.eval import linear_probe
from gcl.methods.grace import GRACE, GRACEConfig
from gcl.train import TrainConfig, Trainer, resolve_device
from gcl.train.distributed import data_parallel, shard, world_size
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

    # Under torchrun (W ranks) every rank draws the same views, takes its share of the anchor
    # nodes (a fixed partition drawn once from the seed: nothing to checkpoint) and contrasts
    # them with the nodes of every rank; DDP's gradient average is then the gradient of the
    # full-batch loss (gcl.losses.sharded). Alone, `step` is `model.loss` on all nodes.
    step = data_parallel(model, "loss")
    anchors = None
    if world_size() > 1:
        anchors = shard(x.size(0), torch.Generator().manual_seed(req.seed), mode="split").to(device)

    def train_epoch(epoch: int) -> dict[str, float]:
        opt.zero_grad()
        loss = step(x, data.edge_index, gen, anchors)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    if cfg.batch_size is not None:  # mini-batches of sampled subgraphs (gcl.methods.minibatch)
        train_epoch = _minibatch_epoch(model, opt, data, x, cfg, gen)

    def validate(epoch: int) -> dict[str, float]:
        emb = model.embed(x, data.edge_index)
        res = linear_probe(emb, data.y, data.train_mask, data.val_mask)  # no test here
        return {"val_acc": res.val_acc}

    tcfg = TrainConfig(epochs=cfg.epochs, seed=req.seed, device=str(device), out_dir=str(req.out_dir),
                       eval_every=cfg.eval_every, monitor="val_acc", mode="max",
                       resume=req.resume, quiet=req.quiet)
    minibatch_keys = () if cfg.batch_size is not None else ("batch_size", "num_neighbors")
    signature = {"method": "grace", "dataset": req.dataset, "seed": req.seed,
                 "config": {k: v for k, v in cfg.to_dict().items()
                            if k != "epochs" and k not in minibatch_keys}}
    result = Trainer(model, opt, train_epoch, validate, tcfg, generators={"views": gen},
                     signature=signature).fit()

    emb = model.embed(x, data.edge_index)  # the selected (best-validation) parameters
    final = linear_probe(emb, data.y, data.train_mask, data.val_mask, data.test_mask)
    metrics = {"val_acc": final.val_acc, "test_acc": final.test_acc,
               "probe_weight_decay": final.weight_decay, "best_epoch": float(result.best_epoch)}
    return BenchOutcome(PROTOCOL, cfg.to_dict(), metrics, result, str(device))


def _minibatch_epoch(model: GRACE, opt: torch.optim.Optimizer, data, x: torch.Tensor,
                     cfg: GRACEConfig, gen: torch.Generator):
    """``train_epoch`` over neighbour-sampled batches; sampling draws from ``gen`` (checkpointed)."""
    from torch_geometric.data import Data

    from gcl.data.sampling import neighbor_loader
    from gcl.methods.minibatch import grace_batch_loss, train_epoch_on_batches

    if world_size() > 1:
        raise ValueError("GRACE config batch_size (mini-batch training) runs in one process; "
                         "drop batch_size or run without torchrun")
    graph = Data(x=x.to_dense() if x.is_sparse else x, edge_index=data.edge_index, num_nodes=data.num_nodes)
    loader = neighbor_loader(graph, list(cfg.num_neighbors), batch_size=cfg.batch_size, shuffle=True,
                             generator=gen)

    def train_epoch(epoch: int) -> dict[str, float]:
        return train_epoch_on_batches(loader, opt, lambda batch: grace_batch_loss(model, batch, gen))

    return train_epoch
