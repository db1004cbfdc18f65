"""RESULTS.md sections of the molecular pre-training benchmarks (registered in
``benchmarks/results_md.py``): ``mol_speed.json`` and ``mol_quality[_smoke].json``."""
from __future__ import annotations

METHOD_NAMES = {"scratch": "no pre-training", "graphcl": "GraphCL", "dsla": "D-SLA"}


def mol_speed_section(r: dict) -> list[str]:
    """Pre-training epoch time and per-batch views against a per-graph loop."""
    lines = [f"## {r['title']}", "",
             f"Command: `{r['command']}`  ",
             f"Corpus: {r['corpus_molecules']} molecules; encoder {r['encoder']}; device {r['device']} "
             f"({r['device_name']}, {r['torch_threads']} torch thread(s), {r['cpu_count']} cores, "
             f"1-min load {r['load_average_1min']:.2f}), torch {r['torch']}.", "",
             "| method | s per batch of 256 | epoch (s) | batches per epoch | views' share of a batch | how measured |",
             "|---|---|---|---|---|---|"]
    for name, e in r["epoch"].items():
        lines.append(f"| {METHOD_NAMES.get(name, name)} | {e['batch_s']:.2f} | {e['epoch_s']:.0f} | "
                     f"{e['batches_per_epoch']} | {100 * e.get('view_share', float('nan')):.1f} % | {e['measured']} |")
    lines += ["", f"Views per batch ({r['view_timing']}; baseline: {r['baseline']}):", "",
              "| views | ours | ours (ms) | per-graph loop (ms) | speed-up | settings |", "|---|---|---|---|---|---|"]
    for name, v in r["views"].items():
        lines.append(f"| {name} | `{v['ours']}` | {v['ours_ms']:.2f} | {v['loop_ms']:.1f} | "
                     f"{v['speedup']:.1f}x | {v['settings']} |")
    lines += ["", "Targets: " + ", ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in r["targets"].items())
              + ".", ""]
    return lines


def _pm(entry: dict, key: str = "test") -> str:
    return f"{entry[f'{key}_mean']:.1f} ± {entry[f'{key}_std']:.1f}"


def _protocol_label(r: dict) -> str:
    """Title suffix: nothing for the full protocol, the CPU-scaled preset named as such (a reduced
    but complete protocol), anything else a smoke run."""
    if not r.get("smoke"):
        return ""
    s = r["settings"]
    if s.get("preset") == "cpu-scaled" and not s.get("corpus_limit") and not s.get("pretrain_max_batches"):
        return f" — CPU-SCALED PROTOCOL ({_scaled(s)}; not the papers' settings)"
    return " — SMOKE RUN (shrunk protocol, not a result)"


def _scaled(s: dict) -> str:
    return (f"GIN width {s['emb_dim']}, {s['pretrain_epochs']} pre-training and {s['finetune_epochs']} "
            f"fine-tuning epochs, {s['seeds']} seeds")


