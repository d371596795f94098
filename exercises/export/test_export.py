"""Grading tests for the export exercise: export_model, load_exported, predict.

Each function is graded on its own. export_model's archive is read right after the call with torch's own
torch.export.load (what the program's input spec says about the batch dim, what it computes at other batch
sizes, whether it loads in a fresh Python process), so a mistake there is never blamed on load_exported.
load_exported is given an archive this file wrote itself, in this process and in a FRESH Python process (where
the model's class does not exist), so a mistake there is never blamed on export_model. predict must behave
like a serving endpoint.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from quiz.grading.scenario import expect_raises, observe

FEATURES, CLASSES = 5, 4
EXAMPLE_BATCH = 4
OTHER_BATCHES = (1, 3, 9)
ALL_BATCHES = (EXAMPLE_BATCH, *OTHER_BATCHES)


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


def _raised(error: BaseException) -> str:
    return f"it raised {type(error).__name__}: {str(error).strip()[:300]}"


def _run(fn, x: torch.Tensor):
    """fn(x) as an observable value: the tensor it returned, or what went wrong, in words."""
    try:
        out = fn(x)
    except NotImplementedError:
        raise  # the judge says "not implemented yet"
    except Exception as error:  # noqa: BLE001 - what it raised is the observation
        return _raised(error)
    return out.detach() if isinstance(out, torch.Tensor) else f"it returned a {type(out).__name__}, not a tensor"


# --- what this file exports itself, and what impl.export_model wrote (each made once per run) ----------------

_SHARED: dict = {}


def _folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "folder" not in _SHARED:
        _SHARED["folder"] = tmp_path_factory.mktemp("export")
    return _SHARED["folder"]


def _impl_export(impl, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Call impl.export_model once (seed-0 model in training mode) and record what it left behind.

    Raises whatever export_model raises (then nothing is kept, and the next test calls it again).
    """
    if "impl" not in _SHARED:
        model = _trained_model(0)
        path = _folder(tmp_path_factory) / "classifier.pt2"
        with _quiet_export_logs():
            impl.export_model(model, _inputs(100, EXAMPLE_BATCH), path)
        _SHARED["impl"] = {
            "model": model,
            "path": path,
            "training_after": model.training,
            "modes_after": [m.training for m in model.modules()],
            "state_after": copy.deepcopy(model.state_dict()),
        }
    return _SHARED["impl"]


def _impl_program(impl, tmp_path_factory: pytest.TempPathFactory):
    """torch.export.load of export_model's file, read once: (the record, the ExportedProgram or what failed)."""
    record = _impl_export(impl, tmp_path_factory)
    if "program" not in record:
        try:
            record["program"] = torch.export.load(record["path"])
        except Exception as error:  # noqa: BLE001 - the observation is that it could not be read
            record["program"] = _raised(error)
    return record, record["program"]


