"""Robustness machinery of the batch runner: supervised worker processes with a per-file time
limit (a hang or a native crash costs one error line, not the batch), and a locked, crash-safe
JSONL results file (no partial line, one writer at a time).
"""
