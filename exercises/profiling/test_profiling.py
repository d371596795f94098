"""Grading tests for the profiling exercise, on the CPU. Nothing is timed.

count_ops is compared with hand counts of small functions and with the reference's dicts. The fixed steps
are observed with this file's own torch.profiler run (every aten operator, nested ones too: aten::addmm,
aten::_local_scalar_dense, aten::clone), and their results are compared with this file's copies of the slow
steps. (A TorchDispatchMode would miss some: under torch.inference_mode() it sees aten::linear, not the
aten::addmm inside it.) fast_mean_loss is also watched by a TorchFunctionMode that counts the reads of a tensor's
value into Python: .tolist() and .numpy() dispatch no aten operator, so the profiler alone does not see them."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.profiler import ProfilerActivity, profile

from quiz.grading.scenario import observe

f64 = torch.float64
SYNC = "aten::_local_scalar_dense"


def _run_counted(fn, *args):
    """The test's own operator counts: every aten operator fn ran, nested ones too, by name ("aten::addmm")."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        out = fn(*args)
    return out, Counter({e.key: e.count for e in prof.key_averages() if e.key.startswith("aten::")})


# Tensor methods that read a tensor's value into Python (on a GPU each one waits for the device): .item(),
# .tolist(), .numpy(), np.asarray(t), float(t), int(t), bool(t) (an `if` on a tensor), operator.index(t), f"{t}".
_HOST_READS = frozenset({"item", "tolist", "numpy", "__array__", "__float__", "__int__", "__bool__", "__complex__",
                         "__index__", "__format__"})


class _HostReads(TorchFunctionMode):
    """Counts the calls of _HOST_READS made by the code it watches (calls nested inside them are not seen)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", None) in _HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _run_watched(fn, *args):
    """_run_counted, plus the number of reads of a tensor's value into Python that fn made."""
    reads = _HostReads()
    with reads:
        out, counts = _run_counted(fn, *args)
    return out, counts, reads.count


