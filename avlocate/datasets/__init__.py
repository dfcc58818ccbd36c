"""Dataset readers (UnAV-100 format)."""
