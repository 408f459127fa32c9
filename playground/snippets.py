"""The code behind every view: for each section that shows numbers, a short Python program using `core` alone,
with the page's current settings filled in, that computes exactly what the section shows (the book's listings, live).

One function per view returns the program's text. Every value goes in through repr(), so any text a participant
typed (quotes, newlines, backslashes) stays one Python literal. Each program ends in named results (`ids`, `top`,
`table`, `pattern`, `patterns`, `lines`, `A`, `scores`, `best`, `induction`, `neighbours`, `results`, `candidates`
and `sampled`, `text`, `lens`, `result`, `values`, `norms`, `points`, `similarity`, `positions`, `stats`,
`block_norms`, `likeliest`, `entropy`, `rank`, `dice`, `drawn`, `texts`, `by_temperature`);
tests/app/test_snippets.py executes every one and compares them with what the page computes for the same settings.

Left out: the figures themselves (the programs print numbers; the pictures are the page's). A model loaded from a
folder on the server is named by its path, so that program runs only where the folder is.
"""

from __future__ import annotations

from dataclasses import fields

from core.inference.sampling import SamplingSettings

DEFAULTS = SamplingSettings()


def settings_code(settings: SamplingSettings) -> str:
    """`SamplingSettings(...)` with only the fields that differ from the defaults; the classroom filter is built
    for the program's tokenizer `tok` (see `_settings_imports`)."""
    changed = [f"{f.name}=classroom_filter(tok)" if f.name == "classroom" else f"{f.name}={getattr(settings, f.name)!r}"
               for f in fields(SamplingSettings) if getattr(settings, f.name) != getattr(DEFAULTS, f.name)]
    return f"SamplingSettings({', '.join(changed)})"


def _settings_imports(settings: SamplingSettings) -> str:
    return "from core.inference.classroom import classroom_filter\n" if settings.classroom is not None else ""


def _model(model_key: str) -> str:
    return f"model = core.load_model({model_key!r})\ntok = model.tokenizer\n"


def _run(model_key: str, text: str, limit: int, imports: str = "") -> str:
    """The analysis pages' start: the model, the text's ids (as many as the page reads) and one run that captures
    every activation; `imports`: lines after `import core`."""
    return ("import core\n" + imports + "\n" + _model(model_key) + f"ids = tok.encode({text!r})[:{limit!r}]\n"
            "logits, cache = model.run_with_cache([ids])\n")


def _entry(name: str, layer: int | None) -> tuple[str, str]:
    """The key of a captured activation and the expression that reads it for the one text ([token, ...])."""
    return (repr(name), f"cache[{name!r}][0]") if layer is None else (repr((name, layer)), f"cache[{name!r}, {layer!r}][0]")


def _logits(model_key: str, prompt: str, imports: str) -> str:
    """The prompt's ids and the model's scores for the next token (`imports`: lines after the others)."""
    return ("import torch\n\nimport core\nfrom core.inference.generate import prepare_prompt\n" + imports + "\n" +
            _model(model_key) + f"ids, _ = prepare_prompt(tok, {prompt!r}, model.config.context_length)\n"
            "with torch.no_grad():\n"
            "    logits = model(torch.tensor([ids]))[0, -1].float()  # one score per token of the vocabulary\n")


def _pipeline(model_key: str, prompt: str, settings: SamplingSettings, also: tuple[str, ...] = ()) -> str:
    """The prompt's next-token distribution `final` after the sampling pipeline with these settings (`also`: more
    names from core.inference.sampling)."""
    names = ", ".join(("SamplingSettings", "distribution_from_stages", "pipeline_stages", *also))
    return (_logits(model_key, prompt, f"from core.inference.sampling import {names}\n" + _settings_imports(settings)) +
            f"settings = {settings_code(settings)}\n"
            "stages = pipeline_stages(logits, settings, ids)  # bias, penalties, temperature, top-k, top-p, min-p\n"
            "final = distribution_from_stages(stages, settings)\n")