def _randn(seed: int, *shape: int, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _mlp(seed: int, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to(dtype).eval()


# The slow steps, as the starter gives them (the test's own copies).

def _slow_mean_loss(model, loss_fn, batches) -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, targets in batches:
            loss = loss_fn(model(inputs), targets)
            total += loss.item() * len(inputs)
            count += len(inputs)
    return total / count


def _slow_predict(model, x):
    with torch.no_grad():
        return torch.cat([model(x[i:i + 1]) for i in range(len(x))])


def _slow_standardize(x):
    x = x.contiguous()
    return (x - x.mean(dim=0)) / x.std(dim=0)


# --- count_ops ----------------------------------------------------------------------------------------------

@pytest.mark.task("count_ops")
def test_count_ops_calls_fn_exactly_once(impl) -> None:
    calls = []
    a, b = _randn(3, 4, 5), _randn(4, 5, 2)

    def fn(p, q):
        calls.append(1)
        return p @ q

    counts = impl.count_ops(fn, a, b)
    observe("number of times count_ops(fn, a, b) called fn", len(calls), expect=1,
            explain="fn runs exactly once, inside the profiler: no warm-up call that would be counted as well")
    observe("count_ops(fn, a, b) for fn = a @ b (2-D): aten::matmul and aten::mm",
            [counts.get("aten::matmul"), counts.get("aten::mm")], expect=[1, 1],
            explain="one matrix product: aten::matmul, which runs aten::mm")


@pytest.mark.task("count_ops")
def test_count_ops_adds_up_calls_with_different_shapes(impl) -> None:
    a, b, c = _randn(5, 2, 3), _randn(6, 3, 4), _randn(7, 5, 3)

    def fn():
        return a @ b, c @ b, a @ b

    counts = impl.count_ops(fn)
    observe("aten::mm count for three products of (2, 3), (5, 3) and (2, 3) matrices by a (3, 4) one",
            counts.get("aten::mm"), expect=3,
            explain="every call counts, whatever its input shapes: key_averages() without grouping by input "
                    "shape gives one entry per operator name")


@pytest.mark.task("count_ops")
def test_count_ops_linear_layers(impl) -> None:
    model, x = _mlp(1), _randn(2, 5, 8)
    counts = impl.count_ops(model, x)
    observe("count_ops(model, x) for Linear(8, 16) -> ReLU -> Linear(16, 3) on a (5, 8) batch: aten::addmm, "
            "aten::linear, aten::relu", [counts.get(name) for name in ("aten::addmm", "aten::linear", "aten::relu")],
            expect=[2, 2, 1],
            explain="each nn.Linear on a 2-D input runs aten::linear and, nested in it, aten::addmm; nested calls "
                    "count too: the .count of prof.key_averages()")
    observe("count_ops(model, x): the whole dict", counts,
            explain="every aten operator the call ran, with how many times it ran")


@pytest.mark.task("count_ops")
def test_count_ops_only_aten_operators(impl) -> None:
    x = _randn(8, 3, 3)

    def fn():
        with torch.profiler.record_function("my_block"):
            return (x * 2).sum()

    counts = impl.count_ops(fn)
    observe("keys of count_ops(fn) that do not start with 'aten::', for fn with a record_function('my_block') "
            "label", sorted(name for name in counts if not name.startswith("aten::")), expect=[],
            explain="only aten operators: record_function labels and other profiler events are left out")
    observe("count_ops(fn) for (x * 2).sum(): aten::mul and aten::sum",
            [counts.get("aten::mul"), counts.get("aten::sum")], expect=[1, 1],
            explain="the operators that ran inside the label are still counted")


@pytest.mark.task("count_ops")
def test_count_ops_counts_are_ints_and_absent_ops_absent(impl) -> None:
    counts = impl.count_ops(lambda: None)
    observe("count_ops of a function that runs no tensor operation", counts, expect={},
            explain="operators that never ran are absent: an empty dict")
    x = _randn(9, 4)
    counts = impl.count_ops(torch.relu, x)
    observe("types of the counts from count_ops(torch.relu, x)", sorted({type(v).__name__ for v in counts.values()}),
            expect=["int"], explain="each count is a Python int, the .count of a key_averages() entry")
    observe("count_ops(torch.relu, x)['aten::relu']", counts.get("aten::relu"), expect=1,
            explain="one call of torch.relu")


@pytest.mark.task("count_ops")
def test_count_ops_sees_the_slow_steps(impl) -> None:
    model, x = _mlp(10), _randn(11, 6, 8)
    predict = impl.count_ops(_slow_predict, model, x)
    observe("aten::addmm count of slow_predict on 6 rows through 2 Linear layers", predict.get("aten::addmm"),
            expect=12, explain="one model call per row: every Linear runs aten::addmm once per row, 2 x 6")
    batches = [(_randn(12 + i, 4, 8), _randn(20 + i, 4, 3)) for i in range(5)]
    mean_loss = impl.count_ops(_slow_mean_loss, model, nn.MSELoss(), batches)
    observe("aten::item and aten::_local_scalar_dense counts of slow_mean_loss over 5 batches",
            [mean_loss.get("aten::item"), mean_loss.get(SYNC)], expect=[5, 5],
            explain=".item() runs aten::item and, nested in it, aten::_local_scalar_dense: one host sync per batch")
    big = _randn(13, 64, 300).T
    standardize = impl.count_ops(_slow_standardize, big)
    observe("aten::contiguous and aten::clone counts of slow_standardize on a transposed (300, 64) view",
            [standardize.get("aten::contiguous"), standardize.get("aten::clone")], expect=[1, 1],
            explain=".contiguous() of a non-contiguous tensor runs aten::contiguous and, nested in it, a full "
                    "aten::clone")


# --- fast_mean_loss -----------------------------------------------------------------------------------------

def _regression_batches(seed: int, sizes, dtype=torch.float32):
    return [(_randn(seed + i, n, 8, dtype=dtype), _randn(seed + 50 + i, n, 3, dtype=dtype))
            for i, n in enumerate(sizes)]


@pytest.mark.task("fast_mean_loss")
@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=str)
def test_fast_mean_loss_syncs_once(impl, dtype) -> None:
    model, batches = _mlp(30, dtype), _regression_batches(31, [4, 4, 4, 4, 4, 4, 4, 2], dtype)
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append((tuple(args[0].shape), torch.is_grad_enabled())))
    value, counts, reads = _run_watched(impl.fast_mean_loss, model, nn.MSELoss(), batches)
    observe(f"reads of a tensor's value into Python in fast_mean_loss over 8 batches ({dtype})", reads, expect=1,
            explain="one read in all, at the end: accumulate the weighted losses as a tensor; .item(), float(t), "
                    ".tolist(), .numpy() and an `if` on a tensor each read a value (on a GPU, a host sync)")
    observe(f"aten::_local_scalar_dense calls in fast_mean_loss over 8 batches ({dtype})", counts[SYNC], expect=1,
            explain="one host sync in all: the final .item() (or float(t)); torch.tensor() of a list of tensors "
                    "and an `if` on a tensor sync too")
    observe(f"aten::addmm calls in fast_mean_loss over 8 batches through 2 Linear layers ({dtype})",
            counts["aten::addmm"], expect=16, explain="one model call per batch, as in slow_mean_loss")
    observe(f"model forward calls in fast_mean_loss over 8 batches: (input shape, torch.is_grad_enabled()) ({dtype})",
            calls, expect=[((4, 8), False)] * 7 + [((2, 8), False)],
            explain="one model call per batch, with gradients off (torch.no_grad() or torch.inference_mode()), as "
                    "in slow_mean_loss: evaluation keeps no graph")
    observe(f"type of fast_mean_loss's result ({dtype})", type(value).__name__, expect="float",
            explain="a Python float, like slow_mean_loss's")


