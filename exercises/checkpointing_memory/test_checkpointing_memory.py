"""Grading tests for the checkpointing_memory exercise, on the CPU.

checkpointed_forward runs stacks of residual blocks that count their forward calls: the outputs and the
gradients are compared with the same blocks run without checkpointing (same weights, same seed), the calls
show which blocks were recomputed, and the tensors saved for backward are counted by the test's own
saved_tensors_hooks. count_saved_tensors is compared with hand counts for small functions."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint_sequential

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
SAME = ("the same function as running the blocks one after another without checkpointing: checkpointing "
        "changes only what is kept for backward")


class Block(nn.Module):
    """A residual block that counts its forward calls."""

    def __init__(self, dim: int, p: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.linear = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(p)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x + self.dropout(torch.tanh(self.linear(self.norm(x))))


def _blocks(seed: int, n: int, dim: int = 6, dtype=torch.float32, p: float = 0.0) -> nn.ModuleList:
    torch.manual_seed(seed)
    return nn.ModuleList([Block(dim, p) for _ in range(n)]).to(dtype)


def _randn(seed: int, *shape: int, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _plain(blocks, x: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        x = block(x)
    return x


def _calls(blocks) -> list[int]:
    return [block.calls for block in blocks]


def _grads(blocks) -> dict[str, torch.Tensor | None]:
    return {name: p.grad for name, p in blocks.named_parameters()}


def _saved(fn, *args) -> tuple[torch.Tensor, int]:
    """The test's own counter of tensors saved for backward."""
    count = [0]

    def pack(tensor):
        count[0] += 1
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn(*args)
    return out, count[0]


def _expected(seed: int, n: int, x: torch.Tensor, upstream: torch.Tensor, dtype=torch.float32, p: float = 0.0,
              run_seed: int = 0):
    """Output, x.grad and parameter grads of the plain stack."""
    blocks = _blocks(seed, n, dtype=dtype, p=p)
    x = x.clone().requires_grad_(x.requires_grad)
    torch.manual_seed(run_seed)
    out = _plain(blocks, x)
    (out * upstream).sum().backward()
    return out.detach(), x.grad, _grads(blocks), torch.rand(4)


# --- checkpointed_forward ---------------------------------------------------------------------------------

@pytest.mark.task("checkpointed_forward")
def test_checkpointed_forward_calls_each_block_once_in_forward(impl) -> None:
    blocks = _blocks(11, 4)
    impl.checkpointed_forward(blocks, _randn(3, 2, 6).requires_grad_())
    observe("forward calls of each of 4 blocks after checkpointed_forward, before backward", _calls(blocks),
            expect=[1, 1, 1, 1], explain="the forward pass runs each block exactly once; recomputation happens "
                                         "only during backward")


@pytest.mark.task("checkpointed_forward")
def test_checkpointed_forward_recomputes_in_backward(impl) -> None:
    blocks = _blocks(12, 4)
    out = impl.checkpointed_forward(blocks, _randn(4, 2, 6).requires_grad_())
    out.sum().backward()
    observe("forward calls of each of 4 blocks after forward and backward, segments=None", _calls(blocks),
            expect=[2, 2, 2, 1],
            explain="one block per segment: blocks 0, 1 and 2 are checkpointed and run again in backward; the "
                    "last segment (block 3) is not checkpointed, so it runs once. When backward calls a checkpointed "
                    "segment's function again, it must run that segment's own blocks")


@pytest.mark.task("checkpointed_forward")
@pytest.mark.parametrize("n,segments,want", [(4, 2, [2, 2, 1, 1]), (7, 3, [2, 2, 2, 2, 1, 1, 1]),
                                             (5, 2, [2, 2, 1, 1, 1]), (3, 1, [1, 1, 1]), (6, 6, [2] * 5 + [1])],
                         ids=["4-blocks-2-segments", "7-blocks-3-segments", "5-blocks-2-segments",
                              "3-blocks-1-segment", "6-blocks-6-segments"])
def test_checkpointed_forward_segments(impl, n: int, segments: int, want: list[int]) -> None:
    blocks = _blocks(13, n)
    x, upstream = _randn(5, 2, 6), _randn(6, 2, 6)
    out = impl.checkpointed_forward(blocks, x.clone().requires_grad_(), segments)
    (out * upstream).sum().backward()
    size = n // segments
    observe(f"forward calls of each of {n} blocks after forward and backward, segments={segments}",
            _calls(blocks), expect=want,
            explain=f"{segments} segments of n // segments = {size} blocks, the last one taking the rest; every "
                    "segment but the last is checkpointed (its blocks run twice), the last runs once")
    _, _, grads_want, _ = _expected(13, n, x.clone().requires_grad_(), upstream)
    observe(f"parameter gradients with {n} blocks in {segments} segments", _grads(blocks), expect=grads_want,
            explain="every parameter gets the plain stack's gradient: " + SAME)


