"""Encoders and heads: plain ``nn.Module``s producing node embeddings (pooling is separate)."""
from gcl.nn.gcn import GCNEncoder, GCNLayer, gcn_adjacency
from gcl.nn.mlp import MLP, ProjectionHead

__all__ = ["GCNEncoder", "GCNLayer", "MLP", "ProjectionHead", "gcn_adjacency"]
