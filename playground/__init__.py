"""The Streamlit app's glue: entry, state, cached loaders, figures. Pages import from here; core never does."""