@pytest.mark.task("checkpointed_forward")
@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=str)
def test_checkpointed_forward_matches_the_plain_stack(impl, dtype) -> None:
    x, upstream = _randn(1, 3, 6, dtype=dtype), _randn(2, 3, 6, dtype=dtype)
    out_want, x_grad_want, grads_want, _ = _expected(10, 4, x.requires_grad_(), upstream, dtype)
    blocks = _blocks(10, 4, dtype=dtype)
    x = x.detach().clone().requires_grad_()
    out = impl.checkpointed_forward(blocks, x)
    observe(f"output of checkpointed_forward over 4 blocks, {dtype}", out, expect=out_want, explain=SAME)
    (out * upstream).sum().backward()
    observe(f"x.grad after backward through checkpointed_forward, {dtype}", x.grad, expect=x_grad_want,
            explain="the gradient of the input is the plain stack's: " + SAME)
    observe(f"parameter gradients after backward through checkpointed_forward, {dtype}", _grads(blocks),
            expect=grads_want, explain="every parameter gets the plain stack's gradient: " + SAME)


@pytest.mark.task("checkpointed_forward")
@pytest.mark.parametrize("segments", [None, 2], ids=["segments-None", "segments-2"])
def test_checkpointed_forward_saves_fewer_tensors(impl, segments) -> None:
    x = _randn(7, 2, 6).requires_grad_()
    _, plain = _saved(_plain, _blocks(14, 4), x)
    blocks = _blocks(14, 4)
    _, saved = _saved(impl.checkpointed_forward, blocks, x, segments)
    observe(f"tensors saved for backward by checkpointed_forward over 4 blocks, segments={segments} "
            f"(the plain stack saves {plain})", saved,
            explain="a checkpointed segment saves only its input; the last segment saves its activations as "
                    "usual (counted with torch.autograd.graph.saved_tensors_hooks)")


@pytest.mark.task("checkpointed_forward")
def test_checkpointed_forward_input_without_grad(impl) -> None:
    x, upstream = _randn(8, 3, 6), _randn(9, 3, 6)
    _, _, grads_want, _ = _expected(15, 4, x, upstream)
    blocks = _blocks(15, 4)
    (impl.checkpointed_forward(blocks, x, 2) * upstream).sum().backward()
    observe("parameter gradients when the input does not require grad, segments=2", _grads(blocks),
            expect=grads_want,
            explain="with use_reentrant=False the parameters inside a checkpointed segment get their gradients "
                    "even when its input does not require grad (the reentrant variant leaves them None)")


@pytest.mark.task("checkpointed_forward")
@pytest.mark.parametrize("segments", [None, 2], ids=["segments-None", "segments-2"])
def test_checkpointed_forward_with_dropout(impl, segments) -> None:
    x, upstream = _randn(10, 4, 6, dtype=f64), _randn(11, 4, 6, dtype=f64)
    out_want, x_grad_want, grads_want, after_want = _expected(16, 4, x.clone().requires_grad_(), upstream, f64,
                                                              p=0.5, run_seed=3)
    blocks = _blocks(16, 4, dtype=f64, p=0.5)
    x = x.clone().requires_grad_()
    torch.manual_seed(3)
    out = impl.checkpointed_forward(blocks, x, segments)
    (out * upstream).sum().backward()
    observe(f"output with dropout p=0.5 in every block, segments={segments}", out, expect=out_want,
            explain="with the same seed, the same dropout masks as the plain stack")
    observe(f"x.grad with dropout p=0.5 in every block, segments={segments}", x.grad, expect=x_grad_want,
            explain="the recomputation in backward must draw the same dropout masks as the forward pass: keep "
                    "preserve_rng_state=True (the default) so the RNG state is restored for it")
    observe(f"parameter gradients with dropout p=0.5, segments={segments}", _grads(blocks), expect=grads_want,
            explain="the recomputed forward uses the forward pass's dropout masks (preserve_rng_state=True)")
    observe("torch.rand(4) after forward and backward with dropout", torch.rand(4), expect=after_want,
            explain="the global RNG ends where the plain stack leaves it: each mask is drawn once, and "
                    "the recomputation's draws do not advance it")


@pytest.mark.task("checkpointed_forward")
def test_checkpointed_forward_under_no_grad(impl) -> None:
    x = _randn(12, 2, 6)
    blocks = _blocks(17, 3)
    with torch.no_grad():
        want = _plain(_blocks(17, 3), x)
        out = impl.checkpointed_forward(blocks, x)
    observe("output of checkpointed_forward under torch.no_grad()", out, expect=want, explain=SAME)
    observe("out.requires_grad under torch.no_grad()", out.requires_grad, expect=False,
            explain="no graph is recorded under torch.no_grad()")
    observe("forward calls of each block under torch.no_grad()", _calls(blocks), expect=[1, 1, 1],
            explain="each block runs once")


