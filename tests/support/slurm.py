"""A real single-node Slurm cluster for the executor tests, started in a temporary folder and stopped afterwards.

Follows ../shared/slurm-single-node.md (Debian's slurm-wlm and munge, root, no systemd), with everything of its
own: a munge daemon with its own key and socket, and slurmctld/slurmd on free ports, so it disturbs no other
Slurm or munge on the machine. `scripts/setup.sh --servers` installs the packages; without them, or without root,
`single_node_slurm()` raises SlurmUnavailable with the reason (the tests skip with it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support.server import free_port

DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")


class SlurmUnavailable(RuntimeError):
    pass


def _config(d: Path, socket: Path) -> str:
    return f"""ClusterName=playground
SlurmctldHost=localhost
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
JobAcctGatherType=jobacct_gather/none
KillWait=5
NodeName=localhost CPUs={os.cpu_count() or 1} RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _stop(pid_file: Path) -> None:
    with suppress(OSError, ValueError):
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


@contextmanager
def single_node_slurm():
    """Start munged, slurmctld and slurmd; yields the environment (SLURM_CONF) the Slurm commands need."""
    missing = [p for p in (*DAEMONS, "/usr/sbin/mungekey") if not os.path.exists(p)] + \
        [c for c in ("sbatch", "squeue", "scontrol", "scancel", "sinfo") if shutil.which(c) is None]
    if missing:
        raise SlurmUnavailable(f"Slurm is not installed ({', '.join(missing)} missing; scripts/setup.sh --servers "
                               "installs Debian's slurm-wlm and munge as root)")
    if os.geteuid() != 0:
        raise SlurmUnavailable("a test Slurm needs root (slurmd runs jobs as their user)")
    d = Path(tempfile.mkdtemp(prefix="playground-slurm-"))
    munge = d / "munge"
    for sub in ("state", "spool", "log"):
        (d / sub).mkdir()
    munge.mkdir()
    d.chmod(0o755)
    socket = munge / "munge.socket"
    conf = d / "slurm.conf"
    conf.write_text(_config(d, socket))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    try:
        subprocess.run(["/usr/sbin/mungekey", "-c", "-k", str(munge / "munge.key")], check=True, capture_output=True)
        shutil.chown(munge, "munge", "munge")
        shutil.chown(munge / "munge.key", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", f"--socket={socket}",
                        f"--key-file={munge / 'munge.key'}", f"--pid-file={munge / 'munged.pid'}",
                        f"--log-file={munge / 'munged.log'}", f"--seed-file={munge / 'munge.seed'}"],
                       check=True, capture_output=True, timeout=30)
        for daemon in ("/usr/sbin/slurmctld", "/usr/sbin/slurmd"):
            subprocess.run([daemon, "-f", str(conf)], check=True, capture_output=True, env=env, timeout=60)
        for _ in range(120):
            idle = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, env=env)
            if idle.stdout.strip() == "idle":
                break
            time.sleep(0.5)
        else:
            raise SlurmUnavailable(f"the test Slurm did not become idle: {idle.stdout.strip()} {idle.stderr.strip()}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, LookupError) as e:
        _teardown(d)
        detail = getattr(e, "stderr", b"") or b""
        raise SlurmUnavailable(f"the test Slurm could not start: {e} {detail.decode(errors='replace')[-300:]}") from e
    try:
        yield env
    finally:
        _teardown(d)


def _teardown(d: Path) -> None:
    env = {**os.environ, "SLURM_CONF": str(d / "slurm.conf")}
    with suppress(OSError, subprocess.TimeoutExpired):  # jobs first, so no training process outlives the cluster
        if (d / "slurmctld.pid").exists():
            subprocess.run(["scancel", "--me"], capture_output=True, env=env, timeout=30)
            for _ in range(60):
                queue = subprocess.run(["squeue", "--noheader", "--me"], capture_output=True, text=True, env=env,
                                       timeout=30)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.5)
    for pid_file in (d / "slurmd.pid", d / "slurmctld.pid", d / "munge" / "munged.pid"):
        _stop(pid_file)
    shutil.rmtree(d, ignore_errors=True)
