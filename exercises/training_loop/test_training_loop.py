"""Grading tests for the training_loop exercise. Each test observes; the judge compares with the reference's run.

The most specific checks come first (device transfer, train/eval mode, gradients at each step, autograd off),
so that a submission with one mistake is told about that mistake before any overall comparison of weights or
results fails.
"""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from quiz.grading.scenario import observe

NUM_FEATURES = 6
NUM_CLASSES = 3
# A real CPU device written with an index: a submission that passes `device` on records "cpu:0", one that
# hard-codes a device records something else. Every computation stays real, so any correct way of
# accumulating the loss (Python floats, 0-dim tensors on `device`) gives the right numbers.
SPY_DEVICES = [torch.device("cpu", 0), "cpu"]
SPY_DEVICE_IDS = ["torch.device('cpu', 0)", "'cpu'"]


def _make_model(seed: int = 0) -> nn.Module:
    # BatchNorm and Dropout make the train/eval mode visible in the results.
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(NUM_FEATURES, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(16, NUM_CLASSES),
    )


def _make_loader(num_samples: int = 10, batch_size: int = 4, seed: int = 1) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(num_samples, NUM_FEATURES, generator=generator)
    targets = torch.randint(0, NUM_CLASSES, (num_samples,), generator=generator)
    return DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=False)


