"""Grading tests for the cnn exercise."""

import pytest
import torch
from torch import nn

EXPECTED_PARAMETERS = 20_538  # conv1 144 + bn1 32 + conv2 4,608 + bn2 64 + fc 15,690

ARCHITECTURE_HINT = (
    "check the order conv -> BatchNorm -> ReLU -> MaxPool in both blocks, torch.flatten(x, 1), then "
    "dropout -> fc, with no softmax at the end"
)


def _images(batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, 28, 28, generator=generator)


def _build(module, seed: int = 0, **kwargs) -> nn.Module:
    torch.manual_seed(seed)
    return module.SmallCNN(**kwargs)


def _randomize(model: nn.Module, seed: int) -> None:
    """Give every parameter and BatchNorm statistic random values, negative BatchNorm scales included,
    so that layers in the wrong order cannot give the same output by accident."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)


def _twin(submission, reference, seed: int, **kwargs) -> tuple[nn.Module, nn.Module]:
    """The reference model with random weights, and the submission's model with those weights loaded."""
    expected = _build(reference, **kwargs)
    _randomize(expected, seed)
    model = _build(submission, **kwargs)
    try:
        model.load_state_dict(expected.state_dict(), strict=True)
    except RuntimeError as error:
        pytest.fail(
            "the reference SmallCNN's state_dict does not load into yours; check the attribute names, "
            f"layer sizes and bias=False on the convolutions.\n{error}",
            pytrace=False,
        )
    return model, expected


# ----------------------------------------------------------------------------------------------------------
# SmallCNN


@pytest.mark.task("SmallCNN")
def test_state_dict_matches_the_specification(submission, reference):
    keys = {name: tuple(t.shape) for name, t in _build(submission).state_dict().items()}
    expected = {name: tuple(t.shape) for name, t in _build(reference).state_dict().items()}
    missing = sorted(set(expected) - set(keys))
    unexpected = sorted(set(keys) - set(expected))
    assert not missing and not unexpected, (
        f"the model's state_dict keys differ from the specification: missing {missing}, unexpected "
        f"{unexpected} (a Conv2d followed by BatchNorm is built with bias=False)"
    )
    for name, shape in expected.items():
        assert keys[name] == shape, f"{name} has shape {keys[name]}, expected {shape}"


@pytest.mark.task("SmallCNN")
def test_parameter_count(submission):
    model = _build(submission)
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert count == EXPECTED_PARAMETERS, (
        f"SmallCNN(num_classes=10) should have {EXPECTED_PARAMETERS:,} trainable parameters, yours has "
        f"{count:,}: check padding=1 (so the feature map is 32x7x7 before fc) and bias=False on the "
        "convolutions"
    )


@pytest.mark.task("SmallCNN")
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_output_shape(submission, batch):
    model = _build(submission).eval()
    with torch.no_grad():
        logits = model(_images(batch, seed=batch))
    assert isinstance(logits, torch.Tensor), f"forward should return a tensor, got {type(logits).__name__}"
    assert logits.shape == (batch, 10), (
        f"for a batch of {batch} images the output shape should be ({batch}, 10), got {tuple(logits.shape)}: "
        "flatten everything except the batch dimension"
    )
    assert logits.dtype == torch.float32, f"the logits should be float32, got {logits.dtype}"


@pytest.mark.task("SmallCNN")
def test_num_classes_argument(submission):
    model = _build(submission, num_classes=3).eval()
    with torch.no_grad():
        logits = model(_images(5, seed=0))
    assert logits.shape == (5, 3), (
        f"SmallCNN(num_classes=3) should give shape (5, 3), got {tuple(logits.shape)}"
    )


@pytest.mark.task("SmallCNN")
@pytest.mark.parametrize(("seed", "batch", "num_classes"), [(0, 1, 10), (1, 7, 10), (2, 64, 4)])
def test_outputs_match_reference_in_eval_mode(submission, reference, seed, batch, num_classes):
    model, expected = _twin(submission, reference, seed, num_classes=num_classes)
    model.eval()
    expected.eval()
    images = _images(batch, seed=100 + seed)
    with torch.no_grad():
        logits = model(images)
        expected_logits = expected(images)
    torch.testing.assert_close(
        logits,
        expected_logits,
        msg=f"with the reference's weights loaded, your logits differ from the reference's in eval mode: "
        f"{ARCHITECTURE_HINT}",
    )


