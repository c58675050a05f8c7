"""`python -m train`: pretrain CNNs on curate's image tables, transfer them, evaluate them.

Read in this order:
  __main__.py     the flags (torchvision's names) and the one place errors become `Error: <sentence>`
  pretrain.py     main() of `pretrain`: set-up, data, model, optimiser, resume, loop, checkpoint, summary
  transfer.py     main() of `finetune` and its tasks: imagefolder, VOC 2007 classification, SUN397
  evaluate.py     main() of `evaluate`: top-1/top-5, and k-NN top-1 on another label set
  engine.py       train_one_epoch, evaluate, extract_features; schedules, RNG state, checkpoints
  data.py         the image table (via curate.images), its checks, the dataset, loaders, transforms
  models.py       the one table of networks and where each keeps its classifier
  metrics.py      top-k, VOC 2007 AP, weighted k-NN, JSON-lines logs
  distributed.py  the one set-up for torchrun (RANK / LOCAL_RANK / WORLD_SIZE) and print0
  demo.py         the whole story on a CPU with synthetic data

The curate package never imports torch; this package imports curate.
"""
