"""Grading tests for the device exercise: pick_device, to_device, optimizer_to, batched_inference.

Without a GPU, moves are checked on the ``meta`` device and availability by patching
``torch.cuda.is_available`` / ``torch.backends.mps.is_available``; the tests marked "needs a CUDA GPU" run
the real transfers where CUDA exists.
"""

import copy
from collections import OrderedDict, defaultdict, namedtuple

import pytest
import torch
from torch import nn
from torch.testing import assert_close

META = torch.device("meta")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

Batch = namedtuple("Batch", ["inputs", "targets", "ids"])


def _tensor(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).to(dtype)


def _available(monkeypatch, cuda, mps, cuda_count=2):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda_count if cuda else 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


class _ToSpy:
    """Wraps Tensor.to and records, for each call, the tensor it was called on and its non_blocking."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = torch.Tensor.to

        def to(tensor, *args, **kwargs):
            if "non_blocking" in kwargs:
                non_blocking = bool(kwargs["non_blocking"])
            else:
                # Positional forms: to(device, dtype, non_blocking, copy), to(dtype, non_blocking, copy),
                # to(other, non_blocking, copy): the first bool is non_blocking in all of them.
                flags = [a for a in args if isinstance(a, bool)]
                non_blocking = bool(flags and flags[0])
            self.calls.append((tensor, non_blocking))
            return original(tensor, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, "to", to)


# ---------------------------------------------------------------------------------------------- pick_device


@pytest.mark.task("pick_device")
@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, False, "cuda"), (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_pick_device_without_preference(submission, monkeypatch, cuda, mps, expected):
    _available(monkeypatch, cuda, mps)
    got = submission.pick_device()
    assert isinstance(got, torch.device), f"pick_device must return a torch.device, got {type(got).__name__}"
    assert got.type == expected, (
        f"with CUDA {'available' if cuda else 'unavailable'} and MPS "
        f"{'available' if mps else 'unavailable'}, pick_device() must choose {expected}, got {got}: "
        "CUDA first, then MPS, then the CPU"
    )


@pytest.mark.task("pick_device")
@pytest.mark.parametrize(
    "prefer",
    ["cpu", "meta", "cuda", "cuda:0", "cuda:1", "mps", torch.device("cpu"), torch.device("cuda", 1)],
    ids=repr,
)
def test_pick_device_honours_an_available_preference(submission, monkeypatch, prefer):
    _available(monkeypatch, cuda=True, mps=True)
    got = submission.pick_device(prefer)
    assert isinstance(got, torch.device), f"pick_device must return a torch.device, got {type(got).__name__}"
    assert got == torch.device(prefer), (
        f"pick_device({prefer!r}) must return torch.device({prefer!r}), got {got}"
    )


@pytest.mark.task("pick_device")
def test_pick_device_preference_beats_a_better_device(submission, monkeypatch):
    _available(monkeypatch, cuda=True, mps=False)
    assert submission.pick_device("cpu") == torch.device("cpu"), (
        'pick_device("cpu") must return the CPU even when CUDA is available'
    )


@pytest.mark.task("pick_device")
@pytest.mark.parametrize("prefer", ["cuda", "cuda:0", "cuda:1", torch.device("cuda"), "mps"], ids=repr)
def test_pick_device_rejects_an_unavailable_preference(submission, monkeypatch, prefer):
    _available(monkeypatch, cuda=False, mps=False)
    with pytest.raises(ValueError):
        submission.pick_device(prefer)
        pytest.fail(f"pick_device({prefer!r}) without CUDA or MPS must raise ValueError")


@pytest.mark.task("pick_device")
def test_pick_device_checks_each_backend_separately(submission, monkeypatch):
    _available(monkeypatch, cuda=True, mps=False)
    with pytest.raises(ValueError):
        submission.pick_device("mps")
        pytest.fail(
            'pick_device("mps") must raise ValueError when MPS is unavailable, even if CUDA is available'
        )
    _available(monkeypatch, cuda=False, mps=True)
    with pytest.raises(ValueError):
        submission.pick_device("cuda")
        pytest.fail(
            'pick_device("cuda") must raise ValueError when CUDA is unavailable, even if MPS is available'
        )


@pytest.mark.task("pick_device")
@pytest.mark.parametrize("prefer", ["gpu", "banana", "cuda:x", ""])
def test_pick_device_rejects_what_is_not_a_device(submission, monkeypatch, prefer):
    _available(monkeypatch, cuda=False, mps=False)
    with pytest.raises(ValueError):
        submission.pick_device(prefer)
        pytest.fail(f"pick_device({prefer!r}) must raise ValueError: it is not a device")


# ------------------------------------------------------------------------------------------------ to_device


@pytest.mark.task("to_device")
def test_to_device_moves_a_tensor(submission):
    t = _tensor(3, 4, seed=1, dtype=torch.float64)
    got = submission.to_device(t, META)
    assert isinstance(got, torch.Tensor) and got.device == META, (
        f"the tensor must be moved to meta, got {got}"
    )
    assert got.shape == t.shape and got.dtype == t.dtype, "moving must keep the shape and dtype"
    assert t.device.type == "cpu", "the caller's tensor must stay where it was"
    assert submission.to_device(t, "meta").device == META, "device may also be given as a string"


@pytest.mark.task("to_device")
def test_to_device_moves_nested_containers(submission):
    a, b, c, d = _tensor(2, seed=2), _tensor(3, seed=3), _tensor(1, 2, seed=4), torch.arange(5)
    name, nothing, rate = "run-1", None, 0.5
    obj = {"a": a, "nested": {"list": [b, (c, name, 3)], "d": d}, "none": nothing, "rate": rate, "name": name}
    got = submission.to_device(obj, "meta")
    assert type(got) is dict and list(got) == list(obj), "a dict must stay a dict with the same keys"
    assert got["a"].device == META and got["nested"]["d"].device == META, "tensors in nested dicts must move"
    inner = got["nested"]["list"]
    assert type(inner) is list and len(inner) == 2, f"a list must stay a list, got {type(inner).__name__}"
    assert inner[0].device == META, "tensors in lists must move"
    assert type(inner[1]) is tuple and len(inner[1]) == 3, "a tuple must stay a tuple"
    assert inner[1][0].device == META, "tensors in tuples must move"
    assert inner[1][0].shape == (1, 2) and got["nested"]["d"].dtype == torch.int64, (
        "shapes and dtypes must stay"
    )
    assert inner[1][1] is name and inner[1][2] == 3, "non-tensor values must be returned as they are"
    assert got["none"] is None and got["rate"] == rate and got["name"] is name, (
        "None, numbers and strings must be returned unchanged"
    )


@pytest.mark.task("to_device")
def test_to_device_keeps_namedtuples(submission):
    batch = Batch(_tensor(4, 3, seed=5), torch.tensor([0, 1, 1, 0]), ["a", "b", "c", "d"])
    got = submission.to_device(batch, "meta")
    assert type(got) is Batch, f"a namedtuple must keep its type (Batch), got {type(got).__name__}"
    assert got.inputs.device == META and got.targets.device == META, "the namedtuple's tensors must move"
    assert got.ids == ["a", "b", "c", "d"], "non-tensor fields must be kept"
    nested = submission.to_device({"batch": batch, "pairs": [batch]}, "meta")
    assert type(nested["batch"]) is Batch and type(nested["pairs"][0]) is Batch, (
        "namedtuples nested in dicts and lists must keep their type"
    )


@pytest.mark.task("to_device")
def test_to_device_keeps_ordered_dicts(submission):
    obj = OrderedDict([("z", _tensor(2, seed=6)), ("a", _tensor(3, seed=7)), ("m", 1)])
    got = submission.to_device(obj, "meta")
    assert type(got) is OrderedDict, f"an OrderedDict must stay an OrderedDict, got {type(got).__name__}"
    assert list(got) == ["z", "a", "m"], "the key order must be kept"
    assert got["z"].device == META and got["a"].device == META and got["m"] == 1


@pytest.mark.task("to_device")
def test_to_device_keeps_defaultdicts(submission):
    obj = defaultdict(list, {"x": _tensor(2, seed=8), "ys": [_tensor(3, seed=9)]})
    got = submission.to_device(obj, "meta")
    assert type(got) is defaultdict, f"a defaultdict must stay a defaultdict, got {type(got).__name__}"
    assert got.default_factory is list, "the defaultdict must keep its default_factory"
    assert got["x"].device == META and got["ys"][0].device == META, "the defaultdict's tensors must move"


@pytest.mark.task("to_device")
def test_to_device_does_not_modify_the_input(submission):
    a, b, c = _tensor(2, seed=10), _tensor(3, seed=11), _tensor(4, seed=12)
    inner_list = [b, {"c": c}]
    obj = {"a": a, "inner": inner_list}
    got = submission.to_device(obj, "meta")
    assert obj["a"] is a and obj["inner"] is inner_list, (
        "to_device changed the caller's dict: build a new one"
    )
    assert inner_list[0] is b and inner_list[1]["c"] is c, "to_device changed the caller's nested containers"
    assert a.device.type == "cpu" and b.device.type == "cpu", "the caller's tensors must stay on the CPU"
    assert got is not obj and got["inner"] is not inner_list and got["inner"][1] is not inner_list[1], (
        "the result must be made of new containers, not the caller's"
    )


@pytest.mark.task("to_device")
def test_to_device_returns_a_tensor_already_there_as_is(submission):
    t = _tensor(5, seed=13)
    assert submission.to_device(t, "cpu") is t, (
        "a tensor already on the device must be returned as is (no copy)"
    )
    got = submission.to_device({"t": t, "l": [t]}, torch.device("cpu"))
    assert got["t"] is t and got["l"][0] is t, "tensors already on the device must be returned as they are"


@pytest.mark.task("to_device")
def test_to_device_passes_non_blocking_on(submission, monkeypatch):
    obj = {"x": _tensor(3, seed=14), "y": [_tensor(2, seed=15)], "z": Batch(_tensor(1, seed=16), None, None)}
    spy = _ToSpy(monkeypatch)
    submission.to_device(obj, "meta", non_blocking=True)
    assert len(spy.calls) >= 3, f"expected a Tensor.to call for each of the 3 tensors, saw {len(spy.calls)}"
    assert all(non_blocking for _, non_blocking in spy.calls), (
        "to_device(..., non_blocking=True) must call tensor.to(device, non_blocking=True) for every tensor"
    )
    spy.calls.clear()
    submission.to_device(obj, "meta")
    assert spy.calls and not any(non_blocking for _, non_blocking in spy.calls), (
        "by default (non_blocking=False) the copies must be blocking"
    )


# --------------------------------------------------------------------------------------------- optimizer_to


def _trained(optimizer_class, seed=0, steps=2, **kwargs):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    optimizer = optimizer_class(model.parameters(), **kwargs)
    x = _tensor(8, 4, seed=seed + 1)
    for _ in range(steps):
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.task("optimizer_to")
def test_optimizer_to_moves_adam_state_but_not_step(submission):
    model, optimizer = _trained(torch.optim.Adam, lr=1e-2)
    steps = {id(p): s["step"] for p, s in optimizer.state.items()}
    submission.optimizer_to(optimizer, "meta")
    assert len(optimizer.state) == 4, "optimizer_to must keep one state entry per parameter"
    for p in model.parameters():
        state = optimizer.state[p]
        assert set(state) == {"step", "exp_avg", "exp_avg_sq"}, f"the state keys changed: {sorted(state)}"
        assert state["exp_avg"].device == META and state["exp_avg_sq"].device == META, (
            "Adam's exp_avg and exp_avg_sq must be moved to the device"
        )
        assert state["exp_avg"].shape == p.shape, "the moved state must keep its shape"
        step = state["step"]
        assert isinstance(step, torch.Tensor) and step.device.type == "cpu", (
            f"Adam's 'step' counter must stay on the CPU (as Optimizer.load_state_dict leaves it), got {step}"
        )
        assert torch.equal(step, steps[id(p)]), "the 'step' counter must keep its value"
        assert p.device.type == "cpu", "optimizer_to moves the optimizer's state, not the parameters"


@pytest.mark.task("optimizer_to")
def test_optimizer_to_moves_sgd_momentum(submission):
    model, optimizer = _trained(torch.optim.SGD, lr=0.1, momentum=0.9)
    submission.optimizer_to(optimizer, torch.device("meta"))
    for p in model.parameters():
        assert optimizer.state[p]["momentum_buffer"].device == META, "SGD's momentum_buffer must move"


@pytest.mark.task("optimizer_to")
def test_optimizer_to_moves_every_tensor_and_keeps_other_values(submission):
    model, optimizer = _trained(torch.optim.Adagrad, lr=0.1)
    first = next(iter(model.parameters()))
    optimizer.state[first]["extra_buffer"] = torch.zeros(3)
    optimizer.state[first]["note"] = "keep me"
    groups = copy.deepcopy(optimizer.param_groups)
    submission.optimizer_to(optimizer, "meta")
    for p in model.parameters():
        assert optimizer.state[p]["sum"].device == META, "Adagrad's 'sum' must move: move every state tensor"
        assert optimizer.state[p]["step"].device.type == "cpu", "the 'step' counter must stay on the CPU"
    assert optimizer.state[first]["extra_buffer"].device == META, "every tensor in the state must move"
    assert optimizer.state[first]["note"] == "keep me", "values that are not tensors must be kept"
    assert [g["lr"] for g in optimizer.param_groups] == [g["lr"] for g in groups], (
        "param_groups must not change"
    )


@pytest.mark.task("optimizer_to")
def test_optimizer_to_with_empty_state(submission):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    submission.optimizer_to(optimizer, "meta")  # no step yet: nothing to move, and no error
    assert len(optimizer.state) == 0, "optimizer_to must not create state"


# ---------------------------------------------------------------------------------------- batched_inference


def _net(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    with torch.no_grad():  # non-trivial running statistics, so eval mode matters
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    return net.train()


def _batches(sizes, seed=0):
    return [_tensor(n, 5, seed=seed + i) for i, n in enumerate(sizes)]


class _Recorder(nn.Module):
    """Records how it is called and returns zeros on the CPU, so it can "run" on the meta device."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.1))
        self.calls = []

    def forward(self, x):
        self.calls.append(
            {
                "input": x.device,
                "weights": self.inner[0].weight.device,
                "training": [m.training for m in self.modules()],
                "grad_enabled": torch.is_grad_enabled(),
            }
        )
        return torch.zeros(x.shape[0], 2)


