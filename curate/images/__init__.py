"""Images: ImageNet indexed once, subsets taken from the index, and the labelled tables training reads.

  index.py     ImageIndex: build (from any layout), read, write, subset, label
  table.py     ImageTable: the index joined with a label set; what training reads
  layouts/     one module per way ImageNet is kept on disk, behind one interface
  rows.py      the columns of an index row; which file names are images
  report.py    what indexing found besides images, never dropped silently
  verify.py    decode every image, report those that do not decode
  subsets.py   N images per class, or a budget spread over labels, each class's images in the seeded order of
               their paths (curate/seeded.py)
  pack.py      pack an index's images into a store: decoded once, resized, where training reads them fast
  store.py     ImageStore: a packed store opened for reading, its files' lengths checked, verified against the
               digests packing recorded; the store's folder layout
  describe.py  what `curate show` says of an index or a table
  exports/     a table in the formats other trainers read: ImageFolder trees, WebDataset shards
"""
