"""Benchmark runs behind ``gcl bench``: one runner per method, shared result files.

``run_benchmark(request)`` checks the method and dataset names, runs the method's runner
on the training engine and writes ``result.json`` (config, metrics, per-epoch timings,
versions, device) and ``curve.png`` into ``request.out_dir``.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any

from gcl.bench.overrides import BenchUsageError, check_overrides
from gcl.bench.request import BenchOutcome, BenchRequest


@dataclass(frozen=True)
class MethodEntry:
    """A benchmarkable method.

    Attributes:
        runner: ``module:function`` taking a :class:`BenchRequest`, returning a :class:`BenchOutcome`.
        datasets: the dataset names it runs on.
        description: one line for listings.
        config: ``module:Class`` of its hyper-parameter dataclass; when given, ``--config``
            keys and value types are checked against it before anything runs.
        dataset_kind: also accept any dataset the registry serves with this kind (e.g.
            ``"sequences"``: every one-line-per-user file found in a data root).
    """

    runner: str
    datasets: tuple[str, ...]
    description: str
    config: str | None = None
    dataset_kind: str | None = None


#: OGB's molecule classification sets (binary tasks): the targets of molecular pre-training.
OGB_MOL_CLASSIFICATION: tuple[str, ...] = (
    "ogbg-molbace", "ogbg-molbbbp", "ogbg-molclintox", "ogbg-molhiv", "ogbg-molmuv",
    "ogbg-molpcba", "ogbg-molsider", "ogbg-moltox21", "ogbg-moltoxcast",
)

METHODS: dict[str, MethodEntry] = {
    "grace": MethodEntry("gcl.bench.grace:run", ("cora", "citeseer", "pubmed"),
                         "GRACE node-level contrast (GCN, edge drop + feature mask, InfoNCE), linear probe",
                         "gcl.methods.grace:GRACEConfig"),
    "pamc": MethodEntry("gcl.bench.pamc:run",
                        ("cora", "citeseer", "pubmed", "amazon-photo", "amazon-computers"),
                        "PamC deep clustering (pretrained MLP + DEC head, meta-node contrast), ACC/NMI/ARI/F1",
                        "gcl.methods.pamc:PamCConfig"),
    "scgc-star": MethodEntry("gcl.bench.pamc:run_scgc_star",
                             ("cora", "citeseer", "pubmed", "amazon-photo", "amazon-computers"),
                             "SCGC* deep clustering (PamC's pipeline with the exact node-level contrast)",
                             "gcl.methods.pamc:PamCConfig"),
    "lightgcn": MethodEntry("gcl.bench.cf:run", ("gowalla", "gowalla-5k", "yelp2018", "amazon-book"),
                            "LightGCN + BPR recommendation, full-ranking Recall/NDCG@20,40",
                            "gcl.methods.lightgcn:LightGCNConfig"),
    "sgl": MethodEntry("gcl.bench.cf:run", ("gowalla", "gowalla-5k", "yelp2018", "amazon-book"),
                       "SGL (LightGCN + edge/node dropout or per-layer views, InfoNCE), full ranking",
                       "gcl.methods.sgl:SGLConfig"),
    "lightgcl": MethodEntry("gcl.bench.cf:run", ("gowalla", "gowalla-5k", "yelp2018", "amazon-book"),
                            "LightGCL (LightGCN + SVD-view InfoNCE), full-ranking Recall/NDCG@20,40",
                            "gcl.methods.lightgcl:LightGCLConfig"),
    "meow": MethodEntry("gcl.bench.meow:run", ("acm", "imdb", "dblp", "aminer", "freebase"),
                        "MEOW heterogeneous GCL (meta-path contexts, cluster-weighted InfoNCE + ProtoNCE), "
                        "HeCo probe + k-means", "gcl.methods.meow:MEOWConfig"),
    "adameow": MethodEntry("gcl.bench.meow:run_adameow", ("acm", "imdb", "dblp", "aminer", "freebase"),
                           "AdaMEOW heterogeneous GCL (learned negative weights, block form), HeCo probe + k-means",
                           "gcl.methods.adameow:AdaMEOWConfig"),
    "sasrec": MethodEntry("gcl.bench.seqrec:run", ("beauty", "toys"),
                          "SASRec next-item recommendation (cross-entropy over all items), full-ranking HR/NDCG/MRR",
                          "gcl.methods.sasrec:SASRecConfig", dataset_kind="sequences"),
    "cl4srec": MethodEntry("gcl.bench.seqrec:run", ("beauty", "toys"),
                           "CL4SRec (SASRec-CE + crop/mask/reorder views, NT-Xent), full-ranking HR/NDCG/MRR",
                           "gcl.methods.cl4srec:CL4SRecConfig", dataset_kind="sequences"),
    "mclrec": MethodEntry("gcl.bench.seqrec:run", ("beauty", "toys"),
                          "MCLRec (CL4SRec views + learnable augmenters, three-step update), full-ranking "
                          "HR/NDCG/MRR", "gcl.methods.mclrec:MCLRecConfig", dataset_kind="sequences"),
    "graphcl": MethodEntry("gcl.bench.mol:run", OGB_MOL_CLASSIFICATION,
                           "GraphCL molecular pre-training (GIN, node drop / subgraph views, NT-Xent), then "
                           "scaffold-split fine-tuning over seeds, ROC-AUC", "gcl.bench.mol:GraphCLBenchConfig"),
    "dsla": MethodEntry("gcl.bench.mol:run", OGB_MOL_CLASSIFICATION,
                        "D-SLA molecular pre-training (GIN, perturbed candidates, discriminator + edit + margin "
                        "losses), then scaffold-split fine-tuning over seeds, ROC-AUC",
                        "gcl.bench.mol:DSLABenchConfig"),
    "mol-scratch": MethodEntry("gcl.bench.mol:run_scratch", OGB_MOL_CLASSIFICATION,
                               "no pre-training: the same GIN fine-tuned from scratch over seeds, ROC-AUC",
                               "gcl.bench.mol:ScratchBenchConfig"),
}



def _serves_kind(entry: MethodEntry, req: BenchRequest) -> bool:
    """Whether the registry resolves ``req.dataset`` to a dataset of ``entry.dataset_kind``."""
    if entry.dataset_kind is None:
        return False
    from gcl.data import UnknownDatasetError, find

    try:
        family, _ = find(req.dataset, req.root)
    except UnknownDatasetError:
        return False
    return family.kind == entry.dataset_kind


def check_request(req: BenchRequest) -> MethodEntry:
    """Check the method, the dataset and the ``--config`` overrides of a request.

    Raises:
        BenchUsageError: the message names what is wrong and lists the valid choices.
    """
    entry = METHODS.get(req.method.lower())
    if entry is None:
        raise BenchUsageError(f"unknown method {req.method!r}; valid methods: {', '.join(sorted(METHODS))}")
    if req.dataset.lower() not in entry.datasets and not _serves_kind(entry, req):
        kind = f" or any {entry.dataset_kind} dataset in a data root" if entry.dataset_kind else ""
        raise BenchUsageError(
            f"method {req.method!r} does not run on dataset {req.dataset!r}; valid datasets: "
            + ", ".join(entry.datasets) + kind
        )
    if entry.config is not None:
        module, cls = entry.config.split(":")
        check_overrides(req.method.lower(), getattr(importlib.import_module(module), cls), req.overrides)
    return entry


def run_benchmark(req: BenchRequest) -> dict[str, Any]:
    """Run one benchmark and write its result files; returns the ``result.json`` record."""
    from gcl.bench.report import plot_curve, result_record, write_result
    from gcl.train.distributed import is_main_process

    entry = check_request(req)
    req.method, req.dataset = req.method.lower(), req.dataset.lower()
    module, func = entry.runner.split(":")
    runner = getattr(importlib.import_module(module), func)
    main = is_main_process()  # under torchrun, rank 0 alone writes files
    if main:
        req.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    outcome: BenchOutcome = runner(req)
    record = result_record(req, outcome, time.perf_counter() - t0)
    if main:
        write_result(req.out_dir / "result.json", record)
    if main and outcome.train.history:
        plot_curve(req.out_dir / "curve.png", outcome.train.history, f"{req.method} on {req.dataset}")
    return record


__all__ = ["BenchOutcome", "BenchRequest", "BenchUsageError", "METHODS", "MethodEntry", "check_overrides",
           "check_request", "run_benchmark"]
__all__ += ["OGB_MOL_CLASSIFICATION"]
