"""View generators (augmentations): a functional core plus small callable classes.

Graph views work on one ``Data`` or a ``Batch`` of many graphs with per-graph counts and
no Python loop over graphs, nodes or edges; every random choice comes from an explicit
``torch.Generator``. Interaction-graph views (SGL), LightGCL's SVD view, D-SLA's perturbed
candidates with exact edit counts and sequence augmentations live beside them.
"""
from gcl.views.dsla import (
    MASK_ATOM_TYPE,
    OFFICIAL_BOND_DIRECTION_PROBS,
    OFFICIAL_BOND_TYPE_PROBS,
    DSLACandidates,
    DSLAPerturbation,
    dsla_candidates,
    edge_attr_marginals,
)
from gcl.views.functional import drop_edge, mask_feature
from gcl.views.graph import (
    GraphLayout,
    edge_add,
    edge_drop,
    edge_perturb,
    feature_mask,
    graph_layout,
    induced_subgraph,
    merge_graph_views,
    node_drop,
    node_drop_keep,
    segment_rank,
    select_graphs,
)
from gcl.views.interaction import (
    InteractionViews,
    edge_dropout_adjacency,
    node_dropout_adjacency,
    random_walk_adjacencies,
)
from gcl.views.sequence import (
    CROP,
    IDENTITY,
    MASK,
    REORDER,
    SeqViewPair,
    right_to_left_padding,
    seq_augment_pair,
    seq_crop,
    seq_lengths,
    seq_mask,
    seq_random_augment,
    seq_reorder,
    seq_view_lengths,
)
from gcl.views.subgraph import grow_subgraph, grow_subgraph_keep, khop_subgraph, random_walk_subgraph
from gcl.views.svd import SVDView, normalized_interaction_matrix
from gcl.views.transforms import (
    Compose,
    EdgeAdd,
    EdgeDrop,
    EdgePerturb,
    FeatureMask,
    GrowSubgraph,
    KHopSubgraph,
    NodeDrop,
    RandomChoice,
    RandomWalkSubgraph,
    SeqCrop,
    SeqMask,
    SeqRandomAugment,
    SeqReorder,
)

__all__ = [
    "CROP", "Compose", "DSLACandidates", "DSLAPerturbation", "EdgeAdd", "EdgeDrop", "EdgePerturb",
    "FeatureMask", "GraphLayout", "GrowSubgraph", "IDENTITY", "InteractionViews", "KHopSubgraph",
    "MASK", "MASK_ATOM_TYPE", "NodeDrop", "OFFICIAL_BOND_DIRECTION_PROBS",
    "OFFICIAL_BOND_TYPE_PROBS", "REORDER", "RandomChoice", "RandomWalkSubgraph", "SVDView",
    "SeqCrop", "SeqMask", "SeqRandomAugment", "SeqReorder", "drop_edge", "dsla_candidates",
    "edge_add", "edge_attr_marginals", "edge_drop", "edge_dropout_adjacency", "edge_perturb",
    "feature_mask", "graph_layout", "grow_subgraph", "khop_subgraph", "mask_feature",
    "merge_graph_views", "node_drop", "node_dropout_adjacency", "normalized_interaction_matrix",
    "random_walk_adjacencies", "random_walk_subgraph", "segment_rank", "select_graphs",
    "seq_augment_pair", "seq_crop", "seq_lengths", "seq_mask", "seq_random_augment",
    "seq_reorder", "SeqViewPair", "right_to_left_padding", "seq_view_lengths",
]
