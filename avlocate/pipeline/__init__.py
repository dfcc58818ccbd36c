"""The model and the pipeline for one video (layer 5 of the package).

* :mod:`.models` - a model by name or card: head + weights + extractor + decoding, loaded once;
* :mod:`.video` - ``locate``: one video in, one :class:`~avlocate.results.Result` out;
* :mod:`.weight_import` (with :mod:`.convert_dense`, :mod:`.convert_vscg`) - official
  checkpoints and public extractor weights converted into avlocate's safetensors.

Kept free of imports here, so that ``import avlocate`` stays cheap.
"""
