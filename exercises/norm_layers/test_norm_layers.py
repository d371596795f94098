"""Grading tests for the norm_layers exercise: LayerNorm and BatchNorm1d by hand, compared with nn.LayerNorm and
nn.BatchNorm1d built with the same affine parameters and fed the same batches: outputs, gradients of the input,
weight and bias, buffers and state_dicts, in float32 and float64, in train and eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

f64 = torch.float64
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
LN_FORWARD = ("(x - mean) / sqrt(var + eps) * weight + bias, with the mean and the biased variance taken over the "
              "last len(normalized_shape) dims, as nn.LayerNorm")
BN_TRAIN = ("train mode: (x - mean) / sqrt(var + eps) * weight + bias per channel, with the batch mean and the "
            "biased batch variance over dim 0 (and dim 2 for (N, C, L) inputs), as nn.BatchNorm1d")
BN_EVAL = "eval mode normalises with running_mean and running_var (not the batch's statistics), as nn.BatchNorm1d"
BN_BUFFERS = ("after each training batch: num_batches_tracked + 1, running_mean = (1 - momentum) * running_mean + "
              "momentum * batch mean, running_var the same with the unbiased batch variance (divided by n - 1)")


def _randn(seed: int, *shape: int, dtype=torch.float32, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (shift + scale * torch.randn(*shape, generator=g, dtype=f64)).to(dtype)


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _affine(seed: int, shape) -> dict[str, torch.Tensor]:
    return {"weight": 1.0 + 0.5 * _randn(seed, *shape), "bias": _randn(seed + 1, *shape)}


def _layer_norms(impl, seed: int, normalized_shape, dtype, **options):
    """(ours, nn.LayerNorm) with the same random weight and bias, converted to dtype."""
    ours, theirs = impl.LayerNorm(normalized_shape, **options), nn.LayerNorm(normalized_shape, **options)
    if options.get("elementwise_affine", True):
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        state = _affine(seed, shape)
        ours.load_state_dict(state)
        theirs.load_state_dict(state)
    return ours.to(dtype), theirs.to(dtype)


def _batch_norms(impl, seed: int, channels: int, dtype, **options):
    """(ours, nn.BatchNorm1d) with the same random weight and bias, converted to dtype, in train mode."""
    ours, theirs = impl.BatchNorm1d(channels, **options), nn.BatchNorm1d(channels, **options)
    if options.get("affine", True):
        state = _affine(seed, (channels,))
        ours.load_state_dict(state, strict=False)
        theirs.load_state_dict(state, strict=False)
    return ours.to(dtype), theirs.to(dtype)


def _grads(module: nn.Module, x: torch.Tensor, weights: torch.Tensor):
    """(output, x.grad, {parameter name: grad}) for sum(weights * module(x))."""
    leaf = x.detach().clone().requires_grad_()
    out = module(leaf)
    (out * weights).sum().backward()
    return out, leaf.grad, {name: p.grad for name, p in module.named_parameters()}


# --- LayerNorm --------------------------------------------------------------------------------------------

@pytest.mark.task("LayerNorm")
def test_layer_norm_parameters(impl) -> None:
    for shape in (6, (3, 4)):
        module = impl.LayerNorm(shape)
        observe(f"LayerNorm({shape}).state_dict()", module.state_dict(), expect=nn.LayerNorm(shape).state_dict(),
                explain="parameters weight (ones) and bias (zeros) of shape normalized_shape (an int n means (n,)), "
                        "registered as nn.Parameter")
        observe(f"LayerNorm({shape}).normalized_shape", module.normalized_shape,
                expect=(shape,) if isinstance(shape, int) else shape, explain="normalized_shape is kept as a tuple")
    observe("LayerNorm(6, elementwise_affine=False).state_dict()",
            impl.LayerNorm(6, elementwise_affine=False).state_dict(), expect={},
            explain="elementwise_affine=False: no parameters at all")


@pytest.mark.task("LayerNorm")
def test_layer_norm_worked_example(impl) -> None:
    out = impl.LayerNorm(2, eps=0.0).to(f64)(torch.tensor([[1.0, 3.0], [-4.0, 0.0]], dtype=f64))
    observe("LayerNorm(2, eps=0) of [[1, 3], [-4, 0]]", out, expect=torch.tensor([[-1.0, 1.0], [-1.0, 1.0]], dtype=f64),
            explain="each row on its own (statistics over the last dim, not over the batch): row [1, 3] has mean 2 "
                    "and biased variance ((1 - 2)^2 + (3 - 2)^2) / 2 = 1, so [-1, 1]; the unbiased variance "
                    "(divided by n - 1 = 1) would give [-0.707, 0.707]")


@pytest.mark.task("LayerNorm")
def test_layer_norm_eps_inside_the_sqrt(impl) -> None:
    x = torch.tensor([[0.0, 0.2], [5.0, 5.0]], dtype=f64)  # variance 0.01 and 0
    out = impl.LayerNorm(2, eps=0.03).to(f64)(x)
    observe("LayerNorm(2, eps=0.03) of [[0, 0.2], [5, 5]]", out,
            expect=torch.tensor([[-0.5, 0.5], [0.0, 0.0]], dtype=f64),
            explain="(x - mean) / sqrt(var + eps): row [0, 0.2] has var 0.01, so / sqrt(0.04) = / 0.2 gives "
                    "[-0.5, 0.5] (not / (std + eps) = / 0.13); a constant row gives 0")


@pytest.mark.task("LayerNorm")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_layer_norm_forward(impl, dtype) -> None:
    for seed, (x_shape, normalized_shape) in enumerate([((4, 6), 6), ((2, 3, 5), 5), ((2, 3, 4), (3, 4)),
                                                        ((3, 2, 2, 3), (2, 2, 3))]):
        ours, theirs = _layer_norms(impl, seed, normalized_shape, dtype)
        x = _randn(seed + 10, *x_shape, dtype=dtype, scale=3.0, shift=2.0)
        before = x.clone()
        observe(f"LayerNorm({normalized_shape}) of a {_name(dtype)} x of shape {x_shape}", ours(x),
                expect=theirs(x), explain=LN_FORWARD)
        observe(f"x after LayerNorm({normalized_shape})(x)", x, expect=before, exact=True,
                explain="forward must not modify its input")


@pytest.mark.task("LayerNorm")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_layer_norm_gradients(impl, dtype) -> None:
    for seed, (x_shape, normalized_shape) in enumerate([((4, 6), 6), ((2, 3, 4), (3, 4))]):
        ours, theirs = _layer_norms(impl, seed + 20, normalized_shape, dtype)
        x = _randn(seed + 30, *x_shape, dtype=dtype, scale=2.0)
        w = _randn(seed + 40, *x_shape, dtype=dtype)
        _, x_grad, p_grads = _grads(ours, x, w)
        _, x_grad_nn, p_grads_nn = _grads(theirs, x, w)
        where = f"sum(w * LayerNorm({normalized_shape})(x)) for a {_name(dtype)} x of shape {x_shape}"
        observe(f"x.grad of {where}", x_grad, expect=x_grad_nn,
                explain="the gradient flows through the mean and the variance too, as nn.LayerNorm's")
        observe(f"weight.grad and bias.grad of {where}", p_grads, expect=p_grads_nn,
                explain="weight.grad = sum of w * x_hat and bias.grad = sum of w over the leading dims")


@pytest.mark.task("LayerNorm")
def test_layer_norm_without_affine(impl) -> None:
    ours, theirs = _layer_norms(impl, 50, 5, f64, elementwise_affine=False, eps=1e-3)
    x = _randn(51, 3, 5, dtype=f64, scale=0.1)
    observe("LayerNorm(5, eps=1e-3, elementwise_affine=False) of a (3, 5) x", ours(x), expect=theirs(x),
            explain="(x - mean) / sqrt(var + eps) alone")


@pytest.mark.task("LayerNorm")
def test_layer_norm_same_in_eval_mode(impl) -> None:
    ours, theirs = _layer_norms(impl, 52, 4, f64)
    x = _randn(53, 5, 4, dtype=f64)
    observe("LayerNorm(4) of a (5, 4) x in eval mode", ours.eval()(x), expect=theirs.eval()(x),
            explain="LayerNorm has no running statistics: eval mode computes the same as train mode")


@pytest.mark.task("LayerNorm")
def test_layer_norm_rejects_a_wrong_trailing_shape(impl) -> None:
    with expect_raises("LayerNorm(5) of an input of shape (2, 4)", ValueError, RuntimeError,
                       explain="the input's trailing shape must be normalized_shape"):
        impl.LayerNorm(5)(torch.zeros(2, 4))


# --- BatchNorm1d ------------------------------------------------------------------------------------------

@pytest.mark.task("BatchNorm1d")
def test_batch_norm_state_dict(impl) -> None:
    module = impl.BatchNorm1d(3)
    observe("BatchNorm1d(3).state_dict()", module.state_dict(), expect=nn.BatchNorm1d(3).state_dict(), exact=True,
            explain="weight (ones) and bias (zeros) as parameters; running_mean (zeros), running_var (ones) and "
                    "num_batches_tracked (a 0-dim int64 tensor, 0) as buffers (register_buffer)")
    observe("names of BatchNorm1d(3)'s parameters and of its buffers",
            [sorted(name for name, _ in module.named_parameters()), sorted(name for name, _ in module.named_buffers())],
            expect=[["bias", "weight"], ["num_batches_tracked", "running_mean", "running_var"]],
            explain="the running statistics are buffers, not parameters: an optimizer must never train them")
    observe("BatchNorm1d(3, affine=False).state_dict()", impl.BatchNorm1d(3, affine=False).state_dict(),
            expect=nn.BatchNorm1d(3, affine=False).state_dict(), exact=True,
            explain="affine=False: no weight or bias, the three buffers only")


@pytest.mark.task("BatchNorm1d")
def test_batch_norm_worked_example(impl) -> None:
    module = impl.BatchNorm1d(1, eps=0.0).to(f64)
    out = module(torch.tensor([[1.0], [3.0]], dtype=f64))
    observe("BatchNorm1d(1, eps=0) in train mode of the batch [[1], [3]]", out,
            expect=torch.tensor([[-1.0], [1.0]], dtype=f64),
            explain="normalised with the biased batch variance: mean 2, var ((1 - 2)^2 + (3 - 2)^2) / 2 = 1, so "
                    "[-1, 1] (the unbiased variance 2 would give [-0.707, 0.707])")
    observe("running_mean, running_var and num_batches_tracked after that batch",
            [module.running_mean, module.running_var, module.num_batches_tracked],
            expect=[torch.tensor([0.2], dtype=f64), torch.tensor([1.1], dtype=f64), torch.tensor(1)],
            explain="running_mean = 0.9 * 0 + 0.1 * 2 = 0.2; running_var uses the unbiased variance 2: "
                    "0.9 * 1 + 0.1 * 2 = 1.1; num_batches_tracked counts 1 batch")


@pytest.mark.task("BatchNorm1d")
def test_batch_norm_eps_inside_the_sqrt(impl) -> None:
    module = impl.BatchNorm1d(2, eps=0.03).to(f64)
    x = torch.tensor([[0.0, 5.0], [0.2, 5.0]], dtype=f64)  # channel variances 0.01 and 0
    observe("BatchNorm1d(2, eps=0.03) in train mode of [[0, 5], [0.2, 5]]", module(x),
            expect=torch.tensor([[-0.5, 0.0], [0.5, 0.0]], dtype=f64),
            explain="(x - mean) / sqrt(var + eps): channel 0 has var 0.01, so / sqrt(0.04) = / 0.2 gives [-0.5, 0.5] "
                    "(not / (std + eps)); a constant channel gives 0")


@pytest.mark.task("BatchNorm1d")
def test_batch_norm_buffers_stay_out_of_the_graph(impl) -> None:
    module = impl.BatchNorm1d(3).to(f64)
    x = _randn(110, 5, 3, dtype=f64).requires_grad_()
    for _ in range(2):
        module(x).pow(2).sum().backward()
    observe("requires_grad and grad_fn of running_mean and running_var after two training steps",
            [module.running_mean.requires_grad, module.running_var.requires_grad,
             module.running_mean.grad_fn is None, module.running_var.grad_fn is None],
            expect=[False, False, True, True],
            explain="update the running statistics under torch.no_grad() (or from detached batch statistics): "
                    "they are not part of the graph, and a buffer that keeps one breaks the next backward")
    observe("x.grad after two training steps that each called backward", x.grad,
            explain="each backward adds the gradient of its own step")


@pytest.mark.task("BatchNorm1d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)], ids=["NC", "NCL"])
def test_batch_norm_training(impl, dtype, shape) -> None:
    ours, theirs = _batch_norms(impl, 60, 3, dtype)
    for step in range(3):
        x = _randn(61 + step, *shape, dtype=dtype, scale=2.0 + step, shift=1.0 - step)
        before = x.clone()
        observe(f"train-mode output for batch {step + 1} of shape {shape}, {_name(dtype)}", ours(x),
                expect=theirs(x), explain=BN_TRAIN)
        observe(f"x after batch {step + 1}", x, expect=before, exact=True, explain="forward must not modify its input")
    observe(f"state_dict after 3 training batches of shape {shape}, {_name(dtype)}", ours.state_dict(),
            expect=theirs.state_dict(), explain=BN_BUFFERS)


@pytest.mark.task("BatchNorm1d")
@pytest.mark.parametrize("momentum", [0.3, None], ids=["momentum0.3", "momentumNone"])
def test_batch_norm_momentum(impl, momentum) -> None:
    ours, theirs = _batch_norms(impl, 70, 4, f64, momentum=momentum)
    for step in range(3):
        x = _randn(71 + step, 6, 4, dtype=f64, scale=1.0 + step, shift=step)
        ours(x)
        theirs(x)
        observe(f"running_mean and running_var after batch {step + 1} with momentum={momentum}",
                [ours.running_mean, ours.running_var], expect=[theirs.running_mean, theirs.running_var],
                explain="momentum is the weight of the new batch: (1 - momentum) * running + momentum * batch; "
                        "momentum=None is the cumulative average, factor 1 / num_batches_tracked (1, 1/2, 1/3...)")


@pytest.mark.task("BatchNorm1d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)], ids=["NC", "NCL"])
def test_batch_norm_eval(impl, dtype, shape) -> None:
    ours, theirs = _batch_norms(impl, 80, 3, dtype)
    for step in range(2):
        x = _randn(81 + step, *shape, dtype=dtype, scale=3.0, shift=2.0)
        ours(x)
        theirs(x)
    ours.eval()
    theirs.eval()
    x = _randn(90, *shape, dtype=dtype, scale=0.5, shift=-1.0)
    observe(f"eval-mode output after 2 training batches, x of shape {shape}, {_name(dtype)}", ours(x),
            expect=theirs(x), explain=BN_EVAL)
    one = _randn(91, 1, *shape[1:], dtype=dtype)
    observe("eval-mode output for a batch of one sample", ours(one), expect=theirs(one),
            explain="eval mode needs no batch statistics, so a single sample is fine")
    observe("state_dict after 2 training batches and then two eval-mode forwards", ours.state_dict(),
            expect=theirs.state_dict(),
            explain="eval mode leaves running_mean, running_var and num_batches_tracked unchanged: they still hold "
                    "what the 2 training batches left")


@pytest.mark.task("BatchNorm1d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)], ids=["NC", "NCL"])
def test_batch_norm_gradients(impl, dtype, shape) -> None:
    ours, theirs = _batch_norms(impl, 100, 3, dtype)
    x = _randn(101, *shape, dtype=dtype, scale=2.0, shift=1.0)
    w = _randn(102, *shape, dtype=dtype)
    _, x_grad, p_grads = _grads(ours, x, w)
    _, x_grad_nn, p_grads_nn = _grads(theirs, x, w)
    observe(f"x.grad of sum(w * BatchNorm1d(3)(x)) in train mode, x of shape {shape}, {_name(dtype)}", x_grad,
            expect=x_grad_nn, explain="in train mode the gradient flows through the batch mean and variance too")
    observe(f"weight.grad and bias.grad in train mode, x of shape {shape}, {_name(dtype)}", p_grads,
            expect=p_grads_nn, explain="weight.grad = sum of w * x_hat, bias.grad = sum of w, per channel")
    ours.eval()
    theirs.eval()
    _, x_grad, _ = _grads(ours, x, w)
    _, x_grad_nn, _ = _grads(theirs, x, w)
    observe(f"x.grad in eval mode, x of shape {shape}, {_name(dtype)}", x_grad, expect=x_grad_nn,
            explain="in eval mode the running statistics are constants: x.grad = w * weight / sqrt(running_var + eps)")


@pytest.mark.task("BatchNorm1d")
def test_batch_norm_loads_into_nn_batch_norm(impl) -> None:
    ours, _ = _batch_norms(impl, 120, 4, torch.float32)
    for step in range(2):
        ours(_randn(121 + step, 5, 4, scale=2.0))
    theirs = nn.BatchNorm1d(4)
    theirs.load_state_dict(ours.state_dict())
    x = _randn(125, 6, 4)
    observe("nn.BatchNorm1d with our state_dict loaded, eval-mode output minus ours", theirs.eval()(x) - ours.eval()(x),
            expect=torch.zeros(6, 4), explain="the state_dict has nn.BatchNorm1d's keys and shapes, so it loads "
                                              "(strict) and gives the same eval-mode outputs")


@pytest.mark.task("BatchNorm1d")
def test_batch_norm_rejects_bad_inputs(impl) -> None:
    module = impl.BatchNorm1d(3)
    with expect_raises("BatchNorm1d(3) in train mode on a batch of shape (1, 3)", ValueError,
                       explain="one value per channel has no variance: train mode raises ValueError (n = N * L == 1)"):
        module(torch.zeros(1, 3))
    with expect_raises("BatchNorm1d(3) on a 4-d input of shape (2, 3, 4, 5)", ValueError,
                       explain="BatchNorm1d takes (N, C) or (N, C, L) inputs"):
        module(torch.zeros(2, 3, 4, 5))
    with expect_raises("BatchNorm1d(3) on an input of shape (4, 5)", ValueError, RuntimeError,
                       explain="dim 1 must have num_features channels"):
        module(torch.zeros(4, 5))
    observe("BatchNorm1d(3) in train mode on a batch of shape (1, 3, 4)", module(_randn(130, 1, 3, 4)).shape,
            expect=(1, 3, 4), explain="one sample of length 4 is 4 values per channel: that is enough in train mode")
