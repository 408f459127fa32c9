"""Files shipped inside core (tokenizer rank files, corpora, data sets, bundled models); LICENSES.md says where
each comes from. This module only names the folder."""

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
REPO = ASSETS.parent.parent  # the folder that holds core/ (the working directory of training processes)
