"""Regenerate ``benchmarks/RESULTS.md`` from the JSON files in ``benchmarks/results/``.

Every figure in RESULTS.md comes from a JSON file that a benchmark script wrote; nothing is
typed in by hand. Run directly to rebuild the page: ``python benchmarks/results_md.py``. The same
command draws the plots embedded in it (``PLOTS``, functions of ``benchmarks/plots.py``, PNGs
beside the JSON files) and refreshes the "Measured against the paper" blocks of the method
pages in ``docs/methods/`` (``benchmarks/measured.py``).
"""
from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import measured  # noqa: E402  (the measured-vs-paper blocks of docs/methods/*.md)
import plots  # noqa: E402  (one function per figure)


def _grace_section(r: dict) -> list[str]:
    lines = [f"## {r['title']}", "",
             f"Command: `{r['command']}`  ", f"Protocol: {r['protocol']}.  ",
             f"Device: {r['device'].get('device')} ({r['device'].get('cpu_threads')} threads), "
             f"torch {r['versions']['torch']}, gcl {r['versions']['gcl']}.", "",
             "| seed | test acc | val acc | selected epoch | mean epoch (s) | whole command (s) |",
             "|---|---|---|---|---|---|"]
    for run in r["runs"]:
        lines.append(f"| {run['seed']} | {run['test_acc']:.4f} | {run['val_acc']:.4f} | "
                     f"{run['selected_epoch']} | {run['mean_epoch_s']:.3f} | {run['process_wall_s']:.1f} |")
    lines += ["", f"Test accuracy {r['test_acc_mean']:.4f} ± {r['test_acc_std']:.4f} "
              f"(mean ± std over {len(r['runs'])} seeds); slowest whole command "
              f"{r['process_wall_s_max']:.1f} s. Targets: "
              + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in r["targets"].items())
              + f". Anchor: {r['anchor']}.", ""]
    return lines


def _views_section(r: dict) -> list[str]:
    lines = [f"## {r['title']}", "",
             f"Command: `{r['command']}`  ", f"Data: {r['dataset']} ({r['num_nodes']} nodes, "
             f"{r['num_edges']} directed edges).  ",
             f"Timing: {r['timing']}.  ", f"Baseline: {r['baseline']}.  ",
             f"Device: {r['device']}, {r['torch_threads']} torch thread(s), torch {r['torch']}, "
             f"1-min load average during the run {r['load_average_1min']:.2f}.", "",
             "| view | ours (ms) | per-graph loop (ms) | speed-up | target |", "|---|---|---|---|---|"]
    for name, op in r["ops"].items():
        met = r["targets"].get(f"{name} >= {r['target_speedup']:g}x")
        lines.append(f"| `{op['ours']}` ({op['settings']}) | {op['ours_ms']:.2f} | {op['loop_ms']:.1f} | "
                     f"{op['speedup']:.1f}x | >= {r['target_speedup']:g}x: {'met' if met else 'MISSED'} |")
    return lines + [""]


def _infonce_memory_section(r: dict) -> list[str]:
    dev = r["device"]
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ",
             f"Protocol: {r['protocol']}.  ",
             f"Device: {dev['device']}, {dev['cpu_threads']} threads, torch {r['versions']['torch']}. "
             f"Target: {r['target']}.", "",
             "| N | d | mode | chunk | peak memory (MiB) | forward + backward (s) |", "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if row["status"] == "ok":
            lines.append(f"| {row['N']:,} | {row['d']} | {row['mode']} | {row['chunk'] or '-'} | "
                         f"{row['peak_mib']:,.0f} | {row['time_s']:.1f} |")
        else:
            lines.append(f"| {row['N']:,} | {row['d']} | {row['mode']} | {row.get('chunk') or '-'} | "
                         f"not run: {row.get('reason', row['status'])} | - |")
    return lines + [""]


