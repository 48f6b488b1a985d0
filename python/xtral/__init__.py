"""xtral: an LLM inference engine in C, used from Python.

Today: GGUF files (:class:`GGUFFile`, :func:`write_gguf`), the tensor type table
(:func:`dtype_info`) and the memory plan. Errors derive from :class:`XtralError`; malformed
files raise :class:`GGUFError` (a ``ValueError``) naming the offending field.
"""
from __future__ import annotations

import logging

from ._core import GGUFError, UnsupportedError, XtralError
from .gguf import (
    GGUFFile,
    GGUFValue,
    MemoryPlan,
    TensorInfo,
    dtype_info,
    write_gguf,
)
from .models import default_model_path

__version__ = "0.1.0"

# Library logging is silent unless the application configures the "xtral" logger.
logging.getLogger("xtral").addHandler(logging.NullHandler())

__all__ = [
    "GGUFError",
    "GGUFFile",
    "GGUFValue",
    "MemoryPlan",
    "TensorInfo",
    "UnsupportedError",
    "XtralError",
    "default_model_path",
    "dtype_info",
    "write_gguf",
    "__version__",
]
