"""RESULTS.md sections of the sequential-recommendation quality runs (registered in
``benchmarks/results_md.py``): ``rec_<method>_<dataset>.json`` from ``benchmarks/rec/run_mclrec.py``."""
from __future__ import annotations

import json
from pathlib import Path

from measured import MCLREC_PAPER_BEAUTY, seeds_cell, selected_epochs

RESULTS = Path(__file__).resolve().parents[1] / "results"

METHOD_NAMES = {"sasrec": "SASRec", "cl4srec": "CL4SRec", "mclrec": "MCLRec", "mclrec-j": "MCLRec (joint)"}
KEYS = ("hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20")
#: Issue targets on Beauty (the MCLRec paper's own figures): HR@20 and NDCG@20.
MCLREC_TARGETS = {"hr@20": 0.1243, "ndcg@20": 0.0539}


def seqrec_quality_section(r: dict) -> list[str]:
    """Test HR/NDCG over seeds of one method on one dataset, with the paper's row where there is one."""
    name = METHOD_NAMES.get(r["method"], r["method"])
    runs = r["runs"]
    cfg = runs[0]["config"]
    epochs = selected_epochs(runs)
    s_epoch = sum(x["train_s_per_epoch"] for x in runs) / len(runs)
    subset = f" (first {r['users']} users only: a smoke run, not a result)" if r.get("users") else ""
    lines = [f"## {name} on {r['dataset']}: next-item quality{subset}", "",
             f"Command: `python {r['command']}`  ",
             f"Protocol: {r['protocol']}.  ",
             f"Model: d {cfg['dim']}, {cfg['num_layers']} blocks, {cfg['heads']} heads, max length {cfg['max_len']}, "
             f"batch {cfg['batch_size']}, Adam lr {cfg['lr']:g}, epoch cap {cfg['epochs']}; seeds {r['seeds']}; "
             f"selected epoch (of epochs run) {epochs}; {s_epoch:.0f} s per training epoch on {r['device']} "
             f"(torch {r['torch']}).", "",
             "| row | seeds | " + " | ".join(k.upper() for k in KEYS) + " |",
             "|---|---|" + "---|" * len(KEYS)]
    t = r["test_mean_std"]
    lines.append(f"| gcl {name} | {len(r['seeds'])} | "
                 + " | ".join(seeds_cell(t[k], len(runs)) for k in KEYS) + " |")
    paper = MCLREC_PAPER_BEAUTY.get(r["method"]) if r["dataset"] == "beauty" else None
    if paper:
        lines.append("| MCLRec paper, Table 3 | 1 | " + " | ".join(f"{v:.4f}" for v in paper) + " |")
    lines.append("")
    cut = [x["seed"] for x in runs if str(x.get("stopped_by", "")).startswith("time budget")]
    if cut:
        lines += [f"Seed(s) {cut}: training was cut by the time budget before patience ran out, so the selected "
                  "epoch is the best of a truncated run, not of a converged one.", ""]
    if r["method"] == "mclrec" and r["dataset"] == "beauty" and not r.get("users"):
        verdict = ", ".join(f"{k.upper()} {t[k]['mean']:.5f} vs >= {v:.4f}: {'met' if t[k]['mean'] >= v else 'MISSED'}"
                            for k, v in MCLREC_TARGETS.items())
        n = int(runs[0]["test"]["n_users"])
        p = t["hr@20"]["mean"]
        lines += [f"Targets (paper's MCLRec): {verdict}. For scale: the binomial standard error of one run's HR@20 "
                  f"over its {n:,} test users is {(p * (1 - p) / n) ** 0.5:.4f}.", ""]
        sasrec = _ours("sasrec", r["dataset"], r["protocol"])
        if sasrec:
            versus = ", ".join(f"{k.upper()} {t[k]['mean']:.4f} vs {sasrec[k]['mean']:.4f} "
                               f"({'above' if t[k]['mean'] > sasrec[k]['mean'] else 'NOT above'})"
                               for k in ("hr@5", "hr@20", "ndcg@5", "ndcg@20"))
            lines += [f"Against our SASRec (`rec_sasrec_{r['dataset']}.json`, same protocol): {versus}.", ""]
    return lines


def _ours(method: str, dataset: str, protocol: str) -> dict | None:
    """Test mean/std of our own ``method`` on ``dataset`` if it was run under the same protocol."""
    path = RESULTS / f"rec_{method}_{dataset}.json"
    if not path.exists():
        return None
    other = json.loads(path.read_text())
    return other["test_mean_std"] if other["protocol"] == protocol and not other.get("users") else None


PARITY_KEYS = ("hr@5", "hr@20", "ndcg@5", "ndcg@20", "mrr@10")


def recbole_parity_section(r: dict) -> list[str]:
    """RecBole adapter against the standalone model (``recbole_parity_<method>.json``)."""
    st, d = r["settings"], r["data"]
    name = METHOD_NAMES.get(st["method"], st["method"])
    lines = [f"## {name} through the RecBole adapter vs standalone gcl: test quality ({st['dataset']}, "
             f"first {st['users']} users)", "",
             f"Command: `{r['command']}`  ",
             f"Data: the first {d['users']} lines of {st['dataset']} with items renumbered by first appearance "
             f"({d['items']:,} items, {d['actions']:,} actions), so that both sides rank the same catalogue.  ",
             f"Protocol (both sides): leave-one-out, full ranking over all items, history not masked, validation "
             f"MRR@10 every epoch, epoch cap {st['epochs']}, patience {st['patience']}, best epoch restored, test "
             f"evaluated once; seeds {st['seeds']} (RecBole's `seed` on the adapter side). "
             f"Device {r['device']}, {r['torch_threads']} torch thread(s), torch {r['torch']}.  ",
             f"Criterion: {r['criterion']}." + (f"  \nNote: {r['note']}." if r.get("note") else ""), "",
             "| side | seeds | selected epoch (of run) | s / epoch | " + " | ".join(k.upper() for k in PARITY_KEYS)
             + " |", "|---|---|---|---|" + "---|" * len(PARITY_KEYS)]
    labels = {"native": f"gcl {name} (standalone)", "recbole": f"gcl.rec.recbole {name} in RecBole 1.2.1"}
    for side in ("native", "recbole"):
        s = r["sides"].get(side)
        if not s:
            continue
        t, runs = s["test_mean_std"], s["runs"]
        epochs = ", ".join(f"{x['selected_epoch']} ({x['epochs_run']})" for x in runs)
        per = sum(x["s_per_epoch"] for x in runs) / len(runs)
        lines.append(f"| {labels[side]} | {len(runs)} | {epochs} | {per:.1f} | "
                     + " | ".join(f"{t[k]['mean']:.4f} ± {t[k]['std']:.4f}" for k in PARITY_KEYS) + " |")
    lines.append("")
    v = r.get("verdict") or {}
    if v:
        lines += ["Difference of the means (standalone − adapter) against twice its standard error: "
                  + "; ".join(f"{k.upper()} {v[k]['diff']:+.4f} (2 SE {2 * v[k]['se']:.4f}, "
                              f"{'within noise' if v[k]['within_noise'] else 'OUTSIDE noise'})" for k in PARITY_KEYS)
                  + ".", "",
                  "s / epoch: standalone = training only; adapter = wall time per epoch, RecBole's validation "
                  "included.", ""]
    return lines
