"""Training input.

  tables.py   the image table training reads (curate's ImageTable) as numpy buffers, checked before work
  loaders.py  bytes, decoding, augmentation on uint8, datasets, samplers, loaders, the move to the device
"""
