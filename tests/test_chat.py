"""Chat templates: xtral's rendering of each real model's template against an independent
jinja2 rendering written here (transformers' environment) and against llama-cpp-python's
Jinja2ChatFormatter; the tokens of the chat prompt against llama.cpp's tokenizer; bad
messages and templates."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

import xtral
from xtral.chat_templates import builtin_template

import llama_cpp  # the reference peer
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You answer in one word."},
     {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "Hi!"},
     {"role": "assistant", "content": "Hello. How can I help?"},
     {"role": "user", "content": "  Écris « bonjour » en 日本語, s'il te plaît 🙂  "}],
    [{"role": "system", "content": "Be brief."},
     {"role": "user", "content": "2+2?"},
     {"role": "assistant", "content": "4"},
     {"role": "user", "content": "And 3+3?"}],
]


def template_and_specials(path: Path) -> tuple[str, str, str]:
    """(template, bos text, eos text) read from the GGUF with xtral's reader; a file without a
    template gets the architecture's built-in one."""
    with xtral.GGUFFile(path) as f:
        md = f.metadata
        tokens = md["tokenizer.ggml.tokens"]
        tpl = md.get("tokenizer.chat_template") or builtin_template(f.architecture)
        return (tpl, tokens[md["tokenizer.ggml.bos_token_id"]],
                tokens[md["tokenizer.ggml.eos_token_id"]])


def reference_render(template: str, messages: list, add_generation_prompt: bool,
                     bos: str, eos: str) -> str:
    """transformers' apply_chat_template(tokenize=False), written out independently."""
    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, \
        sort_keys=False: json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                                    separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda f: datetime.now().strftime(f)
    return env.from_string(template).render(messages=messages, tools=None, documents=None,
                                            add_generation_prompt=add_generation_prompt,
                                            bos_token=bos, eos_token=eos)


