"""Ready example texts for the pages (Shakespeare and Goethe are public domain), chosen for what the model can read."""

from core.training.data import CORPORA

TOKEN_EXAMPLES = {  # id -> text; the labels are "tokex.<id>" in the locales
    "prose_en": "The quick brown fox jumps over the lazy dog. Language models do not read letters or words: "
                "they read tokens, pieces of text that a tokenizer cut out of it.",
    "prose_de": "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Sprachmodelle lesen weder "
                "Buchstaben noch Wörter: Sie lesen Tokens, Textstücke, die ein Tokenizer herausgeschnitten hat.",
    "shakespeare": "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",
    "goethe": "Habe nun, ach! Philosophie,\nJuristerey und Medicin,\nUnd leider auch Theologie!\n"
              "Durchaus studirt, mit heißem Bemühn.\nDa steh' ich nun, ich armer Thor!\n"
              "Und bin so klug als wie zuvor;",
    "code": "def fibonacci(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"
            "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "numbers": "On 2026-11-25 at 14:30, 3.14159 × 1,234,567 = 3,878,509.76; call +49 30 1234567.",
    "emoji": "Crème brûlée, naïve café, Zürich, señor, Ærøskøbing 🎉🤖👩‍🔬 日本語 😀",
    "url": "https://www.example.org/path/to/page?query=large+language+models&lang=de#section-2",
    "special": "The end of one document.<|endoftext|>The start of the next.",
}
TOKEN_EXAMPLE_FIRST = {"en": "prose_en", "de": "prose_de"}  # what the page opens with, per language

# The Experiments page's prompt pairs: the clean prompt, a corrupted one of the same token length whose answer
# should differ, the token the clean prompt should lead to and the one the corrupted should. Labels are
# "experiments.example_<id>" in the locales.
EXPERIMENT_EXAMPLES = {
    "ioi": {"clean": "When Mary and John went to the store, John gave a drink to",
            "corrupted": "When Mary and John went to the store, Mary gave a drink to",
            "target": " Mary", "distractor": " John"},
    "copy": {"clean": "Good morrow, my lord. Good morrow, my",
             "corrupted": "Good morrow, my lady. Good morrow, my",
             "target": " lord", "distractor": " lady"},
}

PROMPTS = {  # page -> its example text in each language a model may have been trained on
    "anatomy": {"en": "To be, or not to be, that is the question:",
                "de": "Da steh' ich nun, ich armer Thor! Und bin so klug als wie zuvor;"},
    "embeddings": {"en": "The king and the queen spoke to the man and the woman.",
                   "de": "Der König und die Königin sprachen mit dem Mann und der Frau."},
    "generation": {"en": "JULIET:\nO Romeo, Romeo! wherefore art thou",
                   "de": "FAUST:\nHabe nun, ach! Philosophie,\nJuristerey und Medicin,"},
    "sampling": {"en": "ROMEO:\nO, she doth teach the torches to burn",
                 "de": "MEPHISTOPHELES:\nIch bin der Geist, der stets verneint!"},
    "attention": {"en": "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",
                  "de": "FAUST:\nHabe nun, ach! Philosophie,\nJuristerey und Medicin,\nUnd leider auch Theologie!"},
    "induction": {"en": "Quiet violet engines hum beneath seven paper bridges at noon. "
                        "Quiet violet engines hum beneath seven paper bridges at noon.",
                  "de": "Leise violette Motoren summen mittags unter sieben Brücken aus Papier. "
                        "Leise violette Motoren summen mittags unter sieben Brücken aus Papier."},
    "tour": {"en": "But, soft! what light through yonder window",
             "de": "Habe nun, ach! Philosophie, Juristerey und Medicin"},
}


def text_language(card: dict) -> str:
    """The languages of the text a model learnt from, joined with "+" ("en", "de", "en+de"): its card's
    "language", else its corpora's (joined corpora "a+b" give each one's), else English (GPT-2 and the bundled
    Shakespeare model read English)."""
    if card.get("language"):
        return card["language"]
    corpora = [CORPORA[name] for name in (card.get("corpus") or "").split("+") if name in CORPORA]
    return "+".join(dict.fromkeys(c.language for c in corpora)) or "en"


def prompt(page: str, session_language: str, model_language: str) -> str:
    """A page's example in the session's language when the model reads it, else in the model's (first) language:
    a German sentence shown to an English model would only show what it cannot read."""
    texts = PROMPTS[page]
    languages = model_language.split("+")
    return texts.get(session_language if session_language in languages else languages[0], texts["en"])
