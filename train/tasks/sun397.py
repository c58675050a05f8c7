"""SUN397 by its official partition files Training_NN.txt / Testing_NN.txt (lines like /a/abbey/sun_x.jpg)."""

from __future__ import annotations

from pathlib import Path

from train.errors import TrainError
from train.tasks import Split


def sun397(root: Path, config) -> tuple:
    """The official partition `config.partition` (1..10)."""
    partition = config.partition
    candidates = (root / "Partitions", root / "SUN397" / "Partitions", root)
    parts = next((p for p in candidates if (p / "Training_01.txt").is_file()), None)
    images = next((p for p in (root / "SUN397", root) if (p / "a").is_dir()), None)
    if parts is None or images is None:
        raise TrainError(f"{root} lacks the SUN397 layout: SUN397/<letter>/<class>/ images and Partitions/Training_01.txt.")
    lists = []
    for kind in ("Training", "Testing"):
        path = parts / f"{kind}_{partition:02d}.txt"
        if not path.is_file():
            raise TrainError(f"{path} is missing: `partition` {partition} needs SUN397's {kind}_{partition:02d}.txt "
                             "(the ten partitions come in Partitions.zip).")
        lists.append(path.read_text().split())
        if not lists[-1]:
            raise TrainError(f"{path} lists no images.")
    names_file = parts / "ClassName.txt"
    classes = names_file.read_text().split() if names_file.is_file() else sorted({line.rsplit("/", 1)[0] for line in lists[0]})
    index = {name: i for i, name in enumerate(classes)}
    result = []
    for lines in lists:
        unknown = next((line for line in lines if line.rsplit("/", 1)[0] not in index), None)
        if unknown is not None:
            raise TrainError(f"{unknown} in {parts} is of a class that {names_file.name} does not list.")
        files = [images / line.lstrip("/") for line in lines]
        result.append(Split(files, [index[line.rsplit("/", 1)[0]] for line in lines], [line.lstrip("/") for line in lines]))
    return classes, result[0], result[1], {"partition": partition}
