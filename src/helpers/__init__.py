"""Helpers for the Caf activity report: parameters, data, indicators, charts, French
formatting, report assembly and the command line."""

__version__ = "0.1.0"
