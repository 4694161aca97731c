#!/usr/bin/python3
"""Compares Verity's model-quality reports with scikit-learn on the same labelled predictions.

usage: sklearn_oracle.py DATA REPORTS [CLEAN_REPORTS]
  DATA     {"<model>": {"task": "binary|multiclass|regression", "predictions": N,
                        "y_true": [...], "y_pred": [...], "score": [...] (binary),
                        "score_semantics": "..." (binary)}}
           the labels in effect at the end (after corrections), one entry per labelled prediction;
           "score" is always P(positive class), whatever convention the documents used
           ("score_semantics", which Verity must infer)
  REPORTS  {"<model>": <GET /v1/models/<model>/metrics answer>}
  CLEAN_REPORTS  the same from a clean run (every label once, after its prediction): every metric
           must match REPORTS
Prints one line per compared metric; exits 1 if any differs beyond its tolerance.

Tolerances:
  - count-based metrics (accuracy, precision, recall, F-beta, confusion matrix, coverage, baseline)
    are ratios of the same integers: 1e-12 (floating-point rounding of the division only);
  - sums of floats (log loss, Brier, ECE, MAE, MSE, RMSE, R2, MAPE): 1e-9 relative, as Verity
    adds in another order and subtracts corrections;
  - ROC AUC: Verity ranks scores in bins (100 per decade within 0.01 of 0 and 1, 0.001 between),
    so a positive and a negative in the same bin count as a tie (1/2). The bound is computed from
    the data: 1/2 x (pairs sharing a bin) / (positives x negatives);
  - average precision: the same binning merges thresholds inside a bin; 2e-3 (measured differences
    on this data are ~1e-4).
"""
import json
import math
import sys

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (
    accuracy_score, average_precision_score, brier_score_loss, confusion_matrix, f1_score,
    fbeta_score, log_loss, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_error, precision_score, r2_score, recall_score, roc_auc_score)

failures = []


def check(model, name, ours, theirs, tol, relative=False):
    if ours is None:
        failures.append(f"{model} {name}: missing from Verity's report")
        print(f"{model:10} {name:32} missing (sklearn {theirs})")
        return
    diff = abs(ours - theirs)
    limit = tol * max(1.0, abs(theirs)) if relative else tol
    ok = diff <= limit
    print(f"{model:10} {name:32} verity {ours:<24.17g} sklearn {theirs:<24.17g} "
          f"diff {diff:.3g} {'ok' if ok else 'FAIL (tolerance %.3g)' % limit}")
    if not ok:
        failures.append(f"{model} {name}: {ours} vs {theirs}")


def score_bin(s):
    """Verity's score bins (query/src/model_quality.cpp: score_bin)."""
    def tail(u):
        return min(max(int(math.floor((math.log10(u) + 12) * 100)), 0), 999)
    if not s > 0:
        return 0
    if s < 0.01:
        return tail(s)
    if s < 0.99:
        return 1000 + min(max(int(math.floor((s - 0.01) * 1000)), 0), 979)
    u = 1 - s
    if not u > 0:
        return 2979
    return 2979 - tail(u)