@pytest.mark.task("fast_mean_loss")
@pytest.mark.parametrize("sizes", [[5, 5, 5], [7, 3, 1, 6], [9]], ids=["3x5", "7-3-1-6", "one-batch"])
def test_fast_mean_loss_equals_slow(impl, sizes) -> None:
    model, batches = _mlp(32), _regression_batches(33, sizes)
    observe(f"fast_mean_loss with MSELoss, batch sizes {sizes}", impl.fast_mean_loss(model, nn.MSELoss(), batches),
            expect=_slow_mean_loss(model, nn.MSELoss(), batches), rtol=1e-5,
            explain="the mean over all samples: each batch's mean loss weighted by its size, divided by the "
                    "total number of samples, as slow_mean_loss computes it")


@pytest.mark.task("fast_mean_loss")
def test_fast_mean_loss_classification(impl) -> None:
    model = _mlp(34)
    sizes = [6, 2, 5]
    batches = [(_randn(35 + i, n, 8), torch.randint(0, 3, (n,), generator=torch.Generator().manual_seed(40 + i)))
               for i, n in enumerate(sizes)]
    value, counts, reads = _run_watched(impl.fast_mean_loss, model, nn.CrossEntropyLoss(), batches)
    observe("fast_mean_loss with CrossEntropyLoss, batch sizes [6, 2, 5]", value,
            expect=_slow_mean_loss(model, nn.CrossEntropyLoss(), batches), rtol=1e-5,
            explain="each batch's mean loss weighted by its size: the mean over all 13 samples")
    observe("reads of a tensor's value into Python in fast_mean_loss over 3 batches", reads, expect=1,
            explain="one read, at the end")
    observe("aten::_local_scalar_dense calls in fast_mean_loss over 3 batches", counts[SYNC], expect=1,
            explain="one host sync, at the end")


# --- fast_predict -------------------------------------------------------------------------------------------