@pytest.mark.task("batched_inference")
@pytest.mark.parametrize("sizes", [[1], [3, 1, 5], [4, 4, 2, 7]], ids=str)
def test_batched_inference_matches_reference(submission, reference, sizes):
    net = _net(seed=len(sizes))
    batches = _batches(sizes, seed=10)
    expected = reference.batched_inference(copy.deepcopy(net), [b.clone() for b in batches], "cpu")
    got = submission.batched_inference(net, batches, "cpu")
    assert isinstance(got, torch.Tensor), f"batched_inference must return a tensor, got {type(got).__name__}"
    assert got.shape == (sum(sizes), 3), (
        f"the outputs of batches of sizes {sizes} concatenated along dim 0 have shape ({sum(sizes)}, 3), "
        f"got {tuple(got.shape)}"
    )
    assert_close(
        got,
        expected,
        msg=lambda m: (
            f"outputs differ from the reference (eval mode: no dropout, BatchNorm running stats): {m}"
        ),
    )
    assert not got.requires_grad, "the outputs must not require grad: run the model under torch.no_grad()"
    assert got.device.type == "cpu", "the outputs must be on the CPU"


@pytest.mark.task("batched_inference")
def test_batched_inference_does_not_update_batchnorm_statistics(submission):
    net = _net(seed=3)
    before = copy.deepcopy(net.state_dict())
    submission.batched_inference(net, _batches([6, 6], seed=20), "cpu")
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} changed during inference: switch the model to eval()"
    assert not net.training, "the model must be left in eval mode"


