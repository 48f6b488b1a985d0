"""Model objects under Python threads: the GIL is released during forward (two models run
in parallel), one model shared by two threads is serialized by its lock (each call sees a
consistent cache), and close() waits for a running forward."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

import xtral
from model_reference import TinyConfig, write_tiny


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("thr") / "llama.gguf"
    write_tiny(path, TinyConfig("llama", n_embd=256, n_ff=768, n_layer=4, n_vocab=512,
                                head_dim=64))
    return path


def test_one_model_two_threads_is_serialized(tiny_path: Path) -> None:
    tokens = np.arange(40) % 512
    with xtral.Model.load(tiny_path, threads=1) as m:
        want = m.forward(tokens)
        results, errors = [], []

        def worker() -> None:
            try:
                for _ in range(5):
                    # reset + forward are two calls: another thread may slip in between, so
                    # only the forward's own atomicity is checked: it never sees a torn cache.
                    out = m.forward(tokens[:1])
                    results.append(out)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        m.reset()
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and m.n_past == 10 and len(results) == 10
        m.reset()
        assert np.array_equal(m.forward(tokens), want)


def test_two_models_run_in_parallel_threads(tiny_path: Path) -> None:
    tokens = np.arange(200) % 512
    models = [xtral.Model.load(tiny_path, threads=1) for _ in range(2)]
    want = models[0].forward(tokens, all_logits=True)
    models[0].reset()
    outs: list[np.ndarray] = [None, None]  # type: ignore[list-item]

    def run(i: int) -> None:
        outs[i] = models[i].forward(tokens, all_logits=True)

    ticks = 0
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):  # the main thread keeps running: GIL released
        ticks += 1
        time.sleep(0.001)
    for o in outs:
        assert np.array_equal(o, want)
    for m in models:
        m.close()
    assert ticks > 0


def test_close_waits_for_forward_and_later_calls_fail(tiny_path: Path) -> None:
    m = xtral.Model.load(tiny_path, threads=1)
    tokens = np.arange(300) % 512

    def run() -> None:
        try:
            m.forward(tokens, all_logits=True)
        except xtral.XtralError:  # close() won the race: the model was closed first
            pass

    t = threading.Thread(target=run)
    t.start()
    m.close()
    t.join()
    assert m.closed
    with pytest.raises(xtral.XtralError, match="closed"):
        m.forward([1])
    with pytest.raises(xtral.XtralError):
        _ = m.n_past
    m.close()  # idempotent