def _train(impl, *, seed: int, epochs: int = 1, start_in_eval: bool = False, loader=None):
    model = _make_model()
    if start_in_eval:
        model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = loader if loader is not None else _make_loader()
    torch.manual_seed(seed)  # the same dropout masks in the submission's run and the reference's
    results = [impl.train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu") for _ in range(epochs)]
    return model, results


def _modes(model: nn.Module) -> dict[str, bool]:
    return {name or "the model": module.training for name, module in model.named_modules()}


class _HostTensor(torch.Tensor):
    """A CPU tensor that records every ``.to(<device>)`` call; what such a call returns is a plain tensor.

    The model and loss spies below can then tell a batch that went through ``.to(device)`` (a plain tensor)
    from one that did not (still a ``_HostTensor``), while every number stays real.
    """

    moves: list[str] = []  # the devices passed to .to(), one entry per call; reset by _host_batches()

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to:
            devices = [a for a in args[1:] if isinstance(a, (str, torch.device))] + (
                [kwargs["device"]] if kwargs.get("device") is not None else []
            )
            if devices:
                cls.moves.append(str(torch.device(devices[0])))
                with torch._C.DisableTorchFunctionSubclass():
                    return torch.Tensor.to(*args, **kwargs).as_subclass(torch.Tensor)
        return super().__torch_function__(func, types, args, kwargs)


class _SpyModel(nn.Module):
    """Wraps a model; records for each call whether the input was moved and whether autograd was on."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.inputs_moved: list[bool] = []
        self.grad_enabled: list[bool] = []

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.inputs_moved.append(not isinstance(inputs, _HostTensor))
        self.grad_enabled.append(torch.is_grad_enabled())
        return self.inner(inputs)


class _SpyLoss:
    def __init__(self) -> None:
        self.targets_moved: list[bool] = []

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.targets_moved.append(not isinstance(targets, _HostTensor))
        return nn.functional.cross_entropy(outputs, targets)


def _host_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    _HostTensor.moves = []
    generator = torch.Generator().manual_seed(5)
    return [
        (
            torch.randn(size, NUM_FEATURES, generator=generator).as_subclass(_HostTensor),
            torch.randint(0, NUM_CLASSES, (size,), generator=generator).as_subclass(_HostTensor),
        )
        for size in (4, 4, 3)
    ]


def _observe_moves(function: str, device, model: _SpyModel, loss_fn: _SpyLoss) -> None:
    observe(f"number of model calls in {function} for 3 batches", len(model.inputs_moved),
            explain="call the model exactly once per batch")
    observe(f"in {function}, for each of the 3 batches: did the inputs reach the model through .to(device)?",
            model.inputs_moved, explain="move each batch's inputs with inputs = inputs.to(device) before the model")
    observe(f"in {function}, for each of the 3 batches: did the targets reach loss_fn through .to(device)?",
            loss_fn.targets_moved,
            explain="move each batch's targets too, with targets = targets.to(device), before loss_fn")
    observe(f"the devices passed to .to() on the batch tensors in {function}, device={device!r}",
            sorted(_HostTensor.moves), explain="move the inputs and the targets of each batch to the `device` argument")


# ----------------------------------------------------------------------------------------------------------
# train_one_epoch


@pytest.mark.task("train_one_epoch")
def test_train_each_step_sees_only_its_batch_gradient(impl):
    class RecordingSGD(torch.optim.SGD):
        """Records, at each step, which parameters hold a .grad, what .grad holds beyond the gradient that the
        latest backward() sent to the parameter (seen by a tensor hook, before it is added into .grad), and
        the .grad itself."""

        def __init__(self, params, *args, **kwargs) -> None:
            params = list(params)
            super().__init__(params, *args, **kwargs)
            self.latest: dict[int, torch.Tensor] = {}
            for position, parameter in enumerate(params):
                parameter.register_hook(lambda grad, position=position: self.latest.__setitem__(
                    position, grad.detach().clone()))
            self.has_grad: list[list[bool]] = []
            self.leftover: list[list[torch.Tensor | None]] = []
            self.seen: list[list[torch.Tensor | None]] = []

        def step(self, closure=None):
            params = self.param_groups[0]["params"]
            self.has_grad.append([p.grad is not None for p in params])
            self.leftover.append([None if p.grad is None or i not in self.latest else p.grad - self.latest[i]
                                  for i, p in enumerate(params)])
            self.latest.clear()
            self.seen.append([None if p.grad is None else p.grad.clone() for p in params])
            return super().step(closure)

    model = _make_model()
    optimizer = RecordingSGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(3)
    impl.train_one_epoch(model, _make_loader(), nn.CrossEntropyLoss(), optimizer, "cpu")
    observe("number of optimizer.step() calls in train_one_epoch for 10 samples in batches of 4 (3 batches)",
            len(optimizer.seen), explain="call optimizer.step() once per batch")
    observe("in train_one_epoch, for each optimizer.step(), [step][parameter]: did the parameter hold a .grad when "
            "step() ran?", optimizer.has_grad,
            explain="when step() runs every parameter must hold this batch's gradient: call backward() before "
                    "step(), and optimizer.zero_grad() (which sets .grad to None) before backward(), not between "
                    "backward() and step()")
    observe("in train_one_epoch, for each optimizer.step(), [step][parameter]: .grad minus the gradient that the "
            "latest backward() sent to the parameter", optimizer.leftover,
            explain="when step() runs .grad must hold only what this batch's backward() computed (difference 0): "
                    "backward() adds into .grad, so gradients from earlier backward() calls are still there unless "
                    "optimizer.zero_grad() clears them before each backward()")
    observe("the gradients each optimizer.step() saw in train_one_epoch, [step][parameter]", optimizer.seen,
            explain="at each step, the gradient of that batch's mean loss at the weights left by the earlier steps")


@pytest.mark.task("train_one_epoch")
@pytest.mark.parametrize("device", SPY_DEVICES, ids=SPY_DEVICE_IDS)
def test_train_moves_inputs_and_targets_to_device(impl, device):
    torch.manual_seed(0)
    model = _SpyModel(nn.Linear(NUM_FEATURES, NUM_CLASSES))
    loss_fn = _SpyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = _host_batches()
    result = impl.train_one_epoch(model, batches, loss_fn, optimizer, device)
    _observe_moves("train_one_epoch", device, model, loss_fn)
    observe(f"train_one_epoch's result with device={device!r} on 3 batches of 4, 4 and 3 samples (a linear model)",
            result, rtol=1e-5, atol=1e-6,
            explain='{"loss": a Python float}: each batch\'s loss weighted by its number of samples, summed, and '
                    "divided by the 11 samples")


@pytest.mark.task("train_one_epoch")
def test_train_sets_training_mode(impl):
    model, _ = _train(impl, seed=4, start_in_eval=True)
    observe("the training flag of each module after train_one_epoch (the model started in eval mode)",
            _modes(model), explain="call model.train() at the start and leave the model in training mode")
    observe("weights and BatchNorm statistics after one epoch that started in eval mode", model.state_dict(),
            explain="whatever mode the model was in before, train_one_epoch trains in training mode (Dropout on, "
                    "BatchNorm updating its statistics)")


@pytest.mark.task("train_one_epoch")
@pytest.mark.parametrize(("num_samples", "batch_size"), [(10, 4), (11, 4), (7, 7)],
                         ids=["10 by 4", "11 by 4", "7 by 7"])
def test_train_loss_is_mean_over_samples(impl, num_samples, batch_size):
    loader = _make_loader(num_samples, batch_size)
    _, [result] = _train(impl, seed=0, loader=loader)
    observe(f"train_one_epoch's result on {num_samples} samples in batches of {batch_size}", result,
            rtol=1e-5, atol=1e-6,
            explain='{"loss": a Python float}: weight each batch\'s loss by its number of samples (the last batch '
                    "may be smaller), sum, and divide by the number of samples")


@pytest.mark.task("train_one_epoch")
@pytest.mark.parametrize("seed", [0, 1], ids=["seed 0", "seed 1"])
def test_train_weights_match_reference(impl, seed):
    model, _ = _train(impl, seed=seed, epochs=2)
    observe(f"weights and BatchNorm statistics after two epochs (dropout seed {seed})", model.state_dict(),
            explain="for each batch: move it to the device, zero the gradients, forward once, compute the loss, "
                    "backward, then optimizer.step()")


# ----------------------------------------------------------------------------------------------------------
# evaluate


def _evaluate(impl, *, seed: int, start_in_train: bool = True, loader=None):
    model = _make_model(seed=2)
    # Give BatchNorm non-trivial running statistics, so eval and train mode give different outputs.
    model.train()
    with torch.no_grad():
        model(torch.randn(32, NUM_FEATURES) * 3 + 1)
    if not start_in_train:
        model.eval()
    torch.manual_seed(seed)
    result = impl.evaluate(model, loader or _make_loader(10, 4), nn.CrossEntropyLoss(), "cpu")
    return model, result


@pytest.mark.task("evaluate")
@pytest.mark.parametrize("device", SPY_DEVICES, ids=SPY_DEVICE_IDS)
def test_evaluate_moves_inputs_and_targets_to_device(impl, device):
    torch.manual_seed(0)
    model = _SpyModel(nn.Linear(NUM_FEATURES, NUM_CLASSES))
    loss_fn = _SpyLoss()
    batches = _host_batches()
    result = impl.evaluate(model, batches, loss_fn, device)
    _observe_moves("evaluate", device, model, loss_fn)
    observe(f"evaluate's result with device={device!r} on 3 batches of 4, 4 and 3 samples (a linear model)", result,
            rtol=1e-5, atol=1e-6,
            explain='{"loss": the mean loss over the 11 samples (each batch weighted by its size), "accuracy": the '
                    "fraction of the 11 samples whose outputs.argmax(dim=1) equals the target}, both Python floats")


@pytest.mark.task("evaluate")
def test_evaluate_builds_no_graph(impl):
    model = _SpyModel(_make_model())
    impl.evaluate(model, _make_loader(), nn.CrossEntropyLoss(), "cpu")
    observe("number of model calls in evaluate for 10 samples in batches of 4 (3 batches)",
            len(model.grad_enabled), explain="call the model once per batch")
    observe("torch.is_grad_enabled() during each model call in evaluate", model.grad_enabled,
            explain="run the loop under torch.no_grad() (or torch.inference_mode()), so no graph is built")
    observe("the .grad of each parameter after evaluate", [p.grad for p in model.parameters()],
            explain="evaluate computes no gradient: every .grad stays None")


@pytest.mark.task("evaluate")
def test_evaluate_sets_eval_mode_and_changes_nothing(impl):
    model, result = _evaluate(impl, seed=1, start_in_train=True)
    observe("the training flag of each module after evaluate (the model started in training mode)",
            _modes(model), explain="call model.eval() at the start and leave the model in eval mode")
    observe("weights and BatchNorm running statistics after evaluate", model.state_dict(),
            explain="evaluate changes nothing in the model: no weight, no BatchNorm running statistic")
    observe("evaluate's result for a model that started in training mode", result, rtol=1e-5, atol=1e-6,
            explain="evaluate in eval mode: Dropout off, BatchNorm using its running statistics")


@pytest.mark.task("evaluate")
@pytest.mark.parametrize(("num_samples", "batch_size"), [(10, 4), (11, 3), (5, 5)],
                         ids=["10 by 4", "11 by 3", "5 by 5"])
def test_evaluate_matches_reference(impl, num_samples, batch_size):
    loader = _make_loader(num_samples, batch_size, seed=7)
    _, result = _evaluate(impl, seed=10, start_in_train=False, loader=loader)
    observe(f"evaluate's result on {num_samples} samples in batches of {batch_size}", result, rtol=1e-5, atol=1e-6,
            explain='{"loss": the mean loss over samples (weight each batch by its size), "accuracy": the fraction '
                    "of all samples whose outputs.argmax(dim=1) equals the target}, both Python floats")
