"""The logic of ``avlocate extract`` (layer 6): one video, a folder with resume, the AVE .h5 set.

The layouts themselves (how features are written and read back) live in
:mod:`avlocate.features.store`, which ``run --features`` reads too.
"""
