"""The pages, in the lecture's order. A page is listed only once it has real content."""

from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"

# (file in pages/, title, icon, url path)
PAGES = [
    ("home.py", "Home", ":material/home:", "home"),
    ("tokens.py", "Tokens", ":material/text_fields:", "tokens"),
    ("embeddings.py", "Embeddings", ":material/scatter_plot:", "embeddings"),
    ("attention.py", "Attention", ":material/visibility:", "attention"),
    ("sampling.py", "Logits & sampling", ":material/casino:", "sampling"),
    ("generation.py", "Generation", ":material/edit_note:", "generation"),
    ("training.py", "Training", ":material/model_training:", "training"),
    ("finetuning.py", "Finetuning", ":material/tune:", "finetuning"),
    ("anatomy.py", "Model anatomy", ":material/account_tree:", "anatomy"),
    ("tour.py", "Guided tour", ":material/tour:", "tour"),
]

# The prefix of each page's widget keys (a snapshot may only set these).
PAGE_PREFIXES = {"tokens": "tokens", "embeddings": "emb", "attention": "attn", "sampling": "samp",
                 "generation": "gen", "anatomy": "anat", "tour": "tour"}