@pytest.mark.task("fast_predict")
@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=str)
def test_fast_predict_calls_the_model_once(impl, dtype) -> None:
    model, x = _mlp(50, dtype), _randn(51, 16, 8, dtype=dtype)
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append((tuple(args[0].shape), torch.is_grad_enabled())))
    out, counts = _run_counted(impl.fast_predict, model, x)
    observe(f"aten::addmm calls in fast_predict on 16 rows through 2 Linear layers ({dtype})", counts["aten::addmm"],
            expect=2, explain="one model call on the whole batch: each Linear runs one aten::addmm for all rows, "
                              "not one per row")
    observe(f"model forward calls in fast_predict: (input shape, torch.is_grad_enabled()) ({dtype})", calls,
            expect=[((16, 8), False)],
            explain="the model is called once, with the whole (16, 8) batch, and with gradients off "
                    "(torch.no_grad() or torch.inference_mode()), as in slow_predict: no graph is recorded")
    observe(f"fast_predict output ({dtype})", out, expect=_slow_predict(model, x),
            explain="the same outputs as slow_predict, row for row (up to rounding)")


@pytest.mark.task("fast_predict")
def test_fast_predict_without_gradients(impl) -> None:
    model, x = _mlp(52), _randn(53, 5, 8)
    out = impl.fast_predict(model, x)
    observe("fast_predict(...).requires_grad", out.requires_grad, expect=False,
            explain="no gradients, as in slow_predict: run the model under torch.no_grad() (no graph is kept)")
    observe("model.training after fast_predict on a model in eval mode", model.training, expect=False,
            explain="the model's train/eval mode is left as it is")


@pytest.mark.task("fast_predict")
def test_fast_predict_train_mode_model(impl) -> None:
    torch.manual_seed(54)
    model = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 2))  # train mode, no dropout
    x = _randn(55, 7, 8)
    out = impl.fast_predict(model, x)
    observe("model.training after fast_predict on a model in train mode", model.training, expect=True,
            explain="the model's train/eval mode is left as it is")
    observe("fast_predict output for a (7, 8) batch", out, expect=_slow_predict(model, x),
            explain="the same outputs as slow_predict (up to rounding)")


# --- fast_standardize ---------------------------------------------------------------------------------------

@pytest.mark.task("fast_standardize")
@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=str)
def test_fast_standardize_makes_no_copy(impl, dtype) -> None:
    x = _randn(60, 64, 512, dtype=dtype).T  # (512, 64), non-contiguous
    out, counts = _run_counted(impl.fast_standardize, x)
    observe(f"aten::clone calls in fast_standardize on a transposed (512, 64) {dtype} view", counts["aten::clone"],
            expect=0, explain="no copy of x: mean, std, subtraction and division all read a strided tensor "
                              "directly (no .contiguous(), no .clone())")
    observe(f"fast_standardize output ({dtype})", out, expect=_slow_standardize(x),
            explain="each column minus its mean, divided by its unbiased standard deviation (x.std(dim=0)), as "
                    "slow_standardize computes it")
    observe(f"x after fast_standardize ({dtype})", x, expect=_randn(60, 64, 512, dtype=dtype).T,
            explain="x is not modified: no in-place operations on it")


@pytest.mark.task("fast_standardize")
def test_fast_standardize_contiguous_input(impl) -> None:
    x = _randn(61, 10, 4)
    out, counts = _run_counted(impl.fast_standardize, x)
    observe("fast_standardize output for a contiguous (10, 4) input", out, expect=_slow_standardize(x),
            explain="each column minus its mean, divided by its unbiased standard deviation")
    observe("aten::clone calls in fast_standardize on a contiguous input", counts["aten::clone"], expect=0,
            explain="no copy of x")
    observe("x after fast_standardize on a contiguous input", x, expect=_randn(61, 10, 4),
            explain="x is not modified: no in-place operations on it")
