#!/usr/bin/python3
"""Compares Verity's GET /v1/models/{model}/curves with scikit-learn on the same labelled predictions.

usage: sklearn_curves_oracle.py DATA CURVES
  DATA    {"<model>": {"exact": true|false, "y_true": [0|1...], "score": [P(positive)...]}}
          the labels in effect, one entry per labelled prediction
  CURVES  {"<model>": <GET /v1/models/<model>/curves answer>}
Prints one line per comparison; exits 1 if any differs beyond its tolerance.

Verity ranks scores in bins (100 per decade within 0.01 of 0 and 1, 0.001 between: the scores of
one bin are one threshold), so its curves are scikit-learn's exactly only when no bin holds two
distinct scores. Models marked "exact" are generated that way (every score in the middle of its
bin): their ROC and precision-recall points must equal roc_curve(drop_intermediate=False) and
precision_recall_curve to 1e-12, each threshold must be the lower bound of the bin holding
scikit-learn's. For the others, binning merges thresholds, so only the areas are compared, within
the bounds sklearn_oracle.py uses (ROC AUC: half the share of positive-negative pairs sharing a
bin; average precision 2e-3). Calibration bins are sklearn.calibration.calibration_curve's (10
uniform bins, exact sums): 1e-9 always.
"""
import json
import math
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (average_precision_score, precision_recall_curve, roc_auc_score,
                             roc_curve)

failures = []


def check(model, name, ok, detail):
    print(f"{model:10} {name:32} {'ok' if ok else 'FAIL'} {detail}")
    if not ok:
        failures.append(f"{model} {name}: {detail}")


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


def main():
    data = json.load(open(sys.argv[1]))
    curves = json.load(open(sys.argv[2]))
    for model, d in data.items():
        c = curves[model]
        y = np.array(d["y_true"], dtype=int)
        score = np.array(d["score"], dtype=float)
        roc = c["roc"]["points"]
        pr = c["precision_recall"]["points"]
        metrics = c["report"]["metrics"]
        check(model, "auc is the report's roc_auc", c["roc"]["auc"] == metrics["roc_auc"],
              f'{c["roc"]["auc"]} {metrics["roc_auc"]}')
        fine = np.array([score_bin(s) for s in score])
        same_bin_pairs = sum(int(np.sum((fine == b) & (y == 1))) * int(np.sum((fine == b) & (y == 0)))
                             for b in np.unique(fine))
        bound = max(0.5 * same_bin_pairs / (y.sum() * (len(y) - y.sum())), 1e-12)
        if d["exact"]:
            bound = 1e-12  # a bin holds one distinct score: its ties are scikit-learn's
        auc = roc_auc_score(y, score)
        check(model, "roc_auc", abs(c["roc"]["auc"] - auc) <= bound,
              f'verity {c["roc"]["auc"]:.17g} sklearn {auc:.17g} bound {bound:.3g}')
        ap = average_precision_score(y, score)
        ours = c["precision_recall"]["average_precision"]
        check(model, "average_precision", abs(ours - ap) <= (1e-12 if d["exact"] else 2e-3),
              f"verity {ours:.17g} sklearn {ap:.17g}")
        if d["exact"]:
            fpr, tpr, thr = roc_curve(y, score, drop_intermediate=False)
            ok = len(fpr) == len(roc)
            worst = 0.0
            for i in range(min(len(fpr), len(roc))):
                worst = max(worst, abs(fpr[i] - roc[i]["fpr"]), abs(tpr[i] - roc[i]["tpr"]))
                if i > 0:
                    # The threshold is the lower bound of the bin holding scikit-learn's.
                    ok = ok and roc[i]["threshold"] <= thr[i] and score_bin(thr[i]) == score_bin(
                        roc[i]["threshold"] + 1e-15)
            check(model, "roc_curve points", ok and worst <= 1e-12,
                  f"{len(roc)} points (sklearn {len(fpr)}), largest difference {worst:.3g}")
            precision, recall, thr = precision_recall_curve(y, score)
            precision, recall = precision[::-1], recall[::-1]  # Verity's order: recall increasing
            ok = len(precision) == len(pr)
            worst = 0.0
            for i in range(min(len(precision), len(pr))):
                worst = max(worst, abs(precision[i] - pr[i]["precision"]),
                            abs(recall[i] - pr[i]["recall"]))
            check(model, "precision_recall_curve points", ok and worst <= 1e-12,
                  f"{len(pr)} points (sklearn {len(precision)}), largest difference {worst:.3g}")
        prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="uniform")
        bins = c["calibration"]["bins"]
        ok = len(bins) == len(prob_true)
        worst = 0.0
        for i in range(min(len(bins), len(prob_true))):
            worst = max(worst, abs(bins[i]["observed_frequency"] - prob_true[i]),
                        abs(bins[i]["mean_predicted"] - prob_pred[i]))
        check(model, "calibration_curve", ok and worst <= 1e-9,
              f"{len(bins)} bins (sklearn {len(prob_true)}), largest difference {worst:.3g}")
    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("all curves agree")


main()
