"""The pages, in the lecture's order. A page is listed only once it has real content.

Each page's url path is also its name everywhere else: the prefix of its widget keys ("attention.layer"), of
its strings in the locales ("attention.*" in locales/<lang>/attention.json) and of its link parameters."""

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

# (url path = file name in pages/ without .py, icon); the title is t("nav.<url path>")
PAGES = [
    ("home", ":material/home:"),
    ("tokens", ":material/text_fields:"),
    ("embeddings", ":material/scatter_plot:"),
    ("attention", ":material/visibility:"),
    ("sampling", ":material/casino:"),
    ("generation", ":material/edit_note:"),
    ("training", ":material/model_training:"),
    ("finetuning", ":material/tune:"),
    ("anatomy", ":material/account_tree:"),
    ("experiments", ":material/science:"),
    ("tour", ":material/tour:"),
    ("poll", ":material/how_to_vote:"),
]
PAGE_NAMES = [name for name, _ in PAGES]

# Pages that show one view at a time (playground.ui.view): their views, the first one shown by default; the label
# of each is t("<page>.tab_<view>"), its value in a link ?view=<view>.
VIEWS = {
    "tokens": ["tokens", "compare", "chat", "decode", "bpe", "windows"],
    "embeddings": ["vectors", "projection", "neighbours", "similarity", "positions"],
    "attention": ["one", "all", "lines", "steps", "kinds"],
    "generation": ["step", "run", "compare"],
}

# The guided tour's steps, in order (labels t("tour.<step>")); a link opens one with ?step=<number from 1>.
TOUR_STEPS = ["Token", "Embedding", "Attention", "Logits", "Softmax", "Temperature", "Sampling"]


def page_file(name: str) -> Path:
    return PAGES_DIR / f"{name}.py"