def _dice(probs: str, n: int, seed: int, throw_seed: int, sides: int) -> str:
    """n throws of the die `probs` with this seed, each side's share of them, and one throw with its own seed."""
    return (f"generator = torch.Generator().manual_seed({seed!r})\n"
            f"counts = torch.bincount(torch.multinomial({probs}, {n!r}, replacement=True, generator=generator),\n"
            f"                        minlength=len({probs}))\n"
            f"sides = [i for i in torch.argsort({probs}, descending=True)[:{sides!r}].tolist() if {probs}[i] > 0]\n"
            f"dice = [(tok.token_text(i), float({probs}[i]), int(counts[i]) / {n!r}) for i in sides]  # p, share of throws\n"
            f"drawn = sample({probs}, torch.Generator().manual_seed({throw_seed!r}))  # one throw\n"
            "for token, p, share in dice:\n"
            "    print(f'{token!r:>16} {p:.4f} {share:.4f}')\n"
            "print('one throw:', repr(tok.token_text(drawn)))\n")


def tokens(text: str, encoding: str, allow_special: bool) -> str:
    """Tokens: the text's ids in one encoding."""
    return (f"from core import load_tokenizer\n\n"
            f"tok = load_tokenizer({encoding!r})\n"
            f"text = {text!r}\n"
            f"ids = tok.encode(text, allow_special={allow_special!r})\n"
            f"print(len(ids), 'tokens:', ids)\n"
            f"print([tok.token_text(i) for i in ids])\n")


def sampling(model_key: str, prompt: str, settings: SamplingSettings, shown: int) -> str:
    """Logits & sampling: the next-token distribution after every stage of the pipeline, its top tokens."""
    return (_pipeline(model_key, prompt, settings) +
            f"top = [(tok.token_text(i), float(final[i])) for i in torch.argsort(final, descending=True)[:{shown!r}].tolist()\n"
            "       if final[i] > 0]  # the most likely tokens after the pipeline\n"
            "for token, p in top:\n"
            "    print(f'{token!r:>16} {p:.4f}')\n")


def attention(model_key: str, text: str, limit: int, layer: int, head: int) -> str:
    """Attention: one head's pattern on the text (rows: queries, columns: keys)."""
    return (_run(model_key, text, limit) +
            f"pattern = cache['pattern', {layer!r}][0, {head!r}]  # [query, key]\n"
            "print([tok.token_text(i) for i in ids])\n"
            "print(pattern.numpy().round(3))\n")


def attention_grid(model_key: str, text: str, limit: int) -> str:
    """Attention, all heads: every layer's and head's pattern on the text, stacked."""
    return (_run(model_key, text, limit) +
            "patterns = cache.stack('pattern')[:, 0]  # [layer, head, query, key]\n"
            "for layer, heads in enumerate(patterns):  # where each head's last query looks most\n"
            "    print(layer, [tok.token_text(ids[int(p[-1].argmax())]) for p in heads])\n")


def attention_lines(model_key: str, text: str, limit: int, layer: int, heads: list[int], threshold: float,
                    shown: int) -> str:
    """Attention as lines: each (head, query, key, weight) of the first tokens drawn, the weight at least the
    threshold."""
    return (_run(model_key, text, limit) +
            f"pattern = cache['pattern', {layer!r}][0]  # [head, query, key]\n"
            f"n = min(len(ids), {shown!r})  # the lines of the first tokens only\n"
            f"lines = [(h, q, k, float(pattern[h, q, k])) for h in {heads!r} for q in range(n) for k in range(q + 1)\n"
            f"         if pattern[h, q, k] >= {threshold!r}]\n"
            "for h, q, k, w in lines:\n"
            "    print(f'head {h}: {tok.token_text(ids[q])!r} -> {tok.token_text(ids[k])!r} {w:.3f}')\n")


