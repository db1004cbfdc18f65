"""gcl.nn.sasrec: a dense reference and torch's post-LN TransformerEncoderLayer give the same
numbers; causality; padding invariance (width, side); key-masking of items set to 0."""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from gcl.nn.sasrec import SASRecBlock, SASRecEncoder

TOL = dict(atol=1e-5, rtol=1e-5)



def make(padding_side: str = "right", **kw) -> SASRecEncoder:
    torch.manual_seed(0)
    kw = dict(dim=8, num_layers=2, heads=2, ffn_dim=16, max_len=10) | kw
    return SASRecEncoder(30, padding_side=padding_side, **kw).double().eval()


def right_padded(seqs: list[list[int]], width: int) -> Tensor:
    return torch.tensor([s + [0] * (width - len(s)) for s in seqs])


def left_padded(seqs: list[list[int]], width: int) -> Tensor:
    return torch.tensor([[0] * (width - len(s)) + s for s in seqs])


SEQS = [[3, 7, 1, 9, 2], [5], [4, 4, 8], [11, 12, 13, 14, 15, 16, 17]]


def ref_block(block: SASRecBlock, x: Tensor, allowed: Tensor) -> Tensor:
    b, l, d = x.shape
    h = block.heads

    def split(t: Tensor) -> Tensor:
        return t.view(b, l, h, d // h).permute(0, 2, 1, 3)

    q, k, v = split(block.query(x)), split(block.key(x)), split(block.value(x))
    s = q @ k.transpose(-1, -2) / (d // h) ** 0.5
    s = s.masked_fill(~allowed, float("-inf"))
    ctx = (torch.softmax(s, -1) @ v).permute(0, 2, 1, 3).reshape(b, l, d)
    x = F.layer_norm(x + block.out(ctx), (d,), block.attn_norm.weight, block.attn_norm.bias, 1e-12)
    f = block.ffn_out(0.5 * block.ffn_in(x) * (1 + torch.erf(block.ffn_in(x) / 2 ** 0.5)))
    return F.layer_norm(x + f, (d,), block.ffn_norm.weight, block.ffn_norm.bias, 1e-12)


def ref_encoder(model: SASRecEncoder, items: Tensor, lengths: Tensor) -> Tensor:
    """Right padding: positions = columns; allowed(t, u) = u <= t and item_u != 0 (else self)."""
    b, l = items.shape
    allowed = torch.zeros(b, 1, l, l, dtype=torch.bool)
    for r in range(b):
        for t in range(l):
            keys = [u for u in range(t + 1) if items[r, u] != 0]
            for u in keys or [t]:
                allowed[r, 0, t, u] = True
    x = model.item_emb.weight[items] + model.pos_emb.weight[:l]
    x = model.input_norm(x)
    for block in model.blocks:
        x = ref_block(block, x, allowed)
    return x


def test_equals_dense_reference_right_padding() -> None:
    model = make()
    items = right_padded(SEQS, 9)
    items[0, 2] = 0  # an item masked to the padding id inside a sequence
    lengths = torch.tensor([len(s) for s in SEQS])
    out = model(items, lengths)
    ref = ref_encoder(model, items, lengths)
    assert out.hidden.shape == (4, 9, 8) and out.last.shape == (4, 8)
    torch.testing.assert_close(out.hidden, ref, **TOL)
    torch.testing.assert_close(out.last, ref[torch.arange(4), lengths - 1], **TOL)


def test_block_equals_torch_post_ln_transformer_layer() -> None:
    """Without dropout, the block is torch's TransformerEncoderLayer(norm_first=False, gelu)."""
    torch.manual_seed(1)
    block = SASRecBlock(8, 2, 16, 0.0, 0.0, 1e-12).double().eval()
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                             layer_norm_eps=1e-12, batch_first=True,
                                             norm_first=False).double().eval()
    with torch.no_grad():
        for p in block.parameters():  # non-zero biases and non-trivial LayerNorm parameters
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
        attn = layer.self_attn
        attn.in_proj_weight.copy_(torch.cat([block.query.weight, block.key.weight, block.value.weight]))
        attn.in_proj_bias.copy_(torch.cat([block.query.bias, block.key.bias, block.value.bias]))
        pairs = [(attn.out_proj, block.out), (layer.linear1, block.ffn_in), (layer.linear2, block.ffn_out),
                 (layer.norm1, block.attn_norm), (layer.norm2, block.ffn_norm)]
        for theirs, ours in pairs:
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    ours = block(x, causal.expand(3, 1, 6, 6))
    theirs = layer(x, src_mask=~causal)
    torch.testing.assert_close(ours, theirs, **TOL)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 3), st.integers(0, 8), st.integers(1, 30), st.sampled_from(["right", "left"]))
def test_causality(row: int, col: int, new_item: int, side: str) -> None:
    """Changing the item in column ``col`` leaves every output in earlier columns unchanged."""
    model = make(side)
    items = (right_padded if side == "right" else left_padded)(SEQS, 9)
    changed = items.clone()
    changed[row, col] = new_item
    before, after = model(items).hidden, model(changed).hidden
    torch.testing.assert_close(after[:, :col], before[:, :col], **TOL)
    torch.testing.assert_close(after[torch.arange(4) != row], before[torch.arange(4) != row], **TOL)


