"""Grading tests for the training_loop exercise."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

NUM_FEATURES = 6
NUM_CLASSES = 3


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


def _train(module, *, seed: int, epochs: int = 1, start_in_eval: bool = False, loader=None):
    model = _make_model()
    if start_in_eval:
        model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = loader if loader is not None else _make_loader()
    torch.manual_seed(seed)  # the same dropout masks for the submission and the reference
    results = [
        module.train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, "cpu") for _ in range(epochs)
    ]
    return model, results


def _assert_same_state(actual: nn.Module, expected: nn.Module, msg: str) -> None:
    expected_state = expected.state_dict()
    for name, value in actual.state_dict().items():
        torch.testing.assert_close(value, expected_state[name], msg=f"{name}: {msg}")


class _HostTensor(torch.Tensor):
    """A CPU tensor whose ``.to("meta")`` returns a plain CPU tensor: "moved" tensors are plain ones.

    The grader has no GPU, so moving to ``meta`` is faked: the model and loss below can then tell a
    batch that went through ``.to(device)`` from one that did not, and still compute real numbers.
    """

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to:
            devices = [a for a in args[1:] if isinstance(a, (str, torch.device))] + (
                [kwargs["device"]] if kwargs.get("device") is not None else []
            )
            if any(torch.device(d).type == "meta" for d in devices):
                dtype = kwargs.get("dtype") or next((a for a in args[1:] if isinstance(a, torch.dtype)), None)
                with torch._C.DisableTorchFunctionSubclass():
                    plain = args[0].as_subclass(torch.Tensor)
                    return plain.to(dtype) if dtype is not None else plain.clone()
        return super().__torch_function__(func, types, args, kwargs)


class _SpyModel(nn.Module):
    """Wraps a model; records for each call whether the input was moved and whether autograd was on."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[dict[str, bool]] = []

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.calls.append({"moved": not isinstance(inputs, _HostTensor), "grad": torch.is_grad_enabled()})
        return self.inner(inputs)

    def to(self, *args, **kwargs):  # the model is "already on the device": moving it again is a no-op here
        return self


class _SpyLoss:
    def __init__(self) -> None:
        self.targets_moved: list[bool] = []

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.targets_moved.append(not isinstance(targets, _HostTensor))
        return nn.functional.cross_entropy(outputs, targets)


def _host_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(5)
    return [
        (
            torch.randn(size, NUM_FEATURES, generator=generator).as_subclass(_HostTensor),
            torch.randint(0, NUM_CLASSES, (size,), generator=generator).as_subclass(_HostTensor),
        )
        for size in (4, 4, 3)
    ]


# ----------------------------------------------------------------------------------------------------------
# train_one_epoch


@pytest.mark.task("train_one_epoch")
@pytest.mark.parametrize("seed", [0, 1])
def test_train_weights_match_reference(submission, reference, seed):
    model, _ = _train(submission, seed=seed, epochs=2)
    expected, _ = _train(reference, seed=seed, epochs=2)
    _assert_same_state(
        model,
        expected,
        "after two epochs the weights (or BatchNorm statistics) differ from the reference: for each batch, "
        "zero the gradients, forward once, compute the loss, backward, then optimizer.step()",
    )


@pytest.mark.task("train_one_epoch")
def test_train_each_step_sees_only_its_batch_gradient(submission, reference):
    class RecordingSGD(torch.optim.SGD):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.seen: list[list[torch.Tensor | None]] = []

        def step(self, closure=None):
            self.seen.append(
                [None if p.grad is None else p.grad.clone() for p in self.param_groups[0]["params"]]
            )
            return super().step(closure)

    def run(module):
        model = _make_model()
        optimizer = RecordingSGD(model.parameters(), lr=0.1, momentum=0.9)
        torch.manual_seed(3)
        module.train_one_epoch(model, _make_loader(), nn.CrossEntropyLoss(), optimizer, "cpu")
        return optimizer.seen

    seen, expected = run(submission), run(reference)
    assert len(seen) == len(expected), (
        f"optimizer.step() was called {len(seen)} times for {len(expected)} batches: call it once per batch"
    )
    for step, (grads, expected_grads) in enumerate(zip(seen, expected, strict=True)):
        for grad, expected_grad in zip(grads, expected_grads, strict=True):
            assert grad is not None, (
                f"at optimizer step {step} a parameter had no gradient: zero the gradients before "
                "backward(), not between backward() and step()"
            )
            torch.testing.assert_close(
                grad,
                expected_grad,
                msg=f"at optimizer step {step} the gradients are not those of that batch alone: "
                "call optimizer.zero_grad() before each backward() (gradients accumulate otherwise)",
            )


@pytest.mark.task("train_one_epoch")
@pytest.mark.parametrize(("num_samples", "batch_size"), [(10, 4), (11, 4), (7, 7)])
def test_train_loss_is_mean_over_samples(submission, reference, num_samples, batch_size):
    loader = _make_loader(num_samples, batch_size)
    _, [result] = _train(submission, seed=0, loader=loader)
    _, [expected] = _train(reference, seed=0, loader=loader)
    assert isinstance(result, dict) and "loss" in result, 'train_one_epoch must return a dict with key "loss"'
    assert isinstance(result["loss"], float), (
        f'result["loss"] should be a Python float, got {type(result["loss"]).__name__}: use loss.item()'
    )
    assert result["loss"] == pytest.approx(expected["loss"], rel=1e-5, abs=1e-6), (
        f"{num_samples} samples in batches of {batch_size}: expected a mean training loss of "
        f"{expected['loss']:.6f}, got {result['loss']:.6f}. Weight each batch's loss by its size (the last "
        "batch is smaller) and divide by the number of samples, not by the number of batches"
    )


