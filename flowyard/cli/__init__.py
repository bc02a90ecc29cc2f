"""The `flowyard` command line (Typer + Rich)."""
