"""Grading tests for the device exercise: pick_device, to_device, optimizer_to, batched_inference.

Without a GPU, moves are checked on the ``meta`` device and availability by patching
``torch.cuda.is_available`` / ``torch.backends.mps.is_available``; the tests marked ``cuda`` run the real
transfers where CUDA exists.
"""

import copy
from collections import OrderedDict, defaultdict, namedtuple

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

META = torch.device("meta")

Batch = namedtuple("Batch", ["inputs", "targets", "ids"])


def _tensor(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g).to(dtype)


def _available(monkeypatch, cuda, mps, cuda_count=2):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda_count if cuda else 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def _layout(obj):
    """``obj`` as plain data the judge can compare: a meta tensor (which holds no data) becomes a sentence
    with its shape and dtype, any other tensor stays itself; containers record their exact type (and a
    defaultdict its default_factory) and key order; other values stay themselves, or name their type."""
    if isinstance(obj, torch.Tensor):
        if obj.device.type == "meta":
            return f"a meta tensor of shape {tuple(obj.shape)} and dtype {obj.dtype}"
        return obj
    if isinstance(obj, dict):
        seen = {"type": type(obj).__name__, "key order": [str(key) for key in obj]}
        if isinstance(obj, defaultdict):
            seen["default_factory"] = getattr(obj.default_factory, "__name__", repr(obj.default_factory))
        seen["items"] = {str(key): _layout(value) for key, value in obj.items()}
        return seen
    if isinstance(obj, (list, tuple)):
        return {"type": type(obj).__name__, "items": [_layout(value) for value in obj]}
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    return f"a {type(obj).__name__} object"


def _on_meta(tensor):
    return f"a meta tensor of shape {tuple(tensor.shape)} and dtype {tensor.dtype}"


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


def _availability(cuda, mps):
    return f"CUDA {'available' if cuda else 'unavailable'} and MPS {'available' if mps else 'unavailable'}"


# ---------------------------------------------------------------------------------------------- pick_device


@pytest.mark.task("pick_device")
@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, False, "cuda"), (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
    ids=["cuda", "cuda+mps", "mps", "none"],
)
def test_pick_device_without_preference(impl, monkeypatch, cuda, mps, expected):
    _available(monkeypatch, cuda, mps)
    got = impl.pick_device()
    observe(f"pick_device() returns a torch.device ({_availability(cuda, mps)})", isinstance(got, torch.device),
            expect=True, explain="pick_device returns a torch.device")
    observe(f"the type of pick_device() with {_availability(cuda, mps)}", got.type, expect=expected,
            explain="with no preference: CUDA if torch.cuda.is_available(), else MPS if "
                    "torch.backends.mps.is_available(), else the CPU")


@pytest.mark.task("pick_device")
@pytest.mark.parametrize(
    "prefer",
    ["cpu", "meta", "cuda", "cuda:0", "cuda:1", "mps", torch.device("cpu"), torch.device("cuda", 1)],
    ids=repr,
)
def test_pick_device_honours_an_available_preference(impl, monkeypatch, prefer):
    _available(monkeypatch, cuda=True, mps=True)
    observe(f"pick_device({prefer!r}) with CUDA and MPS available", impl.pick_device(prefer),
            expect=torch.device(prefer), explain=f"pick_device({prefer!r}) returns torch.device({prefer!r})")


@pytest.mark.task("pick_device")
def test_pick_device_preference_beats_a_better_device(impl, monkeypatch):
    _available(monkeypatch, cuda=True, mps=False)
    observe("pick_device('cpu') with CUDA available", impl.pick_device("cpu"), expect=torch.device("cpu"),
            explain="a preference is honoured even when a better device exists")


@pytest.mark.task("pick_device")
@pytest.mark.parametrize("prefer", ["cuda", "cuda:0", "cuda:1", torch.device("cuda"), "mps"], ids=repr)
def test_pick_device_rejects_an_unavailable_preference(impl, monkeypatch, prefer):
    _available(monkeypatch, cuda=False, mps=False)
    kind = torch.device(prefer).type
    check = "torch.cuda.is_available()" if kind == "cuda" else "torch.backends.mps.is_available()"
    with expect_raises(f"pick_device({prefer!r}) with neither CUDA nor MPS available", ValueError,
                       explain=f"{check} is False, so a {kind!r} preference raises ValueError: the check goes by the "
                               "device's type, whatever form the preference takes (a string with or without an "
                               "index, or a torch.device)"):
        impl.pick_device(prefer)


