"""Finetuning: data and splits, prompt masking positions, the classifier head, LoRA, tiny runs end to end."""

import json
import shlex

import pytest
import torch

from core import PlaygroundError, load_model, load_tokenizer
from core.model.lora import apply_lora, lora_parameter_count, merge_lora
from core.training.finetune import (
    FinetuneConfig,
    GPTClassifier,
    classify,
    finetune,
    load_classifier,
    set_trainable,
)
from core.training.finetune_data import (
    IGNORE,
    balanced_split,
    collate_instructions,
    format_prompt,
    instruction_example,
    load_instructions,
    load_sms,
    read_instructions,
    read_labelled_table,
    split_instructions,
)
from core.training.runfolder import RunFolder


def test_sms_data_and_balanced_split():
    rows, classes = load_sms()
    assert len(rows) == 5574 and classes == ["ham", "spam"]
    assert sum(r.label for r in rows) == 747
    train, val, test = balanced_split(rows, seed=123)
    assert (len(train), len(val), len(test)) == (1045, 149, 300)
    assert sum(r.label for r in train + val + test) == 747  # as many spam as ham
    assert balanced_split(rows, seed=123)[0][0].text == train[0].text  # seeded


def test_other_columns_mapped_or_refused():
    rows, classes = read_labelled_table(b"v1,v2\nham,hello\nspam,win money\n", "x.csv")
    assert classes == ["ham", "spam"] and rows[1].text == "win money"
    with pytest.raises(PlaygroundError, match="needs a label column"):
        read_labelled_table(b"a,b\n1,2\n", "x.csv")
    with pytest.raises(PlaygroundError, match="only one class"):
        read_labelled_table(b"label\ttext\nham\thi\nham\tyo\n", "x.tsv")
    with pytest.raises(PlaygroundError, match="empty"):
        read_labelled_table(b"", "x.tsv")
    assert read_instructions(b'[{"prompt": "Say hi", "response": "hi"}]')[0] == {"instruction": "Say hi",
                                                                                 "input": "", "output": "hi"}
    with pytest.raises(PlaygroundError, match="needs an instruction and an output"):
        read_instructions(b'[{"question": "x"}]')
    with pytest.raises(PlaygroundError, match="not valid JSON"):
        read_instructions(b"[{")


def test_instruction_split_and_template():
    records = load_instructions()
    train, val, test = split_instructions(records)
    assert (len(train), len(val), len(test)) == (935, 55, 110)
    assert format_prompt("Do X", "Y").endswith("### Instruction:\nDo X\n\n### Input:\nY\n\n### Response:\n")
    assert "### Input" not in format_prompt("Do X")


def test_prompt_masking_exact_positions():
    tok = load_tokenizer("gpt2")
    record = {"instruction": "Say hi.", "input": "", "output": "Hi there."}
    prompt = tok.encode(format_prompt("Say hi."))
    response = tok.encode("Hi there.") + [tok.eot_id]
    ids, targets, truncated = instruction_example(tok, record, 256)
    assert ids == (prompt + response)[:-1] and not truncated
    assert targets[:len(prompt) - 1] == [IGNORE] * (len(prompt) - 1)  # no loss on the prompt
    assert targets[len(prompt) - 1:] == response  # loss on every response token, the end-of-text included
    x, y = collate_instructions([(ids, targets), (ids[:5], targets[:5])], tok.eot_id)
    assert x.shape == (2, len(ids)) and (y[1, 5:] == IGNORE).all() and (x[1, 5:] == tok.eot_id).all()
    _, _, cut = instruction_example(tok, record, 10)
    assert cut


