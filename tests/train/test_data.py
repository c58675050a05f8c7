"""Training input: the table training reads is the one curate writes, and tar members are read in place."""

from __future__ import annotations

import tarfile

import torch

from curate.images.index import ImageIndex


def test_tar_members_are_read_at_their_offset(tmp_path):
    """A `<wnid>.tar` indexed by curate (members not extracted) feeds the dataset the same pixels."""
    from torchvision.io import encode_png

    from curate.labels.classlists import ClassList
    from curate.labels.recipes import coarsen
    from curate.wordnet.snapshot import load_hierarchy
    from train.data.loaders import ImageDataset
    from train.data.tables import load_table

    pictures = {f"n01440764_{n}.png": torch.randint(0, 255, (3, 20, 24 + n), dtype=torch.uint8) for n in range(3)}
    (tmp_path / "members").mkdir()
    with tarfile.open(tmp_path / "n01440764.tar", "w") as tar:
        for name, picture in pictures.items():
            (tmp_path / "members" / name).write_bytes(encode_png(picture).numpy().tobytes())
            tar.add(tmp_path / "members" / name, arcname=name)
    (tmp_path / "members" / "n01440764_0.png").rename(tmp_path / "elsewhere.png")  # the tar alone holds them
    index = ImageIndex.build(tmp_path, split="train")
    assert index.rows["archive"].to_pylist() == ["n01440764.tar"] * 3
    labels = coarsen(load_hierarchy().tree(), ClassList("one", ("n01440764",)), depth=99)
    index.label(labels).write(tmp_path / "table.parquet")
    table = load_table(tmp_path / "table.parquet")
    class Unchanged:
        def many(self, images, indices, epoch):
            return images

    dataset = ImageDataset(table, table.indices("train"), Unchanged())
    names = [path.decode().rsplit("/", 1)[1] for path in table.paths]
    for item, name in enumerate(names):
        image, target = dataset[item]
        assert torch.equal(image, pictures[name]) and target == 0


def test_labels_joined_with_an_index_are_the_table_curate_writes(data):
    from train.data.tables import load_table

    written = load_table(data["fine"]["train_table"])
    joined = load_table(labels_path=data["fine"]["labels"], index_path=data["out"] / "manifests" / "images-train.parquet")
    assert joined.identity() | {"table": ""} == written.identity() | {"table": ""}
    assert joined.paths.tolist() == written.paths.tolist() and joined.labels.tolist() == written.labels.tolist()
