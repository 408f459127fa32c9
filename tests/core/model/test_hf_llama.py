"""Hugging Face folders of the Llama family: sharded weights streamed in, the size known before loading, limits,
export that transformers opens, our own format, the Hub (online and offline)."""

import io
import json
import shutil
import urllib.error
import urllib.request

import pytest
import torch

import core
from core import PlaygroundError
from core.model import hf_llama
from core.model.llama import Llama, LlamaConfig
from tests.support.llama import reference

transformers = pytest.importorskip("transformers")


def test_sharded_folder_loads_the_same_model(llama_folder, tmp_path):
    sharded = tmp_path / "sharded"
    reference(llama_folder).save_pretrained(sharded, max_shard_size="100KB")
    shutil.copy(llama_folder / "tokenizer.json", sharded)
    shards = sorted(p.name for p in sharded.glob("*.safetensors"))
    assert len(shards) > 2 and (sharded / "model.safetensors.index.json").exists()
    ids = torch.tensor([[1, 40, 50, 60, 70, 80]])
    one, many = core.load_model(llama_folder, device="cpu"), core.load_model(sharded, device="cpu")
    assert torch.equal(one(ids), many(ids))
    assert many.lm_head.weight is not many.model.embed_tokens.weight  # untied stays untied


def test_requirements_are_known_before_loading(llama_folder, monkeypatch):
    need = core.requirements(llama_folder)
    model = core.load_model(llama_folder, device="cpu")
    assert need.parameters == model.num_parameters()
    assert need.memory_bytes == 4 * need.parameters and need.stored_dtype == "F32"
    assert need.file_bytes == (llama_folder / "model.safetensors").stat().st_size
    assert core.requirements("shakespeare").parameters == core.load_model("shakespeare", device="cpu").num_parameters()
    monkeypatch.setenv("LLM_PLAYGROUND_MAX_MODEL_GB", str(need.memory_bytes / 2 / 1e9))
    with pytest.raises(PlaygroundError, match="needs 0.0 GB of memory; this server allows 0.0 GB per model"):
        core.load_model(llama_folder, device="cpu")


