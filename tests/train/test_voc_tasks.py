"""The PASCAL tasks read from the VOCdevkit layouts (detection annotations, action flags), and bad VOC
input refused in one sentence with nothing written."""

from __future__ import annotations

import re
import shutil

import pytest
from commands import FAST, error_of, run

import synthetic_voc
from train.tasks import TASK
from train.tasks.voc import ACTIONS, VOC_CLASSES, read_annotation, with_context


@pytest.fixture(scope="session")
def voc_world(tmp_path_factory):
    """VOC 2007 detection (60 trainval, 30 test images) and VOC 2012 actions (48 train, 24 val images)."""
    root = tmp_path_factory.mktemp("voc")
    synthetic_voc.write_detection(root, {"trainval": 60, "test": 30}, seed=1, size=64)
    synthetic_voc.write_action(root, {"train": 48, "val": 24}, seed=2, size=64)
    return root


def annotation(objects: str, width: int = 100, height: int = 80) -> str:
    return (f"<annotation><filename>x.jpg</filename><size><width>{width}</width><height>{height}</height><depth>3</depth>"
            f"</size>{objects}</annotation>")


BOX = "<bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>60</ymax></bndbox>"


def test_an_annotation_gives_every_object_its_box_flags_and_number(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(annotation(
        f"<object><name>dog</name><difficult>1</difficult>{BOX}</object>"
        "<object><name>person</name><bndbox><xmin>1</xmin><ymin>1.5</ymin><xmax>100</xmax><ymax>80</ymax></bndbox>"
        "<actions><jumping>0</jumping><phoning>1</phoning><walking>1</walking><other>0</other></actions></object>"))
    first, second = read_annotation(path).objects
    assert (first.name, first.box, first.difficult, first.number, first.actions) == ("dog", (11, 21, 30, 60), True, 1, None)
    assert (second.box, second.difficult, second.number, second.actions) == ((1, 1.5, 100, 80), False, 2, ("phoning", "walking"))
    assert read_annotation(path).width == 100 and read_annotation(path).height == 80


def test_the_detection_task_reads_trainval_and_test(voc_world):
    task = TASK["voc07-det"].load(voc_world, None)
    assert task.task.kind == "detection" and task.task.rule == "voc07" and task.classes == VOC_CLASSES
    assert (len(task.train), len(task.test)) == (60, 30)
    assert task.train.ids[:2] == ["000001", "000002"] and task.test.ids[0] == "000061"
    assert task.train.files[0] == voc_world / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000001.jpg"
    objects = [o for a in task.train.targets for o in a.objects]
    assert {o.name for o in objects} == set(synthetic_voc.SHAPES)
    assert any(o.difficult for a in task.train.targets + task.test.targets for o in a.objects)


def test_the_action_task_takes_each_person_with_actions_and_some_context(tmp_path):
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    for part in ("JPEGImages", "Annotations", "ImageSets/Action"):
        (voc / part).mkdir(parents=True)
    (voc / "ImageSets" / "Action" / "train.txt").write_text("2012_000001\n")
    (voc / "ImageSets" / "Action" / "val.txt").write_text("2012_000001\n")
    (voc / "Annotations" / "2012_000001.xml").write_text(annotation(
        f"<object><name>person</name>{BOX}</object>"  # a person without <actions>: not a sample
        f"<object><name>person</name>{BOX}<actions><reading>1</reading><running>0</running></actions></object>"))
    task = TASK["voc12-action"].load(tmp_path, None)
    assert task.task.kind == "map" and task.task.rule == "voc12" and task.classes == ACTIONS
    assert task.train.ids == ["2012_000001/2"]
    assert task.train.targets == [[1 if a == "reading" else -1 for a in ACTIONS]]
    assert task.train.regions == [(6, 11, 35, 70)]  # 20x40 grown 1.5 times: 5 px a side across, 10 down


DETECTION = ["--task", "voc07-det", "--min-size", "64", "--max-size", "96", "-b", "4", "--lr-step-size", "12"]


def test_detection_learns_to_find_the_drawn_objects(coarse_run, voc_world, tmp_path):
    """Faster R-CNN on the coarse-pretrained tiny network finds the shapes; its untrained heads find none."""
    args = ["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--data", str(voc_world), *FAST, *DETECTION]
    code, trained = run([*args, "--epochs", "16", "--lr", "0.02", "--output-dir", str(tmp_path / "trained")])
    assert code == 0
    code, untrained = run([*args, "--epochs", "1", "--lr", "0", "--output-dir", str(tmp_path / "untrained")])
    assert code == 0
    assert trained["test_map"] >= 30 and untrained["test_map"] <= 5, (trained["test_map"], untrained["test_map"])
    assert all(trained["test_ap"][name] >= 10 for name in synthetic_voc.SHAPES), trained["test_ap"]


def test_action_classification_learns_above_chance(coarse_run, voc_world, tmp_path):
    """Each person does one of four actions (chance AP about 25); the trained classifier ranks them well."""
    args = ["finetune", "--checkpoint", str(coarse_run["checkpoint"]), "--data", str(voc_world), "--task", "voc12-action", *FAST]
    code, trained = run([*args, "--epochs", "20", "--lr", "0.05", "--output-dir", str(tmp_path / "trained")])
    assert code == 0
    code, untrained = run([*args, "--epochs", "1", "--lr", "0", "--output-dir", str(tmp_path / "untrained")])
    assert code == 0
    assert trained["test_map"] >= 50 and untrained["test_map"] <= 40, (trained["test_map"], untrained["test_map"])
    assert [a for a, ap in trained["test_ap"].items() if ap is not None] == list(synthetic_voc.ACTION_SHAPES)


@pytest.mark.parametrize("box, width, height, grown", [
    ((11, 21, 30, 60), 100, 100, (6, 11, 35, 70)),
    ((2, 3, 31, 60), 32, 64, (1, 1, 32, 64)),  # clipped to the image
    ((10, 10, 10, 10), 100, 100, (9, 9, 11, 11)),  # one pixel grows to whole pixels around it
])
def test_with_context_grows_a_box_about_its_centre(box, width, height, grown):
    assert with_context(box, width, height) == grown


# --- bad VOC input: one sentence, exit 1, no run folder -------------------------------------------------------

def xml_of(voc, image_id="000003"):
    return voc / "Annotations" / f"{image_id}.xml"


def remove_annotations(voc):
    shutil.rmtree(voc / "Annotations")


def malformed(voc):
    xml_of(voc).write_text("<annotation><size><width>64</width></size>")


def box_outside(voc):
    text = xml_of(voc).read_text()
    start = text.index("<xmax>") + len("<xmax>")
    xml_of(voc).write_text(text[:start] + "500" + text[text.index("</xmax>"):])


def empty_list(voc):
    (voc / "ImageSets" / "Main" / "test.txt").write_text("\n")


def missing_annotation(voc):
    xml_of(voc).unlink()


def unknown_class(voc):
    xml_of(voc).write_text(re.sub(r"<name>\w+</name>", "<name>dragon</name>", xml_of(voc).read_text(), count=1))


def not_a_number(voc):
    text = xml_of(voc).read_text()
    start = text.index("<ymin>") + len("<ymin>")
    xml_of(voc).write_text(text[:start] + "ten" + text[text.index("</ymin>"):])


def wrong_size(voc):
    text = xml_of(voc).read_text()
    start = text.index("<width>") + len("<width>")
    xml_of(voc).write_text(text[:start] + "640" + text[text.index("</width>"):])


def unreadable_image(voc):
    (voc / "JPEGImages" / "000003.jpg").write_bytes(b"not a jpeg at all")


BAD_VOC = [
    (remove_annotations, r"VOC2007 lacks Annotations: voc07-det reads JPEGImages, Annotations, ImageSets/Main\."),
    (malformed, r"Annotations/000003\.xml is not well-formed XML \(no element found: line 1, column \d+\)\."),
    (box_outside, r"Annotations/000003\.xml: object 1 \(\w+\) has the box \(\d+, \d+, 500, \d+\), outside its \d+x\d+ image "
                  r"\(VOC boxes are 1-based pixels: 1 <= xmin <= xmax <= width\)\."),
    (empty_list, r"ImageSets/Main/test\.txt lists no images\."),
    (missing_annotation, r"Annotations/000003\.xml is missing: every image of the set needs its annotation\."),
    (unknown_class, r"Annotations/000003\.xml: object 1 is a 'dragon', not one of the 20 VOC classes\."),
    (not_a_number, r"Annotations/000003\.xml, object 1, <ymin> is 'ten', not a number\."),
    (wrong_size, r"JPEGImages/000003\.jpg is \d+x\d+ pixels, but its annotation says 640x\d+\."),
    (unreadable_image, r"JPEGImages/000003\.jpg cannot be read as an image \(.+\)\."),
]


@pytest.mark.parametrize("spoil, sentence", BAD_VOC, ids=[spoil.__name__ for spoil, _ in BAD_VOC])
def test_bad_voc_input_is_refused_in_one_sentence(voc_world, tmp_path, capsys, spoil, sentence):
    shutil.copytree(voc_world / "VOCdevkit" / "VOC2007", tmp_path / "data" / "VOCdevkit" / "VOC2007")
    spoil(tmp_path / "data" / "VOCdevkit" / "VOC2007")
    line = error_of(["finetune", "--random-init", "--model", "tiny", "--task", "voc07-det", "--data", str(tmp_path / "data"),
                     "--min-size", "64", "--max-size", "96", "--epochs", "1", "--output-dir", str(tmp_path / "run"), *FAST], capsys)
    assert re.search(sentence, line), line
    assert not (tmp_path / "run").exists()


def test_a_folder_without_voc_is_refused(tmp_path, capsys):
    line = error_of(["finetune", "--random-init", "--model", "tiny", "--task", "voc12-action", "--data", str(tmp_path),
                     *FAST], capsys)
    assert line == f"Error: {tmp_path} holds no VOCdevkit/VOC2012: point --data at the folder holding VOCdevkit."


def test_a_network_without_a_detector_is_refused(voc_world, monkeypatch, capsys):
    from train import detection

    monkeypatch.delitem(detection.DETECTORS, "tiny")
    line = error_of(["finetune", "--random-init", "--model", "tiny", "--task", "voc07-det", "--data", str(voc_world),
                     "--min-size", "64", *FAST], capsys)
    assert line.startswith("Error: A tiny network cannot serve as a detection backbone: voc07-det takes alexnet, ")


def test_a_finetune_checkpoint_is_not_a_backbone(tmp_path, voc_world, capsys):
    from train import checkpoint

    checkpoint.save(tmp_path / "checkpoint.pt", kind="finetune", model={}, model_name="tiny")
    line = error_of(["finetune", "--checkpoint", str(tmp_path / "checkpoint.pt"), "--task", "voc07-det", "--data",
                     str(voc_world), *FAST], capsys)
    assert line == f"Error: {tmp_path / 'checkpoint.pt'} is a finetune checkpoint, not a pretrain checkpoint."


@pytest.mark.parametrize("name", ["alexnet", "caffenet", "resnet18"])
def test_every_paper_network_becomes_a_detector_on_its_pretrained_layers(name):
    """The detector trains on the network's own weights (for AlexNet its fc6/fc7 as the box head) with conv1
    (ResNets: the stem and layer1) frozen, and gives the four losses of Faster R-CNN."""
    import torch

    from train.detection import build_detector
    from train.models import build_model

    torch.manual_seed(0)
    network = build_model(name, 5)
    detector = build_detector(network, name, 20, 160, 200, pretrained=True, input_norm="torchvision")
    own = dict(network.named_parameters())
    first = "features.0.weight" if "alexnet" in name or name == "caffenet" else "conv1.weight"
    shared = [p for p in detector.parameters() if any(p is q for q in own.values())]
    assert len(shared) == len(own) - 2  # all but the classifier the pretraining task needed (fc8 / fc)
    assert not own[first].requires_grad
    if name != "resnet18":
        fc6, fc7 = [m.weight for m in network.classifier if isinstance(m, torch.nn.Linear)][:2]
        head = list(detector.roi_heads.box_head.parameters())
        assert any(p is fc6 for p in head) and any(p is fc7 for p in head)
    images = [torch.rand(3, 160, 200)]
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 90.0, 120.0]]), "labels": torch.tensor([3])}]
    losses = detector.train()(images, targets)
    assert sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_objectness", "loss_rpn_box_reg"]
