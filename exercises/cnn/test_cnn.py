"""Grading tests for the cnn exercise. Each test observes; the judge compares with the reference's run.

Every model is built with ``impl.SmallCNN`` right after ``torch.manual_seed``, then every tensor of its
``state_dict`` gets random values from a generator of its own, in sorted-name order: the values depend on
the names and shapes only, never on the order the layers were created in. Each test observes the
state_dict's names and shapes first, so a model with the wrong layout is told exactly that before any output
is compared; the per-layer test then watches what each layer receives, before whole outputs are compared.
"""

from collections import OrderedDict

import pytest
import torch
from torch import nn

from quiz.grading.scenario import observe

EXPECTED_PARAMETERS = 20_538  # conv1 144 + bn1 32 + conv2 4,608 + bn2 64 + fc 15,690

LAYOUT = ("the state_dict holds exactly conv1.weight (16, 1, 3, 3); bn1.weight, bn1.bias, bn1.running_mean, "
          "bn1.running_var (16,) and bn1.num_batches_tracked (); conv2.weight (32, 16, 3, 3); the same five "
          "for bn2 with (32,); fc.weight (num_classes, 1568) and fc.bias (num_classes,), where 1568 = 32 * 7 * 7 "
          "(a 3x3 convolution with padding=1 keeps 28x28 and 14x14, each MaxPool2d(2) halves it). A Conv2d "
          "followed by BatchNorm is built with bias=False")
FORWARD = ("forward runs conv1 -> bn1 -> ReLU -> pool, conv2 -> bn2 -> ReLU -> pool, torch.flatten(x, 1), "
           "dropout -> fc, and returns the raw logits (no softmax)")


def _images(batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, 28, 28, generator=generator)


