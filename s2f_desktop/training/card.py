"""The model card (MODEL_CARD.md) of a trait model, rendered from measured numbers only."""

from __future__ import annotations

from typing import Any


def _ci(entry: dict[str, Any], pct: bool = True, digits: int = 1) -> str:
    v, (lo, hi) = entry["value"], entry["ci95"]
    if v != v:  # NaN: nothing to measure (e.g. no labels given)
        return "n/a"
    if pct:
        return f"{100 * v:.{digits}f} % [{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def metrics_table(metrics: dict[str, Any]) -> str:
    """Markdown table of the headline metrics with 95 % CIs (also used for the README)."""
    rows = ["| metric | clean (16 kHz) | telephone band (300-3400 Hz, 8 kHz) |", "|---|---|---|"]

    def row(label: str, key: str, name: str, pct: bool = True, digits: int = 1) -> None:
        cells = []
        for v in ("clean", "telephone"):
            e = metrics.get(f"{key}_{v}", {}).get(name)
            cells.append(_ci(e, pct, digits) if e else "n/a")
        rows.append(f"| {label} | {cells[0]} | {cells[1]} |")

    row("sex accuracy, verified labels (threshold 0.5, no abstention)", "sex", "accuracy")
    row("sex accuracy, verified labels, decided cases (outside the uncertain band)", "sex", "accuracy_decided")
    row("sex abstention rate (uncertain band), verified labels", "sex", "abstention_rate")
    row("sex accuracy, avspeech verified face labels", "sex", "accuracy_avspeech")
    row("sex accuracy, avspeech verified face labels, decided cases", "sex", "accuracy_decided_avspeech")
    row("sex accuracy, LibriSpeech (self-reported labels)", "sex", "accuracy_librispeech")
    row("sex accuracy, LibriSpeech, decided cases", "sex", "accuracy_decided_librispeech")
    row("sex accuracy, all usable teacher labels (no abstention)", "sex_teacher_usable", "accuracy")
    row("sex accuracy, all usable teacher labels, decided cases", "sex_teacher_usable", "accuracy_decided")
    row("sex accuracy, ALL labels incl. unusable face labels (no abstention)", "sex_all_labels", "accuracy")
    row("sex accuracy, ALL labels, decided cases", "sex_all_labels", "accuracy_decided")
    row("sex accuracy, external test: LibriSpeech test-other (10 speakers, not trained on)", "sex_external",
        "accuracy")
    row("sex expected calibration error (10 bins), verified labels", "sex", "ece", pct=False, digits=3)
    row("sex expected calibration error (10 bins), usable teacher labels", "sex_teacher_usable", "ece", pct=False,
        digits=3)
    row("sex expected calibration error (10 bins), all labels", "sex_all_labels", "ece", pct=False, digits=3)
    row("age MAE vs face-derived age (years), usable labels", "age", "mae_years", pct=False)
    row("age MAE of always answering the mean (years)", "age", "mae_predict_mean_years", pct=False)
    row("age MAE of always answering the median (years)", "age", "mae_predict_median_years", pct=False)
    row("age MAE, all face labels (years)", "age_all_labels", "mae_years", pct=False)
    row("age-bin accuracy (<20, 20-39, 40-59, >=60)", "age", "bin_accuracy")
    row("age-bin accuracy of always answering the majority bin", "age", "majority_bin_accuracy")
    row("age-bin label given (best bin probability >= threshold)", "age", "labelled_rate")
    row("age-bin accuracy when a label is given", "age", "labelled_bin_accuracy")
    row("80 % interval coverage", "age", "coverage_80")
    row("80 % interval mean width (years)", "age", "interval_80_width_years", pct=False)
    return "\n".join(rows)


