"""`llm-playground`: start the app as one process (extra arguments go to `streamlit run`);
`llm-playground serve --workers N [--port 8501]`: N processes behind one nginx address (playground.serve)."""

import sys
from pathlib import Path


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        from playground.serve import main as serve
        sys.exit(serve(sys.argv[2:]))
    from streamlit.web import cli as stcli

    app = Path(__file__).resolve().parent / "app.py"
    sys.argv = ["streamlit", "run", str(app), *sys.argv[1:]]
    sys.exit(stcli.main())
