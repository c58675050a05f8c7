"""`python -m train`: pretrain CNNs on curate's image tables, transfer them, evaluate them.

Read in this order:
  __main__.py     parse the flags into a config, run it; the one place errors become `Error: <sentence>`
  flags.py        the flags (torchvision's names); config.py: the typed configs they build
  pretrain.py     run(config) of `pretrain`: set-up, data, model, optimiser, resume, loop, checkpoint, summary
  finetune.py     run(config) of `finetune`: a pretrained network transferred to a task of tasks/ (class
                  folders, SUN397, VOC 2007 classification and detection, VOC 2012 actions); detection.py:
                  the network as a Faster R-CNN
  evaluate.py     run(config) of `evaluate`: top-1/top-5, and k-NN top-1 on another label set
  grid.py         run(config) of `grid`: every cell of an experiment file (experiment.py reads it) once,
                  its images from worlds.py (curate indexes or the synthetic world); report.py: the tables
                  and figures of its results.parquet
  demo.py         run(config) of `demo`: the demo grid (experiments/demo.toml) and its report
  loops.py        train_one_epoch, evaluate, extract_features; the one mixed-precision path
  checkpoint.py   the one owner of checkpoints: save (atomically), load, the checks on resume
  data/           the image table as numpy buffers (tables.py); decoding, datasets and loaders (loaders.py)
  models.py       the one table of networks and where each keeps its classifier
  metrics.py      top-k, the multi-label loss; voc_eval.py: AP equal to the VOC devkits; knn.py: weighted
                  k-NN over a bank sharded across ranks
  schedule.py     the learning-rate schedule; rng.py: seeding and RNG state; output.py: log and progress
  distributed.py  the one set-up for torchrun (RANK / LOCAL_RANK / WORLD_SIZE) and print0

The curate package never imports torch; this package imports curate.
"""
