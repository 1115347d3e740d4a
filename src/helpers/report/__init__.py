"""Wording and layout: the page helpers of the notebooks, charts, HTML assembly, annexes, PDF."""
