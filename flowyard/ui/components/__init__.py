"""Pieces several pages share: the run graph, visualizations, the log view, the run form."""
