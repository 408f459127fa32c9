"""The one exception type the playground raises for bad input.

Every message is one sentence a learner can act on; the app shows it as is, never a traceback. It subclasses
ValueError so plain Python code can catch it without knowing about us.

The message is a template with named values, `PlaygroundError("top-p must be in (0, 1], not {top_p}.", top_p=p)`,
so the app can show it in the learner's language: it looks the English template up in its translations and
fills in the same values. core itself stays English and UI-agnostic. `message(...)` follows the same rule for
sentences that are not exceptions, such as the reason a training run stopped.
"""


class PlaygroundError(ValueError):
    """Bad input to the playground: the message names the problem and the fix."""

    def __init__(self, template: str, /, **values):
        self.template, self.values = template, values
        super().__init__(template.format(**values) if values else template)


def message(template: str, /, **values) -> str:
    """A sentence for the learner that is not an error to raise (why a run stopped): a template like
    PlaygroundError's, so the app can show it translated."""
    return template.format(**values) if values else template
