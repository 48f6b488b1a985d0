"""The command line: `python -m xtral run` and a scripted `python -m xtral chat` session
(pexpect) on the default SmolLM2 model."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

import xtral

ENV = {**os.environ, "PYTHONPATH": str(Path(xtral.__file__).parent.parent)}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xtral", *args], capture_output=True,
                          text=True, env=ENV, timeout=timeout)


def test_run_answers_through_the_chat_template(smollm2_path: Path) -> None:
    r = run("run", "What is 2 + 2?", "--temperature", "0", "--max-tokens", "30",
            "--model", str(smollm2_path))
    assert r.returncode == 0, r.stderr
    assert "4" in r.stdout
    assert "tokens/s" in r.stderr and "tokens/s" not in r.stdout


def test_run_raw_continues_the_text_on_the_default_model(smollm2_path: Path) -> None:
    r = run("run", "--raw", "The capital of France is", "--temp", "0", "-n", "12",
            "--stop", "\n", "--no-stats")
    assert r.returncode == 0, r.stderr
    with xtral.Model.load(smollm2_path, threads=2) as m:
        want = m.generate("The capital of France is", max_tokens=12, temperature=0, stop="\n")
    assert r.stdout == want + "\n" and r.stderr == ""


@pytest.mark.parametrize("flag, value, words", [
    ("--temperature", "-1", "temperature"), ("--top-p", "1.5", "top_p"),
    ("--top-k", "-2", "top_k"), ("--min-p", "3", "min_p"),
])
def test_run_bad_flags(flag: str, value: str, words: str) -> None:
    r = run("run", "hi", flag, value)
    assert r.returncode == 1 and words in r.stderr and "Traceback" not in r.stderr


def test_run_missing_model_file(tmp_path: Path) -> None:
    r = run("run", "hi", "--model", str(tmp_path / "nope.gguf"))
    assert r.returncode == 1 and "nope.gguf" in r.stderr and "Traceback" not in r.stderr


def test_chat_session_answers_and_keeps_history() -> None:
    child = pexpect.spawn(sys.executable, ["-m", "xtral", "chat", "--temperature", "0",
                                           "--max-tokens", "40"],
                          env=ENV, encoding="utf-8", timeout=120)
    try:
        child.expect("> ")
        child.sendline("What is the capital city of France? Answer in one word.")
        child.expect("Paris")
        child.expect(r"tokens/s")
        child.expect("> ")
        child.sendline("What is 2 + 2?")
        child.expect("4")
        child.expect(r"\[(\d+) tokens.*prompt (\d+) tokens \((\d+) run\)")
        n_prompt, n_run = int(child.match.group(2)), int(child.match.group(3))
        assert n_run < n_prompt  # the first turn stayed in the cache: history was kept
        child.expect("> ")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_chat_quits_on_end_of_input() -> None:
    child = pexpect.spawn(sys.executable, ["-m", "xtral", "chat"], env=ENV, encoding="utf-8",
                          timeout=120)
    try:
        child.expect("> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_chat_ctrl_c_stops_a_reply_and_the_session_goes_on() -> None:
    child = pexpect.spawn(sys.executable, ["-m", "xtral", "chat", "--temperature", "0.8",
                                           "--seed", "1", "--max-tokens", "0",
                                           "--n-ctx", "2048"],
                          env=ENV, encoding="utf-8", timeout=120)
    try:
        child.expect("> ")
        child.sendline("Write a very long story about a dragon and a knight.")
        child.expect(r"\w+ \w+ \w+")  # the reply has started
        child.sendintr()
        child.expect(r"\[interrupted\]", timeout=10)
        child.expect("> ")
        child.sendline("What is 2 + 2?")
        child.expect("tokens/s")
        child.expect("> ")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