def _own_archive(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An archive this file writes itself (seed-1 model, eval mode, dynamic batch): grades load_exported alone."""
    if "own" not in _SHARED:
        model = _trained_model(1)
        path = _folder(tmp_path_factory) / "written_by_the_test.pt2"
        frozen = copy.deepcopy(model).eval()
        with _quiet_export_logs():
            program = torch.export.export(frozen, (_inputs(5, EXAMPLE_BATCH),),
                                          dynamic_shapes=({0: torch.export.Dim("batch")},))
        torch.export.save(program, path)
        _SHARED["own"] = {"model": model, "path": path}
    return _SHARED["own"]


def _eval_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    frozen = copy.deepcopy(model).eval()
    with torch.no_grad():
        return frozen(x)


# The fresh process: no Classifier class anywhere. Two jobs, each grading one function on its own:
#   "export_model": torch.export.load (torch's own loader) on the file impl.export_model wrote;
#   "load_exported": impl.load_exported on the archive this test file wrote.
# No job runs impl.load_exported on impl.export_model's file, so each mistake is charged to the function that
# made it; together the two jobs cover the serving path. Each job records "load" (None, or what went wrong)
# and the output (or the error, in words) for every batch.
FRESH_SCRIPT = r"""
import importlib.util, sys
import torch
submission_file, impl_archive, own_archive, inputs_file, results_file = sys.argv[1:6]
inputs = torch.load(inputs_file)

def raised(error):
    return f"it raised {type(error).__name__}: {str(error).strip()[:300]}"

def run(fn, x):
    try:
        out = fn(x)
    except Exception as error:
        return raised(error)
    return out.detach().clone() if isinstance(out, torch.Tensor) else (
        f"it returned a {type(out).__name__}, not a tensor")

def job(load):
    try:
        fn = load()
    except Exception as error:
        return {"load": raised(error)}
    result = {"load": None}
    for batch, x in inputs.items():
        result[batch] = run(fn, x)
    return result

results = {}
if impl_archive:
    results["export_model"] = job(lambda: torch.export.load(impl_archive).module())
try:
    spec = importlib.util.spec_from_file_location("submission_in_fresh_process", submission_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
except Exception as error:
    results["load_exported"] = {"load": "importing the file " + raised(error)}
else:
    results["load_exported"] = job(lambda: module.load_exported(own_archive))
torch.save(results, results_file)
"""


def _fresh_input(batch: int) -> torch.Tensor:
    return _inputs(20 + batch, batch)


def _fresh(impl, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fresh process's results, run once. Its "export_model" job needs export_model's file."""
    if "fresh" not in _SHARED:
        folder = _folder(tmp_path_factory)
        own = _own_archive(tmp_path_factory)
        try:
            impl_path = _impl_export(impl, tmp_path_factory)["path"]
        except Exception:  # noqa: BLE001 - the export_model tests report it; load_exported's job still runs
            impl_path = None
        inputs_file, results_file = folder / "fresh_inputs.pt", folder / "fresh_results.pt"
        torch.save({b: _fresh_input(b) for b in ALL_BATCHES}, inputs_file)
        command = [sys.executable, "-c", FRESH_SCRIPT, str(Path(impl.__file__).resolve()),
                   str(impl_path) if impl_path is not None and impl_path.is_file() else "",
                   str(own["path"]), str(inputs_file), str(results_file)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            failed = None if done.returncode == 0 and results_file.is_file() else (
                f"the fresh process failed: {done.stderr.strip()[-300:]}")
        except subprocess.TimeoutExpired:
            failed = "the fresh process took more than 300 seconds"
        results = torch.load(results_file) if failed is None else {}
        for job in ("export_model", "load_exported"):
            results.setdefault(job, {"load": failed or "export_model wrote no file at the path it was given"})
        _SHARED["fresh"] = results
    return _SHARED["fresh"]


def _observe_fresh_job(result: dict, model: nn.Module, loaded_label: str, call_label: str, explain: str) -> None:
    observe(loaded_label, result["load"] or "it loaded", expect="it loaded", exact=True, explain=explain)
    for batch in ALL_BATCHES:
        observe(f"{call_label}, on a batch of {batch}", result.get(batch),
                expect=_eval_outputs(model, _fresh_input(batch)),
                explain="the outputs must be the model's logits in eval mode, shape (B, C), for any batch size")


# --- export_model ------------------------------------------------------------------------------------------

@pytest.mark.task("export_model")
def test_export_writes_a_torch_export_archive(impl, tmp_path_factory) -> None:
    record, program = _impl_program(impl, tmp_path_factory)
    observe("a file exists at the path given to export_model, after the call", record["path"].is_file(),
            explain="export_model writes the archive to the path it is given")
    observe("what torch.export.load reads from the file export_model wrote",
            program if isinstance(program, str) else type(program).__name__, exact=True,
            explain="export_model saves torch.export.export(...)'s ExportedProgram with torch.export.save(program, "
                    "path), so torch.export.load(path) reads it back")


@pytest.mark.task("export_model")
def test_exported_program_computes_eval_mode(impl, tmp_path_factory) -> None:
    _, program = _impl_program(impl, tmp_path_factory)
    x = _inputs(30, EXAMPLE_BATCH)
    observe(f"export_model's program (read with torch.export.load), run on a new batch of {EXAMPLE_BATCH}",
            _run(program.module(), x) if not isinstance(program, str) else program,
            expect=_eval_outputs(_trained_model(0), x),
            explain="export_model's program computes the model in eval mode (dropout off, batch norm on its "
                    "running statistics): export traces the mode the model is in, so the trace happens in eval")


@pytest.mark.task("export_model")
def test_exported_program_has_a_dynamic_batch_dim(impl, tmp_path_factory) -> None:
    _, program = _impl_program(impl, tmp_path_factory)
    dims = "no program"
    if not isinstance(program, str):
        user_inputs = program.graph_signature.user_inputs
        placeholders = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in user_inputs]
        shape = placeholders[0].meta["val"].shape if placeholders else ()
        dims = ["dynamic" if isinstance(d, torch.SymInt) else f"fixed at {int(d)}" for d in shape]
    observe("the input shape export_model's program declares, per dim (batch, features)", dims, exact=True,
            explain=f"export_model traces with a batch of {EXAMPLE_BATCH}, but dim 0 of the program's input must "
                    "be dynamic (dynamic_shapes=({0: torch.export.Dim('batch')},) in torch.export.export); the "
                    "feature dim stays fixed")
    for batch in OTHER_BATCHES:
        x = _inputs(40 + batch, batch)
        observe(f"export_model's program (read with torch.export.load), run on a batch of {batch}",
                _run(program.module(), x) if not isinstance(program, str) else program,
                expect=_eval_outputs(_trained_model(0), x),
                explain=f"export_model's program, traced with a batch of {EXAMPLE_BATCH}, must accept any batch size "
                        "and give the model's eval-mode outputs")


@pytest.mark.task("export_model")
def test_export_restores_training_flag_and_weights(impl, tmp_path_factory) -> None:
    record = _impl_export(impl, tmp_path_factory)
    observe("model.training after export_model (it was True before)", record["training_after"],
            explain="export_model leaves the model's mode as it found it: remember model.training and restore it "
                    "with model.train(was_training) after the export")
    observe("the training flag of every submodule after export_model", record["modes_after"],
            explain="every submodule is back in the mode it was in before export_model")
    observe("the model's state_dict after export_model", record["state_after"],
            explain="export_model does not change the model's parameters or buffers")


@pytest.mark.task("export_model")
def test_export_archive_runs_in_fresh_process(impl, tmp_path_factory) -> None:
    _impl_export(impl, tmp_path_factory)
    result = _fresh(impl, tmp_path_factory)["export_model"]
    _observe_fresh_job(
        result, _trained_model(0),
        "torch.export.load(path).module() on export_model's file, in a fresh process without the model's class",
        "export_model's program in a fresh process (loaded with torch.export.load)",
        explain="export_model's archive (an ExportedProgram saved with torch.export.save) holds the graph and the "
                "weights, so torch.export.load reads it where the model's class does not exist")


# --- load_exported -----------------------------------------------------------------------------------------

@pytest.mark.task("load_exported")
def test_load_exported_in_this_process(impl, tmp_path_factory) -> None:
    # The archive is written by this file (correctly), so this grades load_exported on its own.
    own = _own_archive(tmp_path_factory)
    try:
        fn, outcome = impl.load_exported(own["path"]), "it loaded"
    except NotImplementedError:
        raise  # the judge says "not implemented yet"
    except Exception as error:  # noqa: BLE001 - what it raised is the observation
        fn, outcome = None, _raised(error)
    observe("load_exported(path) on an archive written by the test", outcome, expect="it loaded", exact=True,
            explain="load_exported reads a torch.export archive: torch.export.load(path), then .module(); "
                    "torch.load cannot read it")
    observe("callable(what load_exported returned)", callable(fn),
            explain="load_exported returns something callable: fn(x) gives the logits")
    for batch in (7, EXAMPLE_BATCH):
        x = _inputs(50 + batch, batch)
        observe(f"what load_exported returned, called on a batch of {batch} (archive written by the test)",
                _run(fn, x), expect=_eval_outputs(own["model"], x),
                explain="load_exported(path) returns a module that computes the saved program: read the archive "
                        "with torch.export.load(path) and call .module() on the ExportedProgram")


@pytest.mark.task("load_exported")
def test_load_exported_works_in_fresh_process(impl, tmp_path_factory) -> None:
    result = _fresh(impl, tmp_path_factory)["load_exported"]
    _observe_fresh_job(
        result, _trained_model(1),
        "load_exported(path) in a fresh process without the model's class (archive written by the test)",
        "load_exported's module in a fresh process (archive written by the test)",
        explain="load_exported works in a process that never saw the model's class: torch.export.load(path)"
                ".module(); torch.load cannot read a torch.export archive")


# --- predict -----------------------------------------------------------------------------------------------

@pytest.mark.task("predict")
def test_predict_runs_the_model_in_eval_mode(impl) -> None:
    model = _trained_model(13)  # in training mode
    seen: list[list[bool]] = []
    model.register_forward_pre_hook(lambda module, args: seen.append([m.training for m in module.modules()]))
    impl.predict(model, _inputs(14, 6))
    observe("the training flags of the model and its 6 submodules at each call of its forward during predict "
            "(the model was in training mode before)", seen,
            explain="predict calls the model once, in eval mode (model.eval() before the forward pass): dropout off, "
                    "batch norm on its running statistics")


@pytest.mark.task("predict")
@pytest.mark.parametrize("batch", [1, 6])
def test_predict_gives_eval_mode_probabilities(impl, batch: int) -> None:
    model = _trained_model(2)
    x = _inputs(7, batch)
    got = impl.predict(model, x)
    observe(f"predict's output on a batch of {batch}, summed over the class axis (dim -1)", got.sum(dim=-1),
            explain="each row of predict's output is a probability distribution over the classes: "
                    "softmax(logits, dim=-1)")
    observe(f"predict's output on a batch of {batch}", got,
            expect=torch.softmax(_eval_outputs(model, x), dim=-1),
            explain="predict returns softmax(model(x), dim=-1), shape (B, C), with the model in eval mode "
                    "(dropout off, batch norm on its running statistics)")


@pytest.mark.task("predict")
def test_predict_is_deterministic(impl) -> None:
    model = _trained_model(3)
    x = _inputs(8, 5)
    first = impl.predict(model, x)
    second = impl.predict(model, x)
    observe("second predict(model, x) minus the first, same model and batch", second - first,
            explain="two predictions on the same batch are the same: in eval mode dropout is off")


@pytest.mark.task("predict")
@pytest.mark.parametrize("training", [True, False], ids=["from_train_mode", "from_eval_mode"])
def test_predict_restores_training_flag(impl, training: bool) -> None:
    model = _trained_model(4).train(training)
    impl.predict(model, _inputs(9, 3))
    observe(f"model.training after predict (it was {training} before)", model.training,
            explain="predict leaves the model's mode as it found it: remember model.training and restore it with "
                    "model.train(was_training)")
    observe("the training flag of every submodule after predict", [m.training for m in model.modules()],
            explain="every submodule is back in the mode it was in before predict")


@pytest.mark.task("predict")
def test_predict_restores_training_flag_when_forward_raises(impl) -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dropout = nn.Dropout(0.1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("this model always fails")

    torch.manual_seed(10)
    model = Broken().train()
    x = _inputs(10, 2)
    with expect_raises("predict on a model whose forward raises ValueError", ValueError,
                       explain="predict lets the forward pass's ValueError propagate"):
        impl.predict(model, x)
    observe("model.training after predict's forward raised (it was True before)", model.training,
            explain="predict restores the model's mode even when the forward pass raises: restore it in a "
                    "try/finally block")


@pytest.mark.task("predict")
def test_predict_runs_under_inference_mode(impl) -> None:
    model = _trained_model(5)
    seen: list[bool] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(torch.is_inference_mode_enabled()))
    got = impl.predict(model, _inputs(11, 4))
    observe("torch.is_inference_mode_enabled() at each call of the model's forward during predict", seen,
            explain="predict calls the model once, inside `with torch.inference_mode():`")
    observe("predict's output .requires_grad", got.requires_grad,
            explain="no autograd graph is recorded for predict's output")
    observe("predict's output .is_inference()", got.is_inference(),
            explain="predict's output is an inference tensor: the softmax is computed inside "
                    "torch.inference_mode() too")


@pytest.mark.task("predict")
def test_predict_does_not_modify_input_or_model(impl) -> None:
    model = _trained_model(6)
    x = _inputs(12, 4)
    impl.predict(model, x)
    observe("x after predict", x, exact=True, explain="predict does not modify x")
    observe("the model's state_dict after predict", model.state_dict(), exact=True,
            explain="predict changes no parameter or buffer: in eval mode batch norm does not update its "
                    "running statistics")