@pytest.fixture(params=["smollm2", "gemma"])
def model_path(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(f"{request.param}_path")


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("conv", range(len(CONVERSATIONS)))
def test_render_equals_jinja2_and_llama_cpp(model_path: Path, conv: int,
                                            add_generation_prompt: bool) -> None:
    tpl, bos, eos = template_and_specials(model_path)
    messages = CONVERSATIONS[conv]
    got = xtral.render_chat_template(tpl, messages, add_generation_prompt=add_generation_prompt,
                                     bos_token=bos, eos_token=eos)
    assert got == reference_render(tpl, messages, add_generation_prompt, bos, eos)
    peer = Jinja2ChatFormatter(tpl, eos_token=eos, bos_token=bos,
                               add_generation_prompt=add_generation_prompt)
    assert got == peer(messages=messages).prompt
    assert messages[-1]["content"].strip() in got


def test_known_shapes() -> None:
    """Gemma 3's published format: system text folded into the first user turn."""
    got = xtral.render_chat_template(builtin_template("gemma3"), CONVERSATIONS[1],
                                     bos_token="<bos>")
    assert got == ("<bos><start_of_turn>user\nYou answer in one word.\n\nName a colour."
                   "<end_of_turn>\n<start_of_turn>model\n")


# ---- bad input ----

@pytest.mark.parametrize("messages, exc, words", [
    ([{"content": "hi"}], ValueError, "role"),
    ([{"role": "user"}], ValueError, "content"),
    ([{"role": 3, "content": "hi"}], TypeError, "role"),
    ([{"role": "user", "content": 3}], TypeError, "content"),
    (["hello"], TypeError, "messages"),
    ("hello", TypeError, "messages"),
    ([], ValueError, "empty"),
])
def test_bad_messages(messages: object, exc: type, words: str) -> None:
    with pytest.raises(exc, match=words):
        xtral.render_chat_template("{{ messages }}", messages)


def test_unknown_template_variable_raises() -> None:
    with pytest.raises(xtral.ChatTemplateError, match="'date_string' is undefined"):
        xtral.render_chat_template("{{ date_string }}{{ messages[0].content }}",
                                   [{"role": "user", "content": "x"}])
    assert issubclass(xtral.ChatTemplateError, ValueError)
    # passed as a variable, it renders
    assert xtral.render_chat_template("{{ date_string }}", [{"role": "user", "content": "x"}],
                                      date_string="today") == "today"
    # `is defined` tests stay allowed, as templates use them
    assert xtral.render_chat_template("{% if foo is defined %}y{% else %}n{% endif %}",
                                      [{"role": "user", "content": "x"}]) == "n"


def test_template_errors_are_chat_template_errors() -> None:
    with pytest.raises(xtral.ChatTemplateError, match="alternate"):
        xtral.render_chat_template(builtin_template("gemma3"),
                                   [{"role": "assistant", "content": "x"}])
    with pytest.raises(xtral.ChatTemplateError, match="syntax error"):
        xtral.render_chat_template("{% for %}", [{"role": "user", "content": "x"}])
    with pytest.raises(xtral.ChatTemplateError, match="unsafe|access"):
        xtral.render_chat_template("{{ messages.__class__.__mro__ }}{{ ().__class__.__bases__[0]"
                                   ".__subclasses__() }}", [{"role": "user", "content": "x"}])


# ---- through the model ----

@pytest.fixture(scope="module")
def smol(smollm2_path: Path):
    with xtral.Model.load(smollm2_path, threads=2, n_ctx=512) as m:
        yield m


@pytest.fixture(scope="module")
def gemma(gemma_path: Path):
    with xtral.Model.load(gemma_path, threads=2, n_ctx=512) as m:
        yield m


@pytest.mark.parametrize("name", ["smol", "gemma"])
def test_model_prompt_and_tokens_match_references(request: pytest.FixtureRequest,
                                                  name: str) -> None:
    m = request.getfixturevalue(name)
    path = Path(m.info["path"])
    tpl, bos, eos = template_and_specials(path)
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    for messages in CONVERSATIONS:
        text = m.apply_chat_template(messages)
        assert text == reference_render(tpl, messages, True, bos, eos)
        # transformers' apply_chat_template(tokenize=True): the rendered text with
        # special-token text parsed and no extra special tokens (the template has them)
        want = llm.tokenize(text.encode(), add_bos=False, special=True)
        if not text.startswith(bos) and m.tokenize("", add_special=True):
            want = m.tokenize("", add_special=True) + want  # the model's own BOS, once
        assert m.chat_tokens(messages) == want
    ids = m.chat_tokens(CONVERSATIONS[0])
    assert not ids[0] == ids[1] == m.bos_id  # never a doubled BOS


def test_chat_reply_streams_and_stops_at_end_of_turn(smol: xtral.Model) -> None:
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    whole = smol.chat(messages, temperature=0, max_tokens=60)
    stream = smol.chat(messages, temperature=0, max_tokens=60, stream=True)
    pieces = list(stream)
    assert "".join(pieces) == whole and "4" in whole
    assert stream.finish_reason == "stop" and not set(stream.tokens) & smol.eog_ids
    assert whole == smol.detokenize(stream.tokens, skip_special=True)
    assert stream.n_prompt_run < len(stream.prompt_tokens)  # the cached prompt was reused


def test_gemma_chat(gemma: xtral.Model) -> None:
    stream = gemma.chat([{"role": "user", "content": "Say hello."}], temperature=0,
                        max_tokens=24, stream=True)
    text = stream.text()
    assert text and text == gemma.detokenize(stream.tokens, skip_special=True)
    assert stream.prompt_tokens.count(gemma.bos_id) == 1


def test_chat_bad_input(smol: xtral.Model) -> None:
    with pytest.raises(ValueError, match="role"):
        smol.chat([{"content": "hi"}])
    with pytest.raises(ValueError, match="content"):
        smol.chat([{"role": "user"}])
    with pytest.raises(xtral.ChatTemplateError, match="'missing_var' is undefined"):
        smol.chat([{"role": "user", "content": "hi"}], template="{{ missing_var }}")
    with pytest.raises(ValueError, match="temperature"):
        smol.chat([{"role": "user", "content": "hi"}], temperature=-1)
    with pytest.raises(TypeError, match="stop"):
        smol.chat([{"role": "user", "content": "hi"}], stop=[1])
    long = [{"role": "user", "content": "word " * 600}]
    with pytest.raises(ValueError, match="context"):
        smol.chat(long)
