"""Command-line entry points: `python -m run.<name>`."""
