"""Checkpoints: our format, Hugging Face's GPT-2 layout both ways, and bad files."""

import json

import pytest
import torch

import core
from core import PlaygroundError, export_hf, load_model, save_checkpoint
from core.model.checkpoints import MODELS_DIR, load_checkpoint


def test_save_load_round_trip(tiny_model, tmp_path):
    save_checkpoint(tiny_model, tmp_path / "ck", card={"note": "test"})
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["card.json", "config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "ck", device="cpu")
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    assert torch.equal(loaded(ids), tiny_model(ids))
    assert loaded.lm_head.weight is loaded.transformer.wte.weight  # still tied
    assert loaded.config == tiny_model.config and not loaded.training


def test_untied_round_trip_and_fp16(tmp_path):
    torch.manual_seed(0)
    model = core.GPT(core.GPTConfig(vocab_size=60, context_length=16, n_layer=1, n_head=2, n_embd=8,
                                    tied_embeddings=False, qkv_bias=False)).eval()
    save_checkpoint(model, tmp_path / "ck", dtype=torch.float16)
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.transformer.wte.weight.dtype == torch.float32
    assert torch.allclose(loaded(torch.tensor([[1, 2]])), model(torch.tensor([[1, 2]])), atol=1e-2)


def test_bundled_model_loads_with_tokenizer_and_card(bundled):
    assert bundled.tokenizer.name == "gpt2" and not bundled.training
    card = json.loads((MODELS_DIR / core.DEFAULT_MODEL / "card.json").read_text())
    for field in ("command", "data_split", "steps", "wall_time_s", "device", "parameters", "train_loss", "val_loss",
                  "sample"):
        assert field in card
    assert card["parameters"] == bundled.num_parameters()
    size = (MODELS_DIR / core.DEFAULT_MODEL / "model.safetensors").stat().st_size
    assert size <= 20 * 1024 * 1024


def test_hf_folder_matches_transformers(hf_folder):
    """Same logits (≤1e-4), attention (≤1e-5) and greedy continuation as transformers itself."""
    transformers = pytest.importorskip("transformers")
    reference = transformers.GPT2LMHeadModel.from_pretrained(hf_folder, attn_implementation="eager").eval()
    ours = load_model(hf_folder, device="cpu")
    ids = torch.tensor([ours.tokenizer.encode("The quick brown fox jumps over the lazy dog, again and again.")])
    with torch.no_grad():
        out = reference(ids, output_attentions=True)
    logits, cache = ours.run_with_cache(ids)
    assert (logits - out.logits).abs().max().item() <= 1e-4
    for layer, attention in enumerate(out.attentions):
        assert (cache["pattern", layer] - attention).abs().max().item() <= 1e-5
    with torch.no_grad():
        theirs = reference.generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=50256)
    assert core.generate(ours, ids, 12, temperature=0).tolist() == theirs.tolist()


def test_export_opens_in_transformers(tiny_model, tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    model = core.GPT(core.GPTConfig(vocab_size=50257, context_length=32, n_layer=2, n_head=2, n_embd=16,
                                    qkv_bias=False)).eval()
    export_hf(model, tmp_path / "hf")
    reference = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ids = torch.tensor([[464, 2068, 7586, 21831]])
    with torch.no_grad():
        assert (reference(ids).logits - model(ids)).abs().max().item() <= 1e-4
    back = load_model(tmp_path / "hf", device="cpu")  # and our loader reads the export
    assert torch.allclose(back(ids), model(ids), atol=1e-5)


def test_bad_inputs(tmp_path, tiny_model):
    with pytest.raises(PlaygroundError, match="Unknown model 'nonsense'"):
        load_model("nonsense")
    folder = tmp_path / "bad"
    save_checkpoint(tiny_model, folder)
    (folder / "model.safetensors").write_bytes(b"this is not safetensors")
    with pytest.raises(PlaygroundError, match="not a valid safetensors"):
        load_model(folder)
    other = tmp_path / "mismatch"
    save_checkpoint(tiny_model, other)
    meta = json.loads((other / "config.json").read_text())
    meta["config"]["n_embd"] = 64
    (other / "config.json").write_text(json.dumps(meta))
    with pytest.raises(PlaygroundError, match="do not match its config"):
        load_model(other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlaygroundError, match="no config.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(PlaygroundError, match="is a file"):
        load_model(other / "config.json")


def test_hub_name_offline_says_so(monkeypatch, tmp_path):
    import urllib.request
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("LLM_PLAYGROUND_CACHE", str(tmp_path))
    with pytest.raises(PlaygroundError, match="offline"):
        load_model("gpt2")


def test_export_keeps_the_tokenizer_and_its_end_of_text(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = core.GPT(core.GPTConfig(vocab_size=100277, context_length=16, n_layer=1, n_head=2, n_embd=16,
                                    tokenizer="cl100k_base")).eval()
    export_hf(model, tmp_path / "hf")
    theirs = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf")
    eot = core.load_tokenizer("cl100k_base").eot_id
    assert theirs.config.eos_token_id == theirs.config.bos_token_id == eot == 100257
    back = load_model(tmp_path / "hf", device="cpu")
    assert back.config.tokenizer == "cl100k_base" and back.tokenizer.eot_id == 100257
    ids = torch.tensor([[eot, 1, 2, 3]])
    with torch.no_grad():
        assert torch.allclose(theirs(ids).logits, model(ids), atol=1e-5)


def test_a_trained_tokenizer_travels_with_checkpoints_and_exports(tmp_path):
    from core.tokens import bpe
    text = (core.assets.ASSETS / "corpora" / "goethe-faust-1.txt").read_text()[:20000]
    tokenizer = bpe.build_tokenizer(bpe.train_bpe(text, 50), "bpe-50")
    torch.manual_seed(0)
    model = core.GPT(core.GPTConfig(vocab_size=tokenizer.n_vocab, context_length=16, n_layer=1, n_head=2, n_embd=16,
                                    tokenizer="bpe-50")).eval()
    model.tokenizer = tokenizer
    core.save_checkpoint(model, tmp_path / "ours")
    ours = load_model(tmp_path / "ours", device="cpu")
    assert ours.tokenizer.merges == tokenizer.merges and ours.tokenizer.encode(text) == tokenizer.encode(text)
    export_hf(ours, tmp_path / "hf")
    back = load_model(tmp_path / "hf", device="cpu")
    assert back.config.tokenizer == "bpe-50" and back.tokenizer.eot_id == tokenizer.eot_id == 306
    (tmp_path / "ours" / "bpe.json").unlink()
    with pytest.raises(PlaygroundError, match="bpe-50"):
        load_model(tmp_path / "ours", device="cpu")
