"""Outputs (layer 7): the writers of every ``--format`` and the HTML/PNG report.

They see results and their metadata only; nothing below imports them.
"""