def _speed_recbole_section(r: dict) -> list[str]:
    d, st = r["dataset"], r["settings"]
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ",
             f"Data: {d['name']} ({d['users']:,} users, {d['items']:,} items, {d['train']:,} train "
             f"interactions; validation carved from train), {st['batches_per_epoch']} batches per epoch.  ",
             f"Settings: d {st['dim']}, {st['num_layers']} layers, batch {st['batch_size']}, BPR with "
             f"{st['negatives_per_positive']} negative, {st['optimizer']} lr {st['lr']:g}, L2 {st['reg_weight']:g}; "
             f"SGL {st['sgl']['aug'].upper()} ratio {st['sgl']['ratio']:g}, tau {st['sgl']['tau']:g}, "
             f"ssl weight {st['sgl']['ssl_weight']:g}, {st['sgl']['negatives']} users/items as negatives.  ",
             f"Timing: {r['timing']}.  ",
             f"Device: {r['device']}, {r['torch_threads']} torch thread(s); torch {r['versions']['torch']}, "
             f"RecBole {r['versions']['recbole']}, numpy {r['versions']['numpy']}; load average at the end "
             f"{r['load_average'][0]:.2f}.", "",
             "| model | RecBole s/epoch | gcl s/epoch | RecBole s/batch | gcl s/batch | epoch speed-up | "
             f"target >= {r['target_speedup']:g}x |", "|---|---|---|---|---|---|---|"]
    for name, m in r["models"].items():
        lines.append(f"| {name} | {m['recbole']['epoch_s']:.1f} | {m['gcl']['epoch_s']:.1f} | "
                     f"{m['recbole']['per_batch_s']:.3f} | {m['gcl']['per_batch_s']:.3f} | "
                     f"{m['speedup']:.2f}x | {'met' if m['target_met'] else 'MISSED'} |")
    return lines + [""]


def _speed_lightgcl_section(r: dict) -> list[str]:
    d, c, ev, tr = r["dataset"], r["config"], r["evaluation"], r["training"]
    sub = f", seeded {d['subsample_users']:,}-user subsample" if d.get("subsample_users") else ""
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ",
             f"Data: {d['name']}{sub} ({d['users']:,} users, {d['items']:,} items, {d['train']:,} train, "
             f"{d['test']:,} test; split {d['split_hash']}).  ",
             f"Settings: `{c['preset']}` preset (d {c['dim']}, L {c['num_layers']}, q {c['rank']}, batch "
             f"{c['batch_size']}, lambda1 {c['lambda1']:g}, lambda2 {c['lambda2']:g}, tau {c['tau']:g}, "
             f"{c['negatives']} negatives).  ",
             f"Parity on a tiny graph: largest loss difference "
             f"{max(p['abs_diff'] for p in r['parity'].values()):.1e}, gradient difference "
             f"{max(p['max_grad_diff'] for p in r['parity'].values()):.1e}.  ",
             f"Timing: {r['timing']}.  ",
             f"Device: {r['device']}, {r['torch_threads']} torch thread(s), torch {r['versions']['torch']}; "
             f"load average at the end {r['load_average'][0]:.2f}.", "",
             "| what | reference (s) | gcl (s) | speed-up | target |", "|---|---|---|---|---|"]
    t = r["targets"]
    lines.append(f"| full-ranking evaluation (test, R/N@20,40) | {ev['reference_s']:.1f} | {ev['gcl_s']:.2f} | "
                 f"{ev['speedup']:.1f}x | >= {t['evaluation']:g}x: {'met' if ev['target_met'] else 'MISSED'} |")
    lines.append(f"| ... reference ranking only (no per-user metric loop) | {ev['reference_ranking_only_s']:.1f} | "
                 f"{ev['gcl_s']:.2f} | {ev['speedup_vs_ranking_only']:.1f}x | - |")
    if tr is not None:
        lines.append(f"| training epoch ({tr['batches_per_epoch']} batches, estimated) | "
                     f"{tr['reference']['epoch_s']:.0f} | {tr['gcl']['epoch_s']:.0f} | {tr['speedup']:.2f}x | "
                     f">= {t['epoch']:g}x: {'met' if tr['target_met'] else 'MISSED'} |")
        lines.append(f"| ... one training batch | {tr['reference']['per_batch_s']:.2f} | "
                     f"{tr['gcl']['per_batch_s']:.2f} | {tr['per_batch_speedup']:.2f}x | - |")
    m_g, m_r = ev["metrics_gcl"], ev["metrics_reference"]
    lines += ["", f"Both evaluations rank from the same parameters: Recall@20 {m_g['recall@20']:.4f} (gcl) vs "
              f"{m_r['recall@20']:.4f} (reference), NDCG@20 {m_g['ndcg@20']:.4f} vs {m_r['ndcg@20']:.4f} "
              "(untrained model; a speed check, not a quality result).", ""]
    return lines


def _pct(s: dict) -> str:
    return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}"


