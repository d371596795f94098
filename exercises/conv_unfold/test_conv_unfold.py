"""Grading tests for the conv_unfold exercise: conv2d as im2col (F.unfold) and a matrix multiply.

conv2d_output_size is compared with hand-worked sizes and with the shape F.conv2d gives. conv2d's values and
its gradients (x.grad, weight.grad and bias.grad of a weighted sum of the output) are compared with
F.conv2d's in float32 and float64, one property at a time (a 1x1 kernel, a 3x3 kernel, stride, padding,
dilation, non-square kernels, groups, depthwise, bias, a batch of one), then over mixed configurations. A
TorchFunctionMode records the torch functions and ops conv2d calls, so a convolution among them is seen."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from quiz.grading.scenario import expect_raises, observe

F64 = torch.float64
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
# The reference sums its products in another order than F.conv2d: in float32 that differs by a few ulps.
TOLERANCES = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.float64: {}}
CONV2D = F.conv2d  # taken here, before any submission runs: the target of every comparison

FORMULA = ("for each of height and width, floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride "
           "+ 1), as two Python ints")
WHAT = ("out[n, o, i, j] = bias[o] + sum over c, a, b of weight[o, c, a, b] * x_padded[n, c, i * stride_h + a * "
        "dilation_h, j * stride_w + b * dilation_w], as F.conv2d")


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _randn(seed: int, shape, dtype) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64).to(dtype)


def _options(options: dict) -> str:
    return "".join(f", {key}={value}" for key, value in options.items())


def _inputs(seed: int, x_shape, w_shape, dtype, bias: bool):
    x = _randn(seed, x_shape, dtype)
    weight = _randn(seed + 1, w_shape, dtype)
    b = _randn(seed + 2, (w_shape[0],), dtype) if bias else None
    return x, weight, b


def _where(x_shape, w_shape, bias: bool, options: dict, dtype) -> str:
    return (f"conv2d of a {_name(dtype)} x {tuple(x_shape)} with weight {tuple(w_shape)}"
            f"{', a bias' if bias else ''}{_options(options)}")


def _value(impl, x_shape, w_shape, explain: str, dtype=F64, bias: bool = False, seed: int = 0, **options) -> None:
    """Observe conv2d's output for one configuration, compared with F.conv2d's."""
    x, weight, b = _inputs(seed, x_shape, w_shape, dtype, bias)
    got = impl.conv2d(x, weight, bias=b, **options)
    observe(_where(x_shape, w_shape, bias, options, dtype), got, expect=CONV2D(x, weight, b, **options),
            explain=explain, **TOLERANCES[dtype])


# --- conv2d_output_size -----------------------------------------------------------------------------------

@pytest.mark.task("conv2d_output_size")
def test_conv2d_output_size_worked_examples(impl) -> None:
    observe("conv2d_output_size(28, 28, 3, stride=1, padding=1)", impl.conv2d_output_size(28, 28, 3, 1, 1),
            expect=(28, 28), explain="(28 + 2 * 1 - 2 - 1) // 1 + 1 = 28, two Python ints: padding=1 adds zeros on "
                                     "both sides, so a 3x3 kernel keeps the size")
    observe("conv2d_output_size(7, 7, 3, stride=2, padding=1)", impl.conv2d_output_size(7, 7, 3, 2, 1),
            expect=(4, 4), explain="floor((7 + 2 - 2 - 1) / 2 + 1) = 4, for height and width alike")
    observe("conv2d_output_size(8, 8, 3, stride=2)", impl.conv2d_output_size(8, 8, 3, 2),
            expect=(3, 3), explain="floor((8 - 2 - 1) / 2 + 1) = floor(3.5) = 3, an int: a window that would "
                                   "run past the edge is not counted (floor division, not true division)")
    observe("conv2d_output_size(10, 10, 3, stride=1, padding=0, dilation=2)",
            impl.conv2d_output_size(10, 10, 3, 1, 0, 2), expect=(6, 6),
            explain="(10 - 2 * (3 - 1) - 1) / 1 + 1 = 6: a 3x3 kernel with dilation=2 spans 5 pixels")
    observe("conv2d_output_size(12, 12, 3, stride=1, padding=2, dilation=3)",
            impl.conv2d_output_size(12, 12, 3, 1, 2, 3), expect=(10, 10),
            explain="(12 + 2 * 2 - 3 * (3 - 1) - 1) / 1 + 1 = 10: padding is added on both sides (2 * padding), "
                    "and the kernel spans dilation * (kernel_size - 1) + 1 = 7 pixels")
    observe("conv2d_output_size(5, 9, (2, 3), stride=(1, 2), padding=(0, 1), dilation=(1, 1))",
            impl.conv2d_output_size(5, 9, (2, 3), (1, 2), (0, 1), (1, 1)), expect=(4, 5),
            explain="each argument is (for height, for width): height (5 + 0 - 1 - 1) / 1 + 1 = 4, width "
                    "floor((9 + 2 - 2 - 1) / 2 + 1) = 5")


# (H, W, kernel_size, stride, padding, dilation)
SIZES = [(5, 5, 1, 1, 0, 1), (6, 6, 3, 1, 0, 1), (7, 9, 3, 2, 1, 1), (9, 9, 2, 3, 0, 1), (11, 8, 3, 1, 2, 2),
         (10, 13, (3, 2), (2, 3), (1, 0), (2, 1)), (6, 7, (1, 4), 1, (0, 2), (1, 2)), (4, 4, 5, 1, 2, 1),
         (16, 16, 4, 4, 0, 1), (15, 15, 3, 2, 0, 3)]


@pytest.mark.task("conv2d_output_size")
def test_conv2d_output_size_matches_conv2d(impl) -> None:
    for h, w, kernel_size, stride, padding, dilation in SIZES:
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        shape = CONV2D(torch.zeros(1, 1, h, w), torch.zeros(1, 1, kh, kw), stride=stride, padding=padding,
                       dilation=dilation).shape
        observe(f"conv2d_output_size({h}, {w}, {kernel_size}, stride={stride}, padding={padding}, "
                f"dilation={dilation})", impl.conv2d_output_size(h, w, kernel_size, stride, padding, dilation),
                expect=(shape[-2], shape[-1]), explain=f"the size of F.conv2d's output: {FORMULA}")


# --- conv2d: one property at a time -----------------------------------------------------------------------

@pytest.mark.task("conv2d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv2d_one_by_one_kernel(impl, dtype) -> None:
    _value(impl, (2, 3, 4, 5), (4, 3, 1, 1), dtype=dtype,
           explain="a 1x1 kernel is a matrix multiply over the channels at each pixel: out[n, o, i, j] = sum over "
                   "c of weight[o, c, 0, 0] * x[n, c, i, j]. The product of the (C_out, K) kernels and the "
                   "(K, L) columns is (N, C_out, L) with L = H_out * W_out row by row: reshaped to (N, C_out, "
                   "H_out, W_out) as it is, output channel first (no transpose left in between)")


@pytest.mark.task("conv2d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv2d_three_by_three_kernel(impl, dtype) -> None:
    _value(impl, (2, 3, 6, 6), (5, 3, 3, 3), dtype=dtype,
           explain="out[n, o, i, j] = sum over c, a, b of weight[o, c, a, b] * x[n, c, i + a, j + b], a "
                   "cross-correlation as in F.conv2d (the kernel is not flipped). F.unfold orders each column "
                   "(channel, kernel row, kernel column), channel slowest: the order of weight.reshape(C_out, -1)")


@pytest.mark.task("conv2d")
def test_conv2d_stride(impl) -> None:
    for stride in (2, (2, 2), (2, 1), (1, 3)):
        _value(impl, (2, 3, 7, 7), (4, 3, 3, 3), stride=stride,
               explain="stride=(s_h, s_w): a window starts every s_h rows and every s_w columns (pass stride to "
                       "F.unfold; conv2d_output_size gives H_out and W_out)")


@pytest.mark.task("conv2d")
def test_conv2d_padding(impl) -> None:
    for padding, stride in ((1, 1), ((1, 1), 1), ((2, 0), 1), ((0, 1), 1), (1, 2)):
        _value(impl, (2, 3, 6, 6), (4, 3, 3, 3), padding=padding, stride=stride,
               explain="padding=(p_h, p_w) adds p_h rows of zeros above and below x and p_w columns of zeros on "
                       "the left and the right, before the windows are cut")


@pytest.mark.task("conv2d")
def test_conv2d_dilation(impl) -> None:
    for dilation, padding in ((2, 0), ((2, 2), 2), ((1, 2), 0), ((3, 1), (1, 0))):
        _value(impl, (2, 3, 9, 9), (4, 3, 3, 3), dilation=dilation, padding=padding,
               explain="dilation=(d_h, d_w): the kernel's taps are d_h rows and d_w columns apart, so a 3x3 kernel "
                       "with dilation 2 spans 5x5 pixels (pass dilation to F.unfold and to conv2d_output_size)")


@pytest.mark.task("conv2d")
def test_conv2d_non_square(impl) -> None:
    for x_shape, w_shape, options in (((2, 3, 6, 6), (4, 3, 2, 3), {}), ((2, 3, 5, 8), (4, 3, 3, 2), {}),
                                      ((1, 2, 7, 10), (3, 2, 1, 4), {"stride": (2, 1)}),
                                      ((2, 2, 8, 5), (3, 2, 3, 1), {"padding": (0, 1), "dilation": (2, 1)})):
        _value(impl, x_shape, w_shape, **options,
               explain="a kernel of kh rows and kw columns: kh = weight.shape[2], kw = weight.shape[3], and H_out, "
                       "W_out follow from H with kh and W with kw; H and W need not be equal either")


@pytest.mark.task("conv2d")
def test_conv2d_groups(impl) -> None:
    for x_shape, w_shape, groups in (((2, 4, 5, 5), (6, 2, 3, 3), 2), ((2, 6, 5, 6), (3, 2, 3, 3), 3),
                                     ((1, 6, 4, 4), (4, 3, 2, 2), 2), ((2, 4, 5, 5), (8, 1, 3, 3), 4)):
        _value(impl, x_shape, w_shape, groups=groups,
               explain=f"groups={groups}: output channels [g * C_out / groups, (g + 1) * C_out / groups) see only "
                       "input channels [g * C_in / groups, (g + 1) * C_in / groups), through weight[g * C_out / "
                       "groups : (g + 1) * C_out / groups]; weight has C_in / groups input channels")


@pytest.mark.task("conv2d")
def test_conv2d_depthwise(impl) -> None:
    for x_shape, w_shape, options in (((2, 3, 6, 6), (3, 1, 3, 3), {"groups": 3, "padding": 1}),
                                      ((2, 3, 5, 7), (6, 1, 3, 3), {"groups": 3}),
                                      ((1, 4, 6, 6), (4, 1, 3, 2), {"groups": 4, "stride": 2, "dilation": (1, 2)})):
        _value(impl, x_shape, w_shape, **options,
               explain="a depthwise convolution (groups == C_in): every output channel filters one input channel, "
                       "output channel o sees input channel o // (C_out / C_in) only")


@pytest.mark.task("conv2d")
def test_conv2d_bias(impl) -> None:
    for x_shape, w_shape, options in (((2, 3, 5, 6), (4, 3, 3, 3), {}),
                                      ((2, 3, 4, 7), (5, 3, 3, 3), {"padding": 1}),
                                      ((2, 4, 6, 6), (6, 2, 2, 2), {"groups": 2, "stride": 2})):
        _value(impl, x_shape, w_shape, bias=True, **options,
               explain="bias[o] is added to every position of output channel o: a (C_out,) bias viewed as (1, "
                       "C_out, 1, 1) before it is added")


@pytest.mark.task("conv2d")
def test_conv2d_batch_of_one(impl) -> None:
    _value(impl, (1, 3, 6, 5), (4, 3, 3, 3), bias=True, padding=1,
           explain="a batch of one image gives an output of shape (1, C_out, H_out, W_out)")
    _value(impl, (1, 1, 5, 5), (1, 1, 3, 3), bias=True,
           explain="one image, one channel in and out: the output keeps all four dimensions, (1, 1, 3, 3)")


# --- conv2d: everything together ------------------------------------------------------------------------

# (x shape, weight shape, options); each with a bias.
MIXED = [((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
         ((3, 4, 9, 7), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2}),
         ((1, 6, 10, 10), (6, 1, 5, 5), {"padding": 2, "groups": 6}),
         ((2, 2, 7, 11), (3, 2, 2, 4), {"stride": (1, 3), "dilation": 2}),
         ((2, 6, 6, 6), (9, 2, 1, 1), {"groups": 3}),
         ((4, 3, 5, 5), (2, 3, 5, 5), {}),
         ((2, 4, 12, 9), (8, 4, 3, 3), {"stride": 3, "padding": (2, 1), "dilation": (2, 1)}),
         ((1, 8, 6, 7), (4, 2, 3, 3), {"padding": (0, 2), "groups": 4})]


@pytest.mark.task("conv2d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv2d_mixed_configurations(impl, dtype) -> None:
    for seed, (x_shape, w_shape, options) in enumerate(MIXED):
        x, weight, b = _inputs(10 * seed, x_shape, w_shape, dtype, bias=True)
        copies = (x.clone(), weight.clone(), b.clone())
        got = impl.conv2d(x, weight, bias=b, **options)
        observe(_where(x_shape, w_shape, True, options, dtype), got, expect=CONV2D(x, weight, b, **options),
                explain=f"{WHAT}, with every option at once", **TOLERANCES[dtype])
        observe(f"x, weight and bias after {_where(x_shape, w_shape, True, options, dtype)}", [x, weight, b],
                expect=list(copies), exact=True, explain="conv2d does not modify its inputs")


def _gradients(fn, x, weight, b, upstream, options):
    leaves = [t.detach().clone().requires_grad_() for t in (x, weight, b)]
    (fn(leaves[0], leaves[1], bias=leaves[2], **options) * upstream).sum().backward()
    return [leaf.grad for leaf in leaves]


@pytest.mark.task("conv2d")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv2d_gradients(impl, dtype) -> None:
    for seed, (x_shape, w_shape, options) in enumerate(MIXED[:6]):
        x, weight, b = _inputs(10 * seed + 100, x_shape, w_shape, dtype, bias=True)
        upstream = _randn(10 * seed + 105, CONV2D(x, weight, b, **options).shape, dtype)
        got = _gradients(impl.conv2d, x, weight, b, upstream, options)
        want = _gradients(CONV2D, x, weight, b, upstream, options)
        where = _where(x_shape, w_shape, True, options, dtype)
        for name, have, expected in zip(("x", "weight", "bias"), got, want, strict=True):
            observe(f"{name}.grad of sum(u * {where}) for random u", have, expect=expected,
                    explain=f"the gradient with respect to {name} equals F.conv2d's: build the output from "
                            "differentiable operations on x, weight and bias themselves (no .data, .detach() or "
                            "in-place writes into a copy)", **TOLERANCES[dtype])


class _ConvolutionCalls(TorchFunctionMode):
    """Records every torch function, Tensor method and torch.ops op called under it whose name says
    convolution (F.conv2d, torch.conv2d, torch.convolution, torch.ops.aten.convolution, ...)."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = str(func)  # aten.convolution.default for a torch.ops op
        if not name.startswith("aten."):  # torch.conv2d (which F.conv2d is), torch._C._nn.thnn_conv2d, ...
            name = f"{getattr(func, '__module__', None) or 'torch.Tensor'}.{getattr(func, '__name__', name)}"
        if "conv" in name and name not in self.seen:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


