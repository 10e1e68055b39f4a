"""`specc lsp`: the language server (see server.py) and what it knows about a spec (analysis.py)."""
