"""xtral: an LLM inference engine in C, used from Python.

GGUF files (:class:`GGUFFile`, :func:`write_gguf`), the tensor type table (:func:`dtype_info`),
the memory plan, and quantization (:class:`Quantizer`, :class:`QTensor`, :func:`matmul`,
:func:`dequantize`, :func:`quant_types`, :func:`quantize_gguf`), safetensors files
(:class:`SafetensorsFile`), models (:class:`Model`: logits, :meth:`Model.generate`,
:meth:`Model.chat`), sampling (:class:`SamplingParams`, :class:`Sampler`). Errors derive from :class:`XtralError`; any malformed model file
(GGUF, safetensors, JSON) raises :class:`GGUFError` (alias :class:`FormatError`, a
``ValueError``) naming the offending field.
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
from .chat import ChatTemplateError, render_chat_template
from .generate import TextStream
from .adapters import Adapter
from .model import Model
from .models import default_model_path
from .quant import QTensor, Quantizer, dequantize, matmul, quant_types
from .quantize_gguf import quantize_gguf
from .safetensors import SafetensorsFile
from .sampling import Sampler, SamplingParams

# GGUFError is raised for any malformed model file, safetensors and JSON included.
FormatError = GGUFError

__version__ = "0.1.0"

# Library logging is silent unless the application configures the "xtral" logger.
logging.getLogger("xtral").addHandler(logging.NullHandler())

__all__ = [
    "ChatTemplateError",
    "Adapter",
    "FormatError",
    "GGUFError",
    "GGUFFile",
    "GGUFValue",
    "MemoryPlan",
    "Model",
    "QTensor",
    "Quantizer",
    "SafetensorsFile",
    "Sampler",
    "SamplingParams",
    "TensorInfo",
    "TextStream",
    "UnsupportedError",
    "XtralError",
    "default_model_path",
    "dequantize",
    "dtype_info",
    "matmul",
    "quant_types",
    "quantize_gguf",
    "render_chat_template",
    "write_gguf",
    "__version__",
]
