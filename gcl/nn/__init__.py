"""Encoders and heads: plain ``nn.Module``s producing node embeddings (pooling is separate)."""
from gcl.nn.augmenter import LearnableAugmenter
from gcl.nn.autoencoder import AutoEncoder, PretrainConfig, pretrain_autoencoder
from gcl.nn.gcn import GCNEncoder, GCNLayer, gcn_adjacency
from gcl.nn.gin import GINConv, GINEncoder
from gcl.nn.influence import influence_operator, row_normalized_adjacency
from gcl.nn.lightgcn import (
    LightGCN,
    SparseOperator,
    csr_transpose,
    lightgcn_propagate,
    lightgcn_propagate_bipartite,
    normalized_bipartite_adjacency,
    spmm,
)
from gcl.nn.metapath import MetaPathEncoder, MetaPathGCN, SemanticAttention, whole_matrix_standardize
from gcl.nn.mlp import MLP, ProjectionHead
from gcl.nn.mol_encoders import (
    AtomEncoder,
    BondEncoder,
    CategoricalEmbedding,
    PretrainAtomEncoder,
    PretrainBondEncoder,
)
from gcl.nn.pooling import global_add_pool, global_max_pool, global_mean_pool, global_pool
from gcl.nn.sasrec import SASRecBlock, SASRecEncoder, SASRecOutput

__all__ = [
    "AutoEncoder", "PretrainConfig", "influence_operator", "pretrain_autoencoder", "LearnableAugmenter",
    "row_normalized_adjacency",
    "AtomEncoder", "BondEncoder", "CategoricalEmbedding", "GCNEncoder", "GCNLayer", "GINConv",
    "GINEncoder", "LightGCN", "MLP", "MetaPathEncoder", "MetaPathGCN", "PretrainAtomEncoder",
    "PretrainBondEncoder", "ProjectionHead", "SASRecBlock", "SASRecEncoder", "SASRecOutput",
    "SemanticAttention", "SparseOperator", "csr_transpose", "gcn_adjacency", "global_add_pool",
    "global_max_pool", "global_mean_pool", "global_pool", "lightgcn_propagate",
    "lightgcn_propagate_bipartite", "normalized_bipartite_adjacency", "spmm",
    "whole_matrix_standardize",
]

from gcl.nn.mol_graph import MolGraphEncoder, encoder_checkpoint  # noqa: E402

__all__ += ["MolGraphEncoder", "encoder_checkpoint"]
