"""The queue places runs on made-up GPUs (devices.fake_gpus) and starts them through a recording executor: how many
of 30 tiny runs start at once with 1 or 8 slots per GPU, memory estimates that must fit together, spreading, the
CPU's one slot, and a resumed run placed again. The executor starts nothing, so no CUDA is needed."""

import pytest

from core.jobs import store as store_module
from core.jobs.devices import GIB, USABLE, fake_gpus, gpu_need
from core.jobs.store import JobStore
from tests.support.jobs import Recorder, tiny


def queue(tmp_path, devices, runs=30, **settings):
    recorder = Recorder()
    store = JobStore(tmp_path / "runs", per_user_limit=runs, devices=devices, executor=recorder)
    ids = [store.submit(tiny(device="auto", **settings), owner=f"p{i % 7}").id for i in range(runs)]
    return store, recorder, ids


def running(store):
    return [r for r in store.visible("", instructor=True) if r.state == "running"]


@pytest.mark.parametrize("slots, at_once", [(1, 4), (8, 30)])
def test_thirty_tiny_runs_on_four_gpus_with_one_or_eight_slots(tmp_path, slots, at_once):
    store, recorder, ids = queue(tmp_path, fake_gpus(4, 80 * GIB, slots=slots))
    assert {store.get(i).device for i in ids} == {"cuda"}  # "auto" asks for any GPU of this inventory
    store.tick()
    started = running(store)
    assert len(started) == at_once
    per_gpu = {}
    for run in started:
        job = run.job.split(":")[1]
        assert recorder.device_of(job) == run.device  # the command names the GPU the row says
        per_gpu[run.device] = per_gpu.get(run.device, 0) + 1
    expected = {1: [1, 1, 1, 1], 8: [8, 8, 7, 7]}[slots]  # spread before they share
    assert sorted(per_gpu.values(), reverse=True) == expected and len(per_gpu) == 4
    assert store.queue_position(ids[-1]) == (30 - at_once if at_once < 30 else None)
    # two end: as many start (while any wait), on the GPUs that were freed
    freed = started[:2]
    for run in freed:
        recorder.ended.add(run.job.split(":")[1])
    store.tick()
    now = running(store)
    assert len(now) == (at_once if at_once < 30 else 28) and not {r.id for r in freed} & {r.id for r in now}
    if at_once < 30:
        newcomers = [r for r in now if r.id not in {s.id for s in started}]
        assert sorted(r.device for r in newcomers) == sorted(r.device for r in freed)


def test_memory_estimates_decide_how_many_share_one_gpu(tmp_path):
    estimate = store_module._memory_estimate("pretrain", {**tiny().__dict__, "init_from": ""})
    assert estimate > 0
    memory = int(3.5 * gpu_need(estimate) / USABLE)  # room for three such runs beside each other, not four
    store, recorder, ids = queue(tmp_path, fake_gpus(1, memory, slots=8), runs=6)
    store.tick()
    assert [r.device for r in running(store)] == ["cuda:0"] * 3
    recorder.ended.add(running(store)[0].job.split(":")[1])
    store.tick()
    assert len(running(store)) == 3


def test_the_cpu_takes_one_run_at_a_time_beside_the_gpus(tmp_path):
    recorder = Recorder()
    store = JobStore(tmp_path / "runs", per_user_limit=10, devices=fake_gpus(2, 80 * GIB, slots=8),
                     executor=recorder)
    cpu = [store.submit(tiny(device="cpu"), owner="ada").id for _ in range(3)]
    gpu = [store.submit(tiny(device="auto"), owner="bob").id for _ in range(3)]
    store.tick()
    assert [store.get(i).state for i in cpu] == ["running", "queued", "queued"]
    assert all(store.get(i).state == "running" for i in gpu)
    assert store.get(cpu[0]).device == "cpu" and "--device" in recorder.commands[store.get(cpu[0]).job[6:]]
    assert store.queue_position(cpu[2]) == 2


def test_a_resumed_run_is_placed_again(tmp_path):
    store, recorder, ids = queue(tmp_path, fake_gpus(2, 80 * GIB, slots=1), runs=3)
    store.tick()
    first = store.get(ids[0])
    assert first.device == "cuda:0" and store.get(ids[1]).device == "cuda:1"
    recorder.ended.add(first.job.split(":")[1])  # killed: no final status
    (first.folder / "checkpoint").mkdir(parents=True)
    for name in ("state.json", "model.safetensors"):  # as if it had saved a checkpoint (resume needs one)
        (first.folder / "checkpoint" / name).write_text("{}")
    store.tick()
    assert store.get(ids[0]).state == "failed" and store.get(ids[2]).device == "cuda:0"  # the next one took it
    store.resume(ids[0], "p0")
    again = store.get(ids[0])
    assert again.state == "queued" and again.device == "cuda" and again.job is None
    recorder.ended.add(store.get(ids[1]).job.split(":")[1])
    store.tick()
    resumed = store.get(ids[0])
    assert resumed.state == "running" and resumed.device == "cuda:1"
    assert "--resume" in recorder.commands[resumed.job.split(":")[1]]
