"""The packing rule on made-up GPUs, by hand: slots, memory estimates, spreading, too big for any GPU."""

import pytest

from core import PlaygroundError
from core.jobs.devices import (
    CONTEXT_BYTES,
    GIB,
    USABLE,
    Device,
    check_fits_a_gpu,
    fake_gpus,
    gpu_slots_from_env,
    place,
    request_kind,
)


def fill(kind, estimate, devices):
    """Place runs of one estimate until none fits; the devices they went to, in order."""
    running = []
    while (name := place(kind, estimate, devices, running)) is not None:
        running.append((name, estimate))
    return [name for name, _ in running]


def test_memory_decides_how_many_share_a_gpu():
    # 16 GiB, 90 % usable = 14.4 GiB; a run of 3 GiB takes 3.5 GiB with its process: 4 fit (14.0), a fifth not (17.5)
    assert CONTEXT_BYTES == GIB // 2 and USABLE == 0.9
    one_gpu = fake_gpus(1, 16 * GIB, slots=8)
    assert fill("cuda", 3 * GIB, one_gpu) == ["cuda:0"] * 4
    assert fill("cuda", 100 * 2**20, one_gpu) == ["cuda:0"] * 8  # tiny runs: the slots are the limit


def test_slots_decide_when_memory_is_plenty():
    assert fill("cuda", 100 * 2**20, fake_gpus(1, 80 * GIB, slots=1)) == ["cuda:0"]
    assert fill("cuda", 100 * 2**20, fake_gpus(1, 80 * GIB, slots=3)) == ["cuda:0"] * 3


def test_runs_spread_over_gpus_before_they_share():
    assert fill("cuda", GIB, fake_gpus(3, 16 * GIB, slots=2)) == ["cuda:0", "cuda:1", "cuda:2"] * 2


def test_a_run_goes_where_it_fits_beside_the_others():
    gpus = fake_gpus(2, 16 * GIB, slots=8)
    running = [("cuda:0", 10 * GIB), ("cuda:1", 2 * GIB), ("cuda:1", 2 * GIB)]
    # cuda:0 holds 10.5 GiB (3.9 left), cuda:1 holds 5 GiB (9.4 left): a 6 GiB run (6.5) fits only on cuda:1
    assert place("cuda", 6 * GIB, gpus, running) == "cuda:1"
    # a 3 GiB run fits on both; cuda:0 has one run, cuda:1 two: the emptier one by count wins
    assert place("cuda", 3 * GIB, gpus, running) == "cuda:0"
    assert place("cuda", 9 * GIB, gpus, running) is None  # 9.5 GiB fits nowhere now: it waits


def test_a_pinned_run_waits_for_its_gpu():
    gpus = fake_gpus(2, 16 * GIB, slots=1)
    assert place("cuda:1", GIB, gpus, [("cuda:1", GIB)]) is None
    assert place("cuda:1", GIB, gpus, [("cuda:0", GIB)]) == "cuda:1"


def test_the_cpu_counts_slots_only():
    devices = [Device("cpu", 2), *fake_gpus(1, 16 * GIB, slots=1)[1:]]
    assert fill("cpu", 50 * GIB, devices) == ["cpu", "cpu"]


def test_a_run_too_big_for_every_gpu_is_one_sentence():
    gpus = fake_gpus(2, 16 * GIB, slots=4)
    check_fits_a_gpu("cuda", int(13.9 * GIB), gpus)  # 14.4 GiB with its process: just fits alone
    with pytest.raises(PlaygroundError, match=r"needs about 14\.5 GiB of GPU memory .* 14\.4 GiB usable .*\(16\.0 GiB\)"):
        check_fits_a_gpu("cuda", 14 * GIB, gpus)
    check_fits_a_gpu("cpu", 10**15, gpus)  # the CPU is checked against the machine's memory elsewhere


def test_what_a_run_asks_for():
    gpus = fake_gpus(2, 16 * GIB, slots=1)
    assert request_kind("auto", gpus) == "cuda" and request_kind("auto", [Device("cpu", 1)]) == "cpu"
    assert request_kind("cuda:1", gpus) == "cuda:1" and request_kind("cpu", gpus) == "cpu"
    with pytest.raises(PlaygroundError, match="no GPU cuda:2 for the queue"):
        request_kind("cuda:2", gpus)
    with pytest.raises(PlaygroundError, match="queue has no GPU"):
        request_kind("cuda", [Device("cpu", 1)])


def test_slots_from_the_environment(monkeypatch):
    monkeypatch.delenv("LLM_PLAYGROUND_GPU_SLOTS", raising=False)
    assert gpu_slots_from_env() == 1
    monkeypatch.setenv("LLM_PLAYGROUND_GPU_SLOTS", "8")
    assert gpu_slots_from_env() == 8
    for bad in ("0", "eight", "-1", "1000"):
        monkeypatch.setenv("LLM_PLAYGROUND_GPU_SLOTS", bad)
        with pytest.raises(PlaygroundError, match="whole number of runs per GPU from 1 to 64"):
            gpu_slots_from_env()
