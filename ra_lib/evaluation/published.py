"""The five papers' published numbers, as data, each with where it is printed.

Every number was copied from the project's text copies of the papers; ``source`` names the table,
figure or section. They were measured on the papers' patients, never on this book's data: a
comparison shows scale, not replication. Stage modules import the numbers they show from here.

* :data:`PAPERS`: citation key (``references.bib``) and short title of each paper.
* Per stage, as dicts: :data:`SELECTION_RESULTS`, :data:`SELECTION_TABLE2` (paper 000);
  :data:`DETECTION_TABLE3`, :data:`DETECTION_CORRECT`, :data:`DETECTION_DISTANCE_ERROR` (paper 001),
  :data:`DETECTION_BOX_MAP50` (paper 002); :func:`table4` (paper 001 Table 4); :data:`GRADING_002`
  (paper 002), :data:`GRADING_TABLE2`, :data:`GRADING_TABLE3` (paper 004); :data:`OVERALL_RESULTS` (paper 003).
* :func:`headline`: one row per headline number (``id``, ``paper``, ``source``, ``stage``, ``quantity``,
  ``value``, ``relation``, ``note``, ``book_name``, ``citation``); ``relation`` is ``"="`` or ``">"`` (a
  bound such as "p > 0.05"); ``book_name`` is the name of the same quantity in the headline of the
  stage's ``metrics.json`` (``<metric>/<model>[/<kind>]``, read with
  :func:`ra_lib.core.artifacts.read_headline`).
"""
from __future__ import annotations

import pandas as pd

from ra_lib.core.contracts import CLASSIFICATION, DETECTION, GRADING, OVERALL_SCORE, SELECTION

PAPERS = {
    "000": {"key": "pacs_selection", "short": "PACS image selection (1,047 radiographs)"},
    "001": {"key": "miyama2022", "short": "Miyama et al. 2022, doi:10.1186/s13075-022-02914-7"},
    "002": {"key": "nguyenba_ra2", "short": "Nguyen-Ba et al., RA2 DREAM challenge entry"},
    "003": {"key": "resnet_dwise50", "short": "ResNet-Dwise50 overall score (3,818 patients)"},
    "004": {"key": "rohrbach2017", "short": "Rohrbach 2017, Ratingen erosion score (thesis)"},
}

# --- paper 000: image selection ------------------------------------------------------------------
#: Abstract, Table 3 (binary accuracies, 95.17 % and 97.89 %) and Table 4 (three classes, 206 / 206).
SELECTION_RESULTS = {"model1_accuracy": 0.952, "model2_accuracy": 0.979, "three_class_correct": 206, "n_test": 206}
#: Table 2: augmented training counts per model and class, made from 841 training images (Sec. 2).
SELECTION_TABLE2 = {"model1": {"one_hand": 2343, "rest": 3140}, "model2": {"both_hands": 1144, "rest": 1572},
                    "three_class": {"one_hand": 2343, "both_hands": 1144, "other": 1572}}
SELECTION_TRAIN_IMAGES = 841

# --- papers 001 and 002: joint detection ---------------------------------------------------------
#: Paper 001 Table 3 (DeepLabCut, 206 test radiographs): correct detection rate in % per joint group.
DETECTION_TABLE3 = {
    ("erosion", "PIP-IP"): {"intact": 99.5, "non-intact": 90.8, "total": 98.5},
    ("erosion", "MCP"): {"intact": 99.6, "non-intact": 83.1, "total": 97.5},
    ("erosion", "CMC-M"): {"intact": 99.3, "non-intact": 93.4, "total": 97.6},
    ("erosion", "wrist"): {"intact": 100.0, "non-intact": 96.3, "total": 98.1},
    ("erosion", "All joints"): {"intact": 99.6, "non-intact": 92.9, "total": 98.0},
    ("jsn", "PIP"): {"intact": 99.0, "non-intact": 91.6, "total": 96.2},
    ("jsn", "MCP"): {"intact": 98.2, "non-intact": 86.8, "total": 95.6},
    ("jsn", "CMC"): {"intact": 99.7, "non-intact": 98.7, "total": 99.2},
    ("jsn", "wrist"): {"intact": 100.0, "non-intact": 99.8, "total": 99.8},
    ("jsn", "All joints"): {"intact": 98.9, "non-intact": 95.2, "total": 97.3},
}
#: Paper 001 Table 3, all joints: (correct detections, joints) per kind.
DETECTION_CORRECT = {"erosion": (3229, 3296), "jsn": (3008, 3090)}
#: Paper 001 Fig. 4 as given in its text: distance error mean and SD (pixels, scale not stated).
DETECTION_DISTANCE_ERROR = {
    ("erosion", "PIP-IP"): (3.4, 3.5), ("erosion", "MCP"): (3.0, 2.6), ("erosion", "CMC-M"): (3.1, 2.9),
    ("erosion", "wrist"): (3.7, 4.1), ("erosion", "All joints"): (3.3, 3.4),
    ("jsn", "PIP"): (5.4, 9.4), ("jsn", "MCP"): (3.8, 6.5), ("jsn", "CMC"): (2.5, 1.2),
    ("jsn", "wrist"): (2.9, 1.5), ("jsn", "All joints"): (3.8, 6.3),
}
#: Paper 002 Abstract and Sec. 6: Faster R-CNN box mAP at IoU 0.5 (narrowing and erosion, validation set).
DETECTION_BOX_MAP50 = 0.99

