"""train/: learning, resume, DDP, bf16, VOC AP, manifest identity and bad input, all on the CPU.

One small synthetic ImageNet-layout set (the demo's drawing code: 12 real ILSVRC wnids, shape = coarse
class, texture = fine class, 32 px) is built once per session with curate's recipes and image tables.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from curate.images.index import ImageIndex  # noqa: E402
from curate.images.table import ImageTable  # noqa: E402
from train import synthetic  # noqa: E402
from train.__main__ import main  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torchvision.io.image")
REPO = Path(__file__).resolve().parents[1]
SIZES = ["--train-crop-size", "32", "--val-resize-size", "32", "--val-crop-size", "32", "--min-scale", "0.35"]
FAST = ["--model", "tiny", "--device", "cpu", "-j", "0", "-b", "32", "-q", *SIZES]


@pytest.fixture(scope="session")
def data(tmp_path_factory) -> dict:
    """Fine (12 labels) and coarse (4 labels) tables over 16 train and 6 val images per class."""
    out = tmp_path_factory.mktemp("train-data")
    synthetic.make_images(out / "images", synthetic.PRETRAIN_CLASSES, {"train": 16, "val": 6}, seed=0)
    tables = synthetic.curate_tables(out, out / "images")
    synthetic.make_images(out / "transfer", synthetic.TRANSFER_CLASSES, {"train": 8, "val": 8}, seed=1)
    return {"out": out, "transfer": out / "transfer", **tables}


@pytest.fixture(scope="session")
def coarse_run(data, tmp_path_factory) -> dict:
    """One pretraining run on the coarse labels, shared by the tests that need a trained checkpoint."""
    out = tmp_path_factory.mktemp("coarse-run")
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "16", "--lr", "0.02", "--wd", "5e-4",
                        "--lr-scheduler", "cosine", "--output-dir", str(out)])
    assert code == 0
    return {"dir": out, "checkpoint": out / "checkpoint.pt", "result": result}


def tables(info: dict) -> list[str]:
    return ["--table", str(info["train_table"]), "--val-table", str(info["val_table"])]


def run(argv: list[str]) -> tuple[int, dict | None]:
    """`python -m train` in this process; the JSON it prints on stdout, parsed."""
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    text = stdout.getvalue().strip()
    return code, json.loads(text.splitlines()[-1]) if text else None


def error_of(argv: list[str], capsys) -> str:
    """The one stderr line of a command that must fail with exit status 1."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err and err[-1].startswith("Error: ")
    assert not any("Traceback" in line for line in err)
    return err[-1]


# --- learning ------------------------------------------------------------------------------------------


def test_pretraining_learns_well_above_chance(coarse_run, data):
    result = coarse_run["result"]
    assert result["label_count"] == 4
    assert result["val_top1"] >= 50  # chance is 25%; this seed reaches 64% on 72 unseen images
    lines = (coarse_run["dir"] / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(16))
    assert json.loads(lines[-1])["train_loss"] < json.loads(lines[0])["train_loss"]


def test_checkpoint_records_what_it_was_trained_on(coarse_run, data):
    checkpoint = torch.load(coarse_run["checkpoint"], map_location="cpu", weights_only=True)
    assert checkpoint["data"]["labels_hash"] == data["coarse"]["labels_hash"]
    assert checkpoint["data"]["labels_recipe"] == "up-down lift=1"
    assert checkpoint["model_name"] == "tiny" and checkpoint["epoch"] == 15
    assert set(checkpoint) >= {"model", "optimizer", "lr_scheduler", "scaler", "rng", "label_wnids"}
    assert checkpoint["label_wnids"] == sorted(checkpoint["label_wnids"])


def test_evaluate_scores_own_labels_and_knn_on_fine_labels(coarse_run, data):
    code, result = run(["evaluate", "--checkpoint", str(coarse_run["checkpoint"]), *tables(data["coarse"]),
                        "--knn-labels", str(data["fine"]["labels"]), "--device", "cpu", "-j", "0", *SIZES])
    assert code == 0
    assert result["top1"] == pytest.approx(coarse_run["result"]["val_top1"])
    assert result["knn_label_count"] == 12
    assert result["knn_top1"] > 100 / 12  # coarse features still tell some fine classes apart


@pytest.mark.parametrize("mode", ["linear", "full"])
def test_finetune_imagefolder(coarse_run, data, tmp_path, mode):
    code, result = run(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder",
                        "--data", str(data["transfer"]), "--mode", mode, "--epochs", "2", "--lr", "0.05",
                        "--output-dir", str(tmp_path), *FAST])
    assert code == 0
    assert result["classes"] == 4 and result["mode"] == mode
    assert 0 <= result["test_top1"] <= 100
    assert result["pretrain_labels_hash"] == data["coarse"]["labels_hash"]


