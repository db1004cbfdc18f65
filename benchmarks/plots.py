"""The figures of ``benchmarks/RESULTS.md``, drawn from the benchmark JSON files.

One function per figure: ``figure(record, path) -> caption``. It draws the PNG at ``path`` from
the JSON record a benchmark script wrote and returns the caption that states the protocol, or
returns ``None`` (and draws nothing) when the record holds no data for that figure. Nothing is
typed in: every point comes from the record.

Output is deterministic for a given record and matplotlib version (Agg backend, fixed size
and dpi, no time stamp or software tag in the PNG), so regenerating an unchanged report leaves
the PNG files byte-identical.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 110
_STYLE = {"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7, "lines.markersize": 3.5,
          "lines.linewidth": 1.2, "figure.titlesize": 9}

Caption = Optional[str]


def _styled(draw: Callable[..., Caption]) -> Callable[..., Caption]:
    """Run a figure function under the report's style, whatever the global rcParams are."""
    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Caption:
        with plt.rc_context(_STYLE):
            return draw(*args, **kwargs)
    return wrapper


def _axes(ncols: int, width: float = 4.0, height: float = 3.0) -> tuple[Any, list[Any]]:
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def _save(fig: Any, path: Path, title: str) -> None:
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def _finish(ax: Any, xlabel: str, ylabel: str, title: str, log: str = "") -> None:
    if "x" in log:
        ax.set_xscale("log", base=2)
    if "y" in log:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()


@_styled
def grace_curves(r: Mapping[str, Any], path: Path) -> str | None:
    """GRACE training curves: loss per epoch and validation probe accuracy, one line per seed.

    Needs ``runs[*].curve`` (``epoch``, ``loss``, ``val_epoch``, ``val_acc``), written by
    ``benchmarks/grace_cora.py``.
    """
    runs = [run for run in r["runs"] if run.get("curve")]
    if not runs:
        return None
    fig, (ax_loss, ax_val) = _axes(2)
    for run in runs:
        c = run["curve"]
        ax_loss.plot(c["epoch"], c["loss"], label=f"seed {run['seed']}")
        line, = ax_val.plot(c["val_epoch"], c["val_acc"], "o-", label=f"seed {run['seed']}")
        if run["selected_epoch"] in c["val_epoch"]:
            best = c["val_acc"][c["val_epoch"].index(run["selected_epoch"])]
            ax_val.plot([run["selected_epoch"]], [best], "*", ms=9, color=line.get_color())
    _finish(ax_loss, "epoch", "training loss (symmetric InfoNCE)", "training loss")
    _finish(ax_val, "epoch", "validation probe accuracy", "validation accuracy (star: selected epoch)")
    _save(fig, path, r["title"])
    seeds = ", ".join(str(run["seed"]) for run in runs)
    return (f"Training curves (seeds {seeds}): the loss of every epoch and the linear-probe accuracy on "
            f"the 500 validation nodes every {r['config']['eval_every']} epochs; the star marks the epoch "
            "selected on validation, whose test accuracy is reported.")


@_styled
def infonce_memory(r: Mapping[str, Any], path: Path) -> str | None:
    """InfoNCE peak memory and time against N, chunked and dense; dense estimates where not run."""
    rows = r["rows"]
    fig, (ax_mem, ax_t) = _axes(2)
    for mode, marker in (("chunked", "o-"), ("dense", "s-")):
        ok = [x for x in rows if x["mode"] == mode and x["status"] == "ok"]
        if ok:
            ax_mem.plot([x["N"] for x in ok], [x["peak_mib"] for x in ok], marker, label=mode)
            ax_t.plot([x["N"] for x in ok], [x["time_s"] for x in ok], marker, label=mode)
        est = [x for x in rows if x["mode"] == mode and x.get("estimated_peak_gib")]
        if est:
            ax_mem.plot([x["N"] for x in est], [x["estimated_peak_gib"] * 1024 for x in est], "s", mfc="none",
                        color="tab:orange", label=f"{mode}: estimate, not run")
    for x in rows:
        if x["mode"] == "chunked" and x["status"] == "ok":
            ax_mem.annotate(f"chunk {x['chunk']}", (x["N"], x["peak_mib"]), textcoords="offset points",
                            xytext=(0, -10), ha="center", fontsize=6)
    _finish(ax_mem, "N (rows of each view)", "peak memory (MiB)", "peak memory", "xy")
    _finish(ax_t, "N (rows of each view)", "forward + backward (s)", "time", "xy")
    _save(fig, path, "InfoNCE, chunked vs dense, one forward + backward (CPU)")
    d = rows[0]["d"]
    return (f"info_nce on random N x {d} float32 views, one forward + backward per fresh process; peak memory = "
            f"VmHWM growth over the resident set before the loss; {r['device']['cpu_threads']} CPU threads. "
            "Hollow squares: the dense form's estimated peak where it was not run.")