# --- paper 001 Table 4: joint classification -----------------------------------------------------
#: Paper 001 Table 4 column order and labels (model columns use stage 3's model codes).
TABLE4_COLUMNS = {
    "siso": "SISO", "mimo_local": "MIMO local", "mimo_one_hand": "MIMO one-hand", "mimo_both_hands": "MIMO both-hands",
    "surgeon 1": "Orthopedic surgeon 1", "surgeon 2": "Orthopedic surgeon 2", "surgeon 3": "Orthopedic surgeon 3",
    "surgeon mean": "Average of surgeons",
}
TABLE4_METRICS = ("sensitivity", "specificity", "f_measure", "pr_auc")
#: Regions: ``finger`` = PIP-IP+MCP+CMC-M (erosion) or PIP+MCP+CMC (JSN), ``wrist``, ``all`` joints.
TABLE4_REGIONS = ("finger", "wrist", "all")

# Rows in TABLE4_COLUMNS order; blocks in the paper's order (Table 4, Miyama et al. 2022).
_TABLE4 = {
    ("erosion", "finger"): {
        "sensitivity": (0.65, 0.54, 0.51, 0.31, 0.64, 0.94, 0.93, 0.84),
        "specificity": (0.88, 0.93, 0.93, 0.96, 0.92, 0.57, 0.78, 0.76),
        "f_measure": (0.50, 0.52, 0.50, 0.38, 0.57, 0.36, 0.51, 0.48),
        "pr_auc": (0.55, 0.54, 0.53, 0.44, 0.59, 0.58, 0.65, 0.61),
    },
    ("erosion", "wrist"): {
        "sensitivity": (0.78, 0.85, 0.84, 0.77, 0.46, 0.98, 0.88, 0.77),
        "specificity": (0.86, 0.85, 0.83, 0.88, 0.95, 0.30, 0.65, 0.64),
        "f_measure": (0.81, 0.84, 0.83, 0.81, 0.61, 0.70, 0.77, 0.70),
        "pr_auc": (0.86, 0.88, 0.87, 0.87, 0.81, 0.77, 0.81, 0.80),
    },
    ("erosion", "all"): {
        "sensitivity": (0.73, 0.72, 0.70, 0.58, 0.57, 0.96, 0.87, 0.80),
        "specificity": (0.88, 0.92, 0.92, 0.95, 0.93, 0.53, 0.77, 0.74),
        "f_measure": (0.66, 0.70, 0.69, 0.65, 0.61, 0.51, 0.63, 0.58),
        "pr_auc": (0.69, 0.73, 0.72, 0.70, 0.66, 0.66, 0.70, 0.67),
    },
    ("jsn", "finger"): {
        "sensitivity": (0.75, 0.74, 0.73, 0.67, 0.55, 0.90, 0.84, 0.76),
        "specificity": (0.84, 0.90, 0.89, 0.88, 0.93, 0.83, 0.87, 0.88),
        "f_measure": (0.72, 0.76, 0.74, 0.70, 0.65, 0.80, 0.79, 0.74),
        "pr_auc": (0.76, 0.81, 0.79, 0.75, 0.74, 0.82, 0.82, 0.79),
    },
    ("jsn", "wrist"): {
        "sensitivity": (0.81, 0.87, 0.83, 0.84, 0.80, 0.98, 0.91, 0.90),
        "specificity": (0.79, 0.78, 0.80, 0.81, 0.84, 0.67, 0.84, 0.78),
        "f_measure": (0.85, 0.88, 0.86, 0.87, 0.85, 0.91, 0.91, 0.89),
        "pr_auc": (0.91, 0.93, 0.92, 0.93, 0.91, 0.92, 0.94, 0.92),
    },
    ("jsn", "all"): {
        "sensitivity": (0.77, 0.79, 0.77, 0.74, 0.62, 0.93, 0.86, 0.80),
        "specificity": (0.83, 0.89, 0.88, 0.87, 0.92, 0.81, 0.86, 0.87),
        "f_measure": (0.76, 0.81, 0.79, 0.76, 0.71, 0.84, 0.83, 0.80),
        "pr_auc": (0.81, 0.85, 0.83, 0.82, 0.81, 0.86, 0.86, 0.84),
    },
}


