"""RESULTS.md sections of the sequential-recommendation quality runs (registered in
``benchmarks/results_md.py``): ``rec_<method>_<dataset>.json`` from ``benchmarks/rec/run_mclrec.py``."""
from __future__ import annotations

from measured import MCLREC_PAPER_BEAUTY

METHOD_NAMES = {"sasrec": "SASRec", "cl4srec": "CL4SRec", "mclrec": "MCLRec", "mclrec-j": "MCLRec (joint)"}
KEYS = ("hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20")
#: Issue targets on Beauty (the MCLRec paper's own figures): HR@20 and NDCG@20.
MCLREC_TARGETS = {"hr@20": 0.1243, "ndcg@20": 0.0539}


def seqrec_quality_section(r: dict) -> list[str]:
    """Test HR/NDCG over seeds of one method on one dataset, with the paper's row where there is one."""
    name = METHOD_NAMES.get(r["method"], r["method"])
    runs = r["runs"]
    cfg = runs[0]["config"]
    epochs = ", ".join(f"{x['selected_epoch']} of {x['epochs_run']}" for x in runs)
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
                 + " | ".join(f"{t[k]['mean']:.4f} ± {t[k]['std']:.4f}" for k in KEYS) + " |")
    paper = MCLREC_PAPER_BEAUTY.get(r["method"]) if r["dataset"] == "beauty" else None
    if paper:
        lines.append("| MCLRec paper, Table 3 | 1 | " + " | ".join(f"{v:.4f}" for v in paper) + " |")
    lines.append("")
    if r["method"] == "mclrec" and r["dataset"] == "beauty" and not r.get("users"):
        verdict = ", ".join(f"{k.upper()} {t[k]['mean']:.4f} vs >= {v:.4f}: {'met' if t[k]['mean'] >= v else 'MISSED'}"
                            for k, v in MCLREC_TARGETS.items())
        lines += [f"Targets (paper's MCLRec): {verdict}.", ""]
    return lines