@pytest.mark.task("train_one_epoch")
def test_train_sets_training_mode(submission, reference):
    model, _ = _train(submission, seed=4, start_in_eval=True)
    expected, _ = _train(reference, seed=4, start_in_eval=True)
    assert all(m.training for m in model.modules()), (
        "the model was in eval mode before train_one_epoch and is still not in training mode after it: "
        "call model.train() at the start"
    )
    _assert_same_state(
        model,
        expected,
        "the model started in eval mode and the weights differ from the reference: call model.train() "
        "so that Dropout and BatchNorm behave as in training",
    )


@pytest.mark.task("train_one_epoch")
def test_train_moves_inputs_and_targets_to_device(submission):
    torch.manual_seed(0)
    model = _SpyModel(nn.Linear(NUM_FEATURES, NUM_CLASSES))
    loss_fn = _SpyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    submission.train_one_epoch(model, _host_batches(), loss_fn, optimizer, torch.device("meta"))
    assert len(model.calls) == 3, f"the model was called {len(model.calls)} times for 3 batches"
    assert all(call["moved"] for call in model.calls), (
        "the inputs reached the model without being moved to `device`: inputs = inputs.to(device)"
    )
    assert loss_fn.targets_moved and all(loss_fn.targets_moved), (
        "the targets reached loss_fn without being moved to `device`: targets = targets.to(device)"
    )


# ----------------------------------------------------------------------------------------------------------
# evaluate


def _evaluate(module, *, seed: int, start_in_train: bool = True, loader=None):
    model = _make_model(seed=2)
    # Give BatchNorm non-trivial running statistics, so eval and train mode give different outputs.
    model.train()
    with torch.no_grad():
        model(torch.randn(32, NUM_FEATURES) * 3 + 1)
    if not start_in_train:
        model.eval()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    torch.manual_seed(seed)  # a different seed per call: results must not depend on dropout
    result = module.evaluate(model, loader or _make_loader(10, 4), nn.CrossEntropyLoss(), "cpu")
    return model, before, result


@pytest.mark.task("evaluate")
@pytest.mark.parametrize(("num_samples", "batch_size"), [(10, 4), (11, 3), (5, 5)])
def test_evaluate_matches_reference(submission, reference, num_samples, batch_size):
    loader = _make_loader(num_samples, batch_size, seed=7)
    _, _, result = _evaluate(submission, seed=10, start_in_train=False, loader=loader)
    _, _, expected = _evaluate(reference, seed=20, start_in_train=False, loader=loader)
    assert isinstance(result, dict) and {"loss", "accuracy"} <= result.keys(), (
        'evaluate must return a dict with keys "loss" and "accuracy"'
    )
    for key in ("loss", "accuracy"):
        assert isinstance(result[key], float), (
            f'result["{key}"] should be a Python float, got {type(result[key]).__name__}: use .item()'
        )
        assert result[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), (
            f"{num_samples} samples in batches of {batch_size}: expected {key} {expected[key]:.6f}, got "
            f"{result[key]:.6f}. Average over samples (weight each batch by its size), and predict with "
            "outputs.argmax(dim=1)"
        )


@pytest.mark.task("evaluate")
def test_evaluate_sets_eval_mode_and_changes_nothing(submission, reference):
    model, before, result = _evaluate(submission, seed=1, start_in_train=True)
    _, _, expected = _evaluate(reference, seed=2, start_in_train=True)
    assert not any(m.training for m in model.modules()), (
        "the model was in training mode before evaluate and is still in training mode after it: call "
        "model.eval() at the start"
    )
    for name, value in model.state_dict().items():
        torch.testing.assert_close(
            value,
            before[name],
            msg=f"evaluate changed {name}: it must not change any weight or BatchNorm running statistic "
            "(model.eval() stops BatchNorm from updating its statistics)",
        )
    assert result["loss"] == pytest.approx(expected["loss"], rel=1e-5, abs=1e-6), (
        f"with the model starting in training mode, expected loss {expected['loss']:.6f}, got "
        f"{result['loss']:.6f}: call model.eval() so Dropout is off and BatchNorm uses running statistics"
    )


@pytest.mark.task("evaluate")
def test_evaluate_builds_no_graph(submission):
    model = _SpyModel(_make_model())
    submission.evaluate(model, _make_loader(), nn.CrossEntropyLoss(), "cpu")
    assert model.calls, "evaluate never called the model"
    assert not any(call["grad"] for call in model.calls), (
        "the model ran with autograd enabled during evaluate: wrap the loop in torch.no_grad() so no "
        "graph is built"
    )
    assert all(p.grad is None for p in model.parameters()), "evaluate must not compute gradients"


@pytest.mark.task("evaluate")
def test_evaluate_moves_inputs_and_targets_to_device(submission):
    torch.manual_seed(0)
    model = _SpyModel(nn.Linear(NUM_FEATURES, NUM_CLASSES))
    loss_fn = _SpyLoss()
    result = submission.evaluate(model, _host_batches(), loss_fn, torch.device("meta"))
    assert len(model.calls) == 3, f"the model was called {len(model.calls)} times for 3 batches"
    assert all(call["moved"] for call in model.calls), (
        "the inputs reached the model without being moved to `device`: inputs = inputs.to(device)"
    )
    assert loss_fn.targets_moved and all(loss_fn.targets_moved), (
        "the targets reached loss_fn without being moved to `device`: targets = targets.to(device)"
    )
    assert isinstance(result, dict) and "accuracy" in result, 'evaluate must return a dict with "accuracy"'