def _disagreements(metrics: dict[str, Any]) -> str:
    d = metrics.get("sex_disagreements_avspeech")
    if not d:
        return ""
    text = (f"Label noise: of {d['scored']} avspeech clips with a usable teacher label, voice and face teacher "
            f"disagree on sex in {d['disagreements']}; in {d['f0_sides_with_voice']} of those the median F0 sides "
            "with the voice (face female but F0 < 145 Hz, or face male but F0 > 175 Hz).")
    r = metrics.get("reviewer")
    if r:
        text += (f" The blind human review contradicts the teacher on {r['disputed']} usable labels (and is unsure "
                 f"on {r['reviewer_unsure']}); there the out-of-fold voice sides with the reviewer "
                 f"{r['voice_sides_with_reviewer']} times and with the teacher {r['voice_sides_with_teacher']} "
                 "times. Neither rater heard the voice, so this is independent evidence that most of those "
                 "teacher labels are wrong.")
    v = metrics.get("sex_disagreements_avspeech_verified")
    if v:
        text += (f" On the {v['scored']} verified avspeech labels the voice still disagrees in {v['disagreements']} "
                 f"clips ({v['f0_sides_with_voice']} with an F0 siding with the voice): both raters agree on the "
                 "face, so these are voice-model errors or clips whose audible speaker is not the person in "
                 "the frame (an interviewer, a voice-over), which a face review cannot detect.")
    return text


def _review_md(data: dict[str, Any], metrics: dict[str, Any]) -> str:
    r = data.get("review")
    if not r:
        return ""
    s = r["sex_vs_teacher"]
    a = r["age_bin_vs_teacher"]
    bins = a["bins"]
    rows = ["| teacher bin \\ reviewer bin | " + " | ".join(bins) + " |", "|---" * (len(bins) + 1) + "|"]
    for name, row in zip(bins, a["confusion_teacher_rows_reviewer_cols"]):
        rows.append(f"| {name} | " + " | ".join(str(c) for c in row) + " |")
    ar = metrics.get("age_reviewer_bins_clean", {})
    voice = ""
    if ar:
        voice = (f" Against the reviewer's bins ({ar['n']} clips), the voice's bin (the bin of its median) agrees "
                 f"{_ci(ar['voice_vs_reviewer'])}, always answering the reviewer's most frequent bin "
                 f"({ar['reviewer_majority_bin']}) {_ci(ar['majority_vs_reviewer'])}, and the face teacher "
                 f"{_ci(ar['teacher_vs_reviewer'])}.")
    table = "\n".join(rows)
    return (
        "**Second rater: blind human review of the face frames** (`s2f_desktop/training/face_review.json`, "
        "procedure in that file and in `s2f_desktop/training/review.py`; `s2f-train review-sheets` re-creates "
        f"the contact sheets). All {r['reviewed']} frames were labelled for apparent sex and apparent age bin "
        "from the picture alone, in a seeded random order, without clip ids, teacher outputs or voice results; "
        "one reviewer, not a trained facial examiner, one pass. A sex label is **verified** when the teacher's "
        "label is usable and the reviewer saw the same sex; verified labels (and LibriSpeech's self-reported "
        "sex) train and score the sex head.\n\n"
        f"* sex, usable teacher labels: reviewer agrees {s['usable']['agree']}, disagrees "
        f"{s['usable']['disagree']}, unsure {s['usable']['reviewer_unsure']}; unusable teacher labels: agrees "
        f"{s['unusable']['agree']}, disagrees {s['unusable']['disagree']}, unsure "
        f"{s['unusable']['reviewer_unsure']}\n"
        f"* sex labels verified: {data.get('sex_labels_verified')} (avspeech and LibriSpeech)\n"
        f"* age bin, teacher vs reviewer on the same {a['n']} faces: agreement {100 * a['agreement']:.1f} %; "
        f"the reviewer puts {100 * (1 - a['reviewer_majority_share']):.0f} % of faces outside its most "
        f"frequent bin.{voice}\n\n{table}")


def reliability_md(metrics: dict[str, Any]) -> str:
    """Reliability table (stated P(male) vs observed male fraction) for both channel variants."""
    a = metrics.get("sex_clean", {}).get("reliability")
    b = metrics.get("sex_telephone", {}).get("reliability")
    if not a:
        return ""
    rows = ["| stated P(male) | clean: n | clean: mean stated | clean: observed male | telephone: n | "
            "telephone: mean stated | telephone: observed male |", "|---|---|---|---|---|---|---|"]

    def f(v: float) -> str:
        return "-" if v != v else f"{v:.2f}"

    for ra, rb in zip(a, b or a):
        rows.append(f"| {ra['bin'][0]:.1f}-{ra['bin'][1]:.1f} | {ra['n']} | {f(ra['mean_p_male'])} | "
                    f"{f(ra['observed_male'])} | {rb['n']} | {f(rb['mean_p_male'])} | {f(rb['observed_male'])} |")
    return "\n".join(rows)


