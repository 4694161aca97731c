#pragma once

// The aggregate key schema of model quality: written by ModelContributor (contributor.h), read by
// the reports (query/model_quality.h). A key written here and read there is one of these.
//
// Aggregate keys (store::Aggregate, summed per model, version and minute of prediction time;
// <t> and <p> are class values as JSON text, <b> a bin number; \x1f separates parts):
//   n                 predictions
//   pn, pc            predictions whose predicted value is a number / a class (task inference)
//   conf\x1f<b>       predictions by confidence, 20 bins of 0.05; conf_sum, conf_n
//   labelled          predictions with a (non-null) label
//   mismatch          labelled, but the predicted value is missing or of another kind than the
//                     label
//   lag\x1f<b>        labelled by label lag (kLagBoundsSeconds buckets); lag_sum (seconds)
//   cls               labelled classification pairs
//   cm\x1f<t>\x1f<p>  the confusion matrix
//   scored            classification pairs with a score
//   Scores s are kept per true class <t> and predicted class <p>, so what a score means (the
//   probability of the positive class, of the other class, or the confidence of the predicted
//   label) is decided when the report is built; the same for per-class probabilities, by class <c>
//   (the JSON string of the probability object's member name). <g> is "<t>\x1f<p>" for scores
//   (prefix s) and "<t>\x1f<p>\x1f<c>" for probabilities (prefix p):
//   sh\x1f<g>\x1f<b>      count by fine score bin (score_bin: 100 per decade near 0 and 1, 0.001
//                         between): ROC AUC, average precision
//   sl1, sl0\x1f<g>       sums of -ln(s) and -ln(1-s), s clipped to [eps, 1-eps] (log loss)
//   sq1, sq0\x1f<g>       sums of (1-s)^2 and s^2 (Brier score)
//   su, sd\x1f<g>         counts of s >= 0.5 and s <= 0.5 (how the score agrees with the label)
//   sc1, sc1s\x1f<g>\x1f<b>  count and sum of s by calibration bin of s; sc0, sc0s: of 1-s
//   (ph, pl1, ... the same for probabilities)
//   Aggregates written before scores were kept by predicted class (sc, ll1, ll0, b1, b0, cal,
//   calp, by true class only) are still read, as probabilities of the positive class.
//   reg               labelled regression pairs; ae, se, ape: sums of |e|, e^2, |e|/max(|y|, eps);
//                     y, yy: sums of y and y^2 (R2)
//   qt\x1f<f>\x1f<t>  predictions where input feature <f> is present and not null, by JSON type
//                     (number, string, boolean, object, array)
//   qr\x1f<f>         ... numbers outside the configured bounds
//   qh\x1f<f>\x1f<b>  ... numbers by logarithmic bucket (drift): b = z (|x| < 1e-9), or p<i> / n<i>
//                     for x in +-[1.1^i, 1.1^(i+1))
//   qc\x1f<f>\x1f<v>  ... values of a categorical feature (JSON text, at most 64 bytes)
// Because the label side is kept per true class, the positive class can be chosen (or inferred)
// when the report is built, and a correction subtracts exactly what the old label added.

#include <array>
#include <string_view>
#include <vector>

namespace verity::quality {

constexpr char kSep = '\x1f';  // separates a key's parts

// Score bins: 100 per decade on each tail (1e-12 .. 0.01, and 0.99 .. 1 - 1e-12), 0.001 between.
// Increasing with the score; mirror_bin(score_bin(s)) is score_bin(1 - s) but on bin edges. Fine
// tails keep average precision exact where confident models put most scores.
constexpr int kTailBins = 1000;
constexpr int kMiddleBins = 980;
constexpr int kScoreBins = 2 * kTailBins + kMiddleBins;
constexpr int kLegacyScoreBins = 1000;  // "sc" keys: 1000 bins of 0.001
int score_bin(double s);
inline int mirror_bin(int b) { return kScoreBins - 1 - b; }
// A score s is in bin b when score_bin_lower_bound(b) <= s < score_bin_lower_bound(b + 1) (bin 0
// starts at 0; the last bin ends at 1, inclusive).
double score_bin_lower_bound(int b);

// Calibration bins (10 uniform bins, as sklearn's calibration_curve(strategy="uniform")): the
// number of inner edges i/10 strictly below p.
constexpr int kCalibrationBins = 10;
int calibration_bin(double p);

constexpr int kConfidenceBins = 20;  // of 0.05 over [0, 1]

// Bucket upper bounds of the label lag histogram, in seconds (+Inf last, implied).
extern const std::vector<double> kLagBoundsSeconds;

// Drift buckets of numbers: "z" for |x| < 1e-9, otherwise p<i> / n<i> for x in +-[1.1^i,
// 1.1^(i+1)). numeric_bucket writes x's bucket into `buf`; bucket_value is a bucket's lower bound
// (which orders buckets by value).
constexpr double kBucketBase = 1.1;
std::string_view numeric_bucket(double x, std::array<char, 16>& buf);
double bucket_value(std::string_view bucket);

}  // namespace verity::quality
