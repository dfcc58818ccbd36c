"""Other ways to run ``avlocate batch`` than the local one (:mod:`avlocate.runners.batch`).

Each engine runs the same per-video function as the local batch and writes the same results
file (one JSON line per video, resumable), so an output started with one engine can be resumed
with another. Engines import their framework only when asked for: ``import avlocate`` never
needs Ray.

* ``ray`` (:mod:`avlocate.runners.ray.engine`): Ray Data actors, on a local Ray instance or a
  cluster (``pip install 'avlocate[ray]'``).
"""
