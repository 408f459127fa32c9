"""Chat templates: a conversation as the token ids a chat model reads, with the special tokens that mark turns.

Only what tiktoken itself publishes or documents is shown:
- cl100k_base: ChatML, as tiktoken's README extends cl100k_base into "cl100k_im" with <|im_start|> = 100264 and
  <|im_end|> = 100265. tiktoken's own cl100k_base has neither; its special tokens are <|endoftext|>,
  <|fim_prefix|>, <|fim_middle|>, <|fim_suffix|> and <|endofprompt|>.
- o200k_base: the format of tiktoken's o200k_harmony encoding (openai_public.py; the gpt-oss models):
  <|start|> 200006, <|message|> 200008, <|end|> 200007. tiktoken publishes no ChatML ids for o200k_base.
- gpt2 (and any encoding without chat tokens, e.g. a trained BPE): no chat tokens at all; the ChatML markers are
  plain text and cost ordinary tokens.
The messages' own text never becomes a special token (a typed "<|im_end|>" stays text), as in a chat API.

Left out: harmony's channels, developer role and tool calls; the hidden system prompts of hosted models.

    >>> from core.tokens.encodings import load_tokenizer
    >>> ids, special = chat_ids(load_tokenizer("cl100k_base"), [("user", "Hi")])
    >>> ids[0], ids[-1], special[:2]
    (100264, 198, [True, False])
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatFormat:
    name: str  # the encoding (or format) it is named after
    start: str  # before the role
    after_role: str  # between the role and the message
    end: str  # after the message
    between: str  # after a turn's end, before the next start
    special: dict[str, int] = field(default_factory=dict)  # marker -> id; empty: the markers are plain text

    def segments(self, messages: list[tuple[str, str]], reply: bool = True) -> list[tuple[str, bool]]:
        """(text, is_special_token) pieces of the conversation in order; reply: end with the opening of the
        assistant's turn, where the model writes on."""
        def mark(text: str) -> tuple[str, bool]:
            return text, text in self.special

        out: list[tuple[str, bool]] = []
        for role, text in messages:
            out += [mark(self.start), (role, False), mark(self.after_role), (text, False), mark(self.end),
                    (self.between, False)]
        if reply:
            out += [mark(self.start), ("assistant", False)]
            if self.after_role not in self.special:
                out.append((self.after_role, False))
        return [piece for piece in out if piece[0]]


CHATML = dict(start="<|im_start|>", after_role="\n", end="<|im_end|>", between="\n")
PLAIN_CHATML = ChatFormat("ChatML as plain text", **CHATML)
CHAT_FORMATS = {
    "cl100k_base": ChatFormat("cl100k_im", **CHATML, special={"<|im_start|>": 100264, "<|im_end|>": 100265}),
    "o200k_base": ChatFormat("o200k_harmony", start="<|start|>", after_role="<|message|>", end="<|end|>", between="",
                             special={"<|start|>": 200006, "<|message|>": 200008, "<|end|>": 200007}),
    "gpt2": PLAIN_CHATML,
}


def chat_format(tokenizer) -> ChatFormat:
    """The chat format of the tokenizer's encoding; one without chat tokens (GPT-2's, a trained BPE) reads the
    ChatML markers as plain text."""
    return CHAT_FORMATS.get(tokenizer.name, PLAIN_CHATML)


def chat_ids(tokenizer, messages: list[tuple[str, str]], reply: bool = True) -> tuple[list[int], list[bool]]:
    """The ids of a conversation in the chat format of the tokenizer's encoding (CHAT_FORMATS), and for each
    id whether it is one of the format's special tokens. The text between two special tokens is encoded as one
    piece, as tiktoken does when it splits a text at its special tokens."""
    chat = chat_format(tokenizer)
    ids: list[int] = []
    special: list[bool] = []
    plain = ""
    for text, marker in chat.segments(messages, reply) + [("", True)]:
        if not marker:
            plain += text
            continue
        if plain:
            new = tokenizer.encode_piece(plain)  # a start token only where the format puts one
            ids, special, plain = ids + new, special + [False] * len(new), ""
        if text:
            ids.append(chat.special[text])
            special.append(True)
    return ids, special


def special_text(tokenizer, token_id: int) -> str | None:
    """The marker a chat-format id stands for (e.g. 100264 -> <|im_start|>), or None."""
    names = {i: text for text, i in chat_format(tokenizer).special.items()}
    return names.get(token_id)
