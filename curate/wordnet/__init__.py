"""WordNet 3.0 nouns: what curate knows of the hierarchy ImageNet classes live in.

  wnid.py          ImageNet class ids (`n` + 8-digit noun offset): the one pattern and the one bad-id sentence
  hierarchy.py     the noun DAG as columns, and `Tree`: the DAG cut into a tree by a named parent rule
  snapshot.py      the embedded snapshot of every noun synset, loaded in milliseconds
  nltk_backend.py  NLTK's WordNet 3.0: install it, rebuild the snapshot from it, check the snapshot against it
"""