def _pamc_quality_section(r: dict) -> list[str]:
    if not r.get("summary"):  # an epoch-timing-only run
        return ["## PamC vs SCGC* training epoch time (same encoder and data)", "",
                f"Command: `{r['command'].strip()}`  ",
                f"Device: {r['device']['device']}, {r['device']['torch_threads']} torch thread(s), torch "
                f"{r['torch']}; full epochs (forward, loss, backward, Adam step), interleaved.", ""] \
            + _pamc_epoch_lines(r) + [""]
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ", f"Protocol: {r['protocol']}.  ",
             f"Device: {r['device']['device']}, {r['device']['torch_threads']} torch thread(s), torch {r['torch']}.", ""]
    names = {"last": "last epoch (primary)", "lossmin": "lowest training loss",
             "valsel": "best validation ACC (other 90 %)", "optimistic": "optimistic per-metric max (labels)",
             "kmeans_ae": "K-means on AE embeddings (floor)"}
    for dataset, methods in r.get("summary", {}).items():
        cfg = next(x["config"] for x in r["runs"] if x["dataset"] == dataset)
        lines += [f"**{dataset}** (α {cfg['alpha']:g}, β {cfg['beta']:g}, r {cfg['r']}, τ {cfg['tau']:g}, "
                  f"lr {cfg['lr']:g}, {cfg['epochs']} epochs; %, mean ± std over seeds)", "",
                  "| method | protocol | seeds | ACC | NMI | ARI | F1 | train s/epoch |", "|---|---|---|---|---|---|---|---|"]
        for method, s in methods.items():
            label = "PamC" if method == "pamc" else "SCGC* (chunked)"
            for p, pname in names.items():
                if p == "kmeans_ae" and method != "pamc":
                    continue
                lines.append(f"| {label if p != 'kmeans_ae' else 'K-means'} | {pname} | {len(s['seeds'])} | "
                             + " | ".join(_pct(s[f'{p}_{m}']) for m in ("acc", "nmi", "ari", "f1"))
                             + f" | {s['mean_train_epoch_s']:.2f} |")
        for name, a in r.get("anchors", {}).get(dataset, {}).items():
            lines.append(f"| {name} (anchor) | published | - | " + " | ".join(f"{v:.2f}" for v in a) + " | - |")
        lines.append("")
    if r.get("targets"):
        lines += ["Targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in r["targets"].items())
                  + f". {r.get('anchor_note', '')}.", ""]
    return lines + _pamc_epoch_lines(r) + [""]


def _pamc_epoch_lines(r: dict) -> list[str]:
    lines = []
    for e in r.get("epoch_time", []):
        med = e["median_epoch_s"]
        lines.append(f"Epoch time on {e['dataset']} (r {e['r']}, nnz(Â) {e['nnz']:,}; median of {e['runs']} "
                     f"interleaved epochs; load average {e['load_average'][0]:.1f}): PamC {med['pamc']:.3f} s, "
                     f"SCGC* chunked {med['scgc']:.3f} s ({e['scgc_chunked_over_pamc']:.2f}x), SCGC* naive "
                     f"dense {med['scgc-dense']:.3f} s ({e['scgc_dense_over_pamc']:.2f}x).  ")
    return lines


def _pamc_scaling_section(r: dict) -> list[str]:
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ", f"Protocol: {r['protocol']}.  ",
             f"Device: {r['device']['device']}, {r['device']['torch_threads']} torch thread, torch "
             f"{r['versions']['torch']}; whole run {r['wall_s'] / 60:.1f} min; load average at the end "
             f"{r['load_average_end'][0]:.2f}.", "",
             "| N | loss | time (s, median) | runs | peak memory (MiB) | note |", "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if row["status"] == "ok":
            lines.append(f"| {row['N']:,} | {row['loss']} | {row['time_s']:.4f} | {row['runs']} | "
                         f"{row['peak_mib']:,.1f} | |")
        else:
            reason = row.get("reason", "")
            if reason.startswith("not run: the previous size was skipped"):
                reason = "skipped at a smaller N"
            lines.append(f"| {row['N']:,} | {row['loss']} | - | - | - | {row['status']}: "
                         f"{reason.removeprefix('not run: ')} |")
    slopes = r["slopes_n_ge_8192"]
    lines += ["", "Log-log slopes (N >= 8,192): " + "; ".join(
        f"{k} time {v['time']:.2f}, memory {v['memory']:.2f}" if v["time"] is not None else f"{k} -"
        for k, v in slopes.items()) + ".  "]
    rt = r.get("ratio_16k")
    if rt:
        lines.append(f"At N = {rt['N']:,} (interleaved, {rt['runs']} runs): dense SCGC* / PamC time "
                     f"{rt['time_ratio']:.0f}x, peak memory {rt['memory_ratio']:.0f}x.  ")
    lines += ["Targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in r["targets"].items())
              + f". Paper claim: {r['paper_claim']}.", ""]
    return lines


def _pamc_tune_section(r: dict) -> list[str]:
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ", f"Protocol: {r['protocol']}.", "",
             "| parameter | mean validation ACC per value | chosen |", "|---|---|---|"]
    for s in r["steps"]:
        vals = ", ".join(f"{k}: {100 * v:.1f}" for k, v in s["mean_val_acc"].items()) if "mean_val_acc" in s \
            else "not searched (kept from the Citeseer row)"
        lines.append(f"| {s['parameter']} | {vals} | {s['chosen']} |")
    return lines + [""]