def _teacher_md(data: dict[str, Any]) -> str:
    t = data.get("teacher")
    if not t:
        return ""
    r = t["rule"]
    return f"""**Teacher label quality (automatic, no hand labelling).** Each face frame is classified in
{len(r['views'])} views ({', '.join(r['views'])}); the label is the mean P(male) and mean age over
the views where a face was found. Per clip, the face count, views with a face, spread across views
and agreement are recorded (`teacher_labels.json`). The **usable-label rule** was declared before
any voice result was seen: a sex label is usable when at most {r['max_faces']} face is found (largest
count over views), a face is found in at least {r['min_views_with_face']} of {len(r['views'])} views,
the averaged P(male) lies outside {r['sex_uncertain_band']}, and at least
{100 * r['min_view_agreement']:.0f} % of views agree with the averaged decision; an age label is usable
with the same face conditions and an age spread across views of at most {r['max_age_sd_years']} years.

* sex labels usable: **{t['sex_usable']}** of {data.get('avspeech_clips')} avspeech clips; excluded: {t['sex_excluded']}
* age labels usable: **{t['age_usable']}**; excluded: {t['age_excluded']}
* faces found (largest count over views): {t['faces_found']}; all views agree on sex in {t['agreement_all_views']} clips
* TTA-averaged teacher confidence: {t['confidence']}

Unusable labels train nothing; metrics are reported on verified labels (below) and, separately, on all
usable teacher labels and on all labels."""


def _strict(metrics: dict[str, Any]) -> str:
    e = metrics.get("sex_clean", {})
    out = []
    for key, what in (("band_rule_all_usable_labels", "on all usable teacher labels (the first rule)"),
                      ("band_rule_librispeech_only", "on LibriSpeech labels only (the second rule)")):
        st = e.get(key)
        if st:
            out.append(f"Band chosen {what}, scored on verified labels: decided-case accuracy "
                       f"{_ci(st['accuracy_decided'])}, abstention {_ci(st['abstention_rate'])} (clean).")
    return "\n".join(out)


def _external(metrics: dict[str, Any]) -> str:
    e = metrics.get("sex_external_clean")
    if not e:
        return ""
    wrong = e.get("speakers_misclassified", [])
    who = "; ".join(f"{w['speaker']} (listed {w['listed_sex']}, median F0 {w['median_f0_hz']} Hz)" for w in wrong)
    return (f"External check on {e['data']} ({e['speakers']} speakers, {e['n']} utterances, never used for training "
            f"or calibration): errors cluster by speaker, not by utterance. Speakers whose utterances were mostly "
            f"misclassified: {who or 'none'}. With so few speakers this check is coarse: one atypical voice moves "
            "the accuracy by 10 points.")


