#!/usr/bin/env bash
# Set up everything the playground needs, once: a virtual environment in .venv with the project installed.
# Keeps an installed torch that satisfies pyproject's range (a GPU machine keeps its CUDA build);
# otherwise installs torch 2.13.0 (a CPU wheel on these machines). Re-runs are quick: a stamp file
# remembers the pyproject.toml that was installed.
#   scripts/setup.sh            app dependencies + test extra
#   scripts/setup.sh --browser  also Debian's chromium for the browser test (when root and apt-get exist)
#   scripts/setup.sh --servers  also Debian's nginx (serve --workers) and slurm-wlm + munge (the Slurm test);
#                               their daemons are never started here: the tests start their own and stop them
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    echo "setup: creating $VENV (visible system packages, so an installed CUDA torch is kept)"
    python3 -m venv --system-site-packages "$VENV"
fi
STAMP="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    if ! "$PY" - <<'PY'
import sys
try:
    import torch
except ImportError:
    sys.exit(1)
major, minor = (int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
sys.exit(0 if (2, 4) <= (major, minor) < (2, 15) else 1)
PY
    then
        echo "setup: installing torch 2.13.0"
        "$PY" -m pip install -q "torch==2.13.0"
    fi
    echo "setup: installing the project and its test tools"
    "$PY" -m pip install -q -e ".[test]"
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi
# Debian packages the tests need, installed when root and missing (else the tests that need them skip).
WANT=()
for flag in "$@"; do
    case "$flag" in
        --browser) command -v chromium >/dev/null || WANT+=(chromium) ;;
        --servers) [ -x /usr/sbin/nginx ] || WANT+=(nginx-light)
                   { [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/munged ]; } || WANT+=(slurm-wlm munge) ;;
    esac
done
if [ "${#WANT[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing Debian's ${WANT[*]} for the tests"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${WANT[@]}" >/dev/null) \
            || echo "setup: could not install ${WANT[*]}; the tests that need them will skip"
    else
        echo "setup: ${WANT[*]} missing and cannot be installed here; the tests that need them will skip"
    fi
fi