@pytest.mark.task("pick_device")
def test_pick_device_checks_each_backend_separately(impl, monkeypatch):
    _available(monkeypatch, cuda=True, mps=False)
    with expect_raises("pick_device('mps') with CUDA available but not MPS", ValueError,
                       explain="MPS unavailable: pick_device('mps') raises ValueError, whatever CUDA says"):
        impl.pick_device("mps")
    _available(monkeypatch, cuda=False, mps=True)
    with expect_raises("pick_device('cuda') with MPS available but not CUDA", ValueError,
                       explain="CUDA unavailable: pick_device('cuda') raises ValueError, whatever MPS says"):
        impl.pick_device("cuda")


@pytest.mark.task("pick_device")
@pytest.mark.parametrize("prefer", ["gpu", "banana", "cuda:x", ""], ids=repr)
def test_pick_device_rejects_what_is_not_a_device(impl, monkeypatch, prefer):
    _available(monkeypatch, cuda=False, mps=False)
    with expect_raises(f"pick_device({prefer!r})", ValueError,
                       explain="a preference that is not a device raises ValueError (torch.device raises "
                               "RuntimeError: turn it into ValueError)"):
        impl.pick_device(prefer)


# ------------------------------------------------------------------------------------------------ to_device


@pytest.mark.task("to_device")
def test_to_device_moves_a_tensor(impl):
    t = _tensor(3, 4, seed=1, dtype=torch.float64)
    observe("to_device(a 3x4 float64 CPU tensor, torch.device('meta'))", _layout(impl.to_device(t, META)),
            expect=_on_meta(t), explain="the tensor moves to the device with its shape and dtype")
    observe("the caller's tensor after the call", t, explain="the caller's tensor stays where it was")
    observe("to_device(a 3x4 float64 CPU tensor, 'meta')", _layout(impl.to_device(t, "meta")),
            expect=_on_meta(t), explain="the device may also be given as a string")


@pytest.mark.task("to_device")
def test_to_device_moves_nested_containers(impl):
    a, b, c, d = _tensor(2, seed=2), _tensor(3, seed=3), _tensor(1, 2, seed=4), torch.arange(5)
    name, nothing, rate = "run-1", None, 0.5
    obj = {"a": a, "nested": {"list": [b, (c, name, 3)], "d": d}, "none": nothing, "rate": rate, "name": name}
    got = impl.to_device(obj, "meta")
    observe("to_device(a dict of tensors, nested dicts, lists, tuples, None, numbers, strings, 'meta')",
            _layout(got), explain="the same structure with the same container types and key order, every tensor "
                                  "on the device with its shape and dtype, every other value unchanged")
    observe("the strings in the result are the caller's string objects",
            [got["name"] is name, got["nested"]["list"][1][1] is name], expect=[True, True],
            explain="values that are not tensors or containers are returned as they are (the same object)")


@pytest.mark.task("to_device")
def test_to_device_keeps_namedtuples(impl):
    batch = Batch(_tensor(4, 3, seed=5), torch.tensor([0, 1, 1, 0]), ["a", "b", "c", "d"])
    explain = "a namedtuple keeps its namedtuple type, its tensors move, its other fields are kept"
    observe("to_device(Batch(inputs, targets, ids), 'meta') where Batch is a namedtuple",
            _layout(impl.to_device(batch, "meta")), explain=explain)
    observe("to_device({'batch': Batch(...), 'pairs': [Batch(...)]}, 'meta')",
            _layout(impl.to_device({"batch": batch, "pairs": [batch]}, "meta")),
            explain="namedtuples nested in dicts and lists keep their type too")


@pytest.mark.task("to_device")
def test_to_device_keeps_ordered_dicts(impl):
    obj = OrderedDict([("z", _tensor(2, seed=6)), ("a", _tensor(3, seed=7)), ("m", 1)])
    observe("to_device(OrderedDict(z=tensor, a=tensor, m=1), 'meta')", _layout(impl.to_device(obj, "meta")),
            explain="an OrderedDict stays an OrderedDict with the same key order, its tensors moved")


@pytest.mark.task("to_device")
def test_to_device_keeps_defaultdicts(impl):
    obj = defaultdict(list, {"x": _tensor(2, seed=8), "ys": [_tensor(3, seed=9)]})
    observe("to_device(defaultdict(list, x=tensor, ys=[tensor]), 'meta')", _layout(impl.to_device(obj, "meta")),
            explain="a defaultdict stays a defaultdict with the same default_factory, its tensors moved")


