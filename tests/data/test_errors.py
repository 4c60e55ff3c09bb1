"""Every error class the data package defines is a UserError: the CLI prints it as one line naming the file, key or
column and exits 2."""

import importlib
import inspect
import pkgutil

import tfpretrain.data
from tfpretrain.errors import UserError

MODULES = [importlib.import_module(f"tfpretrain.data.{m.name}") for m in pkgutil.iter_modules(tfpretrain.data.__path__)
           if m.name != "beam_pipeline"]  # Beam's DoFns: no error classes, and a slow import


def test_data_error_classes_are_user_errors():
    errors = {f"{module.__name__}.{name}": cls for module in MODULES
              for name, cls in inspect.getmembers(module, inspect.isclass)
              if issubclass(cls, Exception) and cls.__module__ == module.__name__}
    assert {"CorpusError", "ManifestError", "FinetuneDataError", "TokenizerError", "ShardsError", "ScrubberError",
            "CanaryKeyError", "EvalRecordsError", "UnknownFamilyError"} <= {n.rsplit(".", 1)[1] for n in errors}
    assert [name for name, cls in errors.items() if not issubclass(cls, UserError)] == []
