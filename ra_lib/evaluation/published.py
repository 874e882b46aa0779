"""The five papers' published headline numbers, as data, each with where it is printed.

Every number was copied from the project's text copies of the papers (``/work/shared/papers``);
``source`` names the table, figure or section. They were measured on the papers' patients, never on
this book's data: a comparison shows scale, not replication.

* :data:`PAPERS`: citation key (``references.bib``) and short title of each paper.
* :func:`headline`: one row per headline number (``id``, ``paper``, ``source``, ``stage``, ``quantity``,
  ``value``, ``relation``, ``note``); ``relation`` is ``"="`` or ``">"`` (a bound such as "p > 0.05").
* :func:`table4`: paper 001 Table 4 in long form (kind, region, metric, column, value); columns are
  stage 3's model codes and the three surgeons (``surgeon 1..3``, ``surgeon mean``).
"""
from __future__ import annotations

import pandas as pd

PAPERS = {
    "000": {"key": "pacs_selection", "short": "PACS image selection (1,047 radiographs)"},
    "001": {"key": "miyama2022", "short": "Miyama et al. 2022, doi:10.1186/s13075-022-02914-7"},
    "002": {"key": "nguyenba_ra2", "short": "Nguyen-Ba et al., RA2 DREAM challenge entry"},
    "003": {"key": "resnet_dwise50", "short": "ResNet-Dwise50 overall score (3,818 patients)"},
    "004": {"key": "rohrbach2017", "short": "Rohrbach 2017, Ratingen erosion score (thesis)"},
}

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


_MODEL_LABELS = {c: label for c, label in TABLE4_COLUMNS.items() if not c.startswith("surgeon")}


def _row(id_, paper, source, stage, quantity, value, relation="=", note=""):
    return {"id": id_, "paper": paper, "source": source, "stage": stage, "quantity": quantity, "value": value,
            "relation": relation, "note": note}


def _headline_rows() -> list[dict]:
    rows = [
        _row("000.model1_accuracy", "000", "Abstract; Table 3 (95.17 %)", "01_image_selection",
             "one hand vs rest (model 1), accuracy", 0.952, note="206 test images"),
        _row("000.model2_accuracy", "000", "Abstract; Table 3 (97.89 %)", "01_image_selection",
             "both hands vs rest (model 2), accuracy", 0.979, note="206 test images"),
        _row("000.three_class_accuracy", "000", "Abstract; Table 4 (206 / 206)", "01_image_selection",
             "three classes (fused models), accuracy", 1.0, note="206 / 206 correct"),
        _row("001.detection_rate.erosion", "001", "Table 3 (3229 / 3296)", "02_joint_detection",
             "DeepLabCut correct detection rate, all joints (erosion)", 3229 / 3296, note="206 test images"),
        _row("001.detection_rate.jsn", "001", "Table 3 (3008 / 3090)", "02_joint_detection",
             "DeepLabCut correct detection rate, all joints (JSN)", 3008 / 3090, note="206 test images"),
        _row("001.distance_error.erosion", "001", "Fig. 4; Results (3.3 +- 3.4 px)", "02_joint_detection",
             "distance error, all joints (erosion), mean px", 3.3, note="50 images, pixels at the paper's scale"),
        _row("001.distance_error.jsn", "001", "Fig. 4; Results (3.8 +- 6.3 px)", "02_joint_detection",
             "distance error, all joints (JSN), mean px", 3.8, note="50 images, pixels at the paper's scale"),
        _row("002.box_map50", "002", "Abstract; Sec. 6", "02_joint_detection",
             "Faster R-CNN box mAP at IoU 0.5 (erosion and narrowing)", 0.99, note="validation set"),
    ]
    for kind, name in (("erosion", "erosion"), ("jsn", "JSN")):
        for metric, label in (("f_measure", "F-measure"), ("pr_auc", "PR-AUC")):
            for model, model_label in _MODEL_LABELS.items():
                value = _TABLE4[(kind, "all")][metric][list(TABLE4_COLUMNS).index(model)]
                rows.append(_row(f"001.table4.{kind}.all.{metric}.{model}", "001", "Table 4", "03_joint_classification",
                                 f"{label}, all joints ({name}), {model_label}", value, note="8-fold CV, 226 images"))
            value = _TABLE4[(kind, "all")][metric][list(TABLE4_COLUMNS).index("surgeon mean")]
            rows.append(_row(f"001.table4.{kind}.all.{metric}.surgeon_mean", "001", "Table 4",
                             "03_joint_classification", f"{label}, all joints ({name}), average of 3 surgeons", value,
                             note="book: mean of simulated readers"))
    rows += [
        _row("002.jsn_accuracy", "002", "Sec. 6", "04_joint_grading", "JSN grade accuracy", 0.5762,
             note="validation set; oversampled training"),
        _row("002.jsn_balanced_accuracy", "002", "Sec. 6", "04_joint_grading",
             "JSN grade accuracy on a class-balanced validation sample", 0.6009,
             note="WeightedRandomSampler validation; book: balanced accuracy"),
        _row("002.erosion_accuracy", "002", "Sec. 6", "04_joint_grading", "erosion grade accuracy", 0.17,
             note="hands and feet"),
        _row("002.erosion_balanced_accuracy", "002", "Sec. 6", "04_joint_grading", "erosion balanced accuracy",
             0.186, note="hands and feet"),
    ]
    table2 = {"accuracy": (0.726, 0.73, 0.569), "class_normalised_accuracy": (0.264, 0.337, 0.422),
              "class_normalised_accuracy_pm1": (0.558, 0.675, 0.817)}
    labels = {"accuracy": "accuracy", "class_normalised_accuracy": "class-normalised accuracy",
              "class_normalised_accuracy_pm1": "class-normalised accuracy +-1"}
    for metric, values in table2.items():
        for method, letter, value in zip(("plain", "oversample_aug", "class_weights"), "abc", values):
            rows.append(_row(f"004.table2.{metric}.{method}", "004", "Table 2", "04_joint_grading",
                             f"erosion grade {labels[metric]}, model {letter})", value, note="six Ratingen classes"))
    rows += [
        _row("004.table3.mse.cdf", "004", "Table 3", "04_joint_grading",
             "eroded surface %, CDF regression model a), MSE", 80.884, note="0-100 % scale"),
        _row("004.table3.mae.cdf", "004", "Table 3", "04_joint_grading",
             "eroded surface %, CDF regression model a), MAE", 4.046, note="0-100 % scale"),
        _row("003.mae", "003", "Abstract", "05_overall_score", "ResNet-Dwise50 overall score, MAE", 14.90,
             note="0-280 (both hands); 3,818 patients"),
        _row("003.rmse", "003", "Abstract", "05_overall_score", "ResNet-Dwise50 overall score, RMSE", 22.01,
             note="0-280 (both hands); 3,818 patients"),
        _row("003.t_test_p", "003", "Sec. 4.4", "05_overall_score",
             "paired t-test predicted vs true, p (every model)", 0.05, relation=">",
             note="no significant difference of means"),
    ]
    return rows


def headline() -> pd.DataFrame:
    """The published headline numbers, one row each (see the module docstring for the columns)."""
    table = pd.DataFrame(_headline_rows())
    table["citation"] = table["paper"].map(lambda p: PAPERS[p]["key"])
    return table