def attention_steps(model_key: str, ids: list[int], layer: int, head: int) -> str:
    """Attention step by step: one head by hand from the block's normed input, as the page's matrices show it."""
    return ("import math\n\nimport torch\n\nimport core\nfrom core.analysis.attention import head_weights\n\n"
            + _model(model_key) +
            f"ids = {ids!r}\n"
            "logits, cache = model.run_with_cache([ids])\n"
            f"layer, head, T = {layer!r}, {head!r}, len(ids)\n"
            "X = cache['ln1', layer][0]  # the block's input after its first norm [token, d_model]\n"
            "# this head's columns of W_Q, W_K, W_V and their biases (detached: we only look, no gradients)\n"
            "w = {name: value.detach() for name, value in head_weights(model, layer, head).items()}\n"
            "Q, K, V = X @ w['W_Q'] + w['b_Q'], X @ w['W_K'] + w['b_K'], X @ w['W_V'] + w['b_V']\n"
            "Q, K = model.rotate_qk(layer, Q, K, torch.arange(T))  # Llama: rotated by position; GPT-2: unchanged\n"
            "S = Q @ K.T / math.sqrt(model.config.d_head)\n"
            "S = S.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), float('-inf'))  # no peeking\n"
            "A = torch.softmax(S, dim=-1)  # each row sums to 1\n"
            "Z = A @ V  # what this head writes, before W_O\n"
            "print(A.numpy().round(3))\n")


def head_kinds(model_key: str, text: str, limit: int) -> str:
    """What heads do: the four scores of every head, and the strongest head of each."""
    return (_run(model_key, text, limit, "from core.analysis.attention import head_scores, strongest_heads\n") +
            "scores = head_scores(model, cache)  # [layer, head]: previous, first, same token; induction on a repeat\n"
            "best = strongest_heads(scores)\n"
            "for name, (layer, head, score) in best.items():\n"
            "    print(f'{name:>15}: layer {layer} head {head} ({score:.2f})')\n")


def induction_text(model_key: str, passage: str, limit: int) -> str:
    """What heads do, on your passage: attention from each repeated token to the token after its earlier copy."""
    return (_run(model_key, passage, limit, "from core.analysis.attention import strongest_heads, "
                                          "text_induction_scores\n") +
            "on_text = text_induction_scores(cache.stack('pattern')[:, 0], ids)  # [layer, head]\n"
            "induction = strongest_heads({'induction': on_text})['induction']\n"
            "print('layer {} head {}: {:.2f}'.format(*induction))\n")


def neighbours(model_key: str, word: str, k: int = 10) -> str:
    """Embeddings: the tokens whose embedding rows point most nearly the same way (cosine similarity)."""
    return ("import core\nfrom core.analysis.vectors import nearest, single_token\n\n" + _model(model_key) +
            "wte = model.token_embedding.detach().cpu()  # one row per token\n"
            f"token_id = single_token(tok, {word!r})\n"
            f"found = nearest(wte, wte[token_id], tok, {k + 1!r}, exclude=(token_id,))\n"
            f"neighbours = [(n.text, n.token_id, round(n.score, 4)) for n in found[:{k!r}]]\n"
            "for text, token_id, cosine in neighbours:\n"
            "    print(f'{text!r:>16} {token_id:>6} {cosine:.4f}')\n")


def generation(model_key: str, prompt: str, settings: SamplingSettings, seed: int | None, max_new: int,
               stops: list[str]) -> str:
    """Generation: a full run with these settings and this seed (the same text every time; without a seed, a new
    text every run, as on the page)."""
    code = ("import core\nfrom core import SamplingSettings\nfrom core.inference.generate import prepare_prompt\n"
            + _settings_imports(settings) + "\n" + _model(model_key) +
            f"prompt = {prompt!r}\n"
            "ids, _ = prepare_prompt(tok, prompt, model.config.context_length)\n"
            f"out = core.generate(model, ids, {max_new!r}, settings={settings_code(settings)}, seed={seed!r},\n"
            "                    stop_ids={tok.eot_id})" + ("  # no seed: a new text every run\n" if seed is None else "\n") +
            "new = tok.decode(out[len(ids):])\n")
    if stops:
        code += ("# token by token, as the page streams: the text ends before the first stop sequence seen\n"
                 "for k in range(1, len(out) - len(ids) + 1):\n"
                 "    so_far = tok.decode(out[len(ids):len(ids) + k])\n"
                 f"    hit = next((s for s in {stops!r} if s in so_far), None)\n"
                 "    if hit:\n"
                 "        new = so_far[:so_far.index(hit)]\n"
                 "        break\n")
    return code + "text = prompt + new\nprint(text)\n"