@_styled
def views_speed(r: Mapping[str, Any], path: Path) -> str | None:
    """Batched graph views against the per-graph Python loop: median time per call."""
    ops = r["ops"]
    fig, (ax,) = _axes(1, width=6.0, height=2.2)
    names = list(ops)
    ys = range(len(names))
    ax.barh([y + 0.2 for y in ys], [ops[n]["loop_ms"] for n in names], 0.4, label="per-graph Python loop")
    ax.barh([y - 0.2 for y in ys], [ops[n]["ours_ms"] for n in names], 0.4, label="gcl (batched)")
    for y, n in zip(ys, names):
        ax.annotate(f"{ops[n]['speedup']:.1f}x", (ops[n]["loop_ms"], y + 0.2), textcoords="offset points",
                    xytext=(3, -3), fontsize=7)
    ax.set_yticks(list(ys), names)
    ax.set_xscale("log")
    ax.set_xlim(right=max(ops[n]["loop_ms"] for n in names) * 60)
    ax.set(xlabel="median time per call (ms, log scale)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="center right")
    _save(fig, path, f"Graph views on {r['batch_size']} molecules of {r['dataset'].split()[0]}")
    return (f"Median wall time of one call on a batch of {r['batch_size']} graphs ({r['num_nodes']} nodes), "
            f"{r['torch_threads']} torch thread; ours and the loop measured in alternation.")


@_styled
def pamc_scaling(r: Mapping[str, Any], path: Path) -> str | None:
    """PamC against dense SCGC* and NT-Xent: time and peak memory of the loss against N."""
    rows = r["rows"]
    fig, (ax_t, ax_mem) = _axes(2)
    for name in dict.fromkeys(x["loss"] for x in rows):
        ok = [x for x in rows if x["loss"] == name and x["status"] == "ok"]
        if ok:
            ns = [x["N"] for x in ok]
            ax_t.plot(ns, [x["time_s"] for x in ok], "o-", label=name)
            ax_mem.plot(ns, [max(x["peak_mib"], 0.1) for x in ok], "o-", label=name)
    _finish(ax_t, "N (nodes)", "forward + backward (s, median)", "time", "xy")
    _finish(ax_mem, "N (nodes)", "peak memory (MiB, VmHWM growth)", "peak memory", "xy")
    _save(fig, path, "PamC vs dense SCGC* / NT-Xent (CPU, 1 thread)")
    slope = r["slopes_n_ge_8192"].get("pamc", {})
    return ("Loss forward + backward on synthetic graphs (about 11 non-zeros per node, r = 1, d = K = 10), one "
            "fresh process per point, 1 torch thread; time = median of the timed runs. Log-log slope of PamC "
            f"for N >= 8,192: time {slope.get('time', float('nan')):.2f}, memory "
            f"{slope.get('memory', float('nan')):.2f}. Missing points were skipped by the time limit.")


@_styled
def pamc_quality(r: Mapping[str, Any], path: Path) -> str | None:
    """PamC and SCGC* clustering quality (last epoch) per dataset, beside the published anchors."""
    summary = r.get("summary") or {}
    if not summary:
        return None
    datasets = list(summary)
    fig, axes = _axes(len(datasets), width=3.6, height=3.3)
    metrics = ("acc", "nmi", "ari", "f1")
    for ax, dataset in zip(axes, datasets):
        bars = [(("PamC" if m == "pamc" else "SCGC*") + " (last epoch)",
                 [100 * s[f"last_{k}"]["mean"] for k in metrics], [100 * s[f"last_{k}"]["std"] for k in metrics])
                for m, s in summary[dataset].items()]
        first = next(iter(summary[dataset].values()))
        bars.append(("K-means on AE (floor)", [100 * first[f"kmeans_ae_{k}"]["mean"] for k in metrics], None))
        bars += [(f"{name} (published)", list(a), None) for name, a in r.get("anchors", {}).get(dataset, {}).items()]
        width = 0.8 / len(bars)
        for i, (label, values, err) in enumerate(bars):
            xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(metrics))]
            ax.bar(xs, values, width, yerr=err, label=label, capsize=1.5,
                   hatch="//" if "published" in label else None, alpha=0.6 if "published" in label else 1.0)
        ax.set_xticks(range(len(metrics)), [m.upper() for m in metrics])
        ax.set(title=dataset, ylabel="% (mean ± std over seeds)", ylim=(0, 100))
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    _save(fig, path, "PamC and SCGC* clustering quality (argmax Q)")
    return ("Last-epoch ACC / NMI / ARI / F1 of argmax Q (label-free selection), mean ± std over seeds, each seed "
            "its own autoencoder; hatched bars: published rows of other methods under their own protocols "
            "(no published PamC or SCGC* figure exists for these graphs).")