@pytest.mark.task("to_device")
def test_to_device_does_not_modify_the_input(impl):
    a, b, c = _tensor(2, seed=10), _tensor(3, seed=11), _tensor(4, seed=12)
    inner_dict = {"c": c}
    inner_list = [b, inner_dict]
    obj = {"a": a, "inner": inner_list}
    got = impl.to_device(obj, "meta")
    explain = "to_device must not modify its input: build new containers, leave the caller's as they were"
    observe("the caller's dict {'a': a, 'inner': [b, {'c': c}]} after to_device(..., 'meta')", _layout(obj),
            explain=explain)
    observe("the caller's containers still hold the caller's objects",
            [obj["a"] is a, obj["inner"] is inner_list, inner_list[0] is b, inner_list[1] is inner_dict,
             inner_dict["c"] is c], expect=[True] * 5, explain=explain)
    observe("the result's containers are new (not the caller's dict, list, inner dict)",
            [got is not obj, got["inner"] is not inner_list, got["inner"][1] is not inner_dict],
            expect=[True] * 3, explain="every container in the result is new")


@pytest.mark.task("to_device")
def test_to_device_returns_a_tensor_already_there_as_is(impl):
    t = _tensor(5, seed=13)
    explain = "a tensor already on the device is returned as is, not copied (Tensor.to does that)"
    observe("to_device(a CPU tensor t, 'cpu') is t", impl.to_device(t, "cpu") is t, expect=True, explain=explain)
    got = impl.to_device({"t": t, "l": [t]}, torch.device("cpu"))
    observe("to_device({'t': t, 'l': [t]}, cpu) holds t itself", [got["t"] is t, got["l"][0] is t],
            expect=[True, True], explain=explain)


@pytest.mark.task("to_device")
def test_to_device_passes_non_blocking_on(impl, monkeypatch):
    obj = {"x": _tensor(3, seed=14), "y": [_tensor(2, seed=15)], "z": Batch(_tensor(1, seed=16), None, None)}
    spy = _ToSpy(monkeypatch)
    impl.to_device(obj, "meta", non_blocking=True)
    calls = list(spy.calls)
    spy.calls.clear()
    impl.to_device(obj, "meta")
    default_calls = list(spy.calls)
    observe("at least one Tensor.to call per tensor (3 tensors) in to_device(..., non_blocking=True)",
            len(calls) >= 3, expect=True, explain="every tensor is moved with tensor.to(device, ...)")
    observe("every Tensor.to call of to_device(..., non_blocking=True) passed non_blocking=True",
            all(non_blocking for _, non_blocking in calls), expect=True,
            explain="to_device passes non_blocking on: tensor.to(device, non_blocking=non_blocking)")
    observe("to_device(..., 'meta') with the default non_blocking made no non-blocking Tensor.to call",
            bool(default_calls) and not any(non_blocking for _, non_blocking in default_calls), expect=True,
            explain="by default (non_blocking=False) the copies are blocking")


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


STEP = "the 'step' counter stays on the CPU (where Optimizer.load_state_dict leaves it), with its value"
MOVED = "every tensor of the optimizer's state moves to the device, keeping its shape and dtype"


def _observe_state(optimizer, model, name, keys):
    for i, p in enumerate(model.parameters()):
        state = optimizer.state.get(p, {})
        observe(f"the keys of {name}'s state for parameter {i}", sorted(map(str, state)), expect=sorted(keys),
                explain="optimizer_to keeps the state's keys")
        for key in keys:
            observe(f"{name}'s state[{key!r}] for parameter {i} after optimizer_to(optimizer, 'meta')",
                    _layout(state.get(key)), explain=STEP if key == "step" else MOVED)


@pytest.mark.task("optimizer_to")
def test_optimizer_to_moves_adam_state_but_not_step(impl):
    model, optimizer = _trained(torch.optim.Adam, lr=1e-2)
    impl.optimizer_to(optimizer, "meta")
    observe("the number of entries of optimizer.state (4 parameters)", len(optimizer.state), expect=4,
            explain="optimizer_to keeps one state entry per parameter")
    _observe_state(optimizer, model, "Adam", ("step", "exp_avg", "exp_avg_sq"))
    observe("the model's parameters after optimizer_to", _layout(list(model.parameters())),
            explain="optimizer_to moves the optimizer's state, not the parameters")


@pytest.mark.task("optimizer_to")
def test_optimizer_to_moves_sgd_momentum(impl):
    model, optimizer = _trained(torch.optim.SGD, lr=0.1, momentum=0.9)
    impl.optimizer_to(optimizer, torch.device("meta"))
    _observe_state(optimizer, model, "SGD", ("momentum_buffer",))