def logit_lens(model_key: str, text: str, limit: int) -> str:
    """Anatomy: the logit lens, each block's residual stream read out as the next token (top token, its p)."""
    return (_run(model_key, text, limit, "from core.analysis.anatomy import logit_lens\n") +
            "top_ids, top_probs, final_prob = logit_lens(model, cache)  # [block, position, 1]\n"
            "lens = [[(tok.token_text(int(i)), round(float(p), 4)) for i, p in zip(ids_, probs_)]\n"
            "        for ids_, probs_ in zip(top_ids[..., 0], top_probs[..., 0])]\n"
            "for block, row in enumerate(lens):\n"
            "    print(block, row)\n")


def experiment(model_key: str, kind: str, limit: int, clean: str, target: str, distractor: str, *, corrupted: str = "",
               ablation: str = "zero", reference: str = "", reference_limit: int = 256, minus: bool = False) -> str:
    """Experiments: the chosen analysis (knock out heads, patch activations, or split a logit)."""
    code = ("import core\nfrom core.analysis import interventions\nfrom core.analysis.vectors import single_token\n\n"
            + _model(model_key) +
            f"ids = tok.encode({clean!r})[:{limit!r}]\n"
            f"target = single_token(tok, {target!r})\n")
    if kind == "ablation":
        code += f"reference = tok.encode({reference!r})[:{reference_limit!r}]\n" if ablation == "mean" else "reference = ids\n"
        code += (f"result = interventions.ablate_heads(model, ids, target, {ablation!r}, reference)\n"
                 "print('log p(target):', result.base)\n"
                 "print('change when one head is knocked out [layer, head]:')\nprint(result.change)\n")
    elif kind == "patching":
        code += (f"distractor = single_token(tok, {distractor!r})\n"
                 f"corrupted = tok.encode({corrupted!r})[:{limit!r}]\n"
                 "result = {'resid': interventions.patch_residual(model, ids, corrupted, target, distractor),\n"
                 "          'heads': interventions.patch_heads(model, ids, corrupted, target, distractor)}\n"
                 "print('clean, corrupted:', result['resid'].clean, result['resid'].corrupted)\n"
                 "print('restored [layer, position]:')\nprint(result['resid'].restored)\n"
                 "print('restored [layer, head]:')\nprint(result['heads'].restored)\n")
    else:
        code += (f"distractor = single_token(tok, {distractor!r})\n" if minus else "distractor = None\n")
        code += ("result = interventions.direct_logit_attribution(model, ids, target, distractor)\n"
                 "print('logit:', result.logit, ' sum of the parts:', result.total)\n"
                 "print('heads [layer, head]:')\nprint(result.heads)\nprint('MLPs:', result.mlps, result.other)\n")
    return code


def next_token(model_key: str, text: str, limit: int, shown: int = 10) -> str:
    """Tour (logits, softmax): the scores of the next token after the sentence and their probabilities."""
    return ("import torch\n\n" + _run(model_key, text, limit, "from core.inference.sampling import softmax\n") +
            "last = logits[0, -1].float()  # one score (logit) per token of the vocabulary\n"
            "probs = softmax(last).float()  # p_i = exp(z_i) / sum_j exp(z_j), summed in float64\n"
            f"top = [(tok.token_text(i), float(last[i]), float(probs[i]))\n"
            f"       for i in torch.argsort(probs, descending=True)[:{shown!r}].tolist()]\n"
            "for token, logit, p in top:\n"
            "    print(f'{token!r:>16} {logit:8.3f} {p:.4f}')\n")


def temperature_table(raw_logits: str, temperatures: list[float]) -> str:
    """Logits & sampling by hand: softmax(z / T) of a small logit vector for each temperature (rows: T)."""
    return ("from core.inference.sampling import parse_logits, softmax\n\n"
            f"z = parse_logits({raw_logits!r})\n"
            f"table = [softmax(z, T).tolist() for T in {list(temperatures)!r}]  # softmax(z / T), in float64\n"
            f"for T, row in zip({list(temperatures)!r}, table):\n"
            "    print(f'T = {T:g}:', [f'{p:.3g}' for p in row])\n")


def analogy(model_key: str, a: str, b: str, c: str) -> str:
    """Embeddings: the tokens nearest to vec(a) − vec(b) + vec(c), the three themselves left out."""
    return ("import core\nfrom core.analysis.vectors import analogy\n\n" + _model(model_key) +
            "wte = model.token_embedding.detach().cpu()\n"
            f"results = [(n.text, round(n.score, 4)) for n in analogy(wte, tok, {a!r}, {b!r}, {c!r})]\n"
            "for text, cosine in results:\n"
            "    print(f'{text!r:>16} {cosine:.4f}')\n")


