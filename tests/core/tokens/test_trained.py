"""A tokenizer trained with core.tokens.bpe, saved as tiktoken's rank file and loaded through tiktoken: the same ids
as core.tokens.bpe.encode, and the file is what tiktoken's own loader reads."""

import json

import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from core import PlaygroundError, load_tokenizer
from core.assets import ASSETS
from core.tokens import bpe
from core.tokens.encodings import BPE_META, BPE_RANKS

CORPORA = ASSETS / "corpora"
SHAKESPEARE = (CORPORA / "tinyshakespeare.txt").read_text()
FAUST = (CORPORA / "goethe-faust-1.txt").read_text()
ODD = ["", "Grüße aus Köln 🤖🎉 日本語", "  multiple   spaces\t\ttabs\n\n", "1234567 3.14159", "'s 've 're'll",
       "<|endoftext|> stays text"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    text = SHAKESPEARE[:300_000] + FAUST[:100_000]
    merges = bpe.train_bpe(text, 800)
    folder = tmp_path_factory.mktemp("tok")
    bpe.build_tokenizer(merges, "bpe-800", trained_on="test text").save(folder)
    return merges, folder


def test_round_trip_gives_the_ids_of_bpe_encode(trained):
    merges, folder = trained
    tok = load_tokenizer(folder)
    assert tok.trained and tok.name == "bpe-800" and tok.n_vocab == 256 + 800 + 1
    assert tok.eot_id == 1056 and tok.merges == [m.pair for m in merges]
    for text in [SHAKESPEARE[-200_000:], FAUST[-60_000:], *ODD]:  # text it never saw, too
        ids = tok.encode(text)
        assert ids == bpe.encode(text, merges)
        assert tok.decode(ids) == text


def test_the_file_is_tiktokens_rank_format(trained):
    """tiktoken's own loader reads bpe.tiktoken with the sha256 from bpe.json, and the encoding built the
    documented way gives our ids."""
    merges, folder = trained
    meta = json.loads((folder / BPE_META).read_text())
    ranks = load_tiktoken_bpe(str(folder / BPE_RANKS), expected_hash=meta["sha256"])
    assert len(ranks) == 256 + 800 and ranks[b"a"] == 97 and ranks[merges[0].token] == 256
    reference = tiktoken.Encoding("ref", pat_str=meta["pattern"], mergeable_ranks=ranks,
                                  special_tokens=meta["special_tokens"])
    text = SHAKESPEARE[500_000:560_000]
    assert reference.encode(text) == load_tokenizer(folder).encode(text) == bpe.encode(text, merges)
    assert load_tokenizer(folder / BPE_RANKS).name == "bpe-800"  # either file's path works too
    assert [m.token for m in bpe.merges_of(load_tokenizer(folder))] == [m.token for m in merges]


def test_damaged_files_are_refused(trained, tmp_path):
    _, folder = trained
    for name in (BPE_META, BPE_RANKS):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    lines = (tmp_path / BPE_RANKS).read_bytes().splitlines(keepends=True)
    (tmp_path / BPE_RANKS).write_bytes(b"".join(lines[:-1]))
    with pytest.raises(PlaygroundError, match="damaged"):
        load_tokenizer(tmp_path)
    (tmp_path / BPE_META).write_text("{not json")
    with pytest.raises(PlaygroundError, match="not a readable tokenizer"):
        load_tokenizer(tmp_path)
    with pytest.raises(PlaygroundError, match="Unknown tokenizer"):
        load_tokenizer(tmp_path / "nowhere")