def render_card(model_id: str, calib: dict[str, Any], metrics: dict[str, Any], data: dict[str, Any],
                timings: dict[str, float], limit: int | None, teacher: str) -> str:
    """The full model card text."""
    band = calib["sex"]["uncertain_band"]
    ab = calib["abstention"]
    age = data.get("age_face_years", {})
    subset = (f"\n> **Smoke-test build**: trained on the first {limit} groups of each corpus only. "
              "Do not ship these weights.\n" if limit else "")
    n_sex = metrics.get("sex_clean", {}).get("n", 0)
    n_age = metrics.get("age_clean", {}).get("n", 0)
    return f"""# Model card: {model_id} (speaker sex and age from voice)
{subset}
Investigative lead only, never an identification. The model estimates **sex** (calibrated
probability of male) and **age** (median and 80 % interval, in years) of an adult speaker
from a selection of speech. It abstains (`inconclusive`) when it should.

## What it does not do

* **No ancestry or ethnicity.** The model has no such output and none may be derived from it.
  Speech2Face's own evaluation found only about 48 % agreement for ethnicity between faces
  reconstructed from voice and the true faces, and accent or language reflect where and how a
  person learned to speak, not ancestry.
* No identification: a voice profile fits many people.

## Data and provenance

| corpus | use | labels | size used |
|---|---|---|---|
| avspeech-968 (AVSpeech test clips, Ephrat et al. 2018, as published with the Speech2Face supplementary material; research use) | sex and age | derived from the speaker's face frame by a face-attribute *teacher* | {data.get('avspeech_clips')} clips from {data.get('avspeech_videos')} videos |
| LibriSpeech train-clean (Panayotov et al. 2015, CC BY 4.0), one utterance per speaker | sex only (no ages exist) | self-reported reader sex (SPEAKERS.TXT) | {data.get('librispeech_speakers')} speakers |

Sex labels used (usable): {data.get('sex_labels_usable')}; all given: {data.get('sex_labels_all')}. Face-derived ages: {age}.

**Teacher (the face teaches the voice, as in Speech2Face).** {teacher}. Its authors report about
97.3 % gender accuracy on LFW; its age error is not published in comparable form. Its agreement
with the true sex or age of *these* speakers is **unmeasured here** (no ground truth exists for
avspeech), so avspeech labels are noisy, and age metrics measure agreement with the *face model's*
age, not with true age. The face model itself has known limits: a frontal-face HOG detector (profile
or small faces are missed), 32x32 and 64x64 aligned chips, training data of mostly adult, Western
celebrities; it outputs binary gender as seen in a face, which may differ from a speaker's sex.

{_teacher_md(data)}

{_review_md(data, metrics)}

## Method

* Input: the selection's speech (silero speech detection removes pauses), resampled to 16 kHz.
  Training clips (3-20 s, mostly speech) are used whole; the embedding's own silence trimming and
  Praat's restriction to voiced frames make the two equivalent up to short pauses.
* Features: resemblyzer's GE2E speaker embedding (256-d; sha256-checked weights from the
  resemblyzer 0.1.4 wheel) and Praat measures {', '.join(calib['acoustic_features'])}
  (two-pass pitch tracking; formants over voiced frames; pitch, formants, formant dispersion
  (the vocal-tract-length cue) and perturbation measures log-transformed), standardised;
  unmeasurable values take the training mean.
* Sex: L2-regularised logistic regression (L2 = {calib['sex'].get('l2')}, chosen by 3-fold grouped inner
  cross-validation from a fixed grid) trained on verified labels only; Platt scaling
  (a = {calib['sex']['platt_a']:.4f}, b = {calib['sex']['platt_b']:.4f}) fitted on out-of-fold logits.
* Age: ridge regression of log(face-derived age) (L2 = {calib['age'].get('l2')}, inner-CV choice; the large
  L2 shrinks estimates toward the training mean, which is honest given how little the voice tells);
  median and 80 % interval from the 101 quantiles of out-of-fold log-residuals (split-conformal
  style), clipped to {calib['age']['clip_years']} years; age-bin probabilities from the same distribution.
* Tried with the same folds during development and not adopted (clean, usable labels, threshold 0.5,
  out-of-fold accuracy): one-hidden-layer MLP (32 units, inner-CV weight decay) 95.7 % vs logistic
  regression 95.8 %; teacher-confidence sample weights 95.8 % (no change); clean-only training 95.6 %
  (telephone 95.3 % vs 95.5 %). Log-age instead of age lowered the age MAE from 9.65 to 9.39 years
  (usable labels, clean) and was adopted. The differences among the sex variants are within one or
  two clips, well inside the confidence intervals.
* Voice-ageing measures tried for age and not adopted (nested CV, same folds; age MAE, clean,
  usable labels; current model 9.43 years): cepstral peak prominence (CPPS), long-term spectral
  tilt and alpha ratio, F0 standard deviation in semitones, voice-break rate, syllable and
  voiced-segment rates (9.44); those plus mean and sd of 13 MFCCs over voiced frames (9.46); MFCC
  statistics alone (9.45); k-nearest speakers by embedding (9.69); gradient boosting with absolute
  loss (9.57). A multinomial bin classifier answered "20-39" for 842 of 845 clips, i.e. learnt the
  majority bin. Every difference is within about 0.1 year, far inside the +-0.55-year intervals:
  beyond the embedding, F0, formants, jitter, shimmer and HNR these measures add nothing against
  face-derived age labels, whose own error and narrow spread (middle 80 % from 24 to 56 years)
  are the likely limit.
* A second round for age (same nested protocol and folds, clean, usable labels; baseline 9.43 years,
  bin accuracy 64.5 % vs 64.7 % majority; paired bootstrap differences): sex-specific age models
  (interaction with the teacher's or the voice's sex 9.43, separate heads mixed by P(male) 9.41),
  PCA (9.53), PLS (9.57), whitened or raw embeddings (9.52), Huber loss (9.54), direct median (quantile)
  regression (9.80), age or sqrt(age) targets (9.45 / 9.40), dropping teacher ages under 12/15/18/20 years
  from training (9.45-9.51), averaging clean and telephone predictions (9.50), RBF kernel ridge (9.47),
  an 11-model average (9.42), and the best combination (9.39, bin accuracy 64.7 %). None differs from
  the baseline by more than 0.1 year or 0.5 bin-accuracy points beyond noise. The out-of-fold voice
  estimate separates faces rated 40+ from younger ones with an AUC of about 0.67 (teacher) / 0.68
  (reviewer): the age signal in these features is real but weak.
* Augmentation: each clip is used clean and through a simulated telephone channel
  (300-3400 Hz band-pass, 8 kHz).
* Evaluation: {calib['cv_folds']}-fold cross-validation grouped by
  YouTube video / LibriSpeech speaker (no speaker on both sides of a split); calibration is
  cross-fitted (fold k is calibrated on the other folds), so reported calibration is out-of-sample.
  95 % intervals: percentile bootstrap (1000 resamples) over videos/speakers.
  Scored clips: {n_sex} for sex, {n_age} for age.
* Training: `s2f-train traits --data ../shared/data` (seed {calib['seed']}; deterministic numpy
  fitting; features cached outside the repository). Measured on the 2-core build machine
  (shared with other jobs): first run about 17 min (face labels with 8-view TTA about 2 min; GE2E + Praat features for
  1219 clips x 2 channel variants about 15 min); re-runs with both caches under 1 min.

## Abstention (label `inconclusive`)

* speech-quality verdict `insufficient`, less than {ab['min_net_speech_s']} s of net speech, or less
  than {ab['min_voiced_s']} s of voiced frames: both sex and age abstain;
* sex: calibrated P(male) inside the uncertain band [{band[0]}, {band[1]}]. Rule: {calib['sex'].get('band_rule', '')}
  (chosen per fold on training folds for the metrics below; the shipped band on all out-of-fold
  outputs). Earlier rules, kept for comparison: on *all usable* teacher labels the same error target
  would have chosen {calib['sex'].get('band_if_chosen_on_all_usable_labels')} and abstained on most clips,
  because the teacher's residual errors are confident; on LibriSpeech alone (251 speakers)
  {calib['sex'].get('band_if_chosen_on_librispeech_only')}: see the metrics;
* age: no age bin reaches probability {calib['age']['min_bin_probability']} (the median and interval
  are still given).

## Metrics (cross-validated, 95 % CIs)

{metrics_table(metrics)}

{_strict(metrics)}

## Calibration (reliability, cross-fitted, verified labels)

Platt scaling is cross-fitted (each fold calibrated on the other folds), so this table is
out-of-sample. Rows: bins of stated P(male); observed male is the fraction of those clips whose
label is male.

{reliability_md(metrics)}

{_disagreements(metrics)}

{_external(metrics)}

## Limits

* **Age is weakly identifiable from voice.** On these data the voice improves only modestly on
  knowing nothing (MAE about one year below always answering the mean age), and the age-bin accuracy
  does not exceed always answering the most frequent bin (20-39), because the bins' boundaries lie
  within the typical error. Treat the age interval as the population prior narrowed slightly, not
  as a measurement. Labels come from a face model, whose own age errors are included in the MAE.
* **Children** (and adolescents) are essentially absent from the training data; estimates for them
  are unsupported. Very old speakers are rare too.
* **Telephone band** lowers accuracy (see the table); F3/F4-based measures are unreliable there.
  Real codecs (GSM, AMR, VoIP packet loss) were not simulated.
* **Languages**: mostly English (LibriSpeech is English read speech; avspeech is mostly English).
  Other languages are untested.
* **Training population**: YouTube speakers (lecturers, presenters, interviewees) and LibriVox
  volunteer readers; not representative of any forensic population. Clips where the face model
  saw no face, several faces, or was unsure were left out of training (see the rule above), which
  biases the training set toward clear frontal faces.
* **Label errors**: even usable face labels contain errors (the blind review contradicts about 2 % of
  them, and the voice sides with the reviewer in most of those); verified labels remove most of them,
  but not clips whose audible speaker is not the person in the frame. Accuracy against face-derived
  labels is therefore a lower bound; LibriSpeech (self-reported) is the cleanest measure. Voices that do not match
  typical sex-related acoustics (e.g. some transgender speakers, hormonal or laryngeal conditions,
  voice disguise) may be misclassified with high confidence.
* Synthetic speech and voice conversion are out of scope.
"""
