"""Every page with a Llama-family model as the session's model (a random-weight folder written by transformers),
in English and German: no exception, and the views only this family has: rotary positions (Embeddings), the
groups of grouped-query attention and the rotation in the step-by-step head (Attention), RMSNorm, rotary and
SwiGLU stages (Anatomy), its own tokenizer beside the tiktoken ones (Tokens), LoRA on its seven projections
(Finetuning)."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.analysis.anatomy import stages
from core.inference.generate import prepare_prompt
from core.model.families import count_parameters
from playground import keys
from playground.navigation import PAGE_NAMES, VIEWS
from tests.support.app import assert_clean, open_page

pytest.importorskip("transformers")


@pytest.fixture
def open_with(monkeypatch):
    """open_with(folder, url, lang, view): the app at one page (and view), the folder chosen as the session's
    model. The language is the server's default, so the test's own reading of widget labels (format_func) is in
    it too."""
    def open_in(folder, url: str, lang: str = "en", view: str | None = None) -> AppTest:
        monkeypatch.setenv("LLM_PLAYGROUND_LANG", lang)
        at = open_page(url, session_model=folder, **({"view": view} if view else {}))  # a link opens the view
        assert view is None or at.session_state[f"{url}.view"] == view
        return at
    return open_in


def specs(at) -> str:
    return " ".join(chart.proto.spec for chart in at.get("plotly_chart"))


def texts(at) -> str:
    return " ".join(e.value for kind in ("markdown", "caption", "info") for e in at.get(kind))


PAGES_AND_VIEWS = [(url, view) for url in PAGE_NAMES for view in VIEWS.get(url, [None])]


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("url,view", PAGES_AND_VIEWS)
def test_every_page_and_view_runs_with_a_llama(open_with, llama_folder, url, view, lang):
    at = open_with(llama_folder, url, lang, view)
    assert_clean(at)
    # a 400-token vocabulary splits the pages' example words, but a word is never counted with the start token
    assert not [e.value for e in at.error if "<|begin_of_text|>" in e.value]
    assert at.session_state[keys.MODEL] == str(llama_folder)  # not fallen back to the bundled model


def test_home_names_the_architecture(open_with, llama_folder):
    table = open_with(llama_folder, "home").dataframe[0].value.to_string()
    assert "Llama (rotary positions, RMSNorm, SwiGLU)" in table and "Key/value heads" in table
    assert "Rotary base θ" in table and "500000" in table


@pytest.mark.parametrize("lang,words", [
    ("en", ("How many tokens each pair needs for one full turn", "without the scaling",
            "Score of the same two vectors by distance", "rotated query (q_rot) to within")),
    ("de", ("Wie viele Tokens jedes Paar für eine volle Umdrehung braucht", "ohne die Skalierung",
            "Bewertung derselben zwei Vektoren nach Abstand", "gedrehten Query (q_rot) bis auf"))])
def test_embeddings_show_what_rope_does(open_with, llama_folder, lang, words):
    at = open_with(llama_folder, "embeddings", lang, "positions")
    shown = specs(at) + texts(at)
    assert all(w in shown for w in words), [w for w in words if w not in shown]
    assert "embeddings.n_pos" not in at.session_state  # no learned-position view for a rotary model
    at.selectbox(key="embeddings.rope_layer").set_value(1)
    at.slider(key="embeddings.rope_pair").set_value(3).run()
    assert_clean(at)
    assert ("Pair 3 of the query" if lang == "en" else "Paar 3 der Query") in specs(at)


@pytest.mark.parametrize("lang,caption", [
    ("en", "Query head 5 reads key/value head 1, together with query heads 4, 5, 6, 7"),
    ("de", "Query-Kopf 5 liest Key/Value-Kopf 1, zusammen mit den Query-Köpfen 4, 5, 6, 7")])
def test_attention_shows_the_groups_and_the_rotation(open_with, llama_folder, lang, caption):
    at = open_with(llama_folder, "attention", lang, "steps")
    at.selectbox(key="attention.head").set_value(5).run()
    assert_clean(at)
    assert caption in texts(at)
    shown = specs(at)
    assert ("each query head reads" if lang == "en" else "jeder Query-Kopf liest") in shown
    assert ("Q after the rotation" if lang == "en" else "Q nach der Drehung") in shown
    if lang == "en":
        assert "K after the rotation" in shown
        assert any("of head 1" in m.value and "W_K" in m.value for m in at.markdown)  # its key/value head


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_pages_name_the_models_own_norm(open_with, lang):
    """A Llama normalises with RMSNorm: the step-by-step head, the logit lens and the direct logit attribution say
    so (no "LayerNorm", which would centre and add β), in both languages (the bundled Llama: its examples are
    single tokens of its tokenizer)."""
    llama = "shakespeare-faust-llama"
    steps = open_with(llama, "attention", lang, "steps")
    anatomy = open_with(llama, "anatomy", lang)
    experiments = open_with(llama, "experiments", lang)
    experiments.radio(key="experiments.kind").set_value("attribution").run()
    for at in (steps, anatomy, experiments):
        assert_clean(at)
        assert "RMSNorm" in texts(at) and "LayerNorm" not in texts(at)


@pytest.mark.parametrize("stage,shown", [("rms1", "After RMSNorm"), ("rope", "after the rotation (q_rot)"),
                                         ("gqa", "each query head reads"), ("swiglu", "SiLU vs ReLU"),
                                         ("rms_f", "After RMSNorm"), ("add1", ""), ("wte", ""), ("unembed", "")])
def test_anatomy_stages(open_with, llama_folder, stage, shown):
    at = open_with(llama_folder, "anatomy")
    at.selectbox(key="anatomy.stage").set_value(stage).run()
    assert_clean(at)
    assert shown in specs(at)


def test_anatomy_parameters_per_block_and_in_all_are_the_formula(open_with, llama_folder):
    """The metrics: boxes, model and formula agree; the diagram's boxes show one block's parameters, by hand."""
    model = core.load_model(llama_folder, device="cpu")
    c = model.config
    expected = count_parameters(c)
    assert sum(s.total for s in stages(c, 3)) == expected == model.num_parameters()
    at = open_with(llama_folder, "anatomy")
    assert {m.value for m in at.metric} == {f"{expected:,}"}  # the boxes, the model and the formula
    d, m, q, kv = c.n_embd, c.d_mlp, c.n_head * c.d_head, c.n_kv_head * c.d_head
    diagram = next(chart.proto.spec for chart in at.get("plotly_chart") if "anatomy-diagram" in chart.proto.spec
                   or "SwiGLU" in chart.proto.spec)
    for per_block in (3 * d * m, d * q + 2 * d * kv + q * d):  # SwiGLU's three matrices; q, k, v, o
        assert f"{per_block:,}" in diagram, per_block


def test_tokens_page_offers_the_models_tokenizer(open_with, llama_folder):
    at = open_with(llama_folder, "tokens")
    radio = at.radio(key="tokens.encoding")
    assert radio.options == [f"{llama_folder.name} (the model's)", "gpt2", "cl100k_base", "o200k_base"]
    assert radio.value == "model"  # the model's own first
    assert_clean(at)
    model = core.load_model(llama_folder, device="cpu")
    text = at.text_area(key="tokens.text").value
    ids = model.tokenizer.encode(text)
    assert any(m.value == f"{len(ids):,}" for m in at.metric)  # counted with its tokenizer.json
    at.segmented_control(key="tokens.view").set_value("compare").run()
    assert_clean(at)
    assert f"{len(ids):,}" in specs(at)  # beside the tiktoken counts in the comparison chart


def test_finetuning_counts_lora_on_every_projection(open_with, llama_folder):
    at = open_with(llama_folder, "finetuning")
    at.radio(key="finetuning.cls.what").set_value("lora").run()
    assert_clean(at)
    c = core.load_model(llama_folder, device="cpu").config
    d, m, q, kv, r = c.n_embd, c.d_mlp, c.n_head * c.d_head, c.n_kv_head * c.d_head, 8
    by_hand = c.n_layer * r * ((d + q) + 2 * (d + kv) + (q + d) + 2 * (d + m) + (m + d))  # q, k, v, o, gate, up, down
    assert any(f"{by_hand:,}" in cap.value for cap in at.caption)


def test_generation_steps_are_the_models_greedy_tokens(open_with, llama_folder):
    """Three greedy steps on the Generation page give the ids core.generate gives the same prompt."""
    at = open_with(llama_folder, "generation")
    for _ in range(3):
        at.button(key="generation.take_greedy").click().run()
    assert_clean(at)
    tree = at.session_state["generation.tree"]
    model = core.load_model(llama_folder, device="cpu")
    assert tree.prompt[0] == model.tokenizer.encode("")[0]  # Llama 3's start token opens the prompt
    assert tree.ids == core.generate(model, list(tree.prompt), 3, temperature=0)


def test_logits_page_names_the_models_most_likely_token(open_with, llama_folder):
    at = open_with(llama_folder, "sampling")
    assert_clean(at)
    model = core.load_model(llama_folder, device="cpu")
    ids, _ = prepare_prompt(model.tokenizer, at.text_area(key="sampling.prompt").value, model.config.context_length)
    top = int(model(torch.tensor([ids]))[0, -1].argmax())
    assert any(m.value.startswith(repr(model.tokenizer.token_text(top))) for m in at.metric)


def test_show_the_code_runs_for_a_llama(llama_folder):
    """The Embeddings page's programs (playground.snippets) read the embedding through the shared interface, so
    they run for a Llama folder too and give what core computes."""
    from core.analysis.vectors import nearest, single_token
    from playground import snippets

    model = core.load_model(llama_folder, device="cpu")
    word = model.tokenizer.token_text(300)
    program = {}
    exec(snippets.neighbours(str(llama_folder), word), program)  # noqa: S102 - our own program text
    wte = model.token_embedding.detach()
    token_id = single_token(model.tokenizer, word)
    expected = [(n.text, n.token_id) for n in nearest(wte, wte[token_id], model.tokenizer, 11, exclude=(token_id,))]
    assert [(text, i) for text, i, _ in program["neighbours"]] == expected[:10]


@pytest.mark.browser
def test_every_page_with_a_llama_folder_in_chromium(llama_folder, browser):
    """The folder an operator offers, loaded through the sidebar's box in a real browser, then every page opened
    through the navigation (the same session), in both languages: no exception, the model still the Llama."""
    from playground.i18n import strings
    from tests.support.server import ROOT, running_app, wait_until_idle
    env = {"LLM_PLAYGROUND_MODEL_DIRS": str(llama_folder.parent)}
    with running_app(log=ROOT / ".pytest_cache" / "streamlit-llama-browser.log", env=env) as (url, _):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors, problems = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for lang in ("en", "de"):
            words = strings(lang)
            page.goto(f"{url}/?lang={lang}", wait_until="domcontentloaded")
            wait_until_idle(page)
            sidebar = page.locator("[data-testid='stSidebar']")
            sidebar.get_by_text(words["app.load_folder"]).click()
            box = sidebar.get_by_label(words["app.folder_label"], exact=True)
            box.fill(str(llama_folder))
            box.press("Enter")
            sidebar.get_by_role("button", name=words["app.load"], exact=True).click()
            wait_until_idle(page)
            for name in PAGE_NAMES:
                sidebar.locator(f"[data-testid='stSidebarNavLink'][href$='/{'' if name == 'home' else name}']").first.click()
                wait_until_idle(page)
                shown = page.query_selector_all("[data-testid='stException']")
                if shown:
                    problems.append(f"{name} ({lang}): {shown[0].inner_text()[:300]}")
                chosen = sidebar.get_by_role("combobox", name=words["app.model_select"], exact=True).input_value()
                if chosen != words["app.choice_folder"].format(name=llama_folder.name):
                    problems.append(f"{name} ({lang}): the model is no longer {llama_folder.name}")
        context.close()
    assert not problems, "\n".join(problems)
    assert not errors, errors
