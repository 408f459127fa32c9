"""`python -m core.train`: pretrain a small GPT (see core.training.pretrain), then let the queue start the next run.

The entry point sits above the job queue, so training itself never imports the queue.
"""

import os
import sys

from core.jobs import tick_from_env
from core.training.pretrain import main as train_main


def main(argv=None) -> int:
    code = train_main(argv)
    if int(os.environ.get("RANK", 0)) == 0 and code != 2:
        tick_from_env()
    return code


if __name__ == "__main__":
    sys.exit(main())