SECTIONS = {"grace_cora.json": _grace_section, "views.json": _views_section,
            "infonce_memory.json": _infonce_memory_section}
SECTIONS["pamc_tune.json"] = _pamc_tune_section
SECTIONS["pamc_quality.json"] = _pamc_quality_section
SECTIONS["pamc_scaling.json"] = _pamc_scaling_section
SECTIONS["pamc_epoch_time.json"] = _pamc_quality_section
SECTIONS["speed_recbole.json"] = _speed_recbole_section
SECTIONS["speed_lightgcl.json"] = _speed_lightgcl_section


def _gowalla_quality_section(r: dict) -> list[str]:
    s = r["settings"]
    g = next(iter(r["runs"].values()))["graph"]
    lines = ["## Recommendation quality on Gowalla under one CPU budget (LightGCN, SGL-ED, LightGCL)", "",
             "Command: `GCL_DATA=/work/shared/datasets python benchmarks/rec/gowalla_quality.py "
             f"--budget-minutes {s['budget_minutes']:g} --users {s['users']} --equal-epochs {s['equal_epochs']}`  ",
             f"Protocol: {' '.join(r['protocol'].split())}  ",
             f"Data: {g['n_users']} users, {g['n_items']} items, train {g['n_train']}, valid {g['n_valid']}, "
             f"test {g['n_test']}; split hash `{g['split_hash']}`. Budget: {s['budget_minutes']:g} min of "
             f"{s['budget_kind']}, {s['torch_threads_per_method']} thread per method; load average "
             f"{r['loadavg_start'][0]:.1f} at start, {r['loadavg_end'][0]:.1f} at end.", "",
             "| method | epochs in budget | selected epoch | val R@20 | test R@20 | test N@20 | test R@40 | "
             f"test N@40 | untrained val R@20 | CPU s/epoch |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, run in r["runs"].items():
        t, v = run["test_at_selected"], run["val_at_selected"]
        per_epoch = run["cpu_s_train"] / max(1, run["epochs_run"])
        lines.append(f"| {label} | {run['within_budget_epochs']} | {run['selected_epoch']} | "
                     f"{v['val_recall@20']:.4f} | {t['recall@20']:.4f} | {t['ndcg@20']:.4f} | {t['recall@40']:.4f} | "
                     f"{t['ndcg@40']:.4f} | {run['curve'][0]['val_recall@20']:.4f} | {per_epoch:.1f} |")
    lines += ["", f"Equal epochs ({s['equal_epochs']} epochs each; test evaluated at that epoch, a labelled "
              "comparison, not a selection):", "",
              "| method | val R@20 | val N@20 | test R@20 | test N@20 |", "|---|---|---|---|---|"]
    for label, run in r["runs"].items():
        e = run["equal_epochs"]
        if e:
            lines.append(f"| {label} | {e['val_recall@20']:.4f} | {e['val_ndcg@20']:.4f} | "
                         f"{e['test_recall@20']:.4f} | {e['test_ndcg@20']:.4f} |")
    lines += ["", "Validation Recall@20 per epoch: " + "; ".join(
        f"{label}: " + ", ".join(f"{c['val_recall@20']:.3f}" for c in run["curve"]) for label, run in r["runs"].items()),
        "", "Anchors (other protocols, full data, not comparable to the subsample): " + "; ".join(
            f"{k} R@20 {v['recall@20']}, N@20 {v['ndcg@20']}" for k, v in r["anchors"].items()) + ".", ""]
    return lines


SECTIONS["gowalla_quality.json"] = _gowalla_quality_section


def _adameow_memory_section(r: dict) -> list[str]:
    chk, it, full = r["equality_check"], r["interleaved_time"], r["full_size"]
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ", f"Protocol: {r['protocol']}.  ",
             (f"Equality at N = {chk['N']} (blocks of {chk['chunk']}, {chk['dtype']}): largest absolute "
              f"difference of the loss {chk['max_abs_diff']['loss']:.1e}, of any gradient (f, a, MLP parameters) "
              f"{max(v for k, v in chk['max_abs_diff'].items() if k != 'loss'):.1e}.  "),
             (f"Device: {r['device']['device']}, {r['device']['torch_threads']} torch thread, torch "
              f"{r['versions']['torch']}; load average {r['loadavg_start'][0]:.1f} at start, "
              f"{r['loadavg_end'][0]:.1f} at end (shared machine); whole run {r['wall_s'] / 60:.1f} min."), "",
             ("| N | form | chunk (blocks; 1 block: no checkpointing) | peak memory (MiB) | "
              "default-allocator peak (MiB) | forward + backward (s) | runs |"),
             "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        if row["status"] == "ok":
            default = row.get("peak_mib_default_malloc")
            chunk = "-" if row["chunk"] is None else f"{row['chunk']} ({row['blocks']} block{'s' * (row['blocks'] > 1)})"
            lines.append(f"| {row['N']:,} | {row['form']} | {chunk} | {row['peak_mib']:,.1f} | "
                         f"{'-' if default is None else f'{default:,.1f}'} | {row['time_s']:.2f} | {row['runs']} |")
        else:
            lines.append(f"| {row['N']:,} | {row['form']} | {row.get('chunk') or '-'} | not run: "
                         f"{row.get('reason', row['status'])} | - | - | - |")
    lines.append("")
    for chunk, b in full["block"].items():
        if "naive_over_block_peak" in b:
            lines.append(f"At N = {full['N']:,}: naive / block (chunk {chunk}) peak memory "
                         f"{b['naive_over_block_peak']:.1f}x, time {b['naive_over_block_time']:.1f}x.  ")
    if it.get("status", "ok") == "ok" and "naive_over_block" in it:
        lines.append(f"Interleaved in one process at N = {it['N']:,} (chunk {it['chunk']}, median of {it['runs']} "
                     f"alternating runs): block {it['block_s']:.2f} s, naive {it['naive_s']:.2f} s "
                     f"({it['naive_over_block']:.1f}x).")
    return lines + [""]


SECTIONS["adameow_memory.json"] = _adameow_memory_section


def _seq_epoch_time_section(r: dict) -> list[str]:
    d, st = r["dataset"], r["settings"]
    partial = (f"**{st['timed_batches']} timed batches per method** (`--max-batches {st['max_batches_option']}`), "
               "not whole epochs" if st["max_batches_option"] > 0 else "whole epochs")
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ",
             f"Data: {d['name']} ({d['users']:,} users, {d['items']:,} items, {d['train_prefixes']:,} training "
             f"prefixes, {st['batches_per_epoch']} batches per epoch).  ",
             f"Settings (equal for every method): d {st['dim']}, {st['num_layers']} blocks, {st['heads']} heads, "
             f"FFN {st['ffn_dim']}, max length {st['max_len']}, batch {st['batch_size']}, dropout {st['dropout']:g}; "
             f"CL4SRec λ {st['cl4srec_lambda']:g}; MCLRec λ, β = {st['mclrec_lambda_beta'][0]:g}, "
             f"{st['mclrec_lambda_beta'][1]:g} with the regulariser.  ",
             f"Timing: {r['timing']}; {partial}.  ",
             f"Device: {r['device']}, {r['torch_threads']} torch thread(s), torch {r['torch']}; load average "
             f"{r['loadavg_start'][0]:.2f} at start, {r['loadavg_end'][0]:.2f} at end.", "",
             "| method | ms / batch (median) | epoch estimate (s) | x SASRec | x CL4SRec | peak memory (MB) |",
             "|---|---|---|---|---|---|"]
    for name, m in r["models"].items():
        mem = "n/a (CPU)" if m["peak_memory_mb"] is None else f"{m['peak_memory_mb']:.0f}"
        lines.append(f"| {name} | {m['per_batch_s'] * 1e3:.0f} | {m['epoch_s_estimate']:.0f} | "
                     f"{m['ratio_vs_sasrec']:.2f} | {m['ratio_vs_cl4srec']:.2f} | {mem} |")
    return lines + ["", f"Reference: {r['reference']}.", ""]


