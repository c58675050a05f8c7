"""Label sets: which source classes a recipe keeps, under which label, and how it was made.

  labelset.py    LabelSet and LabelRow: the value every recipe returns
  classlists.py  base class lists (ILSVRC-2012, ImageNet 22k, files, manifests) and named synset sets
  recipes.py     pure functions: hierarchy or tree + base list + parameters -> LabelSet
  commands.py    the recipes as the curate commands take them (names of lists, files; the commands' defaults)
  presets.py     the one table of named manifests that `curate build` writes, and `labels_named`: a label set
                 named by a preset, identity, a recipe's command line (`coarsen --lift 1`) or a manifest
  manifest.py    a LabelSet as a curate Parquet file (kind "labels") and back
  textform.py    the text forms of a manifest: show, the committed sidecar, diff
"""
