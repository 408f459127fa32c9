"""Reactions in a real browser: headless Chromium (Debian's, via Playwright) against a real `streamlit run`.

    python -m bench.bench_browser [--repeat 5] [--tokens 120] [--parts attention,embeddings,visits,streaming]

Each figure is the time from the user's action (the click or key press, taken in the page) until Streamlit is
idle: its running indicator gone and the page's DOM unchanged for a quiet moment (the end is the last change,
not the end of the quiet wait). Beside it, what the server side took, seen from the browser's websocket: from
the rerun request sent to the last message received (the script's run plus the transfer), and how many bytes
came back. Streaming generation is compared with `core.generate` run here with the same model, prompt and
settings, right after each page run (the median of the pairs' ratios). Nothing is asserted: the figures are
printed (bench/ measures, tests never time).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

from bench.common import machine, table

QUIET_MS = 600
# Records, in the page's own clock: every DOM change, every websocket frame (time, bytes) and the first user
# event after the bench "arms" the page. (The script's run state is read from the app root when needed: busy.)
PROBE = """
(() => {
  window.__bench = {lastChange: 0, sent: [], received: [], armed: false, t0: null};
  const B = window.__bench;
  const size = d => d == null ? 0 : (d.byteLength ?? d.size ?? d.length ?? 0);
  const Native = window.WebSocket;
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', e => B.received.push([performance.now(), size(e.data)]));
    }
    send(data) { B.sent.push([performance.now(), size(data)]); return super.send(data); }
  }
  window.WebSocket = Watched;
  for (const kind of ['pointerdown', 'keydown', 'mousedown']) {
    window.addEventListener(kind, () => { if (B.armed && B.t0 === null) B.t0 = performance.now(); }, true);
  }
  // Work in an element marked data-pg-offscreen (the app preparing something in idle time, out of sight) is
  // not something the user waits for; its time on the main thread still delays the next action, which counts.
  const hidden = node => Boolean((node.nodeType === 1 ? node : node.parentElement)?.closest('[data-pg-offscreen]'));
  const seen = r => !hidden(r.target) && !(r.type === 'childList' && [...r.addedNodes, ...r.removedNodes].length
      && [...r.addedNodes, ...r.removedNodes].every(n => n.nodeType === 1 && n.hasAttribute('data-pg-offscreen')));
  const changed = records => { if (records.some(seen)) B.lastChange = performance.now(); };
  const watch = () => new MutationObserver(changed)
      .observe(document.documentElement, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
})();
"""
STATE = "() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')"


def busy(page) -> bool:
    return page.evaluate(STATE) != "notRunning" or bool(page.query_selector("[data-testid='stSkeleton']"))


def arm(page) -> None:
    page.evaluate("() => { const B = window.__bench; B.armed = true; B.t0 = null; B.sent = []; B.received = []; }")


def settle(page, timeout_s: float = 120) -> dict:
    """Wait until Streamlit is idle after an armed action (its script ran and finished, the DOM quiet); the
    action's timings in ms."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        time.sleep(0.05)
        b = page.evaluate("() => ({...window.__bench, now: performance.now()})")
        # A rerun was asked and answered, the app says it is not running and the DOM is quiet. (Not "the state
        # was seen running": a fast run goes to running and back within one frame, never shown in the DOM.)
        if not (b["sent"] and b["received"]) or busy(page):
            continue
        end = max(b["lastChange"], b["received"][-1][0])
        if b["now"] - end > QUIET_MS:
            page.evaluate("() => { window.__bench.armed = false; }")
            t0 = b["t0"] if b["t0"] is not None else b["sent"][0][0]
            return {"total": end - t0, "server": b["received"][-1][0] - b["sent"][0][0],
                    "kb": sum(n for _, n in b["received"]) / 1024, "messages": len(b["received"])}
    raise TimeoutError("the page did not become idle")