@pytest.mark.task("batched_inference")
def test_batched_inference_runs_on_the_device_in_eval_mode_without_grad(submission):
    model = _Recorder().train()
    batches = _batches([2, 3, 1], seed=30)
    got = submission.batched_inference(model, batches, "meta")
    assert len(model.calls) == 3, f"the model must run once per batch (3), ran {len(model.calls)} times"
    for call in model.calls:
        assert call["weights"] == META, "the model must be moved to the device before running it"
        assert call["input"] == META, "each batch must be moved to the device before the model sees it"
        assert not any(call["training"]), "the model and all its submodules must be in eval mode"
        assert not call["grad_enabled"], "the model must run with autograd off (torch.no_grad())"
    assert got.shape == (6, 2), (
        f"the outputs concatenated along dim 0 have shape (6, 2), got {tuple(got.shape)}"
    )


@pytest.mark.task("batched_inference")
def test_batched_inference_moves_batches_with_non_blocking(submission, monkeypatch):
    model = _Recorder()
    batches = _batches([2, 3], seed=40)
    spy = _ToSpy(monkeypatch)
    submission.batched_inference(model, batches, "meta")
    for i, batch in enumerate(batches):
        moved = [nb for tensor, nb in spy.calls if tensor is batch or tensor.shape == batch.shape]
        assert moved, f"batch {i} was never moved with Tensor.to"
        assert any(moved), f"batch {i} must be moved with batch.to(device, non_blocking=True)"