@pytest.mark.task("optimizer_to")
def test_optimizer_to_moves_every_tensor_and_keeps_other_values(impl):
    model, optimizer = _trained(torch.optim.Adagrad, lr=0.1)
    first = next(iter(model.parameters()))
    optimizer.state[first]["extra_buffer"] = torch.zeros(3)
    optimizer.state[first]["note"] = "keep me"
    groups = copy.deepcopy(optimizer.param_groups)
    impl.optimizer_to(optimizer, "meta")
    observe("state['extra_buffer'] (a tensor added to parameter 0's Adagrad state) after optimizer_to",
            _layout(optimizer.state[first]["extra_buffer"]), expect=_on_meta(torch.zeros(3)),
            explain="every tensor in the state moves, whatever its key")
    observe("state['note'] (a string) of parameter 0 after optimizer_to", optimizer.state[first]["note"],
            expect="keep me", explain="values that are not tensors are kept")
    for i, p in enumerate(model.parameters()):
        observe(f"Adagrad's state['sum'] for parameter {i} after optimizer_to(optimizer, 'meta')",
                _layout(optimizer.state[p]["sum"]), explain=MOVED)
        observe(f"Adagrad's state['step'] for parameter {i} after optimizer_to(optimizer, 'meta')",
                _layout(optimizer.state[p]["step"]), explain=STEP)
    observe("the learning rates of the param_groups after optimizer_to", [g["lr"] for g in optimizer.param_groups],
            expect=[g["lr"] for g in groups], explain="param_groups do not change")


@pytest.mark.task("optimizer_to")
def test_optimizer_to_with_empty_state(impl):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    impl.optimizer_to(optimizer, "meta")  # no step yet: nothing to move, and no error
    observe("len(optimizer.state) after optimizer_to on an optimizer that never stepped", len(optimizer.state),
            expect=0, explain="optimizer_to must not create state")


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


# The specific tests come first: the first failing message then names the step that was missed.
@pytest.mark.task("batched_inference")
def test_batched_inference_runs_on_the_device_in_eval_mode_without_grad(impl):
    torch.manual_seed(0)
    model = _Recorder().train()
    batches = _batches([2, 3, 1], seed=30)
    got = impl.batched_inference(model, batches, "meta")
    observe("the number of times the model ran on 3 batches", len(model.calls), expect=3,
            explain="the model runs once per batch")
    for i in range(3):
        call = model.calls[i]
        observe(f"the device of the model's weights while it ran on batch {i}", str(call["weights"]),
                expect="meta", explain="move the model to the device (model.to(device)) before running it")
        observe(f"the device of batch {i} when the model saw it", str(call["input"]), expect="meta",
                explain="each batch is moved to the device before the model sees it")
        observe(f"the training flags of the model and its 3 submodules while it ran on batch {i}",
                call["training"], expect=[False] * 4,
                explain="the model and all its submodules run in eval mode (model.eval())")
        observe(f"torch.is_grad_enabled() while the model ran on batch {i}", call["grad_enabled"], expect=False,
                explain="the model runs with autograd off (torch.no_grad() or torch.inference_mode())")
    observe("the outputs for batches of sizes [2, 3, 1] (a model returning zeros of shape (n, 2))", got,
            expect=torch.zeros(6, 2), explain="the outputs of all batches concatenated along dim 0, on the CPU")


@pytest.mark.task("batched_inference")
def test_batched_inference_does_not_update_batchnorm_statistics(impl):
    net = _net(seed=3)
    before = copy.deepcopy(net.state_dict())
    impl.batched_inference(net, _batches([6, 6], seed=20), "cpu")
    observe("the model's state_dict (BatchNorm running statistics included) after inference", net.state_dict(),
            exact=True, expect=before, explain="inference in eval mode leaves the BatchNorm statistics unchanged")
    observe("model.training after batched_inference", net.training, expect=False,
            explain="the model is left in eval mode")


@pytest.mark.task("batched_inference")
def test_batched_inference_moves_batches_with_non_blocking(impl, monkeypatch):
    model = _Recorder()
    batches = _batches([2, 3], seed=40)
    spy = _ToSpy(monkeypatch)
    impl.batched_inference(model, batches, "meta")
    for i, batch in enumerate(batches):
        moved = [nb for tensor, nb in spy.calls if tensor is batch or tensor.shape == batch.shape]
        observe(f"batch {i} was moved with Tensor.to", bool(moved), expect=True,
                explain="each batch is moved with batch.to(device, non_blocking=True)")
        observe(f"batch {i} was moved with non_blocking=True", any(moved), expect=True,
                explain="each batch is moved with batch.to(device, non_blocking=True)")


