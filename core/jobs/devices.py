"""The devices the queue may start runs on, and the rule that packs several small runs onto one GPU.

`inventory()` lists them: the CPU, then `cuda:0 … cuda:N-1` with each GPU's total memory. Tests and the queue
benchmark pass a made-up list instead (`fake_gpus(4, 80 * GIB)`), so the packing logic runs without CUDA.

Packing: a GPU takes at most `LLM_PLAYGROUND_GPU_SLOTS` runs at once (default 1, today's one run per GPU), and a
run starts beside the others only if the memory estimates of all of them (core.training.estimates, plus a fixed
share for each process's CUDA context) fit into 90 % of the GPU. Of the GPUs with room the emptiest is chosen, so
runs spread before they share. A run that would not fit on any GPU even alone is refused when it is submitted.
The CPU and an Apple GPU are not packed by memory: they take `cpu_slots` runs (and one on MPS).

Left out: memory measured while runs train (the estimate decides; a run that needs more than its estimate fails
with the out-of-memory explanation of core.training), GPUs of different machines (Slurm places those).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from core.errors import PlaygroundError

GIB = 2**30
GPU_SLOTS_ENV = "LLM_PLAYGROUND_GPU_SLOTS"
MAX_GPU_SLOTS = 64
CONTEXT_BYTES = 512 * 2**20  # what each process holds on a GPU before its model: CUDA context, kernels, allocator
USABLE = 0.9  # the share of a GPU's memory the estimates may fill; the rest is fragmentation and estimate error


@dataclass(frozen=True)
class Device:
    name: str  # "cpu", "mps", "cuda:0", ...
    slots: int  # runs at once
    memory: int | None = None  # total bytes of a GPU; None: not packed by memory

    @property
    def kind(self) -> str:
        return self.name.split(":")[0]


def gpu_slots_from_env(default: int = 1) -> int:
    """Runs per GPU from LLM_PLAYGROUND_GPU_SLOTS; a value that is not a whole number in range is one sentence."""
    text = os.environ.get(GPU_SLOTS_ENV, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MAX_GPU_SLOTS:
        raise PlaygroundError("{name} must be a whole number of runs per GPU from 1 to {most}, not '{value}'.",
                              name=GPU_SLOTS_ENV, most=MAX_GPU_SLOTS, value=text[:20])
    return int(text)


def inventory(cpu_slots: int = 1, gpu_slots: int | None = None) -> list[Device]:
    """This machine's devices: the CPU, an Apple GPU if there is one, and every CUDA GPU with its memory."""
    gpu_slots = gpu_slots if gpu_slots is not None else gpu_slots_from_env()
    devices = [Device("cpu", cpu_slots)]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append(Device("mps", 1))
    if torch.cuda.is_available():
        devices += [Device(f"cuda:{i}", gpu_slots, torch.cuda.get_device_properties(i).total_memory)
                    for i in range(torch.cuda.device_count())]
    return devices


def fake_gpus(count: int, memory: int, slots: int, cpu_slots: int = 1) -> list[Device]:
    """An inventory of made-up GPUs (tests, the queue benchmark's --fake-gpus): the packing rule without CUDA."""
    return [Device("cpu", cpu_slots), *(Device(f"cuda:{i}", slots, memory) for i in range(count))]


def gpu_need(estimate_bytes: int) -> int:
    """What a run takes of a GPU: its estimate plus its process's own share."""
    return estimate_bytes + CONTEXT_BYTES


def request_kind(name: str, devices: list[Device]) -> str:
    """The devices a run asks for, as the queue keeps it: "cuda" (any GPU), "cuda:2" (that one), "mps" or "cpu";
    "auto" is the first of cuda, mps, cpu that this inventory has."""
    if name == "auto":
        kinds = {d.kind for d in devices}
        return next(k for k in ("cuda", "mps", "cpu") if k in kinds)
    gpus = [d.name for d in devices if d.kind == "cuda"]
    if name == "cuda" and not gpus:
        raise PlaygroundError("CUDA was asked for but the queue has no GPU; choose cpu or auto.")
    if name.startswith("cuda:") and name not in gpus:
        raise PlaygroundError("There is no GPU {name} for the queue (it has {n}).", name=name, n=len(gpus))
    return name


def check_fits_a_gpu(kind: str, estimate_bytes: int, devices: list[Device]) -> None:
    """Refuse, at submit, a run that no GPU of the inventory could hold even alone."""
    if not kind.startswith("cuda"):
        return
    gpus = [d for d in devices if d.kind == "cuda" and (kind == "cuda" or d.name == kind)]
    biggest = max((d.memory or 0 for d in gpus), default=0)
    if gpu_need(estimate_bytes) > USABLE * biggest:
        raise PlaygroundError(
            "This run needs about {need:.1f} GiB of GPU memory (with {context:.1f} GiB for the process itself), more "
            "than the {usable:.1f} GiB usable on the largest GPU here ({total:.1f} GiB): make the batch, the context "
            "or the model smaller.",
            need=gpu_need(estimate_bytes) / GIB, context=CONTEXT_BYTES / GIB, usable=USABLE * biggest / GIB,
            total=biggest / GIB)


def place(kind: str, estimate_bytes: int, devices: list[Device], running: list[tuple[str, int]]) -> str | None:
    """The device a run of this kind starts on now, beside `running` ((device name, estimate) of the runs already
    started), or None while none has room. GPUs: a free slot and room for all estimates; the emptiest wins."""
    candidates = [d for d in devices if d.name == kind or (kind == "cuda" and d.kind == "cuda")]
    best, best_key = None, None
    for device in candidates:
        here = [need for name, need in running if name == device.name]
        if len(here) >= device.slots:
            continue
        free = None
        if device.memory is not None:
            free = USABLE * device.memory - sum(gpu_need(n) for n in here)
            if gpu_need(estimate_bytes) > free:
                continue
        key = (len(here), -(free or 0))
        if best_key is None or key < best_key:
            best, best_key = device.name, key
    return best
