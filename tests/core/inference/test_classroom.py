"""The classroom filter against the word list read here and against transformers' NoBadWordsLogitsProcessor;
innocent tokens stay; the pipeline's classroom stage and generation from an untrained model never show a listed
word."""

from pathlib import Path

import pytest
import torch

from core.inference.classroom import classroom_filter, spellings
from core.inference.generate import generation_steps
from core.inference.sampling import SamplingSettings, pipeline_stages
from core.model.gpt import GPT, GPTConfig
from core.tokens.encodings import load_tokenizer

LISTS = Path(__file__).resolve().parents[3] / "core" / "assets" / "wordlists"


@pytest.fixture(scope="module")
def listed() -> set[str]:
    return {line.strip().lower() for name in ("ldnoobw-en.txt", "ldnoobw-de.txt")
            for line in (LISTS / name).read_text(encoding="utf-8").splitlines() if line.strip()}


@pytest.fixture(scope="module")
def gpt2():
    return load_tokenizer("gpt2")


def test_single_tokens_banned_are_exactly_the_listed_words(gpt2, listed):
    banned = classroom_filter(gpt2).always
    assert {5089, 25617} <= banned  # tiktoken's ' fuck' and ' Fuck' (r50k_base)
    assert gpt2.encode(" fuck") == [5089] and gpt2.encode(" Fuck") == [25617]
    for i in banned:
        assert gpt2.token_bytes(i).decode("utf-8").strip().lower() in listed
    unlisted = [i for i in range(gpt2.n_vocab) if i not in banned]
    for i in unlisted[::97]:  # a sample of the rest: none is a listed word
        try:
            assert gpt2.token_bytes(i).decode("utf-8").strip().lower() not in listed
        except UnicodeDecodeError:
            pass


@pytest.mark.parametrize("word", [" class", " assess", " button", " butter", " analysis", " cocktail", " title",
                                  " Scunthorpe", " spices", " scatter", " Dickens", " therapist", " cumin", " the",
                                  " Essex", " snatched", " grape", " passage", " hello"])
def test_innocent_words_pass(gpt2, word):
    words = classroom_filter(gpt2)
    ids = gpt2.encode(word)
    assert not words.always & set(ids) and not any(words.masked(ids))
    context = []
    for token in ids:  # typed token by token, nothing on the way is banned
        assert token not in words.banned_after(context)
        context.append(token)


def test_words_split_into_tokens_match_transformers(gpt2, listed):
    """NoBadWordsLogitsProcessor bans the last token of a listed sequence after its beginning; given the same
    spellings, our filter bans the same, plus the single tokens that are listed words in any context."""
    from transformers import NoBadWordsLogitsProcessor
    sequences = sorted({tuple(gpt2.encode(form)) for entry in listed for form in spellings(entry)})
    hf = NoBadWordsLogitsProcessor([list(s) for s in sequences], eos_token_id=gpt2.eot_id)
    words = classroom_filter(gpt2)
    contexts = [[], gpt2.encode("Hello there"), gpt2.encode("What the")] + [list(s[:-1]) for s in sequences[::7]]
    for context in contexts:
        scores = hf(torch.tensor([context or [gpt2.eot_id]]), torch.zeros(1, gpt2.n_vocab))
        theirs = set(torch.isneginf(scores[0]).nonzero().flatten().tolist())
        assert words.banned_after(context) == theirs | words.always, gpt2.decode(context)


def test_the_classroom_stage_of_the_pipeline(gpt2):
    words = classroom_filter(gpt2)
    logits = torch.randn(gpt2.n_vocab)
    word = gpt2.encode(" arschloch")  # a German listed word, four tokens in GPT-2's encoding
    context = gpt2.encode("Er sagte") + word[:-1]
    stages = pipeline_stages(logits, SamplingSettings(classroom=words), context)
    removed = torch.isneginf(stages["classroom"])
    assert set(removed.nonzero().flatten().tolist()) == words.banned_after(context) and removed[word[-1]]
    assert torch.equal(stages["classroom"][~removed], stages["bias"][~removed])  # the rest untouched
    off = pipeline_stages(logits, SamplingSettings(), context)
    assert torch.equal(off["classroom"], off["bias"])


def test_an_untrained_model_never_writes_a_listed_word(gpt2):
    """An untrained model samples from the whole vocabulary; pushed towards the listed tokens by a logit bias of
    +20, it writes almost only those without the filter and none with it."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=gpt2.n_vocab, context_length=64, n_layer=1, n_head=1, n_embd=8)).eval()
    words = classroom_filter(gpt2)
    push = {i: 20.0 for i in words.always}
    prompt = gpt2.encode("The")
    unfiltered = [s.token for s in generation_steps(model, prompt, 30, SamplingSettings(logit_bias=push), seed=1)]
    assert sum(token in words.always for token in unfiltered) > 25
    filtered = [s.token for s in generation_steps(model, prompt, 60, SamplingSettings(logit_bias=push, classroom=words),
                                                  seed=1)]
    assert len(filtered) == 60 and not any(words.masked(prompt + filtered))


def test_hide_masks_listed_words_in_shown_text(gpt2):
    words = classroom_filter(gpt2)
    assert words.hide("What the fuck, said the butler; class act.", gpt2) == "What the ▒▒▒, said the butler; class act."
    assert words.hide("Das ist arschloch.", gpt2) == "Das ist ▒▒▒."


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_every_shipped_tokenizer_has_its_filter(name, listed):
    tok = load_tokenizer(name)
    words = classroom_filter(tok)
    assert words.always and words.after
    assert tok.encode(" fuck")[0] in words.always and not set(tok.encode(" class")) & words.always