def step(model_key: str, ids: list[int], settings: SamplingSettings, draw: int, shown: int = 8) -> str:
    """Generation, step by step: the next token's distribution after the pipeline, and the token the die picks."""
    return ("import torch\n\nimport core\nfrom core import SamplingSettings\n"
            "from core.inference.sampling import next_token_distribution, sample\n" + _settings_imports(settings) +
            "\n" + _model(model_key) +
            f"ids = {list(ids)!r}  # the prompt and the tokens chosen so far\n"
            "with torch.no_grad():\n"
            "    logits = model(torch.tensor([ids]))[0, -1].float()\n"
            f"probs = next_token_distribution(logits, {settings_code(settings)}, ids)\n"
            f"sampled = sample(probs, torch.Generator().manual_seed({draw!r}))  # this step's die\n"
            f"candidates = [(tok.token_text(i), float(probs[i])) for i in torch.argsort(probs, descending=True)[:{shown!r}]"
            ".tolist()\n              if probs[i] > 0]\n"
            "print('sampled:', repr(tok.token_text(sampled)), float(probs[sampled]))\n"
            "print(candidates)\n")


def activations(model_key: str, text: str, limit: int, names: list[tuple[str, int | None]], columns: int | None = None,
                imports: str = "") -> str:
    """Embeddings, Anatomy, Tour: the captured activations a view draws, cache[name, layer] of the text's run
    (rows: tokens; `columns`: only the first ones, as drawn)."""
    cut = f"[:, :{columns!r}]" if columns is not None else ""
    entries = ",\n          ".join(f"{key}: {read}{cut}" for key, read in (_entry(name, layer) for name, layer in names))
    return (_run(model_key, text, limit, imports) +
            f"values = {{{entries}}}" + (f"  # the first {columns} columns, as drawn\n" if cut else "\n") +
            "print([tok.token_text(i) for i in ids], ids)\n"
            "for key, value in values.items():\n"
            "    print(key, tuple(value.shape))\n"
            "    print(value.numpy().round(3))\n")


def embedding_vectors(model_key: str, text: str, limit: int, n_dims: int, positions: bool) -> str:
    """Embeddings (vectors): each token's row of the embedding matrix, its position's (models with learned
    positions) and their sum that block 0 reads, as far as shown; the length of each whole vector."""
    names = [("embed", None), ("pos_embed", None), ("resid_pre", 0)] if positions else [("embed", None)]
    return (activations(model_key, text, limit, names, n_dims) +
            "norms = {key: cache[key][0].norm(dim=-1) for key in values}  # each whole vector's length\n"
            "print(norms)\n")


def projection(model_key: str, text: str, limit: int, corpus: str, n_frequent: int, dims: int) -> str:
    """Embeddings (projection): the text's tokens and a corpus's most frequent ones, their embedding rows projected
    onto the principal components (coordinates, share of the variance each component explains)."""
    return ("import core\nfrom core.analysis.vectors import frequent_tokens, pca\nfrom core.training.data import load_corpus\n\n"
            + _model(model_key) +
            "wte = model.token_embedding.detach().cpu()\n"
            f"ids = list(dict.fromkeys(tok.encode({text!r})[:{limit!r}]))  # each token of the text once\n"
            f"frequent = frequent_tokens(tok.encode(load_corpus({corpus!r})), {n_frequent!r})\n"
            "point_ids = ids + [i for i in frequent if i < model.config.vocab_size and i not in ids]\n"
            f"coords, explained = pca(wte[point_ids], {dims!r})\n"
            "points = [(tok.token_text(i), xy) for i, xy in zip(point_ids, coords.tolist())]\n"
            "print('explained variance:', explained.tolist())\n"
            "for token, xy in points:\n"
            "    print(f'{token!r:>16}', [round(v, 3) for v in xy])\n")


