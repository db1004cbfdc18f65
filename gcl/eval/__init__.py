"""Evaluation protocols and metrics (model selection on validation, test reported once)."""
from gcl.eval.classification import (
    average_precision,
    f1_per_class,
    macro_f1,
    micro_f1,
    multiclass_roc_auc,
    roc_auc,
)
from gcl.eval.clustering import (
    KMeansResult,
    ari,
    cluster_accuracy,
    cluster_macro_f1,
    clustering_scores,
    hungarian_match,
    kmeans,
    kmeans_clustering_eval,
    nmi,
)
from gcl.eval.heco_probe import HeCoProbeResult, heco_probe, heco_protocol
from gcl.eval.link import dot_product_scores, link_prediction_eval, link_scores
from gcl.eval.ogb_eval import multitask_score, ogb_evaluate, ogb_metric
from gcl.eval.probe import ProbeResult, linear_probe
from gcl.eval.ranking import (
    full_ranking,
    rank_by_embeddings,
    single_target_metrics,
    single_target_ranks,
)

__all__ = [
    "HeCoProbeResult", "KMeansResult", "ProbeResult", "ari", "average_precision",
    "cluster_accuracy", "cluster_macro_f1", "clustering_scores", "dot_product_scores",
    "f1_per_class", "full_ranking", "heco_probe", "heco_protocol", "hungarian_match", "kmeans",
    "kmeans_clustering_eval", "linear_probe", "link_prediction_eval", "link_scores", "macro_f1",
    "micro_f1", "multiclass_roc_auc", "multitask_score", "nmi", "ogb_evaluate", "ogb_metric",
    "rank_by_embeddings", "roc_auc", "single_target_metrics", "single_target_ranks",
]