SECTIONS["seq_epoch_time.json"] = _seq_epoch_time_section


def _speed_seqrec_recbole_section(r: dict) -> list[str]:
    d, st, res = r["dataset"], r["settings"], r["results"]
    prm = st["params"]
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ",
             f"Data: {d['name']} ({d['users']:,} users, {d['items']:,} items, {d['train_prefixes']:,} training "
             f"prefixes on both sides, {st['batches_per_epoch']} batches per epoch).  ",
             f"Settings (equal on every side): d {st['dim']}, {st['num_layers']} blocks, {st['heads']} heads, "
             f"FFN {st['ffn_dim']}, max length {st['max_len']}, batch {st['batch_size']}, dropout "
             f"{st['hidden_dropout']:g}/{st['attn_dropout']:g}, {st['loss']}, {st['optimizer']} lr {st['lr']:g}; "
             f"parameters RecBole {prm['recbole']:,}, gcl SASRec {prm['sasrec']:,}, gcl MCLRec {prm['mclrec']:,}; "
             f"MCLRec {st['mclrec']}.  ",
             f"Timing, step: {r['timing']['step']}.  ", f"Timing, epoch: {r['timing']['epoch']}.  ",
             f"Device: {r['device']}, {r['torch_threads']} torch thread(s); torch {r['versions']['torch']}, "
             f"RecBole {r['versions']['recbole']}, numpy {r['versions']['numpy']}; load average "
             f"{r['load_average']['start'][0]:.2f} at start, {r['load_average']['end'][0]:.2f} at end.", "",
             "| side | s / batch (step, same batches) | s / batch (epoch slope, own loader) | epoch (s) |",
             "|---|---|---|---|"]
    names = {"recbole": "RecBole 1.2.1 SASRec", "sasrec": "gcl SASRec", "mclrec": "gcl MCLRec"}
    for side, name in names.items():
        lines.append(f"| {name} | {res['step'][side]['per_batch_s']:.3f} | {res['epoch'][side]['per_batch_s']:.3f} | "
                     f"{res['epoch'][side]['epoch_s']:.0f} |")
    met = "met" if res["target_met"] else "MISSED"
    return lines + ["", f"gcl SASRec vs RecBole SASRec: **{res['speedup_epoch']:.2f}x** per epoch (target >= "
                    f"{r['target_speedup']:g}x: {met}), {res['speedup_step']:.2f}x per step on the same batches. "
                    f"gcl MCLRec / gcl SASRec: {res['mclrec_vs_sasrec_epoch']:.2f}x per epoch, "
                    f"{res['mclrec_vs_sasrec_step']:.2f}x per step (the official code costs about 3x CL4SRec).",
                    "", f"Note: {r['note']} (anomaly mode during timing: {r['autograd_anomaly_mode']}).", ""]