def similarity(model_key: str, text: str, limit: int, layer: int) -> str:
    """Embeddings (similarity): how alike the tokens' vectors are (cosine), as embedded and after a block."""
    entries = ", ".join(f"{key}: cosine_matrix({read})" for key, read in (_entry("embed", None), _entry("resid_post", layer)))
    return (_run(model_key, text, limit, "from core.analysis.vectors import cosine_matrix\n") +
            f"similarity = {{{entries}}}  # [token, token]\n"
            "for key, value in similarity.items():\n"
            "    print(key)\n"
            "    print(value.numpy().round(2))\n")


def positions(model_key: str, n_positions: int) -> str:
    """Embeddings (positions, learned ones): the first position vectors, the sinusoidal ones of the same width for
    comparison, and how alike the positions are (cosine)."""
    return ("import core\nfrom core.analysis.vectors import cosine_matrix, sinusoidal_positions\n\n" + _model(model_key) +
            f"positions = {{'learned': model.position_embedding.detach().cpu()[:{n_positions!r}],\n"
            f"             'sinusoidal': sinusoidal_positions({n_positions!r}, model.config.n_embd)}}  # [position, d]\n"
            "similarity = {name: cosine_matrix(matrix) for name, matrix in positions.items()}  # [position, position]\n"
            "for name, value in similarity.items():\n"
            "    print(name)\n"
            "    print(value.numpy().round(2))\n")


def layernorm_stage(model_key: str, text: str, limit: int, before: tuple[str, int | None], after: tuple[str, int | None]
                    ) -> str:
    """Anatomy (a LayerNorm): each token's mean and variance before and after normalising, and the output."""
    return (activations(model_key, text, limit, [after], imports="from core.analysis.anatomy import layernorm_stats\n") +
            f"stats = layernorm_stats({_entry(*before)[1]})  # per token, before and after (x − μ) / σ\n"
            "print(stats)\n")


def rmsnorm_stage(model_key: str, text: str, limit: int, before: tuple[str, int | None], after: tuple[str, int | None]
                  ) -> str:
    """Anatomy (an RMSNorm, Llama family): each token's root mean square before and after normalising, the output."""
    return (activations(model_key, text, limit, [after], imports="from core.analysis.anatomy import rmsnorm_stats\n") +
            f"stats = rmsnorm_stats({_entry(*before)[1]}, model.config.norm_eps)  # per token: x / RMS(x)\n"
            "print(stats)\n")


def residual_stage(model_key: str, text: str, limit: int, layer: int) -> str:
    """Anatomy (a residual addition): the stream before and after one block, and in every block the average length
    of what it reads and what attention and the MLP add to it."""
    return (activations(model_key, text, limit, [("resid_pre", layer), ("resid_post", layer)]) +
            "block_norms = {name: [float(cache[name, block][0].norm(dim=-1).mean()) for block in range(model.config.n_layer)]\n"
            "               for name in ('resid_pre', 'attn_out', 'mlp_out')}\n"
            "print(block_norms)\n")


def dice(model_key: str, prompt: str, settings: SamplingSettings, n: int, seed: int) -> str:
    """Logits & sampling (the dice): n throws of the die the pipeline made, and one throw with the same seed."""
    return _pipeline(model_key, prompt, settings, ("sample",)) + _dice("final", n, seed, seed, 12)


def tour_dice(model_key: str, text: str, limit: int, classroom: bool) -> str:
    """Tour (sampling): 1000 throws of the model's die (softmax at T = 1, only the classroom filter), one throw."""
    imports = ("from core.inference.classroom import classroom_filter\n" if classroom else "") + (
        "from core.inference.sampling import apply_classroom_filter, sample\n")
    return ("import torch\n\n" + _run(model_key, text, limit, imports) +
            f"banned = {'classroom_filter(tok)' if classroom else 'None'}  # the classroom filter\n"
            "probs = torch.softmax(apply_classroom_filter(logits[0, -1].float(), banned, ids), -1)\n"
            + _dice("probs", 1000, 0, 1, 10))