def test_weights_are_checked_against_the_config_before_allocation(llama_folder, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    shutil.copytree(llama_folder, bad)
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "intermediate_size": 96}))
    allocated = []
    monkeypatch.setattr(torch.nn.Module, "to_empty", lambda self, **kw: allocated.append(self))
    with pytest.raises(PlaygroundError, match="do not match its config: model.layers.0.mlp.gate_proj.weight has shape"):
        core.load_model(bad, device="cpu")
    assert not allocated
    (bad / "config.json").write_text(json.dumps({**config, "num_local_experts": 8}))
    with pytest.raises(PlaygroundError, match="mixture-of-experts"):
        core.load_model(bad, device="cpu")
    (bad / "config.json").write_text(json.dumps(config))
    (bad / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(PlaygroundError, match="not a valid safetensors file"):
        core.load_model(bad, device="cpu")
    (bad / "tokenizer.json").unlink()
    with pytest.raises(PlaygroundError, match="no tokenizer.json"):
        core.load_model(bad, device="cpu")


def test_bf16_weights_load_as_fp32(llama_folder, tmp_path):
    half = tmp_path / "bf16"
    reference(llama_folder).to(torch.bfloat16).save_pretrained(half)
    shutil.copy(llama_folder / "tokenizer.json", half)
    assert core.requirements(half).stored_dtype == "BF16"
    model = core.load_model(half, device="cpu")
    assert model.token_embedding.dtype == torch.float32
    theirs = reference(half).float()
    ids = torch.tensor([[1, 40, 50, 60]])
    with torch.no_grad():
        assert (model(ids) - theirs(ids).logits).abs().max().item() <= 1e-4


@pytest.mark.parametrize("options", [
    dict(),  # plain Llama: untied, grouped-query
    dict(qkv_bias=True, tied_embeddings=True),  # Qwen2
    dict(qk_norm=True, head_dim=12),  # Qwen3
    dict(o_bias=True, mlp_bias=True, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
])
def test_export_opens_in_transformers_with_equal_logits(options, tmp_path):
    torch.manual_seed(5)
    config = LlamaConfig(**{**dict(vocab_size=120, context_length=64, n_layer=2, n_head=4, n_kv_head=2, n_embd=32,
                                   d_mlp=48, tied_embeddings=False, rope_theta=10000.0), **options})
    model = Llama(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.normal_(0.5, 0.1)
    core.export_hf(model, tmp_path / "hf")
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    assert type(theirs).__name__ == ("Qwen3ForCausalLM" if config.qk_norm else "Qwen2ForCausalLM" if
                                     config.qkv_bias and not config.o_bias else "LlamaForCausalLM")
    ids = torch.randint(0, 120, (2, 30), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (theirs(ids).logits - model(ids)).abs().max().item() <= 1e-4
    back = hf_llama.load_folder(tmp_path / "hf")  # and our loader reads the export
    assert torch.allclose(back(ids), model(ids), atol=1e-5)


def test_our_format_keeps_the_tokenizer(llama_folder, tmp_path):
    model = core.load_model(llama_folder, device="cpu")
    core.save_checkpoint(model, tmp_path / "ours", card={"note": "test"})
    assert {"tokenizer.json", "tokenizer_config.json", "config.json"} <= {p.name for p in (tmp_path / "ours").iterdir()}
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["arch"] == "llama"
    back = core.load_model(tmp_path / "ours", device="cpu")
    ids = torch.tensor([model.tokenizer.encode("the picture")])
    assert back.arch == "llama" and torch.equal(back(ids), model(ids))
    assert back.tokenizer.encode("the picture") == model.tokenizer.encode("the picture")
    assert back.tokenizer.eot_id == model.tokenizer.eot_id


class FakeHub:
    """urlopen against a local folder, recording what was asked for."""

    def __init__(self, folder):
        self.folder, self.asked = folder, []

    def __call__(self, request, timeout=None):
        file = request.full_url.split("/resolve/main/")[1]
        self.asked.append(file)
        path = self.folder / file
        if not path.exists():
            raise urllib.error.HTTPError(request.full_url, 404, "not found", {}, None)
        return _Response(path.read_bytes())


class _Response(io.BytesIO):
    """What urlopen returns, as far as core.model.hub reads it."""

    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_hub_name_downloads_config_tokenizer_and_weights(llama_folder, tmp_path, monkeypatch):
    hub = FakeHub(llama_folder)
    monkeypatch.setattr(urllib.request, "urlopen", hub)
    monkeypatch.setenv("LLM_PLAYGROUND_CACHE", str(tmp_path))
    model = core.load_model("HuggingFaceTB/SmolLM2-135M", device="cpu")
    assert hub.asked[:2] == ["config.json", "tokenizer.json"] and "model.safetensors" in hub.asked
    assert (tmp_path / "HuggingFaceTB" / "SmolLM2-135M" / ".complete").exists()
    local = core.load_model(llama_folder, device="cpu")
    ids = torch.tensor([[1, 40, 50]])
    assert torch.equal(model(ids), local(ids))
    hub.asked.clear()
    core.load_model("HuggingFaceTB/SmolLM2-135M", device="cpu")  # from the cache now
    assert hub.asked == []


def test_hub_refuses_before_downloading_weights(llama_folder, tmp_path, monkeypatch):
    folder = tmp_path / "moe"
    shutil.copytree(llama_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_experts": 8}))
    hub = FakeHub(folder)
    monkeypatch.setattr(urllib.request, "urlopen", hub)
    monkeypatch.setenv("LLM_PLAYGROUND_CACHE", str(tmp_path / "cache"))
    with pytest.raises(PlaygroundError, match="mixture-of-experts"):
        core.load_model("someone/some-moe", device="cpu")
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("LLM_PLAYGROUND_MAX_MODEL_GB", "0.000001")
    with pytest.raises(PlaygroundError, match="this server allows"):
        core.load_model("someone/too-big", device="cpu")
    assert not [f for f in hub.asked if f.endswith(".safetensors")]


def test_hub_name_offline_says_so(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("LLM_PLAYGROUND_CACHE", str(tmp_path))
    with pytest.raises(PlaygroundError, match="'HuggingFaceTB/SmolLM2-135M' must be downloaded .* offline"):
        core.load_model("HuggingFaceTB/SmolLM2-135M")
    assert not list(tmp_path.rglob("*.part"))


def test_index_naming_a_path_outside_the_folder_is_refused(llama_folder, tmp_path):
    folder = tmp_path / "evil"
    shutil.copytree(llama_folder, folder)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"lm_head.weight": "../x.safetensors"}}))
    with pytest.raises(PlaygroundError, match="not a plain .safetensors file name"):
        core.load_model(folder, device="cpu")