@pytest.mark.task("batched_inference")
@pytest.mark.parametrize("sizes", [[1], [3, 1, 5], [4, 4, 2, 7]], ids=str)
def test_batched_inference_outputs(impl, sizes):
    net = _net(seed=len(sizes))
    batches = _batches(sizes, seed=10)
    got = impl.batched_inference(net, batches, "cpu")
    observe(f"batched_inference(a Linear-BatchNorm-ReLU-Dropout-Linear net in train mode, batches of sizes "
            f"{sizes}, 'cpu')", got,
            explain="the model's outputs in eval mode (no dropout, BatchNorm with its running statistics), "
                    "concatenated along dim 0, on the CPU")
    observe(f"the outputs require grad (batches of sizes {sizes})", got.requires_grad, expect=False,
            explain="the outputs do not require grad: run the model with autograd off")


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
def test_batched_inference_returns_outputs_on_the_cpu(impl):
    torch.manual_seed(0)
    model = _AcceleratorNet()
    batches = _batches([3, 2], seed=50)
    with torch.no_grad():
        expected = model.linear(torch.cat(batches))
    got = impl.batched_inference(model, batches, "cpu")
    observe("the type of the outputs, for a model whose outputs play tensors left on an accelerator",
            type(got).__name__, expect="Tensor",
            explain="the outputs are returned on the CPU: move them there (.cpu()) before returning them")
    observe("the outputs on the CPU", got, expect=expected, explain="the model's outputs, concatenated along dim 0")


# ------------------------------------------------------------------------------------------- real CUDA only


@pytest.mark.cuda
@pytest.mark.task("pick_device")
def test_cuda_pick_device_prefers_the_gpu(impl):
    observe("the type of pick_device() with a CUDA GPU", impl.pick_device().type, expect="cuda",
            explain="with a CUDA GPU, pick_device() chooses CUDA")
    observe("pick_device('cuda:0') with a CUDA GPU", impl.pick_device("cuda:0"), expect=torch.device("cuda:0"),
            explain="pick_device('cuda:0') returns torch.device('cuda:0')")


@pytest.mark.cuda
@pytest.mark.task("to_device")
def test_cuda_to_device_pinned_round_trip(impl):
    x = _tensor(256, 16, seed=60).pin_memory()
    ids = torch.arange(256).pin_memory()
    batch = {"x": x, "pair": Batch(x, ids, "tag")}
    on_gpu = impl.to_device(batch, "cuda", non_blocking=True)
    torch.cuda.synchronize()
    observe("to_device({'x': pinned x, 'pair': Batch(x, ids, 'tag')}, 'cuda', non_blocking=True)",
            _layout(on_gpu), explain="the same structure, every tensor on the GPU with the same values")
    back = impl.to_device(on_gpu, "cpu")
    observe("the round trip back to the CPU", _layout(back),
            explain="moving back to the CPU gives CPU tensors with the original values")


@pytest.mark.cuda
@pytest.mark.task("optimizer_to")
def test_cuda_optimizer_to_lets_training_continue_on_the_gpu(impl):
    model, optimizer = _trained(torch.optim.Adam, lr=1e-2)
    impl.optimizer_to(optimizer, "cuda")
    model.to("cuda")
    for i, p in enumerate(model.parameters()):
        observe(f"Adam's state for parameter {i} after optimizer_to(optimizer, 'cuda')",
                _layout(optimizer.state[p]), explain=f"{MOVED}; {STEP}")
    x = _tensor(8, 4, seed=61).cuda()
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    optimizer.step()  # fails with a device mismatch if any state tensor was left on the CPU
    observe("the parameters after one more Adam step on the GPU", list(model.parameters()), rtol=1e-4, atol=1e-5,
            explain="training continues on the GPU once the state and the model are there")


@pytest.mark.cuda
@pytest.mark.task("batched_inference")
def test_cuda_batched_inference(impl):
    net = _net(seed=62)
    expected = copy.deepcopy(net).eval()(torch.cat(_batches([4, 1, 3], seed=63))).detach()
    batches = [b.pin_memory() for b in _batches([4, 1, 3], seed=63)]
    got = impl.batched_inference(net, batches, "cuda")
    observe("batched_inference(net, pinned batches of sizes [4, 1, 3], 'cuda')", got, rtol=1e-4, atol=1e-4,
            expect=expected, explain="the model's eval-mode outputs, computed on the GPU, returned on the CPU")
    observe("the device of the model's parameters after batched_inference(..., 'cuda')",
            next(net.parameters()).device.type, expect="cuda", explain="the model is left on the device")