def test_full_finetune_gives_pretrained_layers_a_lower_lr(coarse_run, data, tmp_path, monkeypatch):
    from train import finetune

    seen = {}
    real_sgd = torch.optim.SGD

    def spy(groups, **kwargs):
        optimizer = real_sgd(groups, **kwargs)
        seen["lrs"] = [group["lr"] for group in optimizer.param_groups]
        return optimizer

    monkeypatch.setattr(finetune.torch.optim, "SGD", spy)
    code, _ = run(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "imagefolder", "--data",
                   str(data["transfer"]), "--mode", "full", "--epochs", "1", "--lr", "0.1", "--backbone-lr-scale", "0.1",
                   *FAST])
    assert code == 0
    assert seen["lrs"] == pytest.approx([0.01, 0.1])


# --- resume ----------------------------------------------------------------------------------------------


def test_resume_after_interruption_gives_the_same_weights(data, tmp_path, monkeypatch):
    from train import pretrain

    args = ["pretrain", *tables(data["fine"]), *FAST, "--epochs", "4", "--lr", "0.05", "--lr-scheduler", "step",
            "--lr-step-size", "2", "--seed", "3", "--use-deterministic-algorithms", "-j", "1"]
    try:
        assert run([*args, "--output-dir", str(tmp_path / "straight")])[0] == 0

        real = pretrain.train_one_epoch
        calls = []

        def interrupted(*a, **kw):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt  # the machine goes away during the third epoch
            return real(*a, **kw)

        monkeypatch.setattr(pretrain, "train_one_epoch", interrupted)
        assert run([*args, "--output-dir", str(tmp_path / "broken")])[0] == 130
        monkeypatch.setattr(pretrain, "train_one_epoch", real)
        partial = torch.load(tmp_path / "broken" / "checkpoint.pt", weights_only=True)
        assert partial["epoch"] == 1
        assert run([*args, "--output-dir", str(tmp_path / "broken"), "--resume", str(tmp_path / "broken" / "checkpoint.pt")])[0] == 0
    finally:
        torch.use_deterministic_algorithms(False)
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "broken" / "checkpoint.pt", weights_only=True)
    assert resumed["epoch"] == straight["epoch"] == 3
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    assert straight["optimizer"]["state"].keys() == resumed["optimizer"]["state"].keys()
    for key, state in straight["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], resumed["optimizer"]["state"][key]["momentum_buffer"])
    assert resumed["lr_scheduler"] == straight["lr_scheduler"]
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in straight["history"]]


def test_resume_refuses_a_checkpoint_of_another_manifest(coarse_run, data, capsys):
    line = error_of(["pretrain", *tables(data["fine"]), *FAST, "--epochs", "8", "--resume", str(coarse_run["checkpoint"])], capsys)
    assert "was trained on another label set (up-down lift=1" in line
    assert "start a new run instead of --resume" in line


def test_resume_refuses_a_checkpoint_of_another_model(coarse_run, data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--model", "resnet18", "--epochs", "8",
                     "--resume", str(coarse_run["checkpoint"])], capsys)
    assert line == (f"Error: {coarse_run['checkpoint']} holds a tiny model, not --model resnet18: "
                    "resume with the model it was trained with.")


# --- precision, memory format, distributed ---------------------------------------------------------------


def test_bf16_autocast_runs_on_cpu(data, tmp_path):
    from train.loops import autocast
    from train.models import build_model

    model = build_model("tiny", 4)
    with autocast(torch.device("cpu"), torch.bfloat16):
        assert model(torch.randn(2, 3, 32, 32)).dtype == torch.bfloat16
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "1", "--amp", "--channels-last",
                        "--output-dir", str(tmp_path)])
    assert code == 0
    assert result["train_loss"] == result["train_loss"] and result["train_loss"] < 10  # finite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_gloo_two_processes_train_and_checkpoint(data, tmp_path):
    # 71 validation images in batches of 35: rank 0 scores 36 in two batches, rank 1 35 in one.
    whole = ImageTable.read(data["coarse"]["val_table"])
    val_table = tmp_path / "val-71.parquet"
    ImageTable(whole.rows.slice(1), {k: whole.metadata[k] for k in ("root", "labels_hash", "labels_recipe", "label_count")}).write(val_table)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "train", "pretrain",
               "--table", str(data["coarse"]["train_table"]), "--val-table", str(val_table), *FAST, "-b", "35",
               "--epochs", "2", "--output-dir", str(tmp_path / "run")]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1  # rank 0 alone prints
    assert results[0]["val_images"] == 71  # every val image scored exactly once across the two ranks
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and len(checkpoint["rng"]) == 2
    assert not any(key.startswith("module.") for key in checkpoint["model"])
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2