@pytest.mark.task("SmallCNN")
def test_train_mode_matches_reference_without_dropout(submission, reference):
    # With dropout=0 training mode is deterministic, so BatchNorm's use of batch statistics can be compared.
    model, expected = _twin(submission, reference, seed=3, dropout=0.0)
    model.train()
    expected.train()
    images = _images(8, seed=9)
    logits = model(images)
    expected_logits = expected(images)
    torch.testing.assert_close(
        logits,
        expected_logits,
        msg=f"in training mode (dropout=0) your logits differ from the reference's: {ARCHITECTURE_HINT}",
    )
    for name in ("bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"):
        torch.testing.assert_close(
            model.state_dict()[name],
            expected.state_dict()[name],
            msg=f"after one training-mode forward pass {name} differs from the reference: each BatchNorm "
            "must come right after its convolution",
        )


@pytest.mark.task("SmallCNN")
def test_eval_mode_is_deterministic(submission):
    model = _build(submission, dropout=0.5).eval()
    images = _images(6, seed=4)
    with torch.no_grad():
        torch.manual_seed(1)
        first = model(images)
        torch.manual_seed(2)
        second = model(images)
    torch.testing.assert_close(
        first,
        second,
        msg="in eval mode two forward passes on the same images gave different outputs: dropout must be "
        "off after model.eval() (nn.Dropout does this; F.dropout needs training=self.training)",
    )


@pytest.mark.task("SmallCNN")
def test_train_mode_uses_dropout(submission, reference):
    model, expected = _twin(submission, reference, seed=5, dropout=0.5)
    assert isinstance(getattr(model, "dropout", None), nn.Dropout) and model.dropout.p == 0.5, (
        "SmallCNN(dropout=0.5) should have self.dropout = nn.Dropout(p=0.5)"
    )
    model.train()
    expected.train()
    images = _images(6, seed=6)
    torch.manual_seed(7)
    first = model(images)
    torch.manual_seed(8)
    second = model(images)
    assert not torch.allclose(first, second), (
        "in training mode two forward passes with different random seeds gave the same output: dropout "
        "should be active in training mode"
    )
    torch.manual_seed(7)
    expected_first = expected(images)
    torch.testing.assert_close(
        first,
        expected_first,
        msg="in training mode with the same random seed your output differs from the reference's: apply "
        "self.dropout once, right before self.fc",
    )


@pytest.mark.task("SmallCNN")
def test_dropout_argument(submission):
    model = _build(submission, dropout=0.2)
    dropout = getattr(model, "dropout", None)
    assert isinstance(dropout, nn.Dropout) and dropout.p == pytest.approx(0.2), (
        "SmallCNN(dropout=0.2) should have self.dropout = nn.Dropout(p=0.2)"
    )


# ----------------------------------------------------------------------------------------------------------
# count_parameters


@pytest.mark.task("count_parameters")
def test_count_parameters_small_cnn(submission, reference):
    count = submission.count_parameters(_build(reference))
    assert isinstance(count, int), f"count_parameters should return an int, got {type(count).__name__}"
    assert count == EXPECTED_PARAMETERS, (
        f"SmallCNN(num_classes=10) has {EXPECTED_PARAMETERS:,} trainable parameters, you counted {count:,}: "
        "count model.parameters() once each; BatchNorm's running statistics are buffers, not parameters"
    )


@pytest.mark.task("count_parameters")
def test_count_parameters_skips_frozen(submission, reference):
    model = _build(reference)
    for layer in (model.conv1, model.bn1):
        layer.requires_grad_(False)
    count = submission.count_parameters(model)
    expected = EXPECTED_PARAMETERS - 144 - 32
    assert count == expected, (
        f"with conv1 and bn1 frozen (requires_grad=False) the model has {expected:,} trainable parameters, "
        f"you counted {count:,}: count only parameters with requires_grad=True"
    )


@pytest.mark.task("count_parameters")
def test_count_parameters_nested_and_buffers(submission):
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 2)))
    count = submission.count_parameters(model)
    assert count == 16 + 8 + 10, (
        f"nn.Sequential(Linear(3, 4), nn.Sequential(BatchNorm1d(4), Linear(4, 2))) has 34 trainable "
        f"parameters, you counted {count}: count each parameter once (model.parameters() already recurses "
        "into submodules) and skip buffers"
    )


@pytest.mark.task("count_parameters")
def test_count_parameters_shared_weight_counts_once(submission):
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    count = submission.count_parameters(model)
    assert count == 20, (
        f"a Linear(4, 4) used twice holds 20 parameters, you counted {count}: a shared parameter counts once"
    )