def table4() -> pd.DataFrame:
    """Paper 001 Table 4, long form: kind, region, metric, column, label, value (226 images, 40 patients)."""
    rows = []
    for (kind, region), block in _TABLE4.items():
        for metric, values in block.items():
            for column, value in zip(TABLE4_COLUMNS, values):
                rows.append({"kind": kind, "region": region, "metric": metric, "column": column,
                             "label": TABLE4_COLUMNS[column], "value": value})
    return pd.DataFrame(rows)


# --- papers 002 and 004: joint grading -----------------------------------------------------------
#: Paper 002 Sec. 6 (validation set): accuracy, and accuracy on a validation set resampled to balanced
#: grades (WeightedRandomSampler), whose expectation is the mean per-grade recall (balanced accuracy).
GRADING_002 = {"jsn": {"accuracy": 0.5762, "balanced_accuracy": 0.6009},
               "erosion": {"accuracy": 0.17, "balanced_accuracy": 0.186}}
#: Paper 004 Table 2 (Ratingen erosion stages 0-5, test set), per method: models a) plain,
#: b) oversampling with augmentation, c) class weights.
GRADING_TABLE2 = {
    "plain": {"accuracy": 0.726, "class_normalised_accuracy": 0.264, "class_normalised_accuracy_pm1": 0.558},
    "oversample_aug": {"accuracy": 0.73, "class_normalised_accuracy": 0.337, "class_normalised_accuracy_pm1": 0.675},
    "class_weights": {"accuracy": 0.569, "class_normalised_accuracy": 0.422, "class_normalised_accuracy_pm1": 0.817},
}
#: Paper 004 Table 3: eroded surface in % (0-100), the CDF regression model trained (a) on the data as
#: they are, (b) oversampled, (c) class-weighted.
GRADING_TABLE3 = {"a": {"mse": 80.884, "mae": 4.046}, "b": {"mse": 83.017, "mae": 4.072},
                  "c": {"mse": 94.488, "mae": 4.057}}

# --- paper 003: overall score --------------------------------------------------------------------
#: Abstract and Sec. 3 (3,818 patients' bilateral radiographs: 2,700 train, 760 validation, 158 test;
#: scores 0-280); Sec. 4.4: every model's paired t-test gives p > 0.05.
OVERALL_RESULTS = {"mae": 14.90, "rmse": 22.01, "t_test_p_above": 0.05, "n_patients": 3818, "n_train": 2700,
                   "n_val": 760, "n_test": 158}


# --- headline numbers ----------------------------------------------------------------------------
_MODEL_LABELS = {c: label for c, label in TABLE4_COLUMNS.items() if not c.startswith("surgeon")}
_KIND_LABELS = {"erosion": "erosion", "jsn": "JSN"}


def _row(id_, paper, source, stage, quantity, value, book_name, relation="=", note=""):
    return {"id": id_, "paper": paper, "source": source, "stage": stage, "quantity": quantity, "value": value,
            "relation": relation, "note": note, "book_name": book_name}


def _selection_rows() -> list[dict]:
    correct, n = SELECTION_RESULTS["three_class_correct"], SELECTION_RESULTS["n_test"]
    return [
        _row("000.model1_accuracy", "000", "Abstract; Table 3 (95.17 %)", SELECTION,
             "one hand vs rest (model 1), accuracy", SELECTION_RESULTS["model1_accuracy"],
             "accuracy/model1_one_hand", note=f"{n} test images"),
        _row("000.model2_accuracy", "000", "Abstract; Table 3 (97.89 %)", SELECTION,
             "both hands vs rest (model 2), accuracy", SELECTION_RESULTS["model2_accuracy"],
             "accuracy/model2_both_hands", note=f"{n} test images"),
        _row("000.three_class_accuracy", "000", f"Abstract; Table 4 ({correct} / {n})", SELECTION,
             "three classes (fused models), accuracy", correct / n, "accuracy/two_binary_fused",
             note=f"{correct} / {n} correct"),
    ]


def _detection_rows() -> list[dict]:
    rows = []
    for kind, (correct, n) in DETECTION_CORRECT.items():
        rows.append(_row(f"001.detection_rate.{kind}", "001", f"Table 3 ({correct} / {n})", DETECTION,
                         f"DeepLabCut correct detection rate, all joints ({_KIND_LABELS[kind]})", correct / n,
                         f"detection_rate/dlc/{kind}", note="206 test images"))
    for kind in DETECTION_CORRECT:
        mean, sd = DETECTION_DISTANCE_ERROR[(kind, "All joints")]
        rows.append(_row(f"001.distance_error.{kind}", "001", f"Fig. 4; Results ({mean} +- {sd} px)", DETECTION,
                         f"distance error, all joints ({_KIND_LABELS[kind]}), mean px", mean,
                         f"mean_error_paper_px/dlc/{kind}", note="50 images, pixels at the paper's scale"))
    rows.append(_row("002.box_map50", "002", "Abstract; Sec. 6", DETECTION,
                     "Faster R-CNN box mAP at IoU 0.5 (erosion and narrowing)", DETECTION_BOX_MAP50, "map50/frcnn",
                     note="validation set"))
    return rows