def compare_classification(model, d, r, binary):
    m = r["metrics"]
    y_true = [json.dumps(v) for v in d["y_true"]]
    y_pred = [json.dumps(v) for v in d["y_pred"]]
    labels = [json.dumps(v) for v in r["confusion_matrix"]["labels"]]
    exact = 1e-12
    check(model, "accuracy", m.get("accuracy"), accuracy_score(y_true, y_pred), exact)
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_true), 1)), y_true)
    check(model, "baseline_accuracy", m.get("baseline_accuracy"),
          dummy.score(np.zeros((len(y_true), 1)), y_true), exact)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    if cm.tolist() != r["confusion_matrix"]["matrix"]:
        failures.append(f"{model} confusion_matrix differs")
        print(f"{model:10} confusion_matrix FAIL\n  verity  {r['confusion_matrix']['matrix']}"
              f"\n  sklearn {cm.tolist()}")
    else:
        print(f"{model:10} {'confusion_matrix':32} identical {cm.tolist()}")
    for avg in ("macro", "weighted"):
        kw = dict(average=avg, labels=sorted(set(y_true) | set(y_pred)), zero_division=0)
        check(model, f"precision_{avg}", m.get(f"precision_{avg}"),
              precision_score(y_true, y_pred, **kw), exact)
        check(model, f"recall_{avg}", m.get(f"recall_{avg}"), recall_score(y_true, y_pred, **kw),
              exact)
        check(model, f"f1_{avg}", m.get(f"f1_{avg}"), f1_score(y_true, y_pred, **kw), exact)
        check(model, f"fbeta_0.5_{avg}", m.get(f"fbeta_0.5_{avg}"),
              fbeta_score(y_true, y_pred, beta=0.5, **kw), exact)
        check(model, f"fbeta_2_{avg}", m.get(f"fbeta_2_{avg}"),
              fbeta_score(y_true, y_pred, beta=2, **kw), exact)
    if not binary:
        return
    pos = json.dumps(r["positive_class"])
    kw = dict(pos_label=pos, zero_division=0)
    check(model, "precision", m.get("precision"), precision_score(y_true, y_pred, **kw), exact)
    check(model, "recall", m.get("recall"), recall_score(y_true, y_pred, **kw), exact)
    check(model, "f1", m.get("f1"), f1_score(y_true, y_pred, **kw), exact)
    check(model, "fbeta_0.5", m.get("fbeta_0.5"), fbeta_score(y_true, y_pred, beta=0.5, **kw),
          exact)
    check(model, "fbeta_2", m.get("fbeta_2"), fbeta_score(y_true, y_pred, beta=2, **kw), exact)

    sem = r.get("score_semantics", {})
    if sem.get("value") != d["score_semantics"] or sem.get("source") != "inferred":
        failures.append(f"{model} score_semantics: {sem} (expected {d['score_semantics']}, inferred)")
    print(f"{model:10} {'score_semantics':32} {sem}")
    check(model, "score_label_disagreement_ratio", sem.get("score_label_disagreement_ratio"), 0.0,
          0)
    score = np.array(d["score"], dtype=float)
    y = np.array([t == pos for t in y_true], dtype=int)
    check(model, "log_loss", m.get("log_loss"), log_loss(y, score), 1e-9, relative=True)
    check(model, "brier_score_loss", m.get("brier_score_loss"), brier_score_loss(y, score),
          1e-9, relative=True)
    # Expected calibration error over calibration_curve's 10 uniform bins.
    bins = np.linspace(0.0, 1.0, 11)
    binids = np.searchsorted(bins[1:-1], score)
    total = np.bincount(binids, minlength=10)
    sums = np.bincount(binids, weights=score, minlength=10)
    trues = np.bincount(binids, weights=y, minlength=10)
    nz = total != 0
    ece = float(np.sum(total[nz] / len(y) * np.abs(trues[nz] / total[nz] - sums[nz] / total[nz])))
    check(model, "expected_calibration_error", m.get("expected_calibration_error"), ece, 1e-9,
          relative=True)
    fine = np.array([score_bin(s) for s in score])
    same_bin_pairs = sum(int(np.sum((fine == b) & (y == 1))) * int(np.sum((fine == b) & (y == 0)))
                         for b in np.unique(fine))
    bound = 0.5 * same_bin_pairs / (y.sum() * (len(y) - y.sum()))
    check(model, "roc_auc", m.get("roc_auc"), roc_auc_score(y, score), max(bound, 1e-12))
    check(model, "average_precision", m.get("average_precision"),
          average_precision_score(y, score), 2e-3)


def compare_regression(model, d, r):
    m = r["metrics"]
    y_true = np.array(d["y_true"], dtype=float)
    y_pred = np.array(d["y_pred"], dtype=float)
    rel = 1e-9
    check(model, "mean_absolute_error", m.get("mean_absolute_error"),
          mean_absolute_error(y_true, y_pred), rel, True)
    check(model, "mean_squared_error", m.get("mean_squared_error"),
          mean_squared_error(y_true, y_pred), rel, True)
    check(model, "root_mean_squared_error", m.get("root_mean_squared_error"),
          math.sqrt(mean_squared_error(y_true, y_pred)), rel, True)
    check(model, "r2", m.get("r2"), r2_score(y_true, y_pred), rel, True)
    check(model, "mean_absolute_percentage_error", m.get("mean_absolute_percentage_error"),
          mean_absolute_percentage_error(y_true, y_pred), rel, True)


def main():
    data = json.load(open(sys.argv[1]))
    reports = json.load(open(sys.argv[2]))
    for model, d in data.items():
        r = reports[model]
        if r["task"] != d["task"]:
            failures.append(f"{model}: task {r['task']} (expected {d['task']})")
        check(model, "predictions", r["predictions"], d["predictions"], 0)
        check(model, "labelled", r["labelled"], len(d["y_true"]), 0)
        check(model, "label_coverage", r["metrics"].get("label_coverage"),
              len(d["y_true"]) / d["predictions"], 1e-12)
        if d["task"] == "regression":
            compare_regression(model, d, r)
        else:
            compare_classification(model, d, r, d["task"] == "binary")
    if len(sys.argv) > 3:
        clean = json.load(open(sys.argv[3]))
        for model, r in reports.items():
            c = clean[model]
            for key in ("task", "predictions", "labelled", "confusion_matrix"):
                if r.get(key) != c.get(key):
                    failures.append(f"{model} {key}: differs from the clean run")
            for name, v in c["metrics"].items():
                if name == "label_lag_seconds_mean":
                    continue  # the label times differ between the runs by design
                check(model, "clean run: " + name, r["metrics"].get(name), v, 1e-9, True)
    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("all metrics agree")


main()