@pytest.mark.task("checkpointed_forward")
def test_checkpointed_forward_accepts_a_sequential(impl) -> None:
    torch.manual_seed(18)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 7), nn.GELU(), nn.Linear(7, 3)).to(f64)
    x = _randn(13, 4, 5, dtype=f64).requires_grad_()
    out = impl.checkpointed_forward(model, x, 2)
    out.square().sum().backward()
    observe("output of checkpointed_forward over an nn.Sequential of 5 layers, segments=2", out, expect=model(x),
            explain=SAME)
    observe("the first layer's weight gradient", model[0].weight.grad,
            explain="the gradient of sum(out ** 2), as without checkpointing")


@pytest.mark.task("checkpointed_forward")
@pytest.mark.parametrize("segments", [0, 5], ids=["0", "5"])
def test_checkpointed_forward_rejects_bad_segments(impl, segments: int) -> None:
    with expect_raises(f"checkpointed_forward over 4 blocks with segments={segments}", ValueError,
                       explain="segments must be between 1 and the number of blocks"):
        impl.checkpointed_forward(_blocks(19, 4), _randn(14, 2, 6), segments)


# --- count_saved_tensors ----------------------------------------------------------------------------------

@pytest.mark.task("count_saved_tensors")
@pytest.mark.parametrize("name,fn,want", [
    ("x * x", lambda x: x * x, 2), ("torch.exp(x)", torch.exp, 1), ("x.sin().cos()", lambda x: x.sin().cos(), 2),
    ("x + 1", lambda x: x + 1, 0), ("x * x * x", lambda x: x * x * x, 4),
], ids=["x-times-x", "exp", "sin-cos", "x-plus-1", "x-cubed"])
def test_count_saved_tensors_small_functions(impl, name: str, fn, want: int) -> None:
    x = _randn(20, 3, 4).requires_grad_()
    out, count = impl.count_saved_tensors(fn, x)
    observe(f"count from count_saved_tensors for {name}, x requiring grad", count, expect=want,
            explain="every tensor autograd packs for backward counts, the same tensor as often as it is saved "
                    "(x * x saves x twice; exp saves its result; x + 1 saves nothing)")
    observe(f"output from count_saved_tensors for {name}", out, expect=fn(x), explain="fn(*args) itself")


@pytest.mark.task("count_saved_tensors")
def test_count_saved_tensors_keeps_backward_working(impl) -> None:
    x = _randn(21, 3, 4, dtype=f64).requires_grad_()
    out, _ = impl.count_saved_tensors(lambda a, b: (a * b).sin(), x, x + 1)
    out.sum().backward()
    observe("x.grad after backward through the output of count_saved_tensors(lambda a, b: (a * b).sin(), x, x + 1)",
            x.grad, expect=torch.cos(x * (x + 1)) * (2 * x + 1),
            explain="the output stays attached to its graph and the saved tensors are given back unchanged at "
                    "backward time: the pack hook returns the tensor (or what unpack turns back into it)")


@pytest.mark.task("count_saved_tensors")
def test_count_saved_tensors_nothing_to_save(impl) -> None:
    x = _randn(22, 3, 4)
    _, count = impl.count_saved_tensors(lambda x: x * x, x)
    observe("count for x * x when x does not require grad", count, expect=0,
            explain="no input requires grad, so autograd saves nothing")
    x.requires_grad_()
    with torch.no_grad():
        _, count = impl.count_saved_tensors(lambda x: x * x, x)
    observe("count for x * x under torch.no_grad()", count, expect=0,
            explain="no graph under torch.no_grad(), so nothing is saved")


@pytest.mark.task("count_saved_tensors")
def test_count_saved_tensors_layers(impl) -> None:
    torch.manual_seed(23)
    linear, norm = nn.Linear(4, 3), nn.LayerNorm(4)
    x = _randn(23, 2, 4)
    _, count = impl.count_saved_tensors(linear, x)
    observe("count for nn.Linear(4, 3) on an input that does not require grad", count, expect=1,
            explain="only the input is saved (the weight's gradient needs it); the weight would be needed only "
                    "for the input's gradient, which nobody asked for")
    _, count = impl.count_saved_tensors(linear, x.requires_grad_())
    observe("count for nn.Linear(4, 3) on an input that requires grad", count, expect=2,
            explain="the input (for the weight's gradient) and the weight (for the input's gradient)")
    _, count = impl.count_saved_tensors(norm, x)
    observe("count for nn.LayerNorm(4)", count, explain="what layer_norm saves for backward")


@pytest.mark.task("count_saved_tensors")
def test_count_saved_tensors_sees_checkpointing(impl) -> None:
    blocks = list(_blocks(24, 4))
    x = _randn(24, 2, 6).requires_grad_()
    _, plain = impl.count_saved_tensors(_plain, blocks, x)
    observe("count for 4 residual blocks without checkpointing", plain,
            explain="each block's LayerNorm, Linear and tanh save their tensors")
    _, saved = impl.count_saved_tensors(lambda h: checkpoint_sequential(blocks, 4, h, use_reentrant=False), x)
    observe("count for the same 4 blocks under checkpoint_sequential(blocks, 4, x, use_reentrant=False)", saved,
            explain="checkpointed segments keep only their inputs: far fewer saved tensors")