def idle(page) -> None:
    """Idle without an armed action (after loading a page or opening a view)."""
    deadline = time.time() + 180
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=180_000)
    while time.time() < deadline:
        now_, last = page.evaluate("() => [performance.now(), window.__bench.lastChange]")
        if not busy(page) and now_ - last > QUIET_MS:
            return
        time.sleep(0.05)
    raise TimeoutError("the page did not become idle")


def open_view(page, label: str) -> dict | None:
    """Show one view of a page: a tab (st.tabs) or an option of the page's view switcher; the switcher's
    timings (a tab switches in the browser only, no rerun: None)."""
    tab = page.get_by_role("tab", name=label, exact=True)
    if tab.count():
        tab.first.click()
        time.sleep(0.3)  # st.tabs switch in the browser only, no rerun
        idle(page)
        return
    option = page.locator("[data-testid='stMain'] [data-testid='stButtonGroup'] button").filter(
        has_text=re.compile(f"^{re.escape(label)}$")).first  # the page's view switcher (ui.view)
    if option.get_attribute("aria-checked") == "true":
        return None  # the view shown already: a click would not rerun
    arm(page)
    option.click()
    return settle(page)


def pick(page, label: str, option: str) -> dict:
    """Choose an option of the selectbox labelled `label`; the timings of that choice."""
    page.locator("[data-testid='stMain']").get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).first.wait_for()
    arm(page)
    page.get_by_role("option", name=option, exact=True).first.click()
    return settle(page)


def press_slider(page, label: str, key: str) -> dict:
    slider = page.locator("[data-testid='stSlider']").filter(has=page.get_by_text(label, exact=True)).first
    thumb = slider.locator("input[type=range]").first
    thumb.focus()
    arm(page)
    thumb.press(key)
    return settle(page)


def click_tab(page, label: str) -> dict:
    """A tab that keeps its state (st.tabs with on_change="rerun"): it switches in the browser, then reruns."""
    arm(page)
    page.locator("[data-testid='stMain']").get_by_role("tab", name=label, exact=True).first.click()
    return settle(page)


def type_text(page, label: str, text: str) -> dict:
    area = page.get_by_label(label, exact=True).first
    area.fill(text)
    arm(page)
    area.press("Control+Enter")
    return settle(page)


def summary(name: str, runs: list[dict], target: str) -> list:
    total = [r["total"] for r in runs]
    print(f"{name}: {', '.join(f'{x:.0f}' for x in total)} ms", file=sys.stderr, flush=True)
    return [name, f"{statistics.median(total):.0f}", f"{max(total):.0f}",
            f"{statistics.median(r['server'] for r in runs):.0f}", f"{statistics.median(r['kb'] for r in runs):.0f}",
            target]


def core_generate_timer(prompt: str, n: int):
    """A function that runs core.generate once for the page's prompt and default settings and returns its
    tokens/s (the model loaded and warmed once, here, in this process)."""
    import core
    from core.inference.sampling import SamplingSettings
    model = core.load_model(core.DEFAULT_MODEL, device="cpu")
    ids = model.tokenizer.encode(prompt)
    settings = SamplingSettings(temperature=0.8, top_k=40)
    core.generate(model, ids, 10, settings=settings, seed=7)

    def rate() -> float:
        start = time.perf_counter()
        out = core.generate(model, ids, n, settings=settings, seed=7)
        return (len(out) - len(ids)) / (time.perf_counter() - start)
    return rate


def attention_rows(page, url: str, en: dict, repeat: int) -> list:
    """Attention: layer and head (the captured run is cached), then own text (a new run)."""
    rows = []
    page.goto(f"{url}/attention")
    idle(page)
    layer, head = [], []
    for i in range(repeat):
        layer.append(pick(page, en["attention.layer"], str((i + 1) % 6)))
        head.append(pick(page, en["attention.head"], str((i + 1) % 4)))
    rows.append(summary("Attention: other layer", layer, "≤ 300"))
    rows.append(summary("Attention: other head", head, "≤ 300"))
    texts = [f"The {w} sat on the mat and looked at the {w} again." for w in
             ("cat", "dog", "king", "queen", "bird", "horse", "fool", "lord")][:repeat]
    rows.append(summary("Attention: own text (new run)", [type_text(page, en["tokens.text"], s) for s in texts],
                        "≤ 500"))
    return rows