SECTIONS["speed_seqrec_recbole.json"] = _speed_seqrec_recbole_section


#: Reference rows from the MEOW issue / spec (ACM, %, Ma-F1 / Mi-F1 / AUC at 20, 40, 60; NMI / ARI).
MEOW_ANCHORS = {
    "acm": {
        "HeCo (paper)": {20: (88.56, 88.13, 96.49), 40: (87.61, 87.45, 96.40), 60: (89.04, 88.71, 96.55),
                         "nmi": 56.87, "ari": 56.94},
        "MEOW released embeddings, this protocol": {20: (90.79, 90.58, 97.89), 40: (91.03, 91.16, 97.95),
                                                    60: (91.19, 91.17, 98.30), "nmi": 49.23, "ari": 34.36},
    },
}
MEOW_READOUTS = {"eval": "fine view z, eval mode (default)", "train": "fine view z, training-mode forward "
                 "(original)", "coarse": "coarse view z^c only"}


def _ms(s: dict) -> str:
    return f"{s['mean']:.2f} ± {s['std']:.2f}"


def _meow_section(r: dict) -> list[str]:
    if not r.get("dataset") or not r.get("summary"):
        return []
    dataset = r["dataset"]
    runs = r["runs"]
    proto = next((run["protocol"] for name, rs in runs.items() if name != "raw-features"
                  for run in rs.values()), "").replace(". One seed", "")
    lines = [f"## MEOW / AdaMEOW on {dataset.upper()} (HeCo protocol, CPU)", "",
             "Commands: " + "; ".join(f"`{c.strip()}`" for c in r.get("commands", [r.get("command", "")])) + "  ",
             f"Protocol: {proto}. Every figure: mean ± std over training seeds (each seed's value is the mean "
             f"of 50 probe runs), in %. Device: {r['device']}, {r['threads']} torch thread(s).", "",
             "| variant | read-out | seeds | epochs run (mean) | Ma-F1 20 | Mi-F1 20 | AUC 20 | Ma-F1 40 | Mi-F1 40 "
             "| AUC 40 | Ma-F1 60 | Mi-F1 60 | AUC 60 | NMI | ARI |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, summ in r["summary"].items():
        for readout in ("eval", "train", "coarse"):
            if readout not in summ:
                continue
            m = summ[readout]
            cells = [_ms(m[f"{rate}_{k}"]) for rate in (20, 40, 60) for k in ("macro_f1", "micro_f1", "auc")]
            ep = f"{summ['epochs_run']:.0f}" if "epochs_run" in summ else "-"
            lines.append(f"| {name} | {MEOW_READOUTS[readout] if name != 'raw-features' else 'input features'} | "
                         f"{len(summ['seeds'])} | {ep} | " + " | ".join(cells)
                         + f" | {_ms(m['nmi'])} | {_ms(m['ari'])} |")
    anchors = MEOW_ANCHORS.get(dataset, {})
    for label, a in anchors.items():
        cells = [f"{v:.2f}" for rate in (20, 40, 60) for v in a[rate]]
        lines.append(f"| {label} | reference | - | - | " + " | ".join(cells) + f" | {a['nmi']:.2f} | {a['ari']:.2f} |")
    lines.append("")
    meow = r["summary"].get("meow", {}).get("eval")
    if meow and anchors:
        heco, released = anchors["HeCo (paper)"], anchors["MEOW released embeddings, this protocol"]
        keys = ("macro_f1", "micro_f1", "auc")
        above = all(meow[f"{rate}_{k}"]["mean"] >= heco[rate][i] for rate in (20, 40, 60) for i, k in enumerate(keys))
        gaps = [released[rate][i] - meow[f"{rate}_{k}"]["mean"] for rate in (20, 40, 60) for i, k in enumerate(keys)]
        lines += [f"Targets (MEOW, eval read-out): >= HeCo's paper row at every label rate and metric: "
                  f"{'met' if above else 'MISSED'}; within 1.5 points of the released-embedding row: "
                  f"{'met' if max(gaps) <= 1.5 else 'MISSED'} (largest shortfall {max(gaps):.2f} points).", ""]
    timing = [(name, s) for name, s in r["summary"].items() if "t_encoder" in s]
    if timing:
        lines += ["Epoch time (s, mean over the epochs of each run, then over seeds; 1 thread on a shared 2-core "
                  "machine): ", "", "| variant | encoder forward | k-means | loss | backward + step | whole epoch |",
                  "|---|---|---|---|---|---|"]
        for name, s in timing:
            lines.append(f"| {name} | {s['t_encoder']:.3f} | {s.get('t_kmeans', 0.0):.3f} | {s['t_loss']:.3f} | "
                         f"{s['t_backward']:.3f} | {s['epoch_s']:.3f} |")
        lines.append("")
    ada = runs.get("adameow", {})
    for seed, run in sorted(ada.items()):
        w = run["train"].get("w_stats", [])
        if w:
            lines.append(f"AdaMEOW seed {seed}: learned weights w over training (epoch: mean ± std, [min, max]): "
                         + "; ".join(f"{x['epoch']}: {x['w_mean']:.3f} ± {x['w_std']:.3f} "
                                     f"[{x['w_min']:.3f}, {x['w_max']:.3f}]" for x in w) + ".")
    if ada:
        lines.append("")
    return lines


SECTIONS["meow_acm.json"] = _meow_section
SECTIONS["meow_imdb.json"] = _meow_section

from mol.sections import mol_quality_section, mol_speed_section  # noqa: E402  (benchmarks/mol/)

SECTIONS["mol_speed.json"] = mol_speed_section
SECTIONS["mol_quality.json"] = mol_quality_section
SECTIONS["mol_quality_cpu_scaled.json"] = mol_quality_section
SECTIONS["mol_quality_smoke.json"] = mol_quality_section

from distributed_grace import distributed_grace_section  # noqa: E402  (benchmarks/distributed_grace.py)

SECTIONS["distributed_grace.json"] = distributed_grace_section

from rec.sections import recbole_parity_section, seqrec_quality_section  # noqa: E402  (benchmarks/rec/)

for _m in ("sasrec", "cl4srec", "mclrec"):
    SECTIONS[f"recbole_parity_{_m}.json"] = recbole_parity_section
    for _d in ("beauty", "toys"):
        SECTIONS[f"rec_{_m}_{_d}.json"] = seqrec_quality_section


#: JSON file -> the function of benchmarks/plots.py that draws its figure (``<stem>.png`` beside it).
PLOTS = {"grace_cora.json": plots.grace_curves, "views.json": plots.views_speed,
         "infonce_memory.json": plots.infonce_memory, "pamc_quality.json": plots.pamc_quality,
         "pamc_scaling.json": plots.pamc_scaling, "gowalla_quality.json": plots.gowalla_quality,
         "adameow_memory.json": plots.adameow_memory, "seq_epoch_time.json": plots.seq_epoch_time,
         "meow_acm.json": partial(plots.meow_quality, anchors=MEOW_ANCHORS["acm"])}
PLOTS.update({name: plots.seqrec_curves for name, render in SECTIONS.items() if render is seqrec_quality_section})


def _lg_bound(r: dict) -> int:
    return next(x["subgraph_nodes_bound"] for x in r["rows"] if x["case"] == "minibatch" and x["status"] == "ok")


def _large_graph_minibatch_section(r: dict) -> list[str]:
    s, dev = r["settings"], r["device"]
    lines = [f"## {r['title']}", "", f"Command: `{r['command'].strip()}`  ", f"Protocol: {r['protocol']}.  ",
             f"Settings: batch {s['batch_size']} seeds, fan-out {s['fanout']}, sampler {s['sampler']}.  ",
             f"Device: {dev['device']}, {dev['torch_threads']} torch thread, torch {r['versions']['torch']}; "
             f"whole run {r['wall_s'] / 60:.1f} min; load average at the end {r['load_average_end'][0]:.2f}.", "",
             "| case | N | directed edges | graph storage (MiB, RSS / tensors) | training peak (MiB) | "
             "nodes/s | s per batch (sampling + step) | subgraph nodes / edges |", "|---|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        if x["status"] != "ok":
            lines.append(f"| {x['case']} | {x['N']:,} | - | not run: {x.get('reason', x['status'])} | - | - | - | - |")
        elif x["case"] == "minibatch":
            lines.append(f"| mini-batch | {x['N']:,} | {x['E']:,} | {x['storage_rss_mib']:,.0f} / "
                         f"{x['storage_tensor_mib']:,.0f} | {x['train_peak_mib']:,.0f} | {x['seeds_per_s']:,.0f} | "
                         f"{x['sample_s_mean']:.3f} + {x['step_s_mean']:.3f} | "
                         f"{x['subgraph_nodes_mean']:,.0f} / {x['subgraph_edges_mean']:,.0f} |")
        elif x["case"] == "fullbatch":
            lines.append(f"| full batch (chunk {x['chunk']}) | {x['N']:,} | {x['E']:,} | - | "
                         f"{x['train_peak_mib']:,.0f} | {x['nodes_per_s']:,.0f} | {x['step_s']:.2f} (one step) | "
                         f"whole graph |")
        else:
            lines.append(f"| layer-wise inference (block {x['block_size']:,}) | {x['N']:,} | {x['E']:,} | - | "
                         f"{x['peak_mib']:,.0f} (output {x['output_mib']:,.0f}) | {x['nodes_per_s']:,.0f} | "
                         f"{x['time_s']:.1f} (whole graph) | - |")
    b, c = r.get("bounded"), r.get("comparison")
    lines.append("")
    if b:
        lines.append(f"From N = {b['N_min']:,} to {b['N_max']:,} ({b['node_ratio']:.0f}x the nodes) the graph "
                     f"storage grows {b['storage_ratio']:.1f}x while the mini-batch training peak stays within "
                     f"{b['train_peak_min_mib']:,.0f}-{b['train_peak_max_mib']:,.0f} MiB "
                     f"(max/min {b['train_peak_ratio']:.2f}); a batch never holds more than "
                     f"B (1 + k_1 + k_1 k_2) = {_lg_bound(r):,} nodes, whatever N.")
    if c:
        lines.append(f"At N = {c['N']:,}: mini-batch {c['minibatch_seeds_per_s']:,.0f} seeds/s against full batch "
                     f"{c['fullbatch_nodes_per_s']:,.0f} nodes/s ({c['throughput_ratio']:.1f}x), training peak "
                     f"{c['minibatch_peak_mib']:,.0f} against {c['fullbatch_peak_mib']:,.0f} MiB "
                     f"({c['memory_ratio']:.1f}x less); full-batch GRACE contrasts all N nodes (O(N^2) time), "
                     f"mini-batch GRACE the {s['batch_size']} seeds of each batch.")
    return lines + [""]


SECTIONS["large_graph_minibatch.json"] = _large_graph_minibatch_section
from large_graph_minibatch import plot as _large_graph_minibatch_plot  # noqa: E402  (its own figure)

PLOTS["large_graph_minibatch.json"] = _large_graph_minibatch_plot


def _figure_lines(name: str, record: dict, results: Path, target: Path) -> list[str]:
    """Draw the figure of ``name`` (if it has one and the record supports it); its Markdown lines."""
    draw = PLOTS.get(name)
    png = results / Path(name).with_suffix(".png").name
    caption = draw(record, png) if draw else None
    if caption is None:
        return []
    link = Path(os.path.relpath(png, target.parent)).as_posix()
    return [f"![{png.stem}]({link})", "", f"*Figure: {caption}*", ""]


def write_results_md(results: Path = HERE / "results", target: Path = HERE / "RESULTS.md",
                     methods_docs: Path | None = HERE.parent / "docs" / "methods") -> Path:
    """Render ``target`` and every figure from the JSON files in ``results``.

    Args:
        results: folder of the benchmark JSON files; the PNG figures are written beside them.
        target: the Markdown report to write.
        methods_docs: folder of the method pages whose measured blocks are refreshed from the
            same files (:mod:`measured`); ``None`` leaves the pages alone.
    """
    out = ["# Benchmark results", "",
           "Generated by `python benchmarks/results_md.py` from `benchmarks/results/*.json`; each "
           "section names the command that produced it. Protocols are stated beside every number.", ""]
    for name, render in SECTIONS.items():
        path = results / name
        if path.exists():
            record = json.loads(path.read_text())
            section = render(record)
            out += section + (_figure_lines(name, record, results, target) if section else [])
    target.write_text("\n".join(out))
    if methods_docs is not None:
        measured.update_pages(methods_docs, results, MEOW_ANCHORS)
    return target


if __name__ == "__main__":
    print(write_results_md())
