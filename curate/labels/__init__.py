"""Label sets: which source classes a recipe keeps, under which label, and how it was made.

  labelset.py    LabelSet and LabelRow: the value every recipe returns
  classlists.py  base class lists (ILSVRC-2012, ImageNet 22k, files, manifests) and named synset sets
  recipes.py     pure functions: hierarchy or tree + base list + parameters -> LabelSet
  presets.py     the one table of named manifests that `curate build` writes
  manifest.py    a LabelSet as a curate Parquet file (kind "labels") and back
  textform.py    the text forms of a manifest: show, the committed sidecar, diff
"""