def _build(impl, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return impl.SmallCNN(**kwargs)


def _layout(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in sorted(model.state_dict().items())}


def _randomize(model: nn.Module, seed: int) -> None:
    """Give every state tensor random values, in sorted-name order, negative BatchNorm scales included, so
    that layers in the wrong order cannot give the same output by accident."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            if not tensor.is_floating_point():
                tensor.copy_(torch.randint(0, 10, tensor.shape, generator=generator))
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)


def _random_model(impl, seed: int, where: str, **kwargs) -> nn.Module:
    """SmallCNN(**kwargs) with random state; observes its layout first."""
    model = _build(impl, **kwargs)
    observe(f"state_dict names and shapes of {where}", _layout(model), explain=LAYOUT)
    _randomize(model, seed)
    return model


def _count(batch: int) -> str:
    return "1 image" if batch == 1 else f"{batch} images"


def _arguments(kwargs: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in kwargs.items())


# ----------------------------------------------------------------------------------------------------------
# SmallCNN


@pytest.mark.task("SmallCNN")
@pytest.mark.parametrize("kwargs", [{}, {"num_classes": 3}], ids=["default", "num_classes=3"])
def test_state_dict_matches_the_specification(impl, kwargs):
    model = _build(impl, **kwargs)
    observe(f"state_dict names and shapes of SmallCNN({_arguments(kwargs)})", _layout(model), explain=LAYOUT)
    observe(f"dtypes of SmallCNN({_arguments(kwargs)})'s state_dict",
            {name: tensor.dtype for name, tensor in sorted(model.state_dict().items())},
            explain="parameters and running statistics are float32; num_batches_tracked is int64")


@pytest.mark.task("SmallCNN")
def test_parameter_count(impl):
    model = _build(impl)
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    observe("number of trainable parameters of SmallCNN(num_classes=10)", count, expect=EXPECTED_PARAMETERS,
            explain="conv1 144 + bn1 32 + conv2 4,608 + bn2 64 + fc 15,690 = 20,538: padding=1 keeps the "
                    "feature map at 32x7x7 before fc, and the convolutions have bias=False")


@pytest.mark.task("SmallCNN")
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_output_shape(impl, batch):
    model = _build(impl).eval()
    images = _images(batch, seed=batch)
    with torch.no_grad():
        logits = model(images)
    observe(f"type of what forward returns for a batch of {batch}", type(logits).__name__, expect="Tensor",
            explain="forward returns a tensor of logits")
    observe(f"shape of the logits for {_count(batch)}", str(tuple(logits.shape)), expect=str((batch, 10)),
            explain="the logits have shape (N, num_classes): flatten everything except the batch dimension")
    observe(f"dtype of the logits for {_count(batch)}", logits.dtype, expect=torch.float32,
            explain="float32 images give float32 logits")


@pytest.mark.task("SmallCNN")
def test_num_classes_argument(impl):
    model = _build(impl, num_classes=3).eval()
    with torch.no_grad():
        logits = model(_images(5, seed=0))
    observe("shape of SmallCNN(num_classes=3)'s logits for 5 images", str(tuple(logits.shape)), expect="(5, 3)",
            explain="SmallCNN(num_classes=3) gives logits of shape (N, 3)")


def _spy(model: nn.Module) -> dict[str, list[torch.Tensor]]:
    """The inputs each of conv1, bn1, conv2, bn2 and fc receives during the forward passes that follow."""
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in ("conv1", "bn1", "conv2", "bn2", "fc")}
    for name, inputs in seen.items():
        getattr(model, name).register_forward_hook(
            lambda module, args, output, inputs=inputs: inputs.append(args[0].detach().clone()))
    return seen


ARTICLE = {"eval": "an", "train": "a"}
STAGES = {
    "conv1": "conv1 receives the images themselves, (N, 1, 28, 28)",
    "bn1": "bn1 receives conv1's output directly, (N, 16, 28, 28): BatchNorm comes right after its convolution, "
           "before ReLU and pooling",
    "conv2": "conv2 receives block 1's output, pool(relu(bn1(conv1(x)))), (N, 16, 14, 14)",
    "bn2": "bn2 receives conv2's output directly, (N, 32, 14, 14): BatchNorm comes right after its convolution, "
           "before ReLU and pooling",
    "fc": "fc receives pool(relu(bn2(conv2(...)))) flattened with torch.flatten(x, 1), (N, 1568) in (channel, "
          "row, column) order, after dropout (which is off in eval mode)",
}


@pytest.mark.task("SmallCNN")
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_each_layer_receives_the_previous_stage(impl, mode):
    # dropout=0 keeps training mode deterministic; in train mode BatchNorm normalizes with the batch statistics.
    model = _random_model(impl, seed=11, where="SmallCNN(dropout=0.0)", dropout=0.0)
    model.train(mode == "train")
    seen = _spy(model)
    images = _images(4, seed=12)
    with torch.no_grad():
        logits = model(images)
    for name, explain in STAGES.items():
        calls = seen[name]
        observe(f"number of times {name} was called in one {mode}-mode forward pass", len(calls),
                explain="forward calls each of conv1, bn1, conv2, bn2 and fc exactly once")
        observe(f"input of {name} in {ARTICLE[mode]} {mode}-mode forward pass of 4 images", calls[0] if calls else None,
                explain=explain)
    observe(f"logits of {ARTICLE[mode]} {mode}-mode forward pass of 4 images", logits,
            explain="forward returns fc's output as it is: raw logits, no softmax")


@pytest.mark.task("SmallCNN")
def test_eval_mode_is_deterministic(impl):
    model = _random_model(impl, 4, "SmallCNN(dropout=0.5)", dropout=0.5)
    model.eval()
    images = _images(6, seed=4)
    with torch.no_grad():
        torch.manual_seed(1)
        first = model(images)
        torch.manual_seed(2)
        second = model(images)
    observe("largest difference between two eval-mode forward passes of the same images (torch seeds 1 and 2)",
            float((first - second).abs().max()), expect=0.0, exact=True,
            explain="in eval mode dropout is off and the output is deterministic (nn.Dropout does this; "
                    "F.dropout needs training=self.training)")
    observe("eval-mode logits of SmallCNN(dropout=0.5) with random weights for 6 images", first, explain=FORWARD)


@pytest.mark.task("SmallCNN")
def test_train_mode_uses_dropout(impl):
    model = _random_model(impl, 5, "SmallCNN(dropout=0.5)", dropout=0.5)
    dropout = getattr(model, "dropout", None)
    observe("SmallCNN(dropout=0.5).dropout is an nn.Dropout", isinstance(dropout, nn.Dropout), expect=True,
            explain="SmallCNN(dropout=0.5) has self.dropout = nn.Dropout(p=0.5)")
    observe("SmallCNN(dropout=0.5).dropout.p", getattr(dropout, "p", None), expect=0.5,
            explain="SmallCNN(dropout=0.5) has self.dropout = nn.Dropout(p=0.5)")
    model.train()
    images = _images(6, seed=6)
    torch.manual_seed(7)
    first = model(images)
    torch.manual_seed(8)
    second = model(images)
    observe("two train-mode forward passes with torch seeds 7 and 8 differ", not torch.equal(first, second),
            expect=True, explain="dropout is active in training mode, so different random seeds give different "
                                 "outputs")
    observe("train-mode logits with torch seed 7", first,
            explain="apply self.dropout once, right before self.fc (the same seed then drops the same features)")
    observe("train-mode logits with torch seed 8", second,
            explain="apply self.dropout once, right before self.fc (the same seed then drops the same features)")


@pytest.mark.task("SmallCNN")
def test_dropout_argument(impl):
    dropout = getattr(_build(impl, dropout=0.2), "dropout", None)
    observe("SmallCNN(dropout=0.2).dropout is an nn.Dropout", isinstance(dropout, nn.Dropout), expect=True,
            explain="SmallCNN(dropout=0.2) has self.dropout = nn.Dropout(p=0.2)")
    observe("SmallCNN(dropout=0.2).dropout.p", getattr(dropout, "p", None), expect=0.2,
            explain="SmallCNN(dropout=0.2) has self.dropout = nn.Dropout(p=0.2)")


@pytest.mark.task("SmallCNN")
@pytest.mark.parametrize(("seed", "batch", "num_classes"), [(0, 1, 10), (1, 7, 10), (2, 64, 4)])
def test_outputs_match_reference_in_eval_mode(impl, seed, batch, num_classes):
    model = _random_model(impl, seed, f"SmallCNN(num_classes={num_classes})", num_classes=num_classes)
    model.eval()
    images = _images(batch, seed=100 + seed)
    with torch.no_grad():
        logits = model(images)
    observe(f"eval-mode logits of SmallCNN(num_classes={num_classes}) with random weights for {_count(batch)}",
            logits, explain=FORWARD)


@pytest.mark.task("SmallCNN")
def test_train_mode_matches_reference_without_dropout(impl):
    # With dropout=0 training mode is deterministic, so BatchNorm's use of batch statistics can be compared.
    model = _random_model(impl, 3, "SmallCNN(dropout=0.0)", dropout=0.0)
    model.train()
    images = _images(8, seed=9)
    logits = model(images)
    observe("train-mode logits of SmallCNN(dropout=0.0) with random weights for 8 images", logits,
            explain=f"{FORWARD}; in training mode BatchNorm normalizes with the batch's own statistics")
    state = model.state_dict()
    for name in ("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
                 "bn2.running_mean", "bn2.running_var", "bn2.num_batches_tracked"):
        observe(f"{name} after one training-mode forward pass", state.get(name),
                explain="each BatchNorm updates its running statistics once per training-mode pass, from the "
                        "output of the convolution right before it")
    g = torch.Generator().manual_seed(10)
    upstream = torch.randn(logits.shape, generator=g)
    (logits * upstream).sum().backward()
    observe("gradients of every parameter after one backward pass through the train-mode logits",
            {name: parameter.grad for name, parameter in sorted(model.named_parameters())},
            explain="the gradients follow from the forward pass: every parameter gets one")


# ----------------------------------------------------------------------------------------------------------
# count_parameters: on models built here, so this task does not depend on SmallCNN.


def _specified_cnn() -> nn.Module:
    """The layers of SmallCNN(num_classes=10), built from torch.nn directly: 20,538 trainable parameters."""
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 16, kernel_size=3, padding=1, bias=False), bn1=nn.BatchNorm2d(16), relu1=nn.ReLU(),
        pool1=nn.MaxPool2d(2), conv2=nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False),
        bn2=nn.BatchNorm2d(32), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2), flatten=nn.Flatten(),
        dropout=nn.Dropout(0.5), fc=nn.Linear(32 * 7 * 7, 10)))


@pytest.mark.task("count_parameters")
def test_count_parameters_skips_buffers(impl):
    torch.manual_seed(0)
    observe("count_parameters of a lone BatchNorm1d(4) (parameters weight and bias; buffers running_mean, "
            "running_var and num_batches_tracked)", impl.count_parameters(nn.BatchNorm1d(4)), expect=8,
            explain="only parameters count: BatchNorm1d(4) has 4 + 4 = 8 (weight and bias); its running "
                    "statistics are buffers, which model.parameters() does not yield")


@pytest.mark.task("count_parameters")
def test_count_parameters_counts_nested_once(impl):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 2)))
    observe("count_parameters of Sequential(Linear(3, 4), Sequential(Linear(4, 2))) (no buffers)",
            impl.count_parameters(model), expect=16 + 10,
            explain="26 = 16 + 10, each parameter counted once: model.parameters() already recurses into "
                    "submodules, so parameters of nested modules must not be added again per level")


@pytest.mark.task("count_parameters")
def test_count_parameters_small_cnn(impl):
    count = impl.count_parameters(_specified_cnn())
    observe("count_parameters of the SmallCNN layers (conv1, bn1, conv2, bn2, fc)", count,
            expect=EXPECTED_PARAMETERS,
            explain="an int: 20,538 trainable parameters; count model.parameters() once each (BatchNorm's "
                    "running statistics are buffers, not parameters)")


@pytest.mark.task("count_parameters")
def test_count_parameters_skips_frozen(impl):
    model = _specified_cnn()
    for layer in (model.conv1, model.bn1):
        layer.requires_grad_(False)
    count = impl.count_parameters(model)
    observe("count_parameters of the SmallCNN layers with conv1 and bn1 frozen", count,
            expect=EXPECTED_PARAMETERS - 144 - 32,
            explain="only parameters with requires_grad=True count: 20,538 - 144 - 32 = 20,362")
    observe("requires_grad of every parameter after count_parameters",
            {name: parameter.requires_grad for name, parameter in model.named_parameters()},
            explain="count_parameters only counts; it leaves requires_grad as it was")


@pytest.mark.task("count_parameters")
def test_count_parameters_nested_and_buffers(impl):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 2)))
    observe("count_parameters of Sequential(Linear(3, 4), Sequential(BatchNorm1d(4), Linear(4, 2)))",
            impl.count_parameters(model), expect=16 + 8 + 10,
            explain="34 trainable parameters: each counted once (model.parameters() already recurses into "
                    "submodules), and buffers such as running_mean do not count")


@pytest.mark.task("count_parameters")
def test_count_parameters_shared_weight_counts_once(impl):
    torch.manual_seed(0)
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    observe("count_parameters of Sequential(shared, ReLU(), shared) with shared = Linear(4, 4)",
            impl.count_parameters(model), expect=20,
            explain="a Linear(4, 4) used twice holds 20 parameters: a shared parameter counts once")