# --- metrics ---------------------------------------------------------------------------------------------


def test_voc07_ap_equals_the_hand_worked_example():
    from train.metrics import mean_ap, voc07_ap

    # Ranked: TP, FP, TP, difficult (ignored), FP, TP. Precision at recall 1/3: 1; at 2/3: 2/3; at 1: 3/5.
    # 11-point: t = 0, .1, .2, .3 -> 1; t = .4, .5, .6 -> 2/3; t = .7, .8, .9, 1 -> 3/5.
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    truth = torch.tensor([1, -1, 1, 0, -1, 1])
    hand = (4 * 1 + 3 * (2 / 3) + 4 * (3 / 5)) / 11
    assert voc07_ap(scores, truth) == pytest.approx(hand)
    assert voc07_ap(scores.flip(0), truth.flip(0)) == pytest.approx(hand)  # order of the input does not matter
    # A perfect ranking has AP 1; the difficult image may sit anywhere.
    assert voc07_ap(torch.tensor([3.0, 2.0, 1.0, 0.0]), torch.tensor([1, 0, 1, -1])) == pytest.approx(1.0)
    both, per_class = mean_ap(torch.stack([scores, scores], 1), torch.stack([truth, torch.tensor([1, 1, 1, -1, -1, -1])], 1))
    assert per_class[1] == pytest.approx(1.0)
    assert both == pytest.approx((hand + 1) / 2)


def test_voc07_task_reads_the_devkit_layout_and_finetunes(coarse_run, tmp_path):
    from PIL import Image

    from train.tasks import VOC_CLASSES, voc07_task

    voc = tmp_path / "VOCdevkit" / "VOC2007"
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    ids = {"trainval": ["000001", "000002", "000003", "000004"], "test": ["000005", "000006", "000007", "000008"]}
    for number, image_id in enumerate(ids["trainval"] + ids["test"]):
        Image.new("RGB", (40, 32), (30 * number, 100, 200)).save(voc / "JPEGImages" / f"{image_id}.jpg")
    for c, name in enumerate(VOC_CLASSES):
        for split, split_ids in ids.items():
            values = [1 if (i + c) % 3 == 0 else (0 if (i + c) % 3 == 1 and c == 0 else -1) for i in range(len(split_ids))]
            (voc / "ImageSets" / "Main" / f"{name}_{split}.txt").write_text(
                "".join(f"{image_id} {value:2d}\n" for image_id, value in zip(split_ids, values)))
    (train_files, train_truth), (test_files, test_truth), classes = voc07_task(tmp_path)
    assert classes[0] == "aeroplane" and len(classes) == 20
    assert [f.name for f in train_files] == [f"{i}.jpg" for i in ids["trainval"]]
    assert [row[0] for row in train_truth] == [1, 0, -1, 1]  # aeroplane: present, difficult only, absent, present
    code, result = run(["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--task", "voc07-cls", "--data",
                        str(tmp_path), "--epochs", "1", *FAST])
    assert code == 0
    assert 0 <= result["test_map"] <= 100


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
    dataset = ImageDataset(table, table.indices("train"), lambda image: image)
    names = [path.decode().rsplit("/", 1)[1] for path in table.paths]
    for item, name in enumerate(names):
        image, target = dataset[item]
        assert torch.equal(image, pictures[name]) and target == 0


# --- bad input: one sentence, exit status 1 --------------------------------------------------------------


def test_missing_images_say_how_many_and_show_one(data, tmp_path, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), "--root", str(tmp_path), *FAST, "--epochs", "1"], capsys)
    assert line.startswith(f"Error: 192 of the 192 images of {data['coarse']['train_table']} are missing under {tmp_path} (for example ")
    assert "n01530575/n01530575_0.JPEG" in line


def test_an_empty_label_is_refused(data, tmp_path, capsys):
    import pyarrow.compute as pc

    whole = ImageTable.read(data["coarse"]["train_table"])
    path = tmp_path / "holed.parquet"
    meta = {k: v for k, v in whole.metadata.items() if k != "content_hash"}
    ImageTable(whole.rows.filter(pc.not_equal(whole.rows["label"], 2)), meta).write(path)
    line = error_of(["pretrain", "--table", str(path), *FAST, "--epochs", "1"], capsys)
    assert line.startswith(f"Error: 1 of the 4 labels of {path} has no training images (label 2, ")


