"""Next-item evaluation on a hand-made sequence file: ranks, HR/NDCG/MRR, history masking."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gcl.data.sequences import load_sequences
from gcl.eval.next_item import evaluate_next_item, next_item_ranks


@pytest.fixture()
def shop(tmp_path: Path):
    # user 1: 5 3 9 2 (valid 9 from [5, 3], test 2 from [5, 3, 9]); user 2: 4 4 7 (valid 4, test 7)
    f = tmp_path / "Shop.txt"
    f.write_text("1 5 3 9 2\n2 4 4 7\n")
    return load_sequences(f, max_len=2)


def by_id(inputs: torch.Tensor) -> torch.Tensor:
    """Item j scores j; the padding column scores highest (it must never be ranked)."""
    scores = torch.arange(10, dtype=torch.float32).expand(inputs.size(0), 10).clone()
    scores[:, 0] = 100.0
    return scores


def test_ranks_by_hand(shop) -> None:
    seen = []
    ranks = next_item_ranks(lambda x: (seen.append(x.clone()), by_id(x))[1], shop, "test")
    assert seen[0].tolist() == [[3, 9], [4, 4]]            # inputs cut to max_len = 2
    assert ranks.tolist() == [8, 3]                         # 10 - target among items 1..9
    # masking removes the whole history (5, 3, 9 for user 1, not only the last two) above the target
    assert next_item_ranks(by_id, shop, "test", mask_history=True).tolist() == [5, 3]
    assert next_item_ranks(by_id, shop, "valid").tolist() == [1, 6]
    # user 2's valid target 4 is also in its history: the target itself is never excluded
    assert next_item_ranks(by_id, shop, "valid", mask_history=True).tolist() == [1, 6]


def test_metrics_by_hand(shop) -> None:
    m = evaluate_next_item(by_id, shop, "test", ks=(5, 10))
    assert m["n_users"] == 2
    assert m["hr@5"] == 0.5 and m["hr@10"] == 1.0
    assert m["ndcg@5"] == pytest.approx(0.5 / math.log2(4))
    assert m["ndcg@10"] == pytest.approx(0.5 * (1 / math.log2(9) + 1 / math.log2(4)))
    assert m["mrr@5"] == pytest.approx(0.5 / 3) and m["mrr@10"] == pytest.approx(0.5 * (1 / 8 + 1 / 3))
    masked = evaluate_next_item(by_id, shop, "test", ks=(5,), mask_history=True)
    assert masked["hr@5"] == 1.0 and masked["ndcg@5"] == pytest.approx(0.5 * (1 / math.log2(6) + 1 / math.log2(4)))


def test_batches_users_and_errors(shop) -> None:
    one = next_item_ranks(by_id, shop, "test", batch_size=1)
    assert one.tolist() == [8, 3]
    assert next_item_ranks(by_id, shop, "test", users=torch.tensor([1])).tolist() == [3]
    with pytest.raises(ValueError, match="split"):
        next_item_ranks(by_id, shop, "train")
    with pytest.raises(ValueError, match=r"n_items \+ 1"):
        next_item_ranks(lambda x: torch.zeros(x.size(0), 9), shop, "test")
