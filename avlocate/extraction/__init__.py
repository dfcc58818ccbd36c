"""The logic of ``avlocate extract`` (layer 7): one video, a folder with resume, the AVE .h5 set, and
the clip-clap features of the pulled AVE data set (``train-segment --head avsgn --dataset ave``).

The layouts themselves (how features are written and read back) live in
:mod:`avlocate.features.store`, which ``run --features`` reads too.
"""
