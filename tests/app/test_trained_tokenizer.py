"""A model trained with its own tokenizer (bpe-<N>) on every page: it loads with its tokenizer from its folder, and
the Tokens page shows that tokenizer beside the shipped encodings."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from core.training.pretrain import TrainConfig, train
from playground import keys
from playground.navigation import PAGE_NAMES
from tests.support.app import APP, TIMEOUT, assert_clean, open_page


@pytest.fixture(scope="module")
def bpe_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("bpe-run") / "run"
    cfg = TrainConfig(out_dir=str(out), corpus="the-verdict", tokenizer="bpe-300", n_layer=2, n_head=2, n_embd=32,
                      context_length=64, batch_size=4, steps=4, warmup_steps=1, eval_interval=4, eval_batches=1,
                      sample_tokens=4, device="cpu", repeats=0.2)
    assert train(cfg)["state"] == "finished"
    return out / "best"


def open_with(folder, url: str) -> AppTest:
    return open_page(url, session_model=folder)


@pytest.mark.parametrize("url", PAGE_NAMES)
def test_every_page_runs_with_the_models_own_tokenizer(bpe_model, url):
    at = open_with(bpe_model, url)
    assert_clean(at)
    # no fallback to the bundled model, no tokenizer errors; a word that is several tokens in this small vocabulary
    # (the Embeddings page's " king", the Sampling page's " love") is said so
    assert not [e.value for e in at.error if not re.search(r"is \d+ tokens", e.value)]
    assert at.session_state[keys.MODEL] == str(bpe_model)


def test_tokens_page_shows_it_beside_gpt2_gpt4_and_gpt4o(bpe_model):
    from core import load_model
    at = open_with(bpe_model, "tokens")
    radio = at.radio(key="tokens.encoding")
    assert list(radio.options)[0] == "bpe-300 (the model's)" and radio.value == "model"
    assert len(radio.options) == 4
    text = at.text_area(key="tokens.text").value
    ids = load_model(bpe_model, device="cpu").tokenizer.encode(text)
    assert any(str(ids[:5])[1:-1] in c.value for c in at.code)  # the id list is the model's tokenizer's
    at.segmented_control(key="tokens.view").set_value("compare").run()
    compare = next(df.value for df in at.dataframe if "encoding" in df.value.columns)
    assert list(compare["encoding"]) == ["bpe-300 (model)", "gpt2", "cl100k_base", "o200k_base"]
    assert compare["tokens"].iloc[0] == f"{len(ids):,}"  # in the session's locale (English here)


def test_home_shows_the_cards_bits_per_character_and_heads(bpe_model):
    import json
    card = json.loads((bpe_model / "card.json").read_text())
    at = open_with(bpe_model, "home")
    facts = next(df.value for df in at.dataframe if len(df.value) and "bits per character" in " ".join(
        df.value.iloc[:, 0].astype(str)))
    row = facts[facts.iloc[:, 0].str.startswith("bits per character")].iloc[0]
    assert row.iloc[1] == f"{card['bits_per_character']['the-verdict']:.3f}"
    best = card["head_scores"]["induction"]
    assert f"layer {best['layer']}, head {best['head']} ({best['score']:.2f})" in set(facts.iloc[:, 1])


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("url", PAGE_NAMES)
def test_the_bundled_bilingual_model_on_every_page(url, lang):
    """The bundled shakespeare-faust-llama model (a Llama, its own 2,000-merge tokenizer, English and German) on every
    page in both languages: no traceback, no error but "this word is several tokens", and the examples in the session's language
    (it reads both, so no "this model learnt from …" note)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[keys.MODEL] = "shakespeare-faust-llama"
    at.query_params["lang"] = lang
    at.run()
    if url != "home":
        at.switch_page(f"../pages/{url}.py")
        at.run()
    assert_clean(at)
    assert not [e.value for e in at.error if not re.search(r"(is|sind) \d+ (tokens|Tokens)", e.value)]
    assert at.session_state[keys.MODEL] == "shakespeare-faust-llama"
    assert not [c.value for c in at.caption if "gelernt (" in c.value or "This model learnt from" in c.value]


def test_the_bundled_llamas_card_says_what_it_measures():
    """The card's figures are what core measures on the bundled weights now: its previous-token head (at least the
    0.5 the Attention page calls a behaviour) and its induction head (at least 0.4, in a later layer), bits per
    character on the held-out Shakespeare and Faust."""
    import json

    import core
    from core.analysis.attention import head_scores, strongest_heads
    from core.analysis.compression import bits_per_character
    from core.model.checkpoints import MODELS_DIR
    from core.training.data import load_corpus, split_text
    card = json.loads((MODELS_DIR / "shakespeare-faust-llama" / "card.json").read_text())
    model = core.load_model("shakespeare-faust-llama", device="cpu")
    assert model.arch == "llama" and model.config.n_kv_head < model.config.n_head
    held_out = split_text(load_corpus("tinyshakespeare"))[1]
    ids = model.tokenizer.encode(held_out)[:model.config.context_length]
    _, cache = model.run_with_cache([ids], names={"pattern"})
    best = strongest_heads(head_scores(model, cache))
    for name in ("previous_token", "induction"):
        layer, head, score = best[name]
        claimed = card["head_scores"][name]
        assert (layer, head) == (claimed["layer"], claimed["head"]) and score == pytest.approx(claimed["score"], abs=2e-4)
    assert best["previous_token"][2] >= 0.5 and best["induction"][2] >= 0.4
    assert best["previous_token"][0] < best["induction"][0]  # the head an induction head reads sits below it
    for corpus in ("tinyshakespeare", "goethe-faust-1"):
        measured = bits_per_character(model, split_text(load_corpus(corpus))[1])["bits_per_character"]
        assert measured == pytest.approx(card["bits_per_character"][corpus], abs=2e-4)


def test_the_gpt2_models_card_says_what_it_measures():
    """The default model was split by tokens when it was trained (the card's split): its card's bits per character
    are measured on those held-out tokens, and its strongest heads are what the Attention page finds (weak ones:
    the page points at the Llama for these behaviours)."""
    import json

    import core
    from core.analysis.attention import head_scores, strongest_heads
    from core.analysis.compression import bits_per_character
    from core.model.checkpoints import MODELS_DIR
    from core.training.data import load_corpus
    card = json.loads((MODELS_DIR / "shakespeare" / "card.json").read_text())
    model = core.load_model("shakespeare", device="cpu")
    ids = model.tokenizer.encode(load_corpus("tinyshakespeare"))
    held_out = ids[card["split"]["train_tokens"]:]
    assert len(held_out) == card["split"]["val_tokens"]
    _, cache = model.run_with_cache([held_out[:model.config.context_length]], names={"pattern"})
    best = strongest_heads(head_scores(model, cache))
    for name in ("previous_token", "induction"):
        assert best[name][2] == pytest.approx(card["head_scores"][name]["score"], abs=2e-4)
    measured = bits_per_character(model, model.tokenizer.decode(held_out))["bits_per_character"]
    assert measured == pytest.approx(card["bits_per_character"]["tinyshakespeare"], abs=2e-4)