def _table4_rows() -> list[dict]:
    rows = []
    columns = list(TABLE4_COLUMNS)
    for kind, name in _KIND_LABELS.items():
        for metric, label in (("f_measure", "F-measure"), ("pr_auc", "PR-AUC")):
            values = _TABLE4[(kind, "all")][metric]
            for model, model_label in _MODEL_LABELS.items():
                rows.append(_row(f"001.table4.{kind}.all.{metric}.{model}", "001", "Table 4", CLASSIFICATION,
                                 f"{label}, all joints ({name}), {model_label}", values[columns.index(model)],
                                 f"{metric}/{model}/{kind}", note="8-fold CV, 226 images"))
            rows.append(_row(f"001.table4.{kind}.all.{metric}.surgeon_mean", "001", "Table 4", CLASSIFICATION,
                             f"{label}, all joints ({name}), average of 3 surgeons",
                             values[columns.index("surgeon mean")], f"{metric}/readers_mean/{kind}",
                             note="book: mean of simulated readers"))
    return rows


def _grading_rows() -> list[dict]:
    jsn, erosion = GRADING_002["jsn"], GRADING_002["erosion"]
    rows = [
        _row("002.jsn_accuracy", "002", "Sec. 6", GRADING, "JSN grade accuracy", jsn["accuracy"],
             "accuracy/oversample_aug/jsn", note="validation set; oversampled training"),
        _row("002.jsn_balanced_accuracy", "002", "Sec. 6", GRADING,
             "JSN grade accuracy on a class-balanced validation sample", jsn["balanced_accuracy"],
             "balanced_accuracy/oversample_aug/jsn", note="WeightedRandomSampler validation; book: balanced accuracy"),
        _row("002.erosion_accuracy", "002", "Sec. 6", GRADING, "erosion grade accuracy", erosion["accuracy"],
             "accuracy/oversample_aug/erosion", note="hands and feet"),
        _row("002.erosion_balanced_accuracy", "002", "Sec. 6", GRADING, "erosion balanced accuracy",
             erosion["balanced_accuracy"], "balanced_accuracy/oversample_aug/erosion", note="hands and feet"),
    ]
    labels = {"accuracy": "accuracy", "class_normalised_accuracy": "class-normalised accuracy",
              "class_normalised_accuracy_pm1": "class-normalised accuracy +-1"}
    letters = dict(zip(GRADING_TABLE2, "abc"))
    for metric, label in labels.items():
        for method, values in GRADING_TABLE2.items():
            rows.append(_row(f"004.table2.{metric}.{method}", "004", "Table 2", GRADING,
                             f"erosion grade {label}, model {letters[method]})", values[metric],
                             f"{metric}/{method}/erosion", note="six Ratingen classes"))
    for metric in ("mse", "mae"):
        rows.append(_row(f"004.table3.{metric}.cdf", "004", "Table 3", GRADING,
                         f"eroded surface %, CDF regression model a), {metric.upper()}", GRADING_TABLE3["a"][metric],
                         f"{metric}_pct/cdf", note="0-100 % scale"))
    return rows


def _overall_rows() -> list[dict]:
    note = f"0-280 (both hands); {OVERALL_RESULTS['n_patients']:,} patients"
    return [
        _row("003.mae", "003", "Abstract", OVERALL_SCORE, "ResNet-Dwise50 overall score, MAE", OVERALL_RESULTS["mae"],
             "mae/IRB", note=note),
        _row("003.rmse", "003", "Abstract", OVERALL_SCORE, "ResNet-Dwise50 overall score, RMSE",
             OVERALL_RESULTS["rmse"], "rmse/IRB", note=note),
        _row("003.t_test_p", "003", "Sec. 4.4", OVERALL_SCORE, "paired t-test predicted vs true, p (every model)",
             OVERALL_RESULTS["t_test_p_above"], "t_test_p/IRB", relation=">",
             note="no significant difference of means"),
    ]


def headline() -> pd.DataFrame:
    """The published headline numbers, one row each (see the module docstring for the columns)."""
    rows = _selection_rows() + _detection_rows() + _table4_rows() + _grading_rows() + _overall_rows()
    table = pd.DataFrame(rows)
    table["citation"] = table["paper"].map(lambda p: PAPERS[p]["key"])
    return table