class _OnAccelerator(torch.Tensor):
    """A CPU tensor playing an output that lives on an accelerator: only .cpu() or .to("cpu") make it a plain
    tensor again, and operations on it (torch.cat, detach, ...) keep it "on the accelerator"."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # Compared by name: Tensor.to may be wrapped by another test's spy.
        name = getattr(func, "__name__", "")
        if name == "cpu" or (name == "to" and _targets_cpu(args[1:], kwargs)):
            with torch._C.DisableTorchFunctionSubclass():
                result = func(*args, **kwargs)
                # On a real GPU this is a new CPU tensor; here it may be the same object, so strip the type.
                return result.as_subclass(torch.Tensor)
        return super().__torch_function__(func, types, args, kwargs)


def _targets_cpu(args, kwargs):
    for value in [*args, *kwargs.values()]:
        if isinstance(value, (str, torch.device)):
            try:
                if torch.device(value).type == "cpu":
                    return True
            except RuntimeError:
                pass
    return False


class _AcceleratorNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(5, 3)

    def forward(self, x):
        return self.linear(x).as_subclass(_OnAccelerator)


@pytest.mark.task("batched_inference")
def test_batched_inference_returns_outputs_on_the_cpu(submission):
    torch.manual_seed(0)
    model = _AcceleratorNet()
    batches = _batches([3, 2], seed=50)
    got = submission.batched_inference(model, batches, "cpu")
    assert type(got) is torch.Tensor, (
        "the outputs were left on the device the model ran on: move them to the CPU (.cpu()) before "
        "returning them"
    )
    with torch.no_grad():
        expected = model.linear(torch.cat(batches)).as_subclass(torch.Tensor)
    assert_close(got, expected, msg="the outputs on the CPU differ from the model's outputs")


# ------------------------------------------------------------------------------------------- real CUDA only


@needs_cuda
@pytest.mark.task("pick_device")
def test_cuda_pick_device_prefers_the_gpu(submission):
    assert submission.pick_device().type == "cuda", "with a CUDA GPU, pick_device() must choose CUDA"
    assert submission.pick_device("cuda:0") == torch.device("cuda:0")


@needs_cuda
@pytest.mark.task("to_device")
def test_cuda_to_device_pinned_round_trip(submission):
    x = _tensor(256, 16, seed=60).pin_memory()
    ids = torch.arange(256).pin_memory()
    batch = {"x": x, "pair": Batch(x, ids, "tag")}
    on_gpu = submission.to_device(batch, "cuda", non_blocking=True)
    torch.cuda.synchronize()
    assert on_gpu["x"].is_cuda and on_gpu["pair"].targets.is_cuda, "the tensors must be on the GPU"
    assert type(on_gpu["pair"]) is Batch and on_gpu["pair"].ids == "tag"
    back = submission.to_device(on_gpu, "cpu")
    assert back["x"].device.type == "cpu", "moving back to the CPU must give CPU tensors"
    assert torch.equal(back["x"], x) and torch.equal(back["pair"].targets, ids), (
        "the round trip changed the data"
    )


@needs_cuda
@pytest.mark.task("optimizer_to")
def test_cuda_optimizer_to_lets_training_continue_on_the_gpu(submission):
    model, optimizer = _trained(torch.optim.Adam, lr=1e-2)
    submission.optimizer_to(optimizer, "cuda")
    model.to("cuda")
    for p in model.parameters():
        assert optimizer.state[p]["exp_avg"].is_cuda, "Adam's exp_avg must be on the GPU"
        assert optimizer.state[p]["step"].device.type == "cpu", "the 'step' counter must stay on the CPU"
    x = _tensor(8, 4, seed=61).cuda()
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    optimizer.step()  # fails with a device mismatch if any state tensor was left on the CPU
    assert all(p.is_cuda for p in model.parameters())


@needs_cuda
@pytest.mark.task("batched_inference")
def test_cuda_batched_inference(submission):
    net = _net(seed=62)
    expected = copy.deepcopy(net).eval()(torch.cat(_batches([4, 1, 3], seed=63))).detach()
    batches = [b.pin_memory() for b in _batches([4, 1, 3], seed=63)]
    got = submission.batched_inference(net, batches, "cuda")
    assert got.device.type == "cpu", "the outputs must be returned on the CPU"
    assert next(net.parameters()).is_cuda, "the model must have been moved to the GPU"
    assert_close(got, expected, rtol=1e-4, atol=1e-4, msg="GPU outputs differ from the CPU outputs")