def embeddings_rows(page, url: str, en: dict, repeat: int) -> list:
    """Embeddings: a slider of the vectors view, switching views, the projection's 2D/3D tabs, the similarity
    layer."""
    rows = []
    page.goto(f"{url}/embeddings")
    idle(page)
    runs = []
    open_view(page, en["embeddings.tab_vectors"])
    for i in range(repeat):
        runs.append(press_slider(page, en["embeddings.dims_shown"], "ArrowRight" if i % 2 == 0 else "ArrowLeft"))
    rows.append(summary("Embeddings: dimensions slider", runs, "≤ 500"))
    # The first opening of the projection view in this server encodes the corpus once (cached after it).
    rows.append(summary("Embeddings: projection view, the server's first",
                        [open_view(page, en["embeddings.tab_projection"])], "≤ 500"))
    runs = [open_view(page, en[f"embeddings.tab_{view}"]) for _ in range(repeat)
            for view in ("vectors", "projection")]
    rows.append(summary("Embeddings: other view (vectors ↔ projection)", runs, "≤ 500"))
    # The first 3D builds its WebGL scene; after it, both tabs' charts stay in the page.
    runs = [click_tab(page, "3D" if i % 2 == 0 else "2D") for i in range(repeat + 1)]
    rows.append(summary("Embeddings: PCA first 3D", runs[:1], "≤ 500"))
    rows.append(summary("Embeddings: PCA 2D/3D after", runs[1:], "≤ 500"))
    open_view(page, en["embeddings.tab_similarity"])
    runs = [press_slider(page, en["embeddings.resid_after"], "ArrowLeft" if i % 2 == 0 else "ArrowRight")
            for i in range(repeat)]
    rows.append(summary("Embeddings: similarity layer", runs, "≤ 500"))
    return rows


FIRST_SCENE = """async () => {
  const shown = document.querySelector('.js-plotly-plot'), size = shown.getBoundingClientRect();
  const box = document.createElement('div');
  box.style.cssText = `position:fixed;left:0;top:0;width:${size.width}px;height:600px`;  // the projection's height
  document.body.appendChild(box);
  const n = 140, xyz = () => Array.from({length: n}, Math.random), t0 = performance.now();
  await Plotly.newPlot(box, [{type: 'scatter3d', mode: 'markers', x: xyz(), y: xyz(), z: xyz()}], {font: shown._fullLayout.font});
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  return performance.now() - t0;
}"""


def first_scene_floor(p, url: str) -> list:
    """What this browser needs for any first 3D scene: in a fresh browser, plotly alone draws a 3D scatter of the
    projection chart's size, without labels (WebGL context, shaders, the first frame)."""
    from tests.support.server import CHROMIUM, CHROMIUM_FLAGS
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    page.goto(f"{url}/embeddings?view=vectors")  # a 2D chart for the library and the width
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
    took = page.evaluate(FIRST_SCENE)
    browser.close()
    return [["Plotly alone: a first 3D scene, no labels, fresh browser (this machine's floor)", f"{took:.0f}",
             f"{took:.0f}", "", "", ""]]


def visit_rows(context, url: str, page_names: list[str]) -> list:
    """First visit of each page in a fresh session of the warm app, through the sidebar's navigation."""
    rows = []
    fresh = context.new_page()
    fresh.goto(url)
    idle(fresh)
    visits = {}
    for name in page_names[1:]:
        arm(fresh)
        fresh.locator(f"[data-testid='stSidebarNav'] a[href$='/{name}']").first.click()
        visits[name] = settle(fresh)
    fresh.close()
    for name, r in visits.items():
        rows.append(summary(f"first visit: {name}", [r], "≤ 1500"))
    return rows