def mol_quality_section(r: dict) -> list[str]:
    """Test ROC-AUC over fine-tuning seeds per dataset and method, with the literature anchors."""
    s = r["settings"]
    title = r["title"] + _protocol_label(r)
    lines = [f"## {title}", "",
             f"Command: `{r['command']}`  ",
             f"Settings: GIN {s['num_layers']}x{s['emb_dim']}; pre-training {s['pretrain_epochs']} epochs, batch "
             f"{s['pretrain_batch_size']}" + (f", {s['pretrain_max_batches']} batches per epoch"
                                              if s.get("pretrain_max_batches") else "")
             + (f", corpus subset of {s['corpus_limit']}" if s.get("corpus_limit") else "")
             + f"; fine-tuning {s['finetune_epochs']} epochs, batch {s['finetune_batch_size']}, lr {s['finetune_lr']}, "
             f"dropout {s['finetune_dropout']}, {s['seeds']} seeds. Device: {r['device']} ({r['device_name']}).  ",
             f"Protocol: {r['protocol']}.", "",
             "| dataset | corpus molecules | method | test ROC-AUC (%) | valid ROC-AUC (%) | last-epoch test (%) "
             "| seeds | anchor (%) |", "|---|---|---|---|---|---|---|---|"]
    for name, ds in r["datasets"].items():
        n_corpus = ds.get("corpus", {}).get("molecules", "—")
        for method, entry in ds["methods"].items():
            if not entry["runs"]:
                continue
            anchor = r["anchors"].get(name, {}).get(method)
            lines.append(f"| {name} | {n_corpus} | {METHOD_NAMES.get(method, method)} | {_pm(entry)} | "
                         f"{_pm(entry, 'valid')} | {_pm(entry, 'test_last')} | {len(entry['runs'])} | "
                         f"{anchor if anchor is not None else '—'} |")
    lines += ["", f"Anchors: {r['anchor_source']}; our corpus is ~10 k MoleculeNet molecules, not ZINC-2M, "
              "so the anchors' gains are not expected.", ""]
    if r.get("targets"):
        lines.append("Targets: " + "; ".join(
            f"{name}: " + ", ".join(f"{k.replace('_', ' ')}: {'met' if ok else 'MISSED'}" for k, ok in t.items())
            for name, t in r["targets"].items()) + ".")
        lines += ["", "Criteria: D-SLA's mean minus the baseline's mean exceeds the larger of their two population "
                  "standard deviations over seeds (beats scratch); D-SLA's mean is at least GraphCL's minus that "
                  "larger deviation (on par).", ""]
    return lines


def molecular_block(load, results) -> list[str]:
    """The measured block of ``docs/methods/molecular.md`` (``benchmarks/measured.py``): the
    quality table of the full protocol when it has run (else a pointer to the smoke run) and the
    speed figures."""
    q, smoke, speed = load("mol_quality.json"), load("mol_quality_smoke.json"), load("mol_speed.json")
    scaled = load("mol_quality_cpu_scaled.json")
    lines: list[str] = []
    if q is None and scaled is not None:
        lines += ["The full transfer protocol has not run yet (it needs a GPU). CPU-scaled protocol "
                  f"({_scaled(scaled['settings'])}; not the papers' settings), test ROC-AUC at the epoch "
                  "selected on validation:", ""]
        q = scaled
    if q is None:
        lines += ["The full transfer protocol (`python benchmarks/mol/pretrain_finetune.py --device cuda`) has not "
                  "run yet" + (": only a shrunk smoke run exists (`mol_quality_smoke.json`), which proves the "
                               "pipeline and is not a result." if smoke else "."), ""]
    else:
        lines += ["| dataset | method | ours: test ROC-AUC (%) | paper (%, ZINC-2M) |", "|---|---|---|---|"]
        for name, ds in q["datasets"].items():
            for method, entry in ds["methods"].items():
                if entry["runs"]:
                    anchor = q["anchors"].get(name, {}).get(method, "—")
                    lines.append(f"| {name} | {METHOD_NAMES.get(method, method)} | {_pm(entry)} "
                                 f"({len(entry['runs'])} seeds) | {anchor} |")
        lines.append("")
    if speed is not None:
        e, v = speed["epoch"], speed["views"]
        lines += [f"Pre-training on {speed['device']} ({speed['torch_threads']} thread(s), {speed['encoder']}): "
                  + ", ".join(f"{METHOD_NAMES.get(k, k)} {x['epoch_s']:.0f} s per epoch" for k, x in e.items())
                  + "; views per batch of 256 against a per-graph loop: "
                  + ", ".join(f"{k} {x['speedup']:.1f}x" for k, x in v.items()) + ".", ""]
    lines.append("Source: `benchmarks/results/mol_quality*.json`, `benchmarks/results/mol_speed.json`; "
                 "commands and protocols in [the benchmark report](../../benchmarks/RESULTS.md).")
    return lines


__all__ = ["molecular_block", "mol_quality_section", "mol_speed_section"]
