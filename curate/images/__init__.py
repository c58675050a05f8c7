"""Images: ImageNet indexed once, subsets taken from the index, and the labelled tables training reads.

  index.py     ImageIndex: build (from any layout), read, write, subset, label
  table.py     ImageTable: the index joined with a label set; what training reads
  layouts/     one module per way ImageNet is kept on disk, behind one interface
  rows.py      the columns of an index row; which file names are images
  report.py    what indexing found besides images, never dropped silently
  verify.py    decode every image, report those that do not decode
  order.py     the seeded per-path order that subsets take images in
  subsets.py   N images per class, or a budget spread over labels
"""
