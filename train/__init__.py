"""`python -m train`: pretrain CNNs on curate's image tables, transfer them, evaluate them, run experiment grids.

Read in this order:
  __main__.py     parse the flags into a config, run it; the one place errors become `Error: <sentence>`
  settings.py     a run setting declared once (flag, help, choices, rule, role) as metadata on its config field;
  config.py       the configs, every setting declared there; flags.py: the parser made from them
  runs.py         the skeleton pretrain and finetune share: set-up, resume, the epoch loop, checkpoint, log
  pretrain.py     run(config) of `pretrain`: data, model, optimiser, loop, summary
  finetune.py     run(config) of `finetune`: a pretrained network transferred to a task of tasks/ (one row of
                  tasks.TASKS each: class folders, SUN397, VOC 2007 classification and detection, VOC 2012
                  actions); detection.py: the network as a Faster R-CNN
  evaluate.py     run(config) of `evaluate`: top-1/top-5, and k-NN top-1 on another label set
  grid.py         run(config) of `grid`: every cell of an experiment file (experiment.py reads it) once, its
                  images and tables from grid_images.py (curate indexes, or the demo's world.py); report.py: the
                  tables and figures of its results.parquet
  demo.py         run(config) of `demo`: the demo grid (experiments/demo.toml) and its report
  loops.py        train_one_epoch, evaluate, extract_features; the one mixed-precision path
  optimizer.py    SGD with Caffe's per-parameter multipliers (biases, pretrained layers) as parameter groups
  checkpoint.py   the one owner of checkpoints: save (atomically, with a digest), load (the digest checked),
                  resume (settings and state)
  data/           the image table as training reads it (tables.py); decoding, datasets, loaders (loaders.py);
                  raw stores in batches (stores.py); seeded crops (crops.py)
  models.py       the one table of networks and where each keeps its classifier
  metrics.py      top-k, the multi-label loss; voc_eval.py: AP equal to the VOC devkits; knn.py: weighted
                  k-NN over a bank sharded across ranks
  schedule.py     the learning-rate schedule; rng.py: seeding and RNG state
  distributed.py  the one set-up for torchrun (RANK / LOCAL_RANK / WORLD_SIZE) and print0

Words: a "setting" is one field of a command's config (a flag on the command line, a key in an experiment
file); "augment" is how images are cropped (rrc, caffe), "input_norm" how their pixels are fed (torchvision,
caffe); a "label set" is named as curate names it; a "cell" is one unit of a grid; a "task" is a transfer
task (a row of tasks.TASKS), its data the task's `Samples`.

The curate package never imports torch; this package imports curate.
"""