class _ConvolutionKernels(TorchDispatchMode):
    """Records every aten op that reaches the dispatcher whose name says convolution: it sees the ops under
    torch.autograd.Function and torch._C.DisableTorchFunction too, and those of the backward pass."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        if "conv" in name and name not in self.seen:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.task("conv2d")
def test_conv2d_calls_no_convolution(impl) -> None:
    x_shape, w_shape, options = MIXED[1]
    x, weight, b = _inputs(200, x_shape, w_shape, F64, bias=True)
    expected = CONV2D(x, weight, b, **options)
    upstream = _randn(205, expected.shape, F64)
    leaves = [t.detach().clone().requires_grad_() for t in (x, weight, b)]
    seen: list[str] = []
    with _ConvolutionCalls(seen), _ConvolutionKernels(seen):
        got = impl.conv2d(leaves[0], leaves[1], bias=leaves[2], **options)
        (got * upstream).sum().backward()
    observe("convolution functions and aten ops run by conv2d and its backward pass (recorded by a "
            "TorchFunctionMode and a TorchDispatchMode)", ", ".join(seen) or "none", expect="none",
            explain="conv2d is built from F.unfold (im2col) and a matrix multiply, and its gradients come from "
                    "autograd through those: no F.conv2d (torch.conv2d), nn.Conv2d, torch.convolution, "
                    "torch.nn.grad.conv2d_input or any other convolution op, in the forward or the backward pass")
    observe(f"{_where(x_shape, w_shape, True, options, F64)}, with its calls recorded", got.detach(),
            expect=expected, explain=WHAT)


# --- conv2d: what it rejects ------------------------------------------------------------------------------

@pytest.mark.task("conv2d")
def test_conv2d_rejects_in_channels_not_divisible_by_groups(impl) -> None:
    x, weight, _ = _inputs(300, (1, 3, 5, 5), (4, 1, 3, 3), F64, bias=False)
    with expect_raises("conv2d of x with 3 input channels, weight (4, 1, 3, 3), groups=2", ValueError,
                       explain="in_channels (3) not divisible by groups (2) raises ValueError"):
        impl.conv2d(x, weight, groups=2)


@pytest.mark.task("conv2d")
def test_conv2d_rejects_out_channels_not_divisible_by_groups(impl) -> None:
    x, weight, _ = _inputs(301, (1, 4, 5, 5), (3, 2, 3, 3), F64, bias=False)
    with expect_raises("conv2d of x with 4 input channels, weight (3, 2, 3, 3), groups=2", ValueError,
                       explain="out_channels (3) not divisible by groups (2) raises ValueError"):
        impl.conv2d(x, weight, groups=2)


@pytest.mark.task("conv2d")
def test_conv2d_rejects_weight_of_the_wrong_width(impl) -> None:
    x, weight, _ = _inputs(302, (1, 4, 5, 5), (4, 4, 3, 3), F64, bias=False)
    with expect_raises("conv2d of x with 4 input channels, weight (4, 4, 3, 3), groups=2", ValueError,
                       explain="weight.shape[1] must be in_channels / groups (4 / 2 = 2): 4 raises ValueError"):
        impl.conv2d(x, weight, groups=2)