def test_classifier_head_shapes_and_last_token(tiny_model):
    clf = GPTClassifier(tiny_model, 3)
    ids = torch.tensor([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    out = clf(ids, torch.tensor([3, 5]))
    assert out.shape == (2, 3)
    alone = clf(torch.tensor([[1, 2, 3]]), torch.tensor([3]))  # padding after the last token changes nothing
    assert torch.allclose(out[0], alone[0], atol=1e-5)


def test_trainable_parts(tiny_model):
    clf = GPTClassifier(tiny_model, 2)
    n = set_trainable(clf, tiny_model, "last block + head", 8, 16)
    block = sum(p.numel() for p in tiny_model.transformer.h[-1].parameters())
    ln_f = sum(p.numel() for p in tiny_model.transformer.ln_f.parameters())
    assert n == block + ln_f + 32 * 2 + 2


def test_lora_parameter_count_and_merge(tiny_model, tiny_config):
    ids = torch.tensor([[1, 2, 3, 4]])
    expected = lora_parameter_count(tiny_model, 4)
    d, L = tiny_config.n_embd, tiny_config.n_layer
    assert expected == L * 4 * ((d + 3 * d) + (d + d) + (d + 4 * d) + (4 * d + d))
    trainable = apply_lora(tiny_model, rank=4, alpha=8)
    assert trainable == expected
    with torch.no_grad():
        for name, p in tiny_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)  # pretend training moved the adapters
        with_adapters = tiny_model(ids)
        merged = merge_lora(tiny_model)(ids)
    assert torch.allclose(with_adapters, merged, atol=1e-5)
    assert not any("lora" in n for n, _ in tiny_model.named_parameters())


def test_tiny_classification_finetune_end_to_end(tmp_path):
    data = tmp_path / "data.tsv"
    lines = ["label\ttext"] + [f"ham\tsee you at lunch {i}" for i in range(30)] + \
            [f"spam\tWIN a FREE prize now call {i}" for i in range(30)]
    data.write_text("\n".join(lines))
    cfg = FinetuneConfig(task="classify", out_dir=str(tmp_path / "run"), data=str(data), epochs=1, batch_size=8,
                         eval_interval=3, log_interval=4, trainable="lora", lora_rank=2, device="cpu")
    status = finetune(cfg)
    assert status["state"] == "finished", status
    train_rows = RunFolder(tmp_path / "run", write=False).read_metrics("train")
    assert train_rows[-1]["step"] == status["steps"] == 6  # 42 examples in batches of 8: progress reaches the end
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["split"] == {"train": 42, "val": 6, "test": 12} and len(results["confusion"]) == 2
    clf, labels = load_classifier(tmp_path / "run" / "best")
    probs = classify(clf, load_tokenizer("gpt2"), "hello")
    assert labels == ["ham", "spam"] and sum(probs) == pytest.approx(1.0)


def test_tiny_instruction_finetune_end_to_end(tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"instruction": f"Repeat {i}", "input": "", "output": f"{i}"} for i in range(40)]))
    cfg = FinetuneConfig(task="instruct", out_dir=str(tmp_path / "run"), data=str(data), epochs=1, batch_size=8,
                         eval_interval=2, log_interval=1, device="cpu", max_tokens=64)
    cfg.trainable = "last block + head"
    status = finetune(cfg)
    assert status["state"] == "finished", status
    card = json.loads((tmp_path / "run" / "best" / "card.json").read_text())
    assert card["steps"] == 5 and 0 < card["step"] <= 5 and card["wall_time_s"] > 0  # real counts and times
    argv = shlex.split(card["command"])  # a shell runs it as is: the choice with spaces stays one argument
    assert argv[:3] == ["python", "-m", "core.finetune"] and argv[argv.index("--trainable") + 1] == "last block + head"
    assert "--steps" not in argv  # derived from epochs and batch size, not a setting
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results["examples"]) == 4 and 0 <= results["mean_fuzzy"] <= 1  # the 10% test split of 40


def test_lora_finetune_of_a_llama_keeps_its_tokenizer(tmp_path, llama_folder):
    pytest.importorskip("transformers")
    data = tmp_path / "data.tsv"
    data.write_text("\n".join(["label\ttext"] + [f"ham\tsee you at lunch {i}" for i in range(20)] +
                              [f"spam\tWIN a FREE prize now call {i}" for i in range(20)]))
    cfg = FinetuneConfig(task="classify", init_from=str(llama_folder), out_dir=str(tmp_path / "run"), data=str(data),
                         epochs=1, batch_size=8, eval_interval=2, log_interval=1, trainable="lora", lora_rank=2,
                         device="cpu")
    status = finetune(cfg)
    assert status["state"] == "finished", status
    clf, labels = load_classifier(tmp_path / "run" / "best")
    assert clf.backbone.arch == "llama" and not any("lora" in n for n, _ in clf.backbone.named_parameters())
    tokenizer = load_model(tmp_path / "run" / "best", device="cpu").tokenizer
    assert tokenizer.encode("hello there") == load_model(llama_folder, device="cpu").tokenizer.encode("hello there")
    assert sum(classify(clf, tokenizer, "WIN a prize")) == pytest.approx(1.0)