@_styled
def gowalla_quality(r: Mapping[str, Any], path: Path) -> str | None:
    """Recommendation training curves: validation Recall@20 per epoch and per CPU minute, and loss."""
    fig, (ax_ep, ax_cpu, ax_loss) = _axes(3, width=3.6)
    for label, run in r["runs"].items():
        c = run["curve"]
        ax_ep.plot([x["epoch"] for x in c], [x["val_recall@20"] for x in c], "o-", label=label)
        ax_cpu.plot([x["cpu_s"] / 60 for x in c], [x["val_recall@20"] for x in c], "o-", label=label)
        ax_loss.plot([x["epoch"] for x in c[1:]], [x["loss"] for x in c[1:]], "o-", label=label)
    ax_cpu.axvline(r["settings"]["budget_minutes"], color="grey", ls="--", lw=1)
    _finish(ax_ep, "epoch", "validation Recall@20", "per epoch")
    _finish(ax_cpu, "training CPU minutes", "validation Recall@20", "per CPU time (dashed: budget)")
    _finish(ax_loss, "epoch", "training loss (method's own)", "training loss")
    s = r["settings"]
    _save(fig, path, f"Gowalla {s['users']:,}-user subsample, cpu presets")
    return (f"Validation Recall@20 (full ranking, train items masked) after every epoch, against epochs and "
            f"against training CPU time ({s['budget_minutes']:g}-minute budget per method, one thread each, "
            "evaluation excluded), and each method's own training loss.")


@_styled
def adameow_memory(r: Mapping[str, Any], path: Path) -> str | None:
    """AdaMEOW loss, block form against the naive N² x d form: peak memory and time against N."""
    rows = [x for x in r["rows"] if x["status"] == "ok"]
    fig, (ax_mem, ax_t) = _axes(2)
    series = dict.fromkeys((x["form"], x["chunk"]) for x in rows)
    for form, chunk in series:
        pts = [x for x in rows if x["form"] == form and x["chunk"] == chunk]
        label = "naive (N x N x d input)" if form == "naive" else f"block, chunk {chunk}"
        ax_mem.plot([x["N"] for x in pts], [x["peak_mib"] for x in pts], "o-", label=label)
        ax_t.plot([x["N"] for x in pts], [x["time_s"] for x in pts], "o-", label=label)
    _finish(ax_mem, "N (target nodes)", "peak memory (MiB)", "peak memory", "xy")
    _finish(ax_t, "N (target nodes)", "forward + backward (s)", "time", "xy")
    _save(fig, path, "AdaMEOW learned-weight loss, block vs naive form (CPU, 1 thread)")
    st = r["settings"]
    return (f"adameow_loss forward + backward on random L2-normalised embeddings (d {st['dim']}, weight-net hidden "
            f"{st['hidden']}), one fresh process per case, 1 torch thread; peak memory = VmHWM growth, inputs "
            "excluded; time = median of the runs after the first. N = 4,019 is the number of ACM papers (the target nodes).")


