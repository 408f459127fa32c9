"""The app's session-state names, once. A page's own widgets are keyed "<page>.<name>" (page = its url path),
so a snapshot or a link for that page may only set keys with that prefix."""

LANG = "app.lang"  # "en" or "de"
MODEL = "app.model"  # what core.load_model takes
MODEL_SELECT = "app.model_select"  # the sidebar's model picker
MODEL_FROM_LINK = "app.model_from_link"  # the link's model was looked at once
FOLDER = "app.folder"  # the "load a folder" box
FOLDER_LOAD = "app.folder_load"  # its button
LOAD_ERROR = "app.load_error"
FIGURE_FORMAT = "app.figure_format"  # png or svg for figure downloads
SNAPSHOT = "app.snapshot"  # the snapshot uploader
SNAPSHOT_ID = "app.snapshot_id"  # the upload already applied
PRESENTER = "app.presenter"
FIGURES_WARMED = "app.figures_warmed"  # the browser was asked once to load the chart library (app.warm_figures)
CLASSROOM = "app.classroom"  # the classroom filter on samples and generations (on unless switched off)
USER = "user.id"  # the participant key (kept in a cookie of the browser, never in a URL)
INSTRUCTOR = "user.instructor"
PASSWORD = "user.password"
PASSWORD_ERROR = "user.password_error"
SESSION = "user.session"  # this session's id for counting wrong passwords
SHOW_KEY = "app.show_key"  # app-level like the sidebar's widgets: never a page's own control
KEY_INPUT = "app.key_input"  # "continue with my key" in another browser
KEY_ERROR = "user.key_error"
SNAPSHOT_DOWNLOAD = "share.snapshot"
VIEW = "share.view"  # (page, {widget key: value}) that the page's link carries, as of its last run
LEAD = "follow.lead"  # the instructor's "audience follows me" toggle
LEADING = "follow.leading"  # its value, kept apart from the toggle (a switch of page drops widget values)
FOLLOW = "follow.on"  # a participant's "follow the lecturer" toggle
FOLLOWING = "follow.following"  # their choice, kept apart from the toggle: a switch of page drops widget values
FOLLOW_SAVED = "follow.saved"  # the participant's own view (page, widget values, model) while following
FOLLOW_APPLIED = "follow.applied"  # the lead's version this session shows
FOLLOW_STOP = "follow.stop"  # a follower's "stop following" button
POLL_GUESS = "poll.guess"  # the participant's answer box


def restored(page: str) -> str:
    """Marks that a page's link (or snapshot) values were applied in this session."""
    return f"share.restored.{page}"


def snapshot_pending(page: str) -> str:
    """A snapshot's widget values waiting for their page to check and apply them."""
    return f"share.pending.{page}"


def widget(page: str, name: str) -> str:
    return f"{page}.{name}"
