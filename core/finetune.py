"""`python -m core.finetune`: spam classification or instruction following (see core.training.finetune), then
let the queue start the next run."""

import sys

from core.jobs import tick_from_env
from core.training.finetune import main as finetune_main


def main(argv=None) -> int:
    code = finetune_main(argv)
    if code != 2:
        tick_from_env()
    return code


if __name__ == "__main__":
    sys.exit(main())
