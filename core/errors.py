"""The one exception type the playground raises for bad input.

Every message is one sentence a learner can act on; the app shows it as is,
never a traceback. It subclasses ValueError so plain Python code can catch it
without knowing about us.
"""


class PlaygroundError(ValueError):
    """Bad input to the playground: the message names the problem and the fix."""
