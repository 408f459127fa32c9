"""Estimates before a run: memory against the device, disk a run writes, and the step time measured in a capped,
short-lived process (never in the caller)."""

import pytest

from core import PlaygroundError
from core.model.gpt import GPTConfig, count_parameters
from core.training import estimates
from core.training.estimates import check_memory, disk_estimate_bytes, measure_in_subprocess, memory_estimate_bytes

TINY = GPTConfig(vocab_size=50257, context_length=32, n_layer=1, n_head=2, n_embd=16)
GPT2 = GPTConfig()  # the 124M shape


def test_memory_beyond_the_device_is_refused(monkeypatch):
    monkeypatch.setattr(estimates, "memory_bytes", lambda: 8 * 2**30)
    assert memory_estimate_bytes(GPT2, 16) > 40 * 2**30  # the page's 124M preset at batch 16: about 43 GiB
    with pytest.raises(PlaygroundError, match="more than the 8.0 GiB"):
        check_memory(GPT2, 16, "cpu")
    assert check_memory(TINY, 2, "cpu") == memory_estimate_bytes(TINY, 2)


def test_disk_estimate_counts_both_copies_of_checkpoint_and_best():
    p = count_parameters(TINY)
    written = disk_estimate_bytes(p, steps=100, log_interval=10, eval_interval=50, sample_tokens=60)
    assert written >= 2 * 12 * p + 2 * 4 * p  # checkpoint/ (weights + two AdamW moments) and best/, each twice
    assert disk_estimate_bytes(p, 100, 10, 50, checkpoint=False) < written


def test_a_step_is_measured_in_another_process(monkeypatch):
    built = []
    monkeypatch.setattr(estimates, "build", lambda *a: built.append(a))  # building here would be recorded
    seconds = measure_in_subprocess(TINY, 2, "cpu")
    assert 0 < seconds < 60 and built == []


def test_measuring_stops_at_its_timeout_and_its_memory_cap(monkeypatch):
    with pytest.raises(PlaygroundError, match="longer than"):
        measure_in_subprocess(TINY, 2, "cpu", timeout_s=0.05)
    monkeypatch.setattr(estimates, "PROCESS_BYTES", 64 * 2**20)  # far too little address space for torch
    with pytest.raises(PlaygroundError, match="memory it may use"):
        measure_in_subprocess(TINY, 2, "cpu")


def test_a_llama_step_is_measured_too():
    from core.model.llama import LlamaConfig
    llama = LlamaConfig(vocab_size=300, context_length=32, n_layer=2, n_head=4, n_kv_head=2, n_embd=32, d_mlp=96)
    assert 0 < measure_in_subprocess(llama, 2, "cpu") < 60