def test_unknown_model_lists_the_valid_ones(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--model", "vgg16"], capsys)
    assert line == "Error: Unknown model 'vgg16': choose one of alexnet, resnet18, resnet50, tiny."


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_where_there_is_none(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--device", "cuda"], capsys)
    assert line == "Error: --device cuda was asked for, but this torch sees no CUDA device: use --device cpu."


def test_a_file_that_is_not_a_checkpoint(data, tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    line = error_of(["evaluate", "--checkpoint", str(bogus), *tables(data["coarse"]), "--device", "cpu"], capsys)
    assert line == f"Error: {bogus} is not a checkpoint this module can read (foreign or damaged file)."


def test_the_real_command_line_prints_one_sentence_and_no_traceback(data):
    done = subprocess.run([sys.executable, "-m", "train", "pretrain", *tables(data["coarse"]), "--model", "lenet"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "Error: Unknown model 'lenet': choose one of alexnet, resnet18, resnet50, tiny.\n"
    assert done.stdout == ""


def test_labels_joined_with_an_index_are_the_table_curate_writes(data):
    from train.data.tables import load_table

    written = load_table(data["fine"]["train_table"])
    joined = load_table(labels_path=data["fine"]["labels"], index_path=data["out"] / "manifests" / "images-train.parquet")
    assert joined.identity() | {"table": ""} == written.identity() | {"table": ""}
    assert joined.paths.tolist() == written.paths.tolist() and joined.labels.tolist() == written.labels.tolist()


def test_test_only_scores_the_resumed_checkpoint(coarse_run, data):
    code, result = run(["pretrain", *tables(data["coarse"]), *FAST, "--resume", str(coarse_run["checkpoint"]), "--test-only"])
    assert code == 0
    assert result["top1"] == pytest.approx(coarse_run["result"]["val_top1"])


def test_sun397_reads_the_official_partition_files(tmp_path):
    from PIL import Image

    from train.tasks import sun397_task

    classes = ["/a/abbey", "/b/beach", "/b/bedroom"]
    (tmp_path / "Partitions").mkdir()
    (tmp_path / "Partitions" / "ClassName.txt").write_text("\n".join(classes) + "\n")
    lines = {"Training": [], "Testing": []}
    for c, name in enumerate(classes):
        folder = tmp_path / "SUN397" / name.lstrip("/")
        folder.mkdir(parents=True)
        for n, kind in enumerate(["Training", "Testing", "Training"]):
            Image.new("RGB", (8, 8)).save(folder / f"sun_{c}{n}.jpg")
            lines[kind].append(f"{name}/sun_{c}{n}.jpg")
    for kind, entries in lines.items():
        (tmp_path / "Partitions" / f"{kind}_01.txt").write_text("\n".join(entries) + "\n")
    (train_files, train_targets), (test_files, test_targets), names = sun397_task(tmp_path, 1)
    assert names == classes
    assert train_targets == [0, 0, 1, 1, 2, 2] and test_targets == [0, 1, 2]
    assert all(f.is_file() for f in train_files + test_files)
    assert test_files[1] == tmp_path / "SUN397" / "b" / "beach" / "sun_11.jpg"


def test_demo_writes_one_result_per_variant_and_a_plot(tmp_path):
    code, result = run(["demo", "--output-dir", str(tmp_path), "--epochs", "2", "-q"])
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [v["variant"] for v in results["variants"]] == ["random init", "pretrained on fine", "pretrained on coarse"]
    assert [v["pretrain_label_count"] for v in results["variants"]] == [None, 12, 4]
    for variant in results["variants"]:
        assert 0 <= variant["knn_fine_top1"] <= 100 and 0 <= variant["transfer_linear_top1"] <= 100
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result == {"results": str(tmp_path / "results.json"), "plot": str(tmp_path / "results.png")}


@pytest.mark.parametrize("workers", ["0", "1"])
def test_an_image_that_does_not_decode_is_named(data, tmp_path, capsys, workers):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(data["out"] / "images" / "train", root)
    (root / "n01530575" / "n01530575_3.JPEG").write_bytes(b"not a jpeg")
    line = error_of(["pretrain", *tables(data["coarse"]), "--root", str(root), *FAST, "--epochs", "1", "-j", workers], capsys)
    assert line.startswith(f"Error: n01530575/n01530575_3.JPEG under {root} cannot be read as an image (")


def test_an_output_dir_that_is_a_file(data, tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--epochs", "1", "--output-dir", str(tmp_path / "taken")], capsys)
    assert line == f"Error: Cannot create --output-dir {tmp_path / 'taken'}: File exists."


def test_inputs_too_small_for_the_network(data, capsys):
    line = error_of(["pretrain", *tables(data["coarse"]), *FAST, "--model", "alexnet", "--epochs", "1"], capsys)
    assert line == "Error: --model alexnet cannot take 32 px inputs: raise the crop sizes."