def temperatures(model_key: str, text: str, limit: int, temps: list[float]) -> str:
    """Tour (temperature): the five likeliest tokens' probabilities at each temperature (softmax over the whole
    vocabulary)."""
    return ("import torch\n\n" + _run(model_key, text, limit, "from core.inference.sampling import softmax\n") +
            "last = logits[0, -1].float()\n"
            "five = torch.argsort(softmax(last).float(), descending=True)[:5].tolist()  # the likeliest at T = 1\n"
            "by_temperature = {T: [(tok.token_text(i), float(last[i]), p)  # (token, logit, p)\n"
            "                      for i, p in zip(five, softmax(last, T)[five].tolist())]\n"
            f"                  for T in {list(temps)!r}}}\n"
            "for T, row in by_temperature.items():\n"
            "    print(f'T = {T:g}:', row)\n")


def token_ids(model_key: str, text: str, limit: int) -> str:
    """Tour (tokens): the sentence's ids in the model's tokenizer."""
    return ("import core\n\n" + _model(model_key) + f"ids = tok.encode({text!r})[:{limit!r}]\n"
            "print(ids)\nprint([tok.token_text(i) for i in ids])\n")


def compare(model_key: str, prompt: str, strategies: dict[str, SamplingSettings], seed: int | None, n: int) -> str:
    """Generation (compare): the text each strategy writes from the prompt with the same seed."""
    classroom = any(s.classroom is not None for s in strategies.values())
    entries = ",\n              ".join(f"{name!r}: {settings_code(s)}" for name, s in strategies.items())
    return ("import core\nfrom core import SamplingSettings\nfrom core.inference.generate import prepare_prompt\n"
            + ("from core.inference.classroom import classroom_filter\n" if classroom else "") + "\n" + _model(model_key) +
            f"prompt = {prompt!r}\n"
            "ids, _ = prepare_prompt(tok, prompt, model.config.context_length)\n"
            f"strategies = {{{entries}}}\n"
            "texts = {}\n"
            "for name, settings in strategies.items():\n"
            f"    out = core.generate(model, ids, {n!r}, settings=settings, seed={seed!r}, stop_ids={{tok.eot_id}})"
            + ("  # no seed: new texts every run\n" if seed is None else "\n") +
            "    texts[name] = prompt + tok.decode(out[len(ids):])\n"
            "    print(f'--- {name}')\n    print(texts[name])\n")


def distribution(model_key: str, prompt: str, shown: int, asked: str) -> str:
    """Logits & sampling (the model's distribution): the likeliest next tokens, the entropy, one token's rank."""
    return (_logits(model_key, prompt, "from core.analysis.vectors import single_token\n"
                                       "from core.inference.sampling import entropy_bits\n") +
            "probs = torch.softmax(logits, -1)  # before any sampling setting\n"
            f"likeliest = [(tok.token_text(i), float(logits[i]), float(probs[i]))\n"
            f"             for i in torch.argsort(probs, descending=True)[:{shown!r}].tolist()]\n"
            "entropy = entropy_bits(probs)  # bits\n"
            f"asked = single_token(tok, {asked!r})\n"
            "rank = int((probs > probs[asked]).sum()) + 1  # 1: the likeliest\n"
            "for token, logit, p in likeliest:\n"
            "    print(f'{token!r:>16} {logit:8.3f} {p:.4f}')\n"
            "print('entropy:', entropy, 'bits;', repr(tok.token_text(asked)), 'has rank', rank, 'of', len(probs))\n")


def rope(model_key: str, text: str, limit: int, layer: int, head: int, pair: int, token: int, key_token: int,
         positions: int, distances: int) -> str:
    """Embeddings (rotary positions, Llama family): each pair's wavelength, one pair of a real query turning with
    the position, and the score of a real query and key at every distance."""
    return (_run(model_key, text, limit, "from core.analysis.rotary import pair_frequencies, pair_path, "
                                         "scores_by_distance\n") +
            f"layer, head, pair, token, key_token = {layer!r}, {head!r}, {pair!r}, {token!r}, {key_token!r}\n"
            "q = cache['q', layer][0, head, token]  # the query before its rotation\n"
            "k = cache['k', layer][0, model.kv_head(head), key_token]  # the key of its key/value head\n"
            "rope = {'wavelength': pair_frequencies(model.config)['wavelength'],  # tokens per full turn, each pair\n"
            f"        'path': pair_path(model, layer, q, pair, {positions!r}),  # [position, 2]: the pair turning\n"
            f"        'by_distance': scores_by_distance(model, layer, q, k, {distances!r})}}  # q·k/√d at each distance\n"
            "print(rope)\n")
