"""Check train/voc_eval.py against the real PASCAL VOC reference code, on many random cases.

What it checks: for each random case it writes the real VOC files (Annotations/<id>.xml,
ImageSets/Main/test.txt, ImageSets/Main/<cls>_test.txt, ImageSets/Action/<action>_test.txt and the
results files comp3_det_test_<cls>.txt, comp1_cls_test_<cls>.txt, comp9_action_test_<action>.txt),
runs the reference code on them and compares its AP with train.voc_eval's (tolerance 1e-12, NaN == NaN):

  classification voc07  VOCevalcls.m of the VOC2007 devkit                    vs classification_ap(rule="voc07")
  classification voc12  the same with its 11-point loop replaced by VOCap.m   vs classification_ap(rule="voc12")
  action         voc12  VOCevalaction.m + VOCap.m of the VOC2012 devkit       vs classification_ap(rule="voc12")
  detection      voc07  VOCevaldet.m of the VOC2007 devkit                    vs detection_ap(reference="devkit")
  detection      voc12  the same with its 11-point loop replaced by VOCap.m   vs detection_ap(reference="devkit")
  detection  voc07/12   py-faster-rcnn lib/datasets/voc_eval.py               vs detection_ap(reference="py-faster-rcnn")

The MATLAB functions run under Octave (one process per batch of cases). The "voc12" copies of the 2007
functions, and an informational copy whose `for t=0:0.1:1` is replaced by the thresholds MATLAB's colon
operator builds (it computes the second half of a range back from its end, so its 0.6 and 0.7 are the
doubles nearest 0.6 and 0.7, where Octave's and numpy's are k * 0.1), are written into --work, each
with a header saying what was changed. Informational rows do not set the exit status.

Cases deliberately include overlaps exactly at, just above and just below the threshold, duplicate
detections, detections of `difficult` objects, images without objects of the class, classes without
detections or without non-difficult objects, 10 positives (recall landing on 0.3/0.6/0.7), tied scores,
missing results, and 0 (ignored) classification truth. py-faster-rcnn sorts with numpy's unstable
argsort, so cases with tied scores are counted in their own, informational, row for it. It crashes on a
class without detections (`BB[sorted_ind, :]` of an empty array); those are counted as reference crashes.

Getting the references (they are not part of this repository):
  --devkit2007  the VOC2007 devkit's VOCcode/ folder (VOCevalcls.m, VOCevaldet.m, PASreadrecord.m,
                VOCreadrecxml.m, VOCreadxml.m, VOCxml2struct.m), from VOCdevkit_08-Jun-2007.tar
  --devkit2012  a folder with the VOC2012 devkit's VOCevalaction.m, VOCap.m, VOChash_init.m, VOChash_lookup.m
  --voc-eval    py-faster-rcnn's lib/datasets/voc_eval.py; a Python 2 original is converted mechanically
                (lib2to3's print and import fixers, binary pickle modes) into --work, logic unchanged

Run: uv run --extra train python tools/compare_voc_eval.py --devkit2007 DIR --devkit2012 DIR \
       --voc-eval FILE --cases 2000 --seed 0 --work /tmp/voccheck/work
Exit status: 0 when every comparison agrees, 1 on any disagreement or unexpected reference error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib.util
import io
import json
import math
import random
import re
import shutil
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def load_ours():
    """train.voc_eval, executed from the bytes whose sha256 is reported (the file may change during a run)."""
    import train  # noqa: F401 - the package, so that train.voc_eval is its submodule

    path = REPO / "train" / "voc_eval.py"
    source = path.read_bytes()
    spec = importlib.util.spec_from_loader("train.voc_eval", loader=None, origin=str(path))
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules["train.voc_eval"] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module, hashlib.sha256(source).hexdigest()


ours, OURS_SHA256 = load_ours()

TOLERANCE = 1e-12
CLASS, OTHER_CLASS, ACTION = "cat", "dog", "jumping"
THRESHOLDS = (0.5,) * 13 + (0.7, 0.75, 0.25, 0.3, 1 / 3, 0.0, 1.0)


# ----------------------------------------------------------------------------------------- cases

@dataclasses.dataclass
class DetCase:
    """One class's detection evaluation: objects[image] = [(class, (x1, y1, x2, y2) ints, difficult)]."""
    images: list
    objects: dict
    dets: list  # (image, score, (x1, y1, x2, y2) floats), in results-file order
    min_overlap: float = 0.5


@dataclasses.dataclass
class ClsCase:
    """One class's classification (or action) evaluation: truth rows and the results, in file order."""
    rows: list     # (image, truth) or, for action, ((image, objid), truth), in image-set file order
    results: list  # (row key, score); rows without a result get -inf, as in the devkit