def test_causality_by_gradient() -> None:
    model = make()
    items = right_padded(SEQS, 9)
    out = model(items).hidden
    probe = torch.randn(8, dtype=torch.float64)  # (a plain sum of a LayerNorm output is constant)
    g = torch.autograd.grad(out[0, 2] @ probe, model.item_emb.weight)[0]
    assert g[[3, 7, 1]].abs().sum() > 0           # items at columns 0..2 matter
    assert g[[9, 2]].abs().sum() == 0              # later items do not
    assert g[0].abs().sum() == 0                   # the padding row gets no gradient


def test_padding_invariance_width_and_side() -> None:
    lengths = torch.tensor([len(s) for s in SEQS])
    right = make("right")
    left = make("left")
    r7, r10 = right(right_padded(SEQS, 7)), right(right_padded(SEQS, 10))
    l7, l10 = left(left_padded(SEQS, 7)), left(left_padded(SEQS, 10))
    for r, s in enumerate(SEQS):
        n = len(s)
        torch.testing.assert_close(r7.hidden[r, :n], r10.hidden[r, :n], **TOL)
        torch.testing.assert_close(l7.hidden[r, -n:], l10.hidden[r, -n:], **TOL)
        torch.testing.assert_close(l10.hidden[r, -n:], r10.hidden[r, :n], **TOL)
    for out in (r10, l7, l10):
        torch.testing.assert_close(out.last, r7.last, **TOL)
    # explicit lengths give the same as the inferred ones
    torch.testing.assert_close(right(right_padded(SEQS, 7), lengths).last, r7.last)


def test_masked_items_are_key_masked() -> None:
    """An item set to 0 is invisible to later positions: changing the padding row's embedding
    changes nothing at the other positions."""
    model = make()
    items = right_padded(SEQS, 8)
    items[0, 1] = 0
    before = model(items, torch.tensor([5, 1, 3, 7])).hidden
    with torch.no_grad():
        model.item_emb.weight[0].add_(torch.randn(8, dtype=torch.float64))
    after = model(items, torch.tensor([5, 1, 3, 7])).hidden
    torch.testing.assert_close(after[0, [0, 2, 3, 4]], before[0, [0, 2, 3, 4]], **TOL)
    assert not torch.allclose(after[0, 1], before[0, 1])


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_equals_forward_last_values_and_gradients(side: str) -> None:
    """``last`` (length buckets, one query row in the last block) = ``forward(...).last``, for
    rows of every bucket, an empty row, a row whose items reach beyond its given length, and a
    row with an item masked to 0."""
    g = torch.Generator().manual_seed(3)
    width = 10
    lengths = torch.tensor([10, 1, 0, 2, 3, 4, 5, 7, 8, 9, 6, 3])
    seqs = [torch.randint(1, 31, (int(n),), generator=g).tolist() for n in lengths]
    items = left_padded(seqs, width) if side == "left" else right_padded(seqs, width)
    items[6, -2 if side == "left" else 1] = 0                    # masked item inside a row
    given = lengths.clone()
    given[10] = 4                                                # items reach past the given length
    model = make(side)
    assert model.bucket_widths(width) == [1, 2, 4, 8, 10] and model.bucket_widths(1) == [1]
    full = model(items, given).last
    fast = model.last(items, given)
    torch.testing.assert_close(fast, full, atol=1e-12, rtol=1e-12)
    w = torch.randn(full.shape, generator=g, dtype=torch.float64)
    ga = torch.autograd.grad((full * w).sum(), list(model.parameters()), allow_unused=True)
    gb = torch.autograd.grad((fast * w).sum(), list(model.parameters()), allow_unused=True)
    for a, b in zip(ga, gb):
        torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-12)
    # one bucket only (every row as long as the input): the plain path
    one = items[:1]
    torch.testing.assert_close(model.last(one), model(one).last, atol=1e-12, rtol=1e-12)
    # training mode: same shapes, dropout applied
    model.train()
    assert model.last(items, given).shape == full.shape


def test_dropout_keeps_one_minus_p_scaled_and_is_identity_in_eval() -> None:
    from gcl.nn.sasrec import dropout

    x = torch.randn(200_000, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(1)
    y = dropout(x, 0.3, True)
    kept = y != 0
    assert abs(float(kept.double().mean()) - 0.7) < 0.005               # Bernoulli(1 - p) mask
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, kept.double() / 0.7)
    assert dropout(x, 0.3, False) is x and dropout(x, 0.0, True) is x


def test_defaults_dropout_scores_and_errors() -> None:
    model = SASRecEncoder(20)
    assert model.item_emb.weight.shape == (21, 64) and model.pos_emb.weight.shape == (50, 64)
    assert len(model.blocks) == 2 and model.blocks[0].heads == 2
    assert model.blocks[0].ffn_in.out_features == 256
    assert model.input_norm.eps == 1e-12
    assert abs(float(model.item_emb.weight.detach().std()) - 0.02) < 0.004
    assert float(model.blocks[0].query.bias.detach().abs().sum()) == 0
    items = right_padded([[1, 2, 3], [4]], 5)
    model.train()
    torch.manual_seed(0)
    a = model(items).last
    b = model(items).last
    assert not torch.allclose(a, b)
    model.eval()
    torch.testing.assert_close(model(items).last, model(items).last)
    assert model.item_scores(model(items).last).shape == (2, 21)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(2, 51, dtype=torch.long))
    with pytest.raises(ValueError, match="lengths"):
        model(items, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="heads"):
        SASRecEncoder(5, dim=10, heads=3)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device: str) -> None:
    model = make("left").float().to(device).train()
    out = model(left_padded(SEQS, 9).to(device))
    model.item_scores(out.last).logsumexp(-1).sum().backward()
    assert out.last.device.type == device and model.item_emb.weight.grad.device.type == device