@_styled
def meow_quality(r: Mapping[str, Any], path: Path,
                 anchors: Mapping[str, Mapping[Any, Any]] | None = None) -> str | None:
    """MEOW and AdaMEOW on the HeCo probe (Macro-F1 per label rate) beside the reference rows, and
    AdaMEOW's learned weights over training where the record has them (ablations: table only)."""
    summary = r.get("summary") or {}
    variants = {name: s["eval"] for name, s in summary.items() if name in ("meow", "adameow") and "eval" in s}
    if not variants:
        return None
    w_runs = {seed: run["train"]["w_stats"] for seed, run in sorted(r["runs"].get("adameow", {}).items())
              if run.get("train", {}).get("w_stats")}
    fig, axes = _axes(2 if w_runs else 1, width=4.4)
    ax = axes[0]
    rates = (20, 40, 60)
    for name, m in variants.items():
        ax.errorbar(rates, [m[f"{k}_macro_f1"]["mean"] for k in rates], [m[f"{k}_macro_f1"]["std"] for k in rates],
                    marker="o", capsize=2, label=name)
    for label, a in (anchors or {}).items():
        ax.plot(rates, [a[k][0] for k in rates], "k--" if "paper" in label else "k:", label=label)
    ax.set_xticks(rates)
    _finish(ax, "labelled nodes per class", "test Macro-F1 (%)", f"{r['dataset'].upper()}, HeCo probe")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    if w_runs:
        for seed, w in w_runs.items():
            ep = [x["epoch"] for x in w]
            mean = [x["w_mean"] for x in w]
            line, = axes[1].plot(ep, mean, "o-", label=f"AdaMEOW seed {seed}: mean w")
            axes[1].fill_between(ep, [x["w_min"] for x in w], [x["w_max"] for x in w], alpha=0.2,
                                 color=line.get_color(), label="[min, max]")
        _finish(axes[1], "epoch", "learned negative weight w_ij", "AdaMEOW weights over training")
    _save(fig, path, f"MEOW / AdaMEOW on {r['dataset'].upper()} (CPU)")
    return ("Test Macro-F1 of the linear probe on the frozen eval-mode embedding (50 probe runs per label rate, "
            "selection on validation), mean ± std over training seeds; dashed and dotted lines: the reference "
            "rows of the table" + ("; right: the mean and range of AdaMEOW's learned weights w over training"
                                    if w_runs else "") + ".")


@_styled
def seq_epoch_time(r: Mapping[str, Any], path: Path) -> str | None:
    """Sequential recommenders: per-batch training time of every timed batch, per method."""
    models = {name: m for name, m in r["models"].items() if m.get("times_s")}
    if not models:
        return None
    fig, (ax,) = _axes(1, width=4.6, height=2.8)
    ax.boxplot([[1e3 * t for t in m["times_s"]] for m in models.values()], widths=0.5)
    ax.set_xticks(range(1, len(models) + 1), list(models))
    ax.set(ylabel="ms per training batch", ylim=(0, None))
    ax.grid(True, axis="y", alpha=0.3)
    st = r["settings"]
    _save(fig, path, f"Sequential recommenders on {r['dataset']['name']}: time per batch (CPU)")
    return (f"Wall time of each of the {st['timed_batches']} timed training batches (batch {st['batch_size']}, "
            f"max length {st['max_len']}), methods interleaved per batch, {r['torch_threads']} torch thread.")


@_styled
def seqrec_curves(r: Mapping[str, Any], path: Path) -> str | None:
    """Sequential recommender training curves: validation MRR@10 and training loss per epoch, per seed."""
    runs = [run for run in r["runs"] if run.get("curve")]
    if not runs:
        return None
    fig, (ax_val, ax_loss) = _axes(2, width=3.8)
    for run in runs:
        c = run["curve"]
        line, = ax_val.plot([x["epoch"] for x in c], [x["val_mrr@10"] for x in c], "o-", label=f"seed {run['seed']}")
        ax_val.axvline(run["selected_epoch"], color=line.get_color(), ls="--", lw=0.8)
        ax_loss.plot([x["epoch"] for x in c], [x["loss"] for x in c], "o-", label=f"seed {run['seed']}")
    _finish(ax_val, "epoch", "validation MRR@10", "validation (dashed: selected epoch)")
    _finish(ax_loss, "epoch", "training loss (method's own)", "training loss")
    _save(fig, path, f"{r['method']} on {r['dataset']}")
    return ("Validation MRR@10 (full ranking, history not masked) after every epoch and the training loss; the "
            "dashed line marks the epoch restored for the single test evaluation.")
