"""Grading tests for the export exercise: the exported artifact is loaded by the submission's own
load_exported in a FRESH Python process (where the model's class does not exist) and must reproduce the
model's eval-mode outputs for several batch sizes; predict must behave like a serving endpoint."""

from __future__ import annotations

import contextlib
import copy
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.testing import assert_close

FEATURES, CLASSES = 5, 4
EXAMPLE_BATCH = 4
OTHER_BATCHES = (1, 3, 9)


def _explain(text: str) -> Callable[[str], str]:
    # assert_close calls a callable msg with its own report (which elements differ, by how much): keep both.
    return lambda report: f"{text}\n{report}"


class Classifier(nn.Module):
    """Defined only here: the fresh process cannot import it, as a serving process would not."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(FEATURES, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(16, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _trained_model(seed: int) -> Classifier:
    torch.manual_seed(seed)
    model = Classifier()
    batch_norm = model.body[1]
    with torch.no_grad():
        # Running statistics far from a batch's own, so eval mode and training mode disagree clearly.
        batch_norm.running_mean.copy_(torch.randn(16) * 2)
        batch_norm.running_var.copy_(torch.rand(16) * 3 + 0.5)
    return model.train()


def _inputs(seed: int, batch: int) -> torch.Tensor:
    return torch.randn(batch, FEATURES, generator=torch.Generator().manual_seed(seed))


@contextlib.contextmanager
def _quiet_export_logs() -> Iterator[None]:
    # torch.export writes pages of DEBUG trace records; pytest would capture them into every failure report.
    trace_logger = logging.getLogger("torch.__trace")
    saved = trace_logger.level
    trace_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        trace_logger.setLevel(saved)


def _eval_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    frozen = copy.deepcopy(model).eval()
    with torch.no_grad():
        return frozen(x)


# The fresh process: import the submission by its file path, load the artifact with ITS load_exported, run
# every batch and save the outputs (or the error, as text) for the test to compare.
FRESH_SCRIPT = r"""
import importlib.util, sys, traceback
import torch
submission_file, artifact, inputs_file, results_file = sys.argv[1:5]
results = {}
try:
    spec = importlib.util.spec_from_file_location("submission_in_fresh_process", submission_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = module.load_exported(artifact)
except BaseException:
    results["load"] = traceback.format_exc(limit=3)
else:
    for batch, x in torch.load(inputs_file).items():
        try:
            out = fn(x)
            results[batch] = out.detach().clone() if isinstance(out, torch.Tensor) else repr(type(out))
        except BaseException:
            results[batch] = traceback.format_exc(limit=3)
torch.save(results, results_file)
"""


@dataclass
class Exported:
    """Everything one export_model call and one fresh-process load produced."""

    error: str | None = None
    path: Path | None = None
    training_after: bool | None = None
    state_unchanged: bool | None = None
    inputs: dict[int, torch.Tensor] = field(default_factory=dict)
    expected: dict[int, torch.Tensor] = field(default_factory=dict)
    fresh: dict = field(default_factory=dict)


_CACHE: dict[str, Exported] = {}


def _export_and_load_fresh(submission, folder: Path) -> Exported:
    result = Exported()
    model = _trained_model(0)
    result.inputs = {b: _inputs(b, b) for b in (EXAMPLE_BATCH, *OTHER_BATCHES)}
    result.expected = {b: _eval_outputs(model, x) for b, x in result.inputs.items()}
    state_before = copy.deepcopy(model.state_dict())
    result.path = folder / "classifier.pt2"
    try:
        with _quiet_export_logs():
            submission.export_model(model, _inputs(100, EXAMPLE_BATCH), result.path)
    except Exception as error:  # noqa: BLE001 - any failure of the submission is a failed test
        result.error = f"export_model raised {type(error).__name__}: {error}"
        return result
    result.training_after = model.training
    result.state_unchanged = all(torch.equal(v, model.state_dict()[k]) for k, v in state_before.items())
    if not result.path.is_file():
        result.error = f"export_model did not write the file it was given ({result.path.name})"
        return result
    inputs_file, results_file = folder / "inputs.pt", folder / "results.pt"
    torch.save(result.inputs, inputs_file)
    command = [sys.executable, "-c", FRESH_SCRIPT, str(Path(submission.__file__).resolve()),
               str(result.path), str(inputs_file), str(results_file)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        result.error = "loading the exported model in a fresh process took more than 300 seconds"
        return result
    if done.returncode != 0 or not results_file.is_file():
        result.error = f"the fresh process failed:\n{done.stderr[-2000:]}"
        return result
    result.fresh = torch.load(results_file)
    return result


@pytest.fixture
def exported(submission, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    # Exporting and starting a fresh interpreter take seconds: do it once per graded file, share the record.
    key = str(Path(submission.__file__).resolve())
    if key not in _CACHE:
        _CACHE[key] = _export_and_load_fresh(submission, tmp_path_factory.mktemp("export"))
    result = _CACHE[key]
    if result.error:
        pytest.fail(result.error, pytrace=False)
    return result


# --- export_model ------------------------------------------------------------------------------------------

@pytest.mark.task("export_model")
def test_export_writes_a_torch_export_archive(exported: Exported) -> None:
    try:
        program = torch.export.load(exported.path)
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"torch.export.load cannot read the file export_model wrote ({type(error).__name__}: "
                    f"{error}): save it with torch.export.save(torch.export.export(...), path)",
                    pytrace=False)
    assert isinstance(program, torch.export.ExportedProgram), "the archive should hold an ExportedProgram"


@pytest.mark.task("export_model")
def test_exported_model_matches_eval_mode_in_fresh_process(exported: Exported) -> None:
    assert "load" not in exported.fresh, (
        f"load_exported failed in a fresh process (one that never saw the model's class):\n"
        f"{exported.fresh['load']}")
    got = exported.fresh[EXAMPLE_BATCH]
    assert isinstance(got, torch.Tensor), f"calling the loaded model failed or returned no tensor:\n{got}"
    assert_close(got, exported.expected[EXAMPLE_BATCH], msg=_explain(
        "the exported model's outputs differ from the model's outputs in eval mode: export traces the mode "
        "the model is in, so call model.eval() before torch.export.export (dropout and batch norm's batch "
        "statistics would otherwise be baked in)."))


@pytest.mark.task("export_model")
@pytest.mark.parametrize("batch", OTHER_BATCHES)
def test_exported_model_accepts_any_batch_size(exported: Exported, batch: int) -> None:
    assert "load" not in exported.fresh, f"load_exported failed in a fresh process:\n{exported.fresh['load']}"
    got = exported.fresh[batch]
    assert isinstance(got, torch.Tensor), (
        f"the exported model (traced with a batch of {EXAMPLE_BATCH}) fails on a batch of {batch}: mark the "
        "batch dimension dynamic with dynamic_shapes=({0: torch.export.Dim('batch')},) when exporting.\n"
        f"{got}")
    assert_close(got, exported.expected[batch], msg=_explain(
        f"for a batch of {batch} the exported model's outputs differ from the model in eval mode."))


@pytest.mark.task("export_model")
def test_export_restores_training_flag_and_weights(exported: Exported) -> None:
    assert exported.training_after is True, (
        "the model was in training mode before export_model and is in eval mode after it: remember "
        "model.training, switch to eval for the export, then restore it with model.train(was_training)")
    assert exported.state_unchanged, "export_model changed the model's parameters or buffers"


# --- load_exported -----------------------------------------------------------------------------------------

@pytest.mark.task("load_exported")
def test_load_exported_works_in_fresh_process(exported: Exported) -> None:
    assert "load" not in exported.fresh, (
        "load_exported failed in a fresh process: a torch.export archive is read with "
        "torch.export.load(path) and run through .module(); torch.load cannot read it.\n"
        f"{exported.fresh['load']}")
    assert all(isinstance(out, torch.Tensor) for out in exported.fresh.values()), (
        f"the callable returned by load_exported did not return tensors: {exported.fresh}")


@pytest.mark.task("load_exported")
def test_load_exported_in_this_process(submission, reference, tmp_path: Path) -> None:
    # The reference writes the archive, so this grades load_exported on its own.
    model = _trained_model(1)
    path = tmp_path / "reference.pt2"
    with _quiet_export_logs():
        reference.export_model(model, _inputs(5, EXAMPLE_BATCH), path)
    fn = submission.load_exported(path)
    assert callable(fn), "load_exported must return a callable"
    x = _inputs(6, 7)
    assert_close(fn(x), _eval_outputs(model, x), msg=_explain(
        "the loaded program's outputs differ from the model's eval-mode outputs."))


# --- predict -----------------------------------------------------------------------------------------------

@pytest.mark.task("predict")
@pytest.mark.parametrize("batch", [1, 6])
def test_predict_gives_eval_mode_probabilities(submission, batch: int) -> None:
    model = _trained_model(2)
    x = _inputs(7, batch)
    expected = torch.softmax(_eval_outputs(model, x), dim=-1)
    got = submission.predict(model, x)
    assert isinstance(got, torch.Tensor) and got.shape == (batch, CLASSES), (
        f"predict should return probabilities of shape ({batch}, {CLASSES}), got "
        f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    assert_close(got, expected, msg=_explain(
        "predict's output differs from softmax(model(x), dim=-1) computed in eval mode: is the model in "
        "eval mode (dropout off, batch norm on running stats), and is the softmax over the class axis?"))


@pytest.mark.task("predict")
def test_predict_is_deterministic(submission) -> None:
    model = _trained_model(3)
    x = _inputs(8, 5)
    first, second = submission.predict(model, x), submission.predict(model, x)
    assert_close(first, second, msg="two predictions on the same batch differ: dropout is still active, "
                                    "call model.eval() first")


@pytest.mark.task("predict")
@pytest.mark.parametrize("training", [True, False], ids=["from_train_mode", "from_eval_mode"])
def test_predict_restores_training_flag(submission, training: bool) -> None:
    model = _trained_model(4).train(training)
    submission.predict(model, _inputs(9, 3))
    assert model.training is training, (
        f"the model was in {'training' if training else 'eval'} mode before predict and is not after it: "
        "remember model.training and restore it with model.train(was_training)")
    assert all(m.training is training for m in model.modules()), "every submodule must be back in its mode"


@pytest.mark.task("predict")
def test_predict_restores_training_flag_when_forward_raises(submission) -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dropout = nn.Dropout(0.1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("this model always fails")

    model = Broken().train()
    with pytest.raises(ValueError):
        submission.predict(model, _inputs(10, 2))
    assert model.training, (
        "predict left the model in eval mode after its forward pass raised: restore the mode in a "
        "try/finally block")


@pytest.mark.task("predict")
def test_predict_runs_under_inference_mode(submission) -> None:
    model = _trained_model(5)
    seen: list[bool] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(torch.is_inference_mode_enabled()))
    got = submission.predict(model, _inputs(11, 4))
    assert seen, "predict never called the model"
    assert all(seen), (
        "the forward pass ran outside torch.inference_mode(): wrap it in `with torch.inference_mode():`")
    assert isinstance(got, torch.Tensor) and not got.requires_grad, "predict's output must not require grad"
    assert got.is_inference(), (
        "predict's output is not an inference tensor: compute the softmax inside torch.inference_mode() too")


@pytest.mark.task("predict")
def test_predict_does_not_modify_input_or_model(submission) -> None:
    model = _trained_model(6)
    x = _inputs(12, 4)
    x_before, state_before = x.clone(), copy.deepcopy(model.state_dict())
    submission.predict(model, x)
    assert_close(x, x_before, msg="predict must not modify x")
    changed = [k for k, v in state_before.items() if not torch.equal(v, model.state_dict()[k])]
    assert not changed, (
        f"predict changed the model's {changed}: in training mode batch norm updates its running statistics "
        "on every forward pass; predict must run in eval mode")