def streaming_runs(page, url: str, en: dict, repeat: int, tokens: int) -> list[dict]:
    """Streaming generation in the page, each run paired with core.generate's (same prompt and settings)."""
    page.goto(f"{url}/generation")
    idle(page)
    open_view(page, en["generation.tab_run"])
    page.get_by_label(en["generation.stops"], exact=True).fill("")
    page.get_by_label(en["generation.stops"], exact=True).press("Enter")
    idle(page)
    prompt = page.get_by_label(en["sampling.prompt"], exact=True).input_value()
    core_rate = core_generate_timer(prompt, tokens)
    streams = []
    # Each page run is paired with a core.generate run right after it: a shared machine's speed drifts by
    # 10-20 % within minutes, more than the difference measured.
    for _ in range(max(3, repeat)):
        arm(page)
        page.get_by_role("button", name=en["generation.generate"], exact=True).click()
        r = settle(page)
        caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="tokens/s").last.inner_text()
        n = int(caption.split()[0].replace(",", ""))
        streams.append({**r, "n": n, "rate": n / (r["total"] / 1000), "caption": caption, "core": core_rate()})
    return streams


PARTS = ("attention", "embeddings", "visits", "streaming")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=120, help="new tokens for the streaming measurement")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which measurements, of {','.join(PARTS)}")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--parts takes some of {','.join(PARTS)}")

    from playwright.sync_api import sync_playwright

    from playground.i18n import strings
    from playground.navigation import PAGE_NAMES
    from tests.support.server import CHROMIUM, CHROMIUM_FLAGS, ROOT, running_app
    en = strings("en")
    log = ROOT / ".pytest_cache" / "bench-browser.log"
    log.parent.mkdir(exist_ok=True)
    rows = []
    with running_app(log=log) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.add_init_script(PROBE)
        page = context.new_page()
        for name in PAGE_NAMES:  # warm-up: the model loaded, caches filled, every page compiled once
            started = time.time()
            page.goto(f"{url}/{'' if name == 'home' else name}")
            idle(page)
            print(f"warm-up {name}: {time.time() - started:.1f} s", file=sys.stderr, flush=True)

        if "attention" in parts:
            rows += attention_rows(page, url, en, args.repeat)
        if "embeddings" in parts:
            rows += embeddings_rows(page, url, en, args.repeat) + first_scene_floor(p, url)
        if "visits" in parts:
            rows += visit_rows(context, url, PAGE_NAMES)
        if "streaming" in parts:
            streams = streaming_runs(page, url, en, args.repeat, args.tokens)
        browser.close()

    print(f"# Browser reactions on {machine()}; Chromium {CHROMIUM}, 1280×720, {args.repeat} repeats, "
          f"quiet {QUIET_MS} ms")
    table("Action → Streamlit idle (ms; server = rerun request → last message, from the browser's websocket)",
          ["action", "median", "max", "server", "KB received", "target ms"], rows)
    if "streaming" not in parts:
        return
    stream = sorted(streams, key=lambda s: s["rate"] / s["core"])[len(streams) // 2]  # the median pair
    rate_core = stream["core"]
    table("Streaming generation (bundled model, temperature 0.8, top-k 40, seed 7, no stop sequence)",
          ["what", "tokens", "tokens/s", "ratio to core.generate", "target"],
          [["in the page (click → last token drawn)", stream["n"], f"{stream['rate']:.1f}",
            f"{stream['rate'] / rate_core:.0%}", "≥ 80 %"],
           ["server's own figure (caption)", stream["n"], stream["caption"].split("=")[-1].strip(), "", ""],
           ["core.generate in this process, right after", args.tokens, f"{rate_core:.1f}", "100%", ""]])


if __name__ == "__main__":
    main()