def gt_box(rng):
    sizes = (2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 17, 20, 30, 40)
    x1, y1 = rng.randint(1, 60), rng.randint(1, 60)
    return (x1, y1, x1 + rng.choice(sizes) - 1, y1 + rng.choice(sizes) - 1)


def overlap(a, b):
    """IoU as the references compute it (inclusive pixels, same operation order); 0 if not intersecting."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1.0
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1.0
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / ((a[2] - a[0] + 1.0) * (a[3] - a[1] + 1.0) + (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0) - iw * ih)


def near_boxes(box):
    """Integer boxes one side moved, or the whole box shifted along one axis, from `box`."""
    w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
    out = []
    for side in range(4):
        span = w if side in (0, 2) else h
        for d in range(-span, span + 1):
            b = list(box)
            b[side] += d
            if b[2] >= b[0] and b[3] >= b[1]:
                out.append(tuple(b))
    for s in range(-w, w + 1):
        out.append((box[0] + s, box[1], box[2] + s, box[3]))
    for s in range(-h, h + 1):
        out.append((box[0], box[1] + s, box[2], box[3] + s))
    return out


def edge_detection(rng, box, threshold):
    """A detection box whose overlap with `box` is exactly `threshold`, or the nearest above or below it."""
    scored = [(overlap(b, box), b) for b in near_boxes(box)]
    exact = [b for o, b in scored if o == threshold]
    above = [o for o, _ in scored if o > threshold]
    below = [o for o, _ in scored if o < threshold]
    choices = []
    if exact:
        choices += [rng.choice(exact)] * 2
    if above:
        choices.append(rng.choice([b for o, b in scored if o == min(above)]))
    if below:
        choices.append(rng.choice([b for o, b in scored if o == max(below)]))
    return rng.choice(choices) if choices else box


def detection_box(rng, box, threshold):
    kind = rng.random()
    if kind < 0.45:
        b = edge_detection(rng, box, threshold)
    elif kind < 0.6:
        b = box
    elif kind < 0.9:
        b = tuple(v + rng.randint(-3, 3) for v in box)
    else:
        b = tuple(v + rng.uniform(-2, 2) for v in box)  # fractional coordinates (maybe degenerate)
    return tuple(float(v) for v in b)


def random_score(rng, style):
    if style == "ties":
        return rng.choice((0.1, 0.5, 0.5, 0.9, -0.0, 0.0))
    if style == "special" and rng.random() < 0.3:
        return rng.choice((math.inf, -math.inf, math.nan, 1e300, 5e-324))
    if style == "integers":
        return float(rng.randint(-3, 3))
    return rng.random()


def image_ids(rng, n, action=False):
    numbers = rng.sample(range(1, 10000), n)
    return [f"2010_{k:06d}" if action else f"{k:06d}" for k in numbers]


def make_det_case(rng):
    flavour = rng.choice(("mixed",) * 6 + ("no_dets", "all_difficult", "no_objects", "ten_positives", "difficult_first", "difficult_only"))
    images = image_ids(rng, rng.choice((1, 1, 2, 3, 4, 5, 6, 8)))
    threshold = rng.choice(THRESHOLDS)
    objects = {}
    for image in images:
        n = 0 if flavour in ("no_objects", "ten_positives") else rng.choice((0, 0, 1, 1, 2, 3, 4))
        difficult = [flavour == "all_difficult" or rng.random() < 0.25 for _ in range(n)]
        objects[image] = [(CLASS, gt_box(rng), d) for d in difficult]
        objects[image] += [(OTHER_CLASS, gt_box(rng), False) for _ in range(rng.choice((0, 0, 1, 2)))]
        rng.shuffle(objects[image])
    if flavour == "ten_positives":
        for k in range(rng.choice((10, 10, 20, 5))):
            objects[rng.choice(images)].append((CLASS, gt_box(rng), False))
        for k in range(rng.choice((0, 0, 1, 2))):
            objects[rng.choice(images)].append((CLASS, gt_box(rng), True))
    style = rng.choice(("continuous",) * 5 + ("ties", "integers", "special"))
    dets = []
    for image in images:
        for cls, box, difficult in objects[image]:
            copies = rng.choice((0, 1, 1, 1, 2, 3)) if cls == CLASS else rng.choice((0, 0, 1))
            dets += [(image, random_score(rng, style), detection_box(rng, box, threshold)) for _ in range(copies)]
        for _ in range(rng.choice((0, 0, 1, 2, 4))):
            dets.append((image, random_score(rng, style), tuple(float(v) for v in gt_box(rng))))
    if flavour in ("difficult_first", "difficult_only"):
        if flavour == "difficult_only":
            dets = []
        for image in images:
            for cls, box, difficult in objects[image]:
                if cls == CLASS and difficult:
                    dets.append((image, 2.0 + rng.random(), tuple(float(v) for v in box)))
    rng.shuffle(dets)
    if flavour == "no_dets":
        dets = []
    return DetCase(images, objects, dets, threshold)


def row_keys(rng, n, action):
    """n distinct image ids, or for action n (image, person) pairs, persons numbered 1, 2, ... per image."""
    if not action:
        return image_ids(rng, n)
    images = image_ids(rng, n, action=True)
    keys, persons = [], Counter()
    for _ in range(n):
        image = rng.choice(images[:max(1, n // 2)])
        persons[image] += 1
        keys.append((image, persons[image]))
    return keys


def make_cls_case(rng, action=False):
    flavour = rng.choice(("mixed",) * 4 + ("ten_positives", "no_positives", "all_ignored"))
    n = rng.choice((1, 2, 3, 5, 8, 10, 12, 15, 20, 30))
    weights = {"mixed": (1, 2, 0.5), "ten_positives": (0, 3, 1), "no_positives": (0, 1, 1), "all_ignored": (0, 0, 1)}
    truth = rng.choices((1, -1, 0), weights=weights[flavour], k=n)
    if flavour == "ten_positives":
        truth = [1] * rng.choice((10, 10, 20, 5)) + truth
    rows = list(zip(row_keys(rng, len(truth), action), truth))
    rng.shuffle(rows)
    style = rng.choice(("continuous", "continuous", "ties", "integers", "special"))
    results = [(key, random_score(rng, style)) for key, _ in rows if rng.random() < 0.92]
    rng.shuffle(results)
    return ClsCase(rows, results)


def features(case):
    """The edge cases a case contains, for the coverage summary."""
    if isinstance(case, ClsCase):
        truth = [t for _, t in case.rows]
        scores = [sc for _, sc in case.results]
        return {"10/20 positives (recall lands on 0.3, 0.6, 0.7)": truth.count(1) in (10, 20), "truth 0 (ignored) rows": 0 in truth,
                "no positives": 1 not in truth, "rows without a result (-inf)": len(case.results) < len(case.rows),
                "tied scores": len(set(scores)) < len(scores), "NaN or infinite scores": any(not math.isfinite(x) for x in scores)}
    mine = {im: [(b, d) for c, b, d in case.objects[im] if c == CLASS] for im in case.images}
    npos = sum(not d for objs in mine.values() for _, d in objs)
    overlaps = [[overlap(box, b) for b, _ in mine[im]] for im, _, box in case.dets]
    hits = Counter((im, o.index(max(o))) for (im, _, _), o in zip(case.dets, overlaps) if o and max(o) >= case.min_overlap)
    t = case.min_overlap
    return {"an overlap == threshold": any(x == t for o in overlaps for x in o),
            "an overlap just above it (< +0.02)": any(t < x < t + 0.02 for o in overlaps for x in o),
            "an overlap just below it (> -0.02)": any(t - 0.02 < x < t for o in overlaps for x in o),
            "threshold other than 0.5": t != 0.5,
            "two detections of one object": any(n > 1 for n in hits.values()),
            "a detection of a difficult object": any(mine[im][k][1] for im, k in hits),
            "an image without objects of the class": any(not objs for objs in mine.values()),
            "no detections": not case.dets, "no non-difficult objects": npos == 0,
            "10/20 positives (recall can land on 0.3, 0.6, 0.7)": npos in (10, 20), "tied scores": has_ties(case),
            "NaN or infinite scores": any(not math.isfinite(sc) for _, sc, _ in case.dets),
            "fractional or degenerate boxes": any(v != int(v) or box[2] < box[0] for _, _, box in case.dets for v in box if math.isfinite(v))}


# ------------------------------------------------------------------------------------ VOC files

def annotation_xml(image, objects):
    objects = objects or [(OTHER_CLASS, (1, 1, 2, 2), False)]  # the devkit's reader needs an object
    parts = [f"<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>{image}.jpg</filename>\n"
             "\t<source>\n\t\t<database>The VOC2007 Database</database>\n\t</source>\n"
             "\t<size>\n\t\t<width>500</width>\n\t\t<height>375</height>\n\t\t<depth>3</depth>\n\t</size>\n"
             "\t<segmented>0</segmented>\n"]
    for cls, (x1, y1, x2, y2), difficult in objects:
        parts.append(f"\t<object>\n\t\t<name>{cls}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n"
                     f"\t\t<difficult>{int(difficult)}</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{x1}</xmin>\n"
                     f"\t\t\t<ymin>{y1}</ymin>\n\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>\n")
    return "".join(parts) + "</annotation>\n"


def write_lines(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def write_det_case(folder, case):
    for image in case.images:
        write_lines(folder / "Annotations" / f"{image}.xml", [annotation_xml(image, case.objects[image]).rstrip("\n")])
    write_lines(folder / "ImageSets/Main/test.txt", case.images)
    # Octave's textread reads VOCevaldet's '%s %d' across line ends (MATLAB's reads line by line), so a
    # one-column list loses every second image under Octave; the devkit gets the list with a dummy column.
    write_lines(folder / "ImageSets/Main/test_octave.txt", [f"{image} 0" for image in case.images])
    write_lines(folder / f"results/Main/comp3_det_test_{CLASS}.txt",
                [" ".join([image, repr(float(score))] + [repr(float(v)) for v in box]) for image, score, box in case.dets])


def write_cls_case(folder, case):
    write_lines(folder / f"ImageSets/Main/{CLASS}_test.txt", [f"{image} {truth:2d}" for image, truth in case.rows])
    write_lines(folder / f"results/Main/comp1_cls_test_{CLASS}.txt", [f"{image} {score!r}" for image, score in case.results])


def write_action_case(folder, case):
    write_lines(folder / f"ImageSets/Action/{ACTION}_test.txt", [f"{im} {obj} {truth:2d}" for (im, obj), truth in case.rows])
    write_lines(folder / f"results/Action/comp9_action_test_{ACTION}.txt", [f"{im} {obj} {score!r}" for (im, obj), score in case.results])


# ------------------------------------------------------------------------------------ ours

def ours_det(case, rule, reference):
    truth = {}
    for image in case.images:
        mine = [(box, difficult) for cls, box, difficult in case.objects[image] if cls == CLASS]
        truth[image] = ([b for b, _ in mine], [d for _, d in mine])
    images = [image for image, _, _ in case.dets]
    scores = [score for _, score, _ in case.dets]
    boxes = [box for _, _, box in case.dets]
    return ours.detection_ap(images, scores, boxes, truth, rule=rule, reference=reference, min_overlap=case.min_overlap)


def ours_cls(case, rule):
    given = dict(case.results)
    return ours.classification_ap([given.get(key, -math.inf) for key, _ in case.rows], [t for _, t in case.rows], rule)


# ------------------------------------------------------------------------------------ references

AP_LOOP = re.compile(r"ap=0;\s*\nfor t=0:0\.1:1\n.*?\nend\n", re.S)


def matlab_colon(base, step, limit):
    """The doubles MATLAB's base:step:limit holds: the first half from base, the second back from limit."""
    n = round((limit - base) / step)
    out = [0.0] * (n + 1)
    for k in range(n // 2 + 1):
        out[k], out[n - k] = base + k * step, limit - k * step
    if n % 2 == 0:
        out[n // 2] = (base + limit) / 2
    return out


def derived_copy(source, name, replace, note, folder):
    """Write `source` (a devkit .m function) as function `name` with `replace` applied, labelled `note`."""
    text = source.read_text()
    new, count = replace(text)
    if count != 1:
        raise SystemExit(f"{source} does not look like the VOC2007 devkit's file: cannot derive {name}.")
    new, count = re.subn(r"^function \[rec,prec,ap\] = \w+\(", f"function [rec,prec,ap] = {name}(", new, count=1, flags=re.M)
    header = f"% GENERATED by tools/compare_voc_eval.py from {source}: NOT an official devkit file.\n% {note}\n"
    (folder / f"{name}.m").write_text(header + new)


def derive_devkit_copies(devkit2007, folder):
    folder.mkdir(parents=True, exist_ok=True)
    thresholds = "[" + " ".join(f"{t:.17g}" for t in matlab_colon(0.0, 0.1, 1.0)) + "]"
    for base in ("VOCevalcls", "VOCevaldet"):
        source = devkit2007 / f"{base}.m"
        derived_copy(source, f"{base}_voc12", lambda t: AP_LOOP.subn("ap=VOCap(rec,prec);\n", t),
                     "The 11-point AP loop is replaced by ap=VOCap(rec,prec) (the VOC2010-2012 rule).", folder)
        derived_copy(source, f"{base}_matlabcolon", lambda t: (t.replace("for t=0:0.1:1", f"for t={thresholds}"), t.count("for t=0:0.1:1")),
                     "for t=0:0.1:1 is replaced by the thresholds MATLAB's colon operator builds (emulation).", folder)


OCTAVE_LOOP = """
fid = fopen(out, 'w');
for k = 1:size(jobs, 1)
  [f, d, cls] = jobs{k, 1:3};
  VOCopts = struct('testset', 'test', 'minoverlap', jobs{k, 4});
  VOCopts.annopath = [d 'Annotations/%s.xml'];
  VOCopts.imgsetpath = [d 'ImageSets/Main/%s_octave.txt'];
  VOCopts.clsimgsetpath = [d 'ImageSets/Main/%s_%s.txt'];
  VOCopts.clsrespath = [d 'results/Main/%s_cls_test_%s.txt'];
  VOCopts.detrespath = [d 'results/Main/%s_det_test_%s.txt'];
  VOCopts.action.clsimgsetpath = [d 'ImageSets/Action/%s_%s.txt'];
  VOCopts.action.respath = [d 'results/Action/%s_action_test_%s.txt'];
  try
    [rec, prec, ap] = feval(f, VOCopts, jobs{k, 5}, cls, false);
    if numel(ap) ~= 1
      fprintf(fid, '%d ERR ap has %d elements\\n', k, numel(ap));
    else
      fprintf(fid, '%d %.17g\\n', k, ap);
    end
  catch err
    fprintf(fid, '%d ERR %s\\n', k, strrep(err.message, char(10), ' '));
  end
end
fclose(fid);
"""

COMPETITION = {"VOCevalcls": "comp1", "VOCevaldet": "comp3", "VOCevalaction": "comp9"}


def octave_script(jobs, paths, out):
    """An Octave script running `jobs` [(function, class, case folder, min overlap)], writing 'k ap' lines."""
    q = octave_string
    lines = ["warning('off', 'all'); more off;"] + [f"addpath({q(p)});" for p in paths] + [f"out = {q(out)};", "jobs = {"]
    for f, cls, folder, m in jobs:
        lines.append(f"  {q(f)}, {q(str(folder) + '/')}, {q(cls)}, {m!r}, {q(COMPETITION[f.split('_')[0]])};")
    return "\n".join(lines + ["};", OCTAVE_LOOP])


def octave_string(text):
    return "'" + str(text).replace("'", "''") + "'"


class Octave:
    """Runs devkit functions on case folders, one Octave process per batch, `processes` at a time."""

    def __init__(self, executable, paths, work, processes):
        self.executable, self.paths, self.work, self.processes = executable, paths, work, processes
        self.calls = 0

    def run(self, jobs):
        """jobs: [(function, class, case folder, min overlap)] -> [float AP or 'ERR message']."""
        self.calls += 1
        batches = [jobs[i::self.processes] for i in range(self.processes)]
        procs = []
        for b, batch in enumerate(batches):
            if batch:
                out, script = (self.work / f"octave_{self.calls}_{b}{ext}" for ext in (".out", ".m"))
                script.write_text(octave_script(batch, self.paths, out))
                procs.append((b, out, subprocess.Popen([self.executable, "--no-gui", "--norc", "-q", str(script)],
                                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
        results = [None] * len(jobs)
        for b, out, proc in procs:
            _, err = proc.communicate()
            done = {}
            for line in (out.read_text().splitlines() if out.exists() else []):
                k, _, value = line.partition(" ")
                done[int(k)] = value if value.startswith("ERR") else float(value)
            for k in range(len(batches[b])):
                results[b + k * self.processes] = done.get(k + 1, f"ERR octave exited {proc.returncode}: {err[-300:]}")
        return results


def python3_copy(source, work):
    """`source` if it runs under Python 3; else a mechanical Python 3 conversion written into `work`."""
    text = source.read_text()
    try:
        compile(text, str(source), "exec")
        return source
    except SyntaxError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lib2to3 import refactor
    tool = refactor.RefactoringTool(["lib2to3.fixes.fix_print", "lib2to3.fixes.fix_imports"])
    new = str(tool.refactor_string(text, str(source)))
    new = new.replace("open(cachefile, 'w')", "open(cachefile, 'wb')").replace("open(cachefile, 'r')", "open(cachefile, 'rb')")
    target = work / "voc_eval_py3.py"
    target.write_text(f"# GENERATED by tools/compare_voc_eval.py from {source}: print and import fixers of lib2to3, binary\n"
                      "# pickle modes; no other change.\n" + new)
    return target


def load_module(path):
    spec = importlib.util.spec_from_file_location("py_faster_rcnn_voc_eval", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pyfrcnn_ap(module, folder, case, use_07_metric):
    """py-faster-rcnn's voc_eval on a case folder (its annotation cache kept inside the folder)."""
    cache = folder / "pyfrcnn_cache"
    try:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            _, _, ap = module.voc_eval(str(folder / "results/Main/comp3_det_test_{}.txt"), str(folder / "Annotations/{}.xml"),
                                       str(folder / "ImageSets/Main/test.txt"), CLASS, str(cache),
                                       ovthresh=case.min_overlap, use_07_metric=use_07_metric)
        return float(ap)
    except IndexError as error:
        if not case.dets:
            return "CRASH no detections (known: BB[sorted_ind, :] of an empty array)"
        return f"ERR IndexError {error}"
    except Exception as error:  # noqa: BLE001 - any reference failure is reported, not raised
        return f"ERR {type(error).__name__}: {error}"


# ------------------------------------------------------------------------------------ rows

@dataclasses.dataclass
class Row:
    """One comparison: a reference (Octave function or py-faster-rcnn) against one of our calls."""
    function: str
    rule: str
    reference: str
    kind: str             # 'det', 'cls' or 'action': which cases it runs on
    octave: str = ""      # devkit function name; empty for py-faster-rcnn
    info: bool = False    # informational: does not set the exit status
    ties_only: bool | None = None  # py-faster-rcnn: None all cases, False untied only, True tied only

    @property
    def name(self):
        return f"{self.function} {self.rule} {self.reference}"

    def ours(self, case):
        if self.kind == "det":
            return ours_det(case, self.rule, "devkit" if self.octave else "py-faster-rcnn")
        return ours_cls(case, self.rule)

    def applies(self, case):
        return self.ties_only is None or has_ties(case) == self.ties_only


ROWS = [
    Row("classification", "voc07", "devkit 2007 VOCevalcls", "cls", "VOCevalcls"),
    Row("classification", "voc12", "devkit 2007 VOCevalcls + VOCap", "cls", "VOCevalcls_voc12"),
    Row("classification", "voc07", "VOCevalcls, MATLAB 0:0.1:1 (emulated)", "cls", "VOCevalcls_matlabcolon", info=True),
    Row("action", "voc12", "devkit 2012 VOCevalaction", "action", "VOCevalaction"),
    Row("detection", "voc07", "devkit 2007 VOCevaldet", "det", "VOCevaldet"),
    Row("detection", "voc12", "devkit 2007 VOCevaldet + VOCap", "det", "VOCevaldet_voc12"),
    Row("detection", "voc07", "VOCevaldet, MATLAB 0:0.1:1 (emulated)", "det", "VOCevaldet_matlabcolon", info=True),
    Row("detection", "voc07", "py-faster-rcnn", "det", ties_only=False),
    Row("detection", "voc12", "py-faster-rcnn", "det", ties_only=False),
    Row("detection", "voc07", "py-faster-rcnn, tied scores", "det", info=True, ties_only=True),
    Row("detection", "voc12", "py-faster-rcnn, tied scores", "det", info=True, ties_only=True),
]


def has_ties(case):
    scores = [s for _, s, _ in case.dets]
    finite = [s for s in scores if s == s]
    return len(set(finite)) < len(finite) or len(scores) - len(finite) > 1


def same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return False
    return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= TOLERANCE


WRITERS = {"det": write_det_case, "cls": write_cls_case, "action": write_action_case}


def reference_aps(rows, cases, folders, octave, pyfrcnn):
    """{row name: [AP or message per case]} for rows all of one kind, on cases written to folders."""
    out = {}
    octave_rows = [r for r in rows if r.octave]
    jobs = [(r.octave, ACTION if r.kind == "action" else CLASS, folder, getattr(case, "min_overlap", 0.5))
            for r in octave_rows for case, folder in zip(cases, folders)]
    results = octave.run(jobs) if jobs else []
    for i, row in enumerate(octave_rows):
        out[row.name] = results[i * len(cases):(i + 1) * len(cases)]
    computed = {}
    for row in rows:
        if not row.octave:
            if row.rule not in computed:
                computed[row.rule] = [pyfrcnn_ap(pyfrcnn, folder, case, row.rule == "voc07") for case, folder in zip(cases, folders)]
            out[row.name] = computed[row.rule]
    return out


def write_cases(kind, cases, folder):
    shutil.rmtree(folder, ignore_errors=True)
    folders = [folder / f"{kind}_{i:05d}" for i in range(len(cases))]
    for case, f in zip(cases, folders):
        WRITERS[kind](f, case)
    return folders


# ------------------------------------------------------------------------------------ shrinking

def reductions(case):
    """Cases with one element less: a detection, an object, an image, a result or a truth row."""
    if isinstance(case, DetCase):
        for i in range(len(case.dets)):
            yield dataclasses.replace(case, dets=case.dets[:i] + case.dets[i + 1:])
        for image in case.images:
            for j in range(len(case.objects[image])):
                objects = dict(case.objects, **{image: case.objects[image][:j] + case.objects[image][j + 1:]})
                yield dataclasses.replace(case, objects=objects)
        if len(case.images) > 1:
            for image in case.images:
                yield DetCase([i for i in case.images if i != image], {i: o for i, o in case.objects.items() if i != image},
                              [d for d in case.dets if d[0] != image], case.min_overlap)
    else:
        for i in range(len(case.rows)):
            key = case.rows[i][0]
            yield ClsCase(case.rows[:i] + case.rows[i + 1:], [r for r in case.results if r[0] != key])
        for i in range(len(case.results)):
            yield ClsCase(case.rows, case.results[:i] + case.results[i + 1:])


def disagrees(row, case, result):
    return row.applies(case) and not isinstance(result, str) and not same(result, row.ours(case))


def shrink(row, case, octave, pyfrcnn, folder):
    """Greedily remove elements of `case` while `row` still disagrees on it; one reference batch a round."""
    for step in range(200):
        candidates = list(reductions(case))
        if not candidates:
            return case
        folders = write_cases(row.kind, candidates, folder / f"round_{step}")
        results = reference_aps([row], candidates, folders, octave, pyfrcnn)[row.name]
        for candidate, result in zip(candidates, results):
            if disagrees(row, candidate, result):
                case = candidate
                break
        else:
            return case
    return case


def describe(case):
    if isinstance(case, DetCase):
        return {"min_overlap": case.min_overlap,
                "objects": {im: [{"class": c, "box": list(b), "difficult": d} for c, b, d in case.objects[im]] for im in case.images},
                "detections (file order)": [[im, s, list(b)] for im, s, b in case.dets]}
    return {"truth (file order)": [[k if isinstance(k, str) else f"{k[0]} {k[1]}", t] for k, t in case.rows],
            "results (file order)": [[k if isinstance(k, str) else f"{k[0]} {k[1]}", s] for k, s in case.results]}


# ------------------------------------------------------------------------------------ main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devkit2007", type=Path, required=True, help="the VOC2007 devkit's VOCcode folder")
    p.add_argument("--devkit2012", type=Path, required=True, help="folder with VOCevalaction.m, VOCap.m, VOChash_*.m")
    p.add_argument("--voc-eval", type=Path, required=True, help="py-faster-rcnn's lib/datasets/voc_eval.py")
    p.add_argument("--cases", type=int, default=2000, help="random cases of each kind (detection, classification, action)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, required=True, help="scratch folder for the case files (emptied first)")
    p.add_argument("--octave", default="octave-cli")
    p.add_argument("--processes", type=int, default=2, help="Octave processes at a time")
    p.add_argument("--shrink", type=int, default=2, help="disagreements per row to shrink to a minimal case")
    return p.parse_args(argv)


def check_inputs(args):
    needed = [args.devkit2007 / f for f in ("VOCevalcls.m", "VOCevaldet.m", "PASreadrecord.m", "VOCreadrecxml.m", "VOCreadxml.m", "VOCxml2struct.m")]
    needed += [args.devkit2012 / f for f in ("VOCevalaction.m", "VOCap.m", "VOChash_init.m", "VOChash_lookup.m")] + [args.voc_eval]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise SystemExit("Missing reference files: " + ", ".join(missing))
    if shutil.which(args.octave) is None:
        raise SystemExit(f"Octave ({args.octave}) is not on PATH.")


def print_table(stats):
    head = ("function", "rule", "reference", "cases", "equal", "different", "ref crash", "ref error")
    rows = [head] + [(r.function, r.rule, r.reference + (" [info]" if r.info else ""), *map(str, stats[r.name])) for r in ROWS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv=None):
    args = parse_args(argv)
    check_inputs(args)
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    derived = args.work / "derived_devkit"
    derive_devkit_copies(args.devkit2007, derived)
    pyfrcnn = load_module(python3_copy(args.voc_eval, args.work))
    octave = Octave(args.octave, [args.devkit2012.resolve(), args.devkit2007.resolve(), derived.resolve()], args.work, args.processes)
    rng = random.Random(args.seed)
    makers = {"cls": lambda: make_cls_case(rng), "action": lambda: make_cls_case(rng, action=True), "det": lambda: make_det_case(rng)}
    stats = {r.name: [0, 0, 0, 0, 0] for r in ROWS}  # cases, equal, different, crash, error
    found, cross, coverage = [], Counter(), {}
    for kind, make in makers.items():
        cases = [make() for _ in range(args.cases)]
        folders = write_cases(kind, cases, args.work / kind)
        rows = [r for r in ROWS if r.kind == kind]
        coverage[kind] = Counter(name for case in cases for name, present in features(case).items() if present)
        print(f"{kind}: {len(cases)} cases, running the references ...", flush=True)
        results = reference_aps(rows, cases, folders, octave, pyfrcnn)
        for row in rows:
            shrunk = 0
            for i, (case, result) in enumerate(zip(cases, results[row.name])):
                if not row.applies(case):
                    continue
                s = stats[row.name]
                s[0] += 1
                if isinstance(result, str):
                    s[3 if result.startswith("CRASH") else 4] += 1
                    if result.startswith("ERR"):
                        found.append({"row": row.name, "case": str(folders[i]), "reference": result})
                    continue
                mine = row.ours(case)
                if same(result, mine):
                    s[1] += 1
                    continue
                s[2] += 1
                entry = {"row": row.name, "info": row.info, "case": str(folders[i]), "reference_ap": result, "ours": mine}
                if shrunk < args.shrink:
                    shrunk += 1
                    small = shrink(row, case, octave, pyfrcnn, args.work / "shrink" / f"{row.octave or 'pyfrcnn'}_{row.rule}_{i}")
                    small_folder = write_cases(kind, [small], args.work / "minimal" / f"{row.octave or 'pyfrcnn'}_{row.rule}_{i}")[0]
                    ref = reference_aps([row], [small], [small_folder], octave, pyfrcnn)[row.name][0]
                    entry["minimal"] = {"case": describe(small), "folder": str(small_folder), "reference_ap": ref, "ours": row.ours(small)}
                found.append(entry)
        if kind == "det":
            cross_check(cases, results, cross)
    print(f"\ntrain/voc_eval.py tested: sha256 {OURS_SHA256}")
    if hashlib.sha256((REPO / "train" / "voc_eval.py").read_bytes()).hexdigest() != OURS_SHA256:
        print("WARNING: train/voc_eval.py has changed on disk since this run loaded it.")
    print_table(stats)
    report_cross(cross)
    print("\nCoverage (cases containing each edge case):")
    for kind, counts in coverage.items():
        print(f"  {kind}: " + "; ".join(f"{name} {n}" for name, n in counts.items()))
    (args.work / "disagreements.json").write_text(json.dumps(found, indent=1, default=str))
    for entry in found:
        print("\n" + json.dumps(entry, default=str))
    failing = [e for e in found if not e.get("info")]
    print(f"\n{len(found)} disagreement(s) or reference error(s), {len(failing)} outside informational rows;"
          f" details in {args.work / 'disagreements.json'}")
    return 1 if failing else 0


def cross_check(cases, results, cross):
    """Count where the two detection references disagree with each other, and what such cases contain."""
    for rule, dev, py in (("voc07", "VOCevaldet", "voc07"), ("voc12", "VOCevaldet_voc12", "voc12")):
        dk = results[next(r.name for r in ROWS if r.octave == dev)]
        pf = results[f"detection {py} py-faster-rcnn"]
        for case, a, b in zip(cases, dk, pf):
            if isinstance(a, str) or isinstance(b, str):
                continue
            cross[(rule, "cases")] += 1
            if not same(a, b):
                cross[(rule, "differ")] += 1
                cross[(rule, "of which tied scores")] += has_ties(case)
                cross[(rule, "of which an overlap == threshold")] += any(
                    overlap(box, gt) == case.min_overlap for im, _, box in case.dets for c, gt, _ in case.objects[im] if c == CLASS)
                cross[(rule, "of which devkit AP is NaN")] += math.isnan(a)


def report_cross(cross):
    print("\nThe two detection references against each other (same cases):")
    for rule in ("voc07", "voc12"):
        print(f"  {rule}: differ in {cross[(rule, 'differ')]} of {cross[(rule, 'cases')]} cases;"
              f" of those, {cross[(rule, 'of which tied scores')]} have tied scores, {cross[(rule, 'of which an overlap == threshold')]}"
              f" an overlap exactly at the threshold, {cross[(rule, 'of which devkit AP is NaN')]} a NaN devkit AP")


if __name__ == "__main__":
    sys.exit(main())
