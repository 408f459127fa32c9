"""The adversarial suite: bad inputs a workshop's participants type, upload or click, each of which must end in one
clear sentence (or be used as valid), never a traceback or a hang. Every test here is stopped after HANG_S seconds."""

import signal

import pytest

HANG_S = 120


class Hang(Exception):
    pass


@pytest.fixture(autouse=True)
def no_hang():
    def stop(signum, frame):
        raise Hang(f"no answer within {HANG_S} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(HANG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
