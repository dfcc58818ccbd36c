"""Dataset readers: UnAV-100 format (unav.py, dense heads) and AVE format (ave.py, segment heads)."""
