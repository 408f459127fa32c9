""""Show the code": the program behind a section (from playground.snippets) in a closed expander under it."""

from __future__ import annotations

from playground.i18n import t


def show_code(where, code: str) -> None:
    """`where`: st or a column or container; the block's copy button copies the program."""
    box = where.expander(t("app.show_code"), icon=":material/code:")
    box.code(code, language="python")
    box.caption(t("app.show_code_caption"))
