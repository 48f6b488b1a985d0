"""Chat templates: render a model's own Jinja template (GGUF ``tokenizer.chat_template``) the way
``transformers``' ``apply_chat_template`` does.

The environment is transformers': a sandboxed ``ImmutableSandboxedEnvironment`` with
``trim_blocks`` and ``lstrip_blocks``, the ``loopcontrols`` extension, a ``tojson`` filter that
keeps non-ASCII text, and the globals ``raise_exception`` and ``strftime_now``. The template
sees ``messages``, ``add_generation_prompt``, ``tools`` and ``documents`` (None unless given),
``bos_token`` and ``eos_token``, and any extra variables passed by the caller. One difference
on purpose: a variable the template uses but nobody defined raises
:class:`ChatTemplateError` (``StrictUndefined``) instead of rendering as empty text, so a
missing argument never silently changes the prompt.
"""
from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, Mapping, Sequence

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ._core import XtralError

__all__ = ["ChatTemplateError", "render_chat_template", "check_messages"]


class ChatTemplateError(XtralError, ValueError):
    """A chat template failed: a syntax error, an undefined variable, or the template's own
    ``raise_exception`` (for example on roles it does not accept)."""


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class _GenerationTag(jinja2.ext.Extension):
    """transformers' ``{% generation %}`` block (assistant-token masks): renders its body."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> Any:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


@functools.lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        undefined=jinja2.StrictUndefined,
                                        extensions=[_GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(template)
    except jinja2.exceptions.TemplateSyntaxError as exc:
        raise ChatTemplateError(f"chat template: syntax error on line {exc.lineno}: "
                                f"{exc.message}") from None


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """Messages: a sequence of mappings, each with a string ``role`` and a ``content`` (a
    string, a list of parts, or None next to ``tool_calls``). Returns plain dict copies."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise TypeError("messages must be a list of {'role': ..., 'content': ...} dicts, got "
                        f"{type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise TypeError(f"messages[{i}] must be a dict with 'role' and 'content', got "
                            f"{type(m).__name__}")
        if "role" not in m:
            raise ValueError(f"messages[{i}] has no 'role'")
        if not isinstance(m["role"], str):
            raise TypeError(f"messages[{i}]['role'] must be a string, got "
                            f"{type(m['role']).__name__}")
        if "content" not in m:
            raise ValueError(f"messages[{i}] has no 'content'")
        c = m["content"]
        if not (isinstance(c, (str, list)) or (c is None and m.get("tool_calls"))):
            raise TypeError(f"messages[{i}]['content'] must be a string or a list of parts, got "
                            f"{type(c).__name__}")
        out.append(dict(m))
    if not out:
        raise ValueError("messages is empty")
    return out


def render_chat_template(template: str, messages: Any, *, add_generation_prompt: bool = True,
                         bos_token: str = "", eos_token: str = "",
                         **variables: Any) -> str:
    """The text ``template`` renders for ``messages``.

    ``variables`` are passed to the template as well (``tools=[...]``, ``documents=[...]``,
    ``enable_thinking=False``, ...). Raises :class:`ChatTemplateError` on any template failure
    (the message says what and, for an undefined variable, how to pass it).
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a string, got {type(template).__name__}")
    msgs = check_messages(messages)
    context = {"tools": None, "documents": None, **variables, "messages": msgs,
               "add_generation_prompt": bool(add_generation_prompt),
               "bos_token": bos_token, "eos_token": eos_token}
    compiled = _compile(template)
    try:
        return compiled.render(**context)
    except jinja2.exceptions.UndefinedError as exc:
        raise ChatTemplateError(f"chat template: {exc.message} (pass it as a template "
                                "variable, e.g. chat(..., template_vars={...}))") from None
    except jinja2.exceptions.TemplateError as exc:
        raise ChatTemplateError(f"chat template: {exc}") from None
