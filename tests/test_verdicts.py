"""The one verdict procedure, on constructed runs: each class, and the rules behind it."""
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from fmnist_utils.claims import Registry, StudyClaim
from fmnist_utils.verdicts import (INCONCLUSIVE, MISSING, NOT_COMPARABLE, NOT_REPRODUCED, NOT_TESTED, REPRODUCED,
                                   Noise, judge_best, judge_contrast, judge_count, judge_difference, judge_direction,
                                   judge_interaction, judge_relative, judge_threshold, judge_tradeoff, judge_value,
                                   judge_spread, not_tested, tally, top_group, undominated, hardware_bound,
                                   same_network, Sample, judge_censored, confounded, Measured, cost_order, judge_readings, judge_all)

ACC = "test accuracy, best epoch"


def claim(printed: str, quantity: str = ACC, **kw) -> StudyClaim:
    return StudyClaim("c", "a claim", "Table 1", printed, quantity, **kw)


def test_planted_agreement_is_reproduced():
    row = judge_value(claim("92.72%"), [0.9270, 0.9281, 0.9262], measured=ACC)
    assert row.verdict == REPRODUCED
    assert row.ours == "92.71% ± 0.10% (n=3)"
    assert abs(row.difference) < row.tolerance


def test_planted_contradiction_is_not_reproduced():
    row = judge_value(claim("99.06%"), [0.886, 0.888, 0.887], measured=ACC)
    assert row.verdict == NOT_REPRODUCED
    assert row.difference == pytest.approx(-10.36)


def test_noisy_agreement_is_inconclusive():
    """Three seeds spread by 0.06 on a loss of 0.5: the band holds the study's 0.676 and 0.5 alike."""
    loss = "validation loss, final epoch"
    row = judge_value(claim("0.676", loss), [0.45, 0.57, 0.50], measured=loss)
    assert row.verdict == INCONCLUSIVE
    assert "also holds values" in row.note


def test_a_small_difference_beyond_tight_noise_is_not_reproduced():
    row = judge_value(claim("92.72%"), [0.9200, 0.9202, 0.9198], measured=ACC)
    assert row.verdict == NOT_REPRODUCED


LOSS = "test loss, last epoch"


def test_a_study_number_measured_on_a_sample_of_the_test_images_carries_that_samples_noise():
    """The study's loss over 3,200 of the 10,000 test images: one image's loss spread 0.8 gives the sample mean an
    sd of 0.8 / sqrt(3200) x sqrt(1 - 0.32) = 0.0117, which the band adds to the seeds' (df by
    Welch-Satterthwaite, the spread's own df that of one run's 10,000 images). A study value just outside the
    seeds' band is inside the wider one."""
    runs = [0.300, 0.304, 0.302]
    narrow = judge_value(claim("0.315", LOSS), runs, measured=LOSS)
    assert narrow.verdict == NOT_REPRODUCED
    sample = Sample(0.8, 3200, 10_000, "the study's loss on 3,200 of the 10,000 test images", df=9999)
    assert sample.variance == pytest.approx(0.8 ** 2 / 3200 * (1 - 3200 / 10_000))
    wide = judge_value(claim("0.315", LOSS), runs, measured=LOSS, sample=sample)
    assert wide.verdict == REPRODUCED and wide.tolerance > narrow.tolerance
    seeds = 0.002 ** 2 * (1 + 1 / 3)
    df = (seeds + sample.variance) ** 2 / (seeds ** 2 / 2 + sample.variance ** 2 / 9999)
    assert wide.tolerance == pytest.approx(stats.t.ppf(0.975, df) * (seeds + sample.variance) ** 0.5 + 0.0005)
    assert "the study's 3,200 images: s=0.012" in wide.rule and "sampling noise of the study's number:" in wide.note
    # our own value a mean over a fixed 2,000 of the images: that part's noise joins, and the rule names it
    both = Sample(0.8, 3200, 10_000, "both", df=9999, ours=2000)
    assert both.variance == pytest.approx(sample.variance + 0.8 ** 2 / 2000 * (1 - 2000 / 10_000))
    row = judge_value(claim("0.315", LOSS), runs, measured=LOSS, sample=both)
    assert "the study's 3,200 images and our 2,000: s=" in row.rule and row.ours == "0.302 ± 0.002 (n=3)"
    # a pool too large to correct for (a stream of held-out images): no finite-population factor
    assert Sample(0.8, 3200, None, "a stream").variance == pytest.approx(0.8 ** 2 / 3200)
    # an exact value is no measurement: no sample to allow for
    exact = judge_value(claim("0.315", LOSS, exact=True), runs, measured=LOSS, sample=sample)
    assert "images" not in exact.rule


def test_a_samples_variance_is_the_textbook_one_for_drawing_without_replacement():
    """Against the population formula written the other way round: sigma^2 (ddof 0) / k x (N - k) / (N - 1)."""
    population = np.random.default_rng(1).gamma(0.5, 0.6, size=500)
    sample = Sample.of([population], 120, 500, "a loss")
    assert sample.variance == pytest.approx(population.var(ddof=0) / 120 * (500 - 120) / (500 - 1), rel=1e-12)
    assert sample.df == 499


def test_a_relative_change_of_two_sampled_numbers_carries_both_samples_noise():
    """'51% lower' from two losses the study measured on 3,200 images each: each side's delta-method term adds its
    sample's variance (gradient squared times it), the two samples independent. Ours is 50.0% with tight seeds:
    outside the seeds' band, but inside one that holds the samples' noise, which is wider than a point:
    inconclusive. 60% stays outside."""
    relative = "relative reduction of test loss"
    final, base = [0.3000, 0.3005, 0.3010], [0.6000, 0.6010, 0.6020]
    plain = judge_relative(claim("51%", relative), final, base, measured=relative)
    samples = (Sample(0.8, 3200, 10_000, "its final loss: 3,200 images", df=9999),
               Sample(1.0, 3200, 10_000, "its baseline's loss: 3,200 images", df=9999))
    wide = judge_relative(claim("51%", relative), final, base, measured=relative, samples=samples)
    assert plain.verdict == NOT_REPRODUCED and wide.verdict == INCONCLUSIVE
    ma, mb = 0.3005, 0.601
    seed_a, seed_b = (0.0005 / mb) ** 2 * (1 + 1 / 3), (ma * 0.001 / mb ** 2) ** 2 * (1 + 1 / 3)
    sample_a, sample_b = samples[0].variance / mb ** 2, (ma / mb ** 2) ** 2 * samples[1].variance
    seeds, added = seed_a + seed_b, sample_a + sample_b
    df = (seeds + added) ** 2 / (seed_a ** 2 / 2 + seed_b ** 2 / 2 + sample_a ** 2 / 9999 + sample_b ** 2 / 9999)
    assert wide.tolerance == pytest.approx(100 * (stats.t.ppf(0.975, df) * (seeds + added) ** 0.5 + 0.005), rel=1e-9)
    assert "its final loss: 3,200 images; its baseline's loss" in wide.note and "taken as independent" in wide.rule
    assert judge_relative(claim("60%", relative), final, base, measured=relative,
                          samples=samples).verdict == NOT_REPRODUCED
    assert judge_relative(claim("51%", relative), final, base, measured=relative,
                          samples=(samples[0], None)).tolerance < wide.tolerance


def test_a_samples_spread_is_one_images_pooled_within_runs_and_needs_every_run():
    """Two runs whose losses differ by a constant have the same per-image spread: the seed spread stays out."""
    rng = np.random.default_rng(0)
    image = rng.exponential(0.3, size=1000)
    sample = Sample.of([image, image + 0.5], 3200, 10_000, "a loss")
    assert sample.sd == pytest.approx(image.std(ddof=1)) and sample.population == 10_000
    assert "a loss: 3,200 of the 10,000 images" in sample.source and "pooled over our 2 runs" in sample.source
    assert Sample.of([image, None], 3200, 10_000, "a loss") is None  # a run stored without per-image losses
    with pytest.raises(ValueError, match="a study sample of 10,000 images out of 10,000: it must be a part of them"):
        Sample.of([image], 10_000, 10_000, "a loss")
    with pytest.raises(ValueError, match="our own sample of 10,000 images"):
        Sample.of([image], 3200, 10_000, "a loss", ours=10_000)
    with pytest.raises(ValueError, match="at least 2 images of every run; got \\[1, 1000\\]"):
        Sample.of([image, image[:1]], 3200, 10_000, "a loss")


def test_a_censored_value_is_judged_by_ranks_and_never_reproduced():
    """Seeds that never reached the value only bound it. All of ours beyond the study's 8 on one side: with 3 seeds
    a study run from the same distribution is outside all of them with chance 2/4 (inconclusive); with 39 seeds,
    2/40 = 5% is not under 5%; with 40, 2/41 is (not reproduced). One seed on the study's side: inconclusive."""
    lr = "epochs at the initial learning rate"
    c = claim("8", lr)
    row = judge_censored(c, [10, None, None], [12, 12, 12], measured=lr, shown="10, >12, >12")
    assert row.verdict == INCONCLUSIVE and row.ours == "10, >12, >12" and "3 of 3" in row.rule
    assert judge_censored(c, [10] * 38 + [None], [12] * 39, measured=lr, shown="").verdict == INCONCLUSIVE
    assert judge_censored(c, [10] * 39 + [None], [12] * 40, measured=lr, shown="").verdict == NOT_REPRODUCED
    assert judge_censored(c, [7] + [10] * 39 + [None], [12] * 41, measured=lr, shown="").verdict == INCONCLUSIVE
    # a seed censored below the study's value says nothing about which side it lies on
    assert "39 of 41" in judge_censored(c, [10] * 39 + [None, None], [12] * 39 + [6, 6], measured=lr, shown="").rule


def test_capped_run_is_not_comparable():
    row = judge_value(claim("89.90%"), [0.893, 0.894], measured=ACC, capped="stopped by the 50-epoch cap while improving")
    assert row.verdict == NOT_COMPARABLE and "50-epoch cap" in row.note


def test_missing_and_not_tested():
    assert judge_value(claim("92.72%"), [], measured=ACC).verdict == MISSING
    untested = claim("9.59 s", "test pass time", not_tested="hardware-bound")
    assert not_tested(untested).verdict == NOT_TESTED and not_tested(untested).note == "hardware-bound"


def test_single_run_needs_a_measured_family_spread():
    assert judge_value(claim("91.10%"), [0.9049], measured=ACC).verdict == INCONCLUSIVE
    wide = Noise.of([0.9070, 0.9049, 0.9112], "ResNet-Mini, 3 seeds")  # t(2) = 4.3: a band of 1.9 points
    assert judge_value(claim("91.10%"), [0.9049], measured=ACC, noise=wide).verdict == INCONCLUSIVE
    family = Noise(0.003, 10, "chapter 4's models, 3 seeds each")
    row = judge_value(claim("91.10%"), [0.9049], measured=ACC, noise=family)
    assert row.verdict == REPRODUCED and "chapter 4's models" in row.note
    far = judge_value(claim("99.67%"), [0.9148], measured=ACC, noise=family)
    assert far.verdict == NOT_REPRODUCED
    assert far.ours == "91.48% (n=1)"  # a single run says so, as several seeds give their n


def test_seeds_carry_their_own_spread_whatever_noise_is_passed():
    """A family's spread serves only a single run: three seeds are judged on their own spread."""
    seeds = [0.9000, 0.9040, 0.9080]  # s = 0.4 points: a band of about 2 points
    family = Noise(0.0005, 20, "a tight family")
    row = judge_value(claim("91.10%"), seeds, measured=ACC, noise=family)
    assert row == judge_value(claim("91.10%"), seeds, measured=ACC)
    assert row.verdict == INCONCLUSIVE and "tight family" not in row.note


def test_deterministic_pipeline_is_judged_at_printed_precision():
    assert judge_value(claim("86%"), [0.855], measured=ACC, noise=Noise.none()).verdict == REPRODUCED
    assert judge_value(claim("86.0%"), [0.855], measured=ACC, noise=Noise.none()).verdict == NOT_REPRODUCED


def test_like_with_like_is_enforced():
    with pytest.raises(ValueError, match="compare like with like"):
        judge_value(claim("99.67%", "test accuracy, peak"), [0.9113], measured="test accuracy, final epoch")


def test_difference_uses_unpaired_seeds():
    diff = "difference in test accuracy"
    a, b = [0.9237, 0.9251, 0.9224], [0.9199, 0.9210, 0.9190]
    assert judge_difference(claim("+1.35 points", diff), a, b, measured=diff).verdict == NOT_REPRODUCED
    assert judge_difference(claim("+0.40 points", diff), a, b, measured=diff).verdict == REPRODUCED
    # chapter 1's Model-2 spreads by half a point over 3 seeds: +0.37 cannot be told from +1.35
    noisy = [0.9199, 0.9250, 0.9148]
    assert judge_difference(claim("+1.35 points", diff), a, noisy, measured=diff).verdict == INCONCLUSIVE


@pytest.mark.parametrize("a, b, verdict", [
    ([0.92, 0.921, 0.919], [0.90, 0.901, 0.899], REPRODUCED),  # clearly higher
    ([0.90, 0.901, 0.899], [0.92, 0.921, 0.919], NOT_REPRODUCED),  # clearly lower
    ([0.92, 0.90, 0.91], [0.905, 0.915, 0.91], INCONCLUSIVE),  # mixed across seeds: not 'not reproduced'
])
def test_direction(a, b, verdict):
    row = judge_direction(claim("A > B", "ordering of test accuracy"), a, b, measured="ordering of test accuracy")
    assert row.verdict == verdict


def test_direction_lower_is_better():
    loss = "ordering of validation loss"
    row = judge_direction(claim("A < B", loss), [0.30, 0.31], [0.40, 0.41], measured=loss, higher=False)
    assert row.verdict == REPRODUCED


def test_threshold_uses_the_interval_of_our_mean():
    above = "test accuracy after 7 epochs, against a threshold"
    family = Noise(0.002, 4, "a family, 3 seeds each")  # t(4) * 0.2 = 0.56 points each side
    assert judge_threshold(claim("98.5%", above), [0.8602], 0.985, measured=above,
                           noise=family).verdict == NOT_REPRODUCED
    row = judge_threshold(claim("98.5%", above), [0.9920], 0.985, measured=above, noise=family)
    assert row.verdict == REPRODUCED and row.ours.startswith("99.20% [98.64, 99.76]") and "a family" in row.note
    assert judge_threshold(claim("98.5%", above), [0.9880], 0.985, measured=above,
                           noise=family).verdict == INCONCLUSIVE
    assert judge_threshold(claim("98.5%", above), [0.9880], 0.985, measured=above).verdict == INCONCLUSIVE
    assert judge_threshold(claim("98.5%", above), [0.97, 0.971, 0.969], 0.985, measured=above, higher=False,
                           ).verdict == REPRODUCED  # "below", from three seeds
    assert judge_threshold(claim("98.5%", above), [], 0.985, measured=above).verdict == MISSING


def test_best_uses_a_test_over_seeds():
    best = "ordering of test accuracy"
    groups = {"x": [0.910, 0.911, 0.912], "y": [0.900, 0.901, 0.899], "z": [0.909, 0.913, 0.905]}
    assert top_group(groups)[0] == ["x", "z"]
    assert judge_best(claim("x", best), groups, "x", measured=best).verdict == INCONCLUSIVE  # tied with z
    assert judge_best(claim("y", best), groups, "y", measured=best).verdict == NOT_REPRODUCED
    assert judge_best(claim("x or z", best), groups, ["x", "z"], measured=best).verdict == REPRODUCED
    clear = {"x": [0.930, 0.931, 0.932], "y": [0.900, 0.901, 0.899]}
    assert judge_best(claim("x", best), clear, "x", measured=best).verdict == REPRODUCED
    assert "the highest" in judge_best(claim("x", best), clear, "x", measured=best).rule
    worst = judge_best(claim("y", best), clear, "y", measured=best, higher=False)  # "y is the least accurate"
    assert worst.verdict == REPRODUCED and worst.rule.startswith("bottom group") and "the lowest" in worst.rule


def test_best_of_single_runs_needs_noise():
    best = "ordering of test accuracy"
    groups = {"a": [0.91], "b": [0.89]}
    assert judge_best(claim("a", best), groups, "a", measured=best).verdict == INCONCLUSIVE
    noise = Noise(0.002, 2, "family")
    assert judge_best(claim("a", best), groups, "a", measured=best, noise=noise).verdict == REPRODUCED


def test_tradeoff_names_every_undominated_configuration():
    accuracy = {"small": [0.90, 0.901, 0.899], "mid": [0.91, 0.911, 0.909], "big": [0.91, 0.912, 0.908],
                "bad": [0.88, 0.881, 0.879]}
    cost = {"small": 1.0, "mid": 2.0, "big": 5.0, "bad": 3.0}
    assert undominated(accuracy, cost) == ["small", "mid"]
    tradeoff = "accuracy and parameters"
    row = judge_tradeoff(claim("mid", tradeoff), accuracy, cost, "mid", measured=tradeoff, cost_name="parameters")
    assert row.verdict == REPRODUCED and row.ours.endswith("small, mid")
    assert judge_tradeoff(claim("big", tradeoff), accuracy, cost, "big", measured=tradeoff,
                          cost_name="parameters").verdict == NOT_REPRODUCED


def test_tradeoff_not_reproduced_needs_evidence_against_the_claimed_configuration():
    tradeoff = "accuracy and parameters"
    judge = lambda acc, cost, name="big": judge_tradeoff(claim(name, tradeoff), acc, cost, name, measured=tradeoff,
                                                         cost_name="parameters")
    cost = {"small": 1.0, "big": 5.0}
    # cheaper and shown within a point: the big one's lead is at most ~0.3 points
    close = judge({"small": [0.910, 0.911, 0.909], "big": [0.911, 0.912, 0.910]}, cost)
    assert close.verdict == NOT_REPRODUCED and "big by small" in close.note
    # cheaper, not separable, but the seeds allow the big one a lead of several points: the data cannot tell
    noisy = judge({"small": [0.90, 0.93, 0.87], "big": [0.93, 0.96, 0.90]}, cost)
    assert noisy.verdict == INCONCLUSIVE and noisy.ours.endswith(": small")
    # as cheap and significantly more accurate: evidence against
    beaten = judge({"small": [0.95, 0.951, 0.949], "big": [0.90, 0.901, 0.899]}, cost)
    assert beaten.verdict == NOT_REPRODUCED


def test_tradeoff_refuses_a_name_it_does_not_know_and_a_missing_cost():
    tradeoff = "accuracy and parameters"
    accuracy = {"small": [0.90, 0.91], "big": [0.92, 0.93]}
    with pytest.raises(ValueError, match=r"claimed \['Big'\] not among"):
        judge_tradeoff(claim("Big", tradeoff), accuracy, {"small": 1, "big": 2}, "Big", measured=tradeoff,
                       cost_name="parameters")
    with pytest.raises(ValueError, match=r"without a cost: \['big'\]"):
        judge_tradeoff(claim("big", tradeoff), accuracy, {"small": 1}, "big", measured=tradeoff, cost_name="parameters")


def test_rows_on_single_runs_name_the_spread_they_borrow():
    family = Noise(0.002, 4, "chapter 1's CNN seeds")
    diff = judge_difference(claim("+1.00 points", "gap"), [0.92], [0.91], measured="gap", noise=family)
    direction = judge_direction(claim("a > b", "order"), [0.92], [0.91], measured="order", noise=family)
    assert all("noise for single runs: chapter 1's CNN seeds" in row.note for row in (diff, direction))


def test_a_spread_both_sides_borrow_keeps_its_own_degrees_of_freedom():
    import math

    from scipy import stats

    rel = "relative loss change"
    family = Noise(0.01, 4, "family")
    row = judge_relative(claim("60%", rel, material=0.5), [0.3], [0.5], measured=rel, noise=family)
    parts = [(0.01 / 0.5) ** 2 * 2, (0.3 * 0.01 / 0.25) ** 2 * 2]
    assert row.tolerance == pytest.approx(100 * (stats.t.ppf(0.975, 4) * math.sqrt(sum(parts)) + 0.005))
    diff = judge_difference(claim("+1.00 points", "gap"), [0.92], [0.91], measured="gap", noise=family)
    assert diff.tolerance == pytest.approx(100 * (stats.t.ppf(0.975, 4) * math.sqrt(4 * 0.01 ** 2) + 0.00005))


def test_a_capped_contrast_is_not_comparable_even_with_one_run_per_cell():
    cells = {("none", 0.0): [0.5], ("in", 0.0): [0.4], ("none", 0.1): [0.45], ("in", 0.1): [0.3]}
    row = judge_interaction(claim("synergy", "interaction"), cells, "none", "in", 0.0, 0.1, measured="interaction",
                            higher=False, capped="stopped by the cap while improving")
    assert row.verdict == NOT_COMPARABLE and "cap" in row.note


def test_count_at_printed_precision():
    params = "parameters"
    assert judge_count(claim("62K", params), 61_706, measured=params).verdict == REPRODUCED
    assert judge_count(claim("11K", params), 175_370, measured=params).verdict == NOT_REPRODUCED
    assert judge_count(claim("2,067,850", params), 2_067_850, measured=params).verdict == REPRODUCED
    assert judge_count(claim("178,968", params), 174_858, measured=params).verdict == NOT_REPRODUCED
    # 2,067,850 rounds to 2.07M; the study's "2.06M" truncates it, the other common way to shorten a count
    truncated = judge_count(claim("2.06M", params), 2_067_850, measured=params)
    assert truncated.verdict == REPRODUCED and "truncated, not rounded" in truncated.note
    assert "truncated" not in judge_count(claim("2.07M", params), 2_067_850, measured=params).note
    assert judge_count(claim("2.05M", params), 2_067_850, measured=params).verdict == NOT_REPRODUCED
    assert judge_count(claim("2.07M", params), 2_059_999, measured=params).verdict == NOT_REPRODUCED  # never upwards
    share = "parameter reduction"
    row = judge_count(claim("91.3%", share), 1 - 178_968 / 2_067_850, measured=share)
    # a share is shown as the study shows it, with the digits a reader needs: 91.345% rounds to the printed
    # 91.3%, where "91.35%" would read as 91.4%
    assert (row.verdict, row.ours) == (REPRODUCED, "91.345%")
    assert judge_count(claim("89%", share), 0.8863, measured=share).ours == "88.63%"  # no ambiguity: no extra digit
    assert judge_count(claim("89%", share), 1 - 134_144 / 1_180_160, measured=share).ours == "88.63%"


def test_printed_forms_parse_into_value_rounding_and_unit():
    spelled = claim("0.69 percentage points", "difference")
    assert (spelled.value, spelled.rounding, spelled.unit) == (pytest.approx(0.0069), pytest.approx(0.00005), " points")
    assert claim("+0.69 points", "difference").value == pytest.approx(spelled.value)
    assert (claim("2.06M").value, claim("2.06M").rounding) == (pytest.approx(2_060_000), pytest.approx(5_000))
    assert claim("98.5%").display_digits == 2 and not claim("percentage points").numeric


def test_registry_ids_are_unique_and_looked_up():
    a, b = StudyClaim("a", "x", "T1", "1%", "q"), StudyClaim("b", "y", "T1", "2%", "q", not_tested="why")
    registry = Registry([a, b])
    assert registry["a"] is a and registry.untested() == [b] and len(registry) == 2
    with pytest.raises(ValueError, match="twice"):
        Registry([a, a])
    with pytest.raises(KeyError, match="no claim 'z'"):
        registry["z"]


def test_every_registered_claim_gets_exactly_one_row():
    from fmnist_utils.chapter import complete_rows

    a = StudyClaim("a", "x", "T1", "92.72%", ACC)
    b = StudyClaim("b", "y", "T2", "9.59 s", "test pass time", not_tested="hardware-bound")
    c = StudyClaim("c", "z", "T3", "88.0%", ACC)
    registry = Registry([a, b, c])
    row_a = judge_value(a, [0.927, 0.928], measured=ACC)
    row_c = judge_value(c, [], measured=ACC)
    rows = complete_rows(registry, [row_c, row_a])
    assert [r.id for r in rows] == ["a", "b", "c"] and rows[1].verdict == NOT_TESTED
    with pytest.raises(ValueError, match="without a row: c"):
        complete_rows(registry, [row_a])
    with pytest.raises(ValueError, match="two rows"):
        complete_rows(registry, [row_a, row_a, row_c])
    with pytest.raises(ValueError, match="registered as not tested"):
        complete_rows(registry, [row_a, row_c, not_tested(b)])


def test_two_single_runs_borrowing_one_spread_keep_its_degrees_of_freedom():
    from fmnist_utils.verdicts import welch

    noise = Noise(0.002, 2, "family, 3 seeds")
    diff, se, df = welch([0.91], [0.90], noise)
    assert df == 2 and se == pytest.approx(0.002 * 2 ** 0.5)


INTERACTION = "interaction of two factors on a loss"


def two_by_two(interaction: float, spread: tuple = (-0.01, 0.0, 0.01)) -> dict:
    """Cells of a 2x2 on a loss: factor a lowers it by 0.2, factor b by 0.05, plus ``interaction`` when both."""
    means = {("none", 0): 0.6, ("norm", 0): 0.4, ("none", 1): 0.55, ("norm", 1): 0.35 + interaction}
    return {k: [m + e for e in spread] for k, m in means.items()}


@pytest.mark.parametrize("planted, verdict", [
    (-0.10, REPRODUCED),  # the pair lowers the loss by more than the sum: interval below zero
    (+0.10, NOT_REPRODUCED),  # less than the sum (the effects overlap): interval above zero
    (0.005, INCONCLUSIVE),  # the interval covers zero: inconclusive, not evidence against
])
def test_interaction_judged_by_the_side_of_its_interval(planted, verdict):
    c = claim("more than the sum of its parts", INTERACTION)
    row = judge_interaction(c, two_by_two(planted), "none", "norm", 0, 1, measured=INTERACTION, higher=False)
    assert row.verdict == verdict
    assert row.ours.startswith(f"{planted:+.3f} [")
    assert ("covers zero" in row.note) == (verdict == INCONCLUSIVE)


def test_interaction_missing_single_capped_and_like_with_like():
    c = claim("more than the sum of its parts", INTERACTION)
    cells = two_by_two(-0.1)
    incomplete = {**cells, ("norm", 1): None}  # a run of this configuration is not stored yet
    assert judge_interaction(c, incomplete, "none", "norm", 0, 1, measured=INTERACTION).verdict == MISSING
    assert judge_interaction(c, None, "none", "norm", 0, 1, measured=INTERACTION).verdict == MISSING
    single = {k: v[:1] for k, v in cells.items()}
    row = judge_interaction(c, single, "none", "norm", 0, 1, measured=INTERACTION, higher=False)
    assert row.verdict == INCONCLUSIVE and row.rule == "no seed-noise estimate"
    capped = judge_interaction(c, cells, "none", "norm", 0, 1, measured=INTERACTION, higher=False,
                               capped="2 runs reached the 15-epoch cap")
    assert capped.verdict == NOT_COMPARABLE and "15-epoch cap" in capped.note
    with pytest.raises(ValueError, match="like with like"):
        judge_interaction(c, cells, "none", "norm", 0, 1, measured="interaction of test error")


def test_contrast_pools_the_variance_of_every_configuration_given():
    c = claim("a above 0.9 b", "share of losses")
    cells = {"a": [0.50, 0.51, 0.49], "b": [0.50, 0.52, 0.48]}
    # a - 0.9 b = +0.05 with a tight spread: above zero
    assert judge_contrast(c, cells, {"a": 1, "b": -0.9}, measured="share of losses").verdict == REPRODUCED
    noisy = {**cells, "c": [0.1, 0.9, 0.5]}  # a noisy third configuration widens the pooled interval only
    assert judge_contrast(c, noisy, {"a": 1, "b": -0.9}, measured="share of losses").verdict == INCONCLUSIVE
    assert judge_contrast(c, noisy, {"a": 1, "b": -0.9}, measured="share of losses", pooled=False).verdict == REPRODUCED


def test_relative_change_by_the_value_rule():
    rel = "relative reduction of a loss"
    final, base = [0.300, 0.305, 0.295], [0.750, 0.760, 0.740]  # 1 - 0.3 / 0.75 = 60%
    row = judge_relative(claim("60%", rel, material=0.06), final, base, measured=rel)
    assert row.verdict == REPRODUCED and row.ours.startswith("60.00%")
    assert judge_relative(claim("40%", rel, material=0.06), final, base, measured=rel).verdict == NOT_REPRODUCED
    noisy_base = [0.50, 0.75, 1.00]
    assert judge_relative(claim("60%", rel, material=0.06), final, noisy_base, measured=rel).verdict == INCONCLUSIVE
    assert judge_relative(claim("60%", rel), final, [], measured=rel).verdict == MISSING
    assert judge_relative(claim("60%", rel), [0.3], [0.75], measured=rel).verdict == INCONCLUSIVE
    family = Noise(0.005, 10, "the family's seeds")
    row = judge_relative(claim("60%", rel, material=0.06), [0.3], [0.75], measured=rel, noise=family)
    assert row.verdict == REPRODUCED and "the family's seeds" in row.note


def test_tradeoff_with_several_costs_needs_every_axis_at_least_as_low():
    """Parameters and seconds per epoch: a model beats another only when it is no worse on both axes."""
    accuracy = {"small_slow": [0.900, 0.901, 0.899], "big_fast": [0.900, 0.902, 0.898],
                "mid": [0.910, 0.911, 0.909], "worse": [0.899, 0.900, 0.901]}
    cost = {"small_slow": (6_000, 80.0), "big_fast": (60_000, 16.0), "mid": (11_000, 80.0), "worse": (12_000, 90.0)}
    # one axis at a time, each of small_slow and big_fast beats the other
    assert undominated(accuracy, {k: c[0] for k, c in cost.items()}) == ["small_slow", "mid"]
    assert undominated(accuracy, {k: c[1] for k, c in cost.items()}) == ["big_fast", "mid"]
    # both axes: neither is at least as cheap on both; 'worse' is beaten by small_slow (cheaper on both, as accurate)
    assert undominated(accuracy, cost) == ["small_slow", "big_fast", "mid"]
    tradeoff = "trade-off of accuracy, parameters and time"
    row = judge_tradeoff(claim("mid", tradeoff), accuracy, cost, "mid", measured=tradeoff,
                         cost_name="parameters and seconds per epoch")
    assert row.verdict == REPRODUCED and row.ours.endswith("small_slow, big_fast, mid")
    assert judge_tradeoff(claim("worse", tradeoff), accuracy, cost, "worse", measured=tradeoff,
                          cost_name="parameters and seconds per epoch").verdict == NOT_REPRODUCED
    with pytest.raises(ValueError, match="same number of costs"):
        undominated(accuracy, {**cost, "mid": 11_000})


def test_a_measured_cost_differs_only_where_its_runs_spread_says_so():
    """Times inside their runs' spread are one cost: the slightly faster model does not escape domination by a
    smaller one as accurate; a time several spreads away still counts. Exact counts compare as numbers."""
    accuracy = {"lenet": [0.895, 0.896, 0.894], "custom": [0.896, 0.897, 0.895]}
    close = {"lenet": (61_706, Measured([16.7, 25.5, 38.5])), "custom": (6_330, Measured([25.9, 26.2, 30.0]))}
    exact = {k: (params, time.mean) for k, (params, time) in close.items()}
    assert undominated(accuracy, exact) == ["lenet", "custom"]  # 27.0 s < 27.4 s read as a real difference
    assert undominated(accuracy, close) == ["custom"]
    assert cost_order(Measured([16, 17, 18]), Measured([90, 86, 105])) == -1
    assert cost_order(Measured([90, 86, 105]), Measured([16, 17, 18])) == 1
    assert cost_order(6_330, 61_706) == -1 and cost_order(5, 5) == 0


def test_a_single_timed_run_borrows_a_log_spread_or_ties():
    """A single run has no spread of its own: it borrows the log-time spread of another configuration's seeds
    (a ratio of times, so a spread measured at one scale serves another); with none to borrow, it ties."""
    spread = Measured.log_noise([100.0, 110.0, 105.0], "seeds of one setting")
    assert spread.df == 2 and spread.sd == pytest.approx(np.std(np.log([100, 110, 105]), ddof=1))
    assert cost_order(Measured([50.0], spread), Measured([500.0], spread)) == -1  # ten times: far beyond the spread
    assert cost_order(Measured([100.0], spread), Measured([104.0], spread)) == 0
    assert cost_order(Measured([50.0]), Measured([500.0])) == 0  # no spread: the data cannot tell
    with pytest.raises(ValueError, match="same kind of cost"):
        cost_order(Measured([1.0, 2.0]), 1.5)
    with pytest.raises(ValueError, match="positive"):
        Measured([0.0, 1.0])


@pytest.mark.parametrize("printed, value, rounding, unit", [
    ("20.29 ± 0.65 s", 20.29, 0.005, " s"),
    ("1427 ± 77 ms", 1427, 0.5, " ms"),
    ("426 s", 426, 0.5, " s"),
    ("329 µs/K", 329, 0.5, " µs/K"),
    ("7186 μs/K", 7186, 0.5, " µs/K"),  # typeset with a Greek mu
    ("0.1931", 0.1931, 0.00005, ""),
])
def test_printed_times_parse_with_their_unit(printed, value, rounding, unit):
    parsed = claim(printed, "time")
    assert parsed.numeric and parsed.value == pytest.approx(value) and parsed.rounding == pytest.approx(rounding)
    assert parsed.unit == unit and parsed.scale == 1.0



def test_best_set_needs_every_claimed_configuration_ahead_of_every_other():
    """'LeNet-5 and the custom CNN train fastest': the two fastest, not just 'the fastest is one of them'."""
    seconds = "ordering of training time per epoch"
    times = {"lenet": [20.0, 20.2, 19.8], "custom": [82.0, 82.4, 81.6], "mobile": [76.0, 76.3, 75.7],
             "vit": [530.0, 531.0, 529.0]}
    one_of = judge_best(claim("lenet, custom", seconds), times, ["lenet", "custom"], measured=seconds, higher=False)
    assert one_of.verdict == REPRODUCED  # the fastest is one of them
    row = judge_best(claim("lenet, custom", seconds), times, ["lenet", "custom"], measured=seconds, higher=False,
                     top_set=True)
    assert row.verdict == NOT_REPRODUCED and row.ours.startswith("lowest 2 by mean: lenet, mobile")
    assert judge_best(claim("lenet, mobile", seconds), times, ["lenet", "mobile"], measured=seconds, higher=False,
                      top_set=True).verdict == REPRODUCED
    close = {**times, "custom": [75.0, 78.0, 74.0]}  # not separable from mobile
    assert judge_best(claim("lenet, custom", seconds), close, ["lenet", "custom"], measured=seconds, higher=False,
                      top_set=True).verdict == INCONCLUSIVE


def test_an_exact_value_is_judged_on_the_interval_of_our_mean_not_a_new_runs_band():
    """'+0.00' is no run's measurement: nothing but our own mean's uncertainty stands between the two."""
    diff = "difference in test accuracy"
    a, b = [0.900, 0.902, 0.904], [0.890, 0.892, 0.894]  # a difference of one point, seeds 0.2 points apart
    one_run = judge_difference(claim("+0.00 points", diff), a, b, measured=diff)
    exact = judge_difference(claim("+0.00 points", diff, exact=True), a, b, measured=diff)
    assert exact.tolerance < one_run.tolerance
    assert exact.tolerance == pytest.approx(100 * (2.776 * 0.002 * (2 / 3) ** 0.5 + 0.00005), abs=0.01)
    assert exact.verdict == NOT_REPRODUCED  # one point apart, and the interval of the means excludes zero
    value = judge_value(claim("90.00%", exact=True), [0.900, 0.902, 0.904], measured=ACC)
    assert value.tolerance == pytest.approx(100 * (4.303 * 0.002 / 3 ** 0.5 + 0.00005), abs=0.01)


def test_a_difference_a_known_second_effect_alone_could_give_is_inconclusive():
    """'No rise' against a rise that more training data also gives: not evidence against the claim."""
    diff = "difference in test accuracy"
    a, b = [0.900, 0.902, 0.904], [0.890, 0.892, 0.894]  # a rise of one point that excludes zero
    rise = judge_difference(claim("+0.00 points", diff, exact=True), a, b, measured=diff)
    assert rise.verdict == NOT_REPRODUCED
    raised = confounded(rise, +1, "more training images")
    assert raised.verdict == INCONCLUSIVE
    assert raised.note.endswith("more training images alone could give a difference on this side: no evidence "
                                "against the claim")
    assert raised.rule.endswith("a not-reproduced difference on the side a known second effect moves it (either "
                                "side, where that effect's direction is unknown) is inconclusive")
    # a second effect whose direction is unknown (0) could give either side: not reproduced is inconclusive
    assert confounded(rise, 0, "more dropout").verdict == INCONCLUSIVE
    assert confounded(replace(rise, difference=-rise.difference), 0, "more dropout").verdict == INCONCLUSIVE
    # the second effect lowers the difference instead: the rise stands against the claim
    assert confounded(rise, -1, "fewer images").verdict == NOT_REPRODUCED
    # a drop, where the second effect raises: it cannot explain the drop
    drop = judge_difference(claim("+0.00 points", diff, exact=True), b, a, measured=diff)
    assert confounded(drop, +1, "more images").verdict == NOT_REPRODUCED
    # other verdicts stand whatever the second effect does
    same = judge_difference(claim("+0.00 points", diff, exact=True), a, a, measured=diff)
    assert confounded(same, +1, "more images").verdict == same.verdict == REPRODUCED


def test_a_spread_is_judged_on_the_chi_square_interval_of_our_seeds_standard_deviation():
    spread = "seed-to-seed spread of test accuracy"
    seeds = [0.9254, 0.9161, 0.9183]  # s = 0.49 points; with 2 df the 95% interval is about [0.25, 3.1] points
    narrow = judge_spread(claim("~±0.01%", spread), seeds, measured=spread)
    assert narrow.verdict == NOT_REPRODUCED
    wide = judge_spread(claim("~±0.5%", spread), seeds, measured=spread)
    assert wide.verdict == INCONCLUSIVE  # inside an interval wider than a point
    # the interval is lopsided about ours: the figure's tolerance is its reach on the study's side, so a study value
    # outside it plots outside the band and one inside plots inside
    assert abs(narrow.difference) > narrow.tolerance and abs(wide.difference) <= wide.tolerance
    above = judge_spread(claim("~±2.5%", spread), seeds, measured=spread)
    assert above.verdict == INCONCLUSIVE and abs(above.difference) <= above.tolerance
    many = [0.92 + 0.005 * z for z in (-1.2, -0.5, 0.0, 0.4, 1.3, -0.8, 0.9, 0.1, -0.2, 0.6)] * 3
    assert judge_spread(claim("~±0.4%", spread), many, measured=spread).verdict == REPRODUCED
    assert judge_spread(claim("~±0.01%", spread), [0.92], measured=spread).verdict == INCONCLUSIVE
    assert judge_spread(claim("~±0.01%", spread), [], measured=spread).verdict == MISSING
    assert claim("~±0.01%").value == pytest.approx(0.0001)


def test_a_direction_between_exact_numbers_shows_no_interval():
    counts = "ordering of parameter counts"
    row = judge_direction(claim("Model-2 < Model-1", counts), [304_682], [1_199_882], measured=counts, higher=False,
                          noise=Noise.none("deterministic: parameter counts"), names=("Model-2", "Model-1"), scale=1,
                          digits=0)
    assert row.verdict == REPRODUCED and row.ours.endswith("difference -895200 (exact: no noise) (n=1, 1)")


def test_tally_counts_each_verdict_in_the_books_order_with_missing_runs_in_the_plural():
    verdicts = [MISSING, NOT_REPRODUCED, MISSING, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED]
    assert tally(verdicts) == "1 reproduced, 2 not reproduced, 1 inconclusive, 2 missing runs"
    assert tally([MISSING]) == "1 missing run"
    assert tally([]) == ""


def test_a_claim_about_time_is_not_comparable_whatever_this_machine_measured():
    claim = StudyClaim("faster", "A trains faster than B", "Table 2", "A < B", "training seconds per epoch")
    row = hardware_bound(claim, "on this machine: A 10 s, B 20 s", "one run each")
    assert row.verdict == NOT_COMPARABLE and row.ours == "on this machine: A 10 s, B 20 s"
    assert row.note.startswith("timings bound to hardware") and row.note.endswith("; one run each")


def test_a_network_is_the_studys_within_one_percent_of_every_count_it_gives():
    assert same_network(103_338, [103_498])  # 0.15% off: the study's network, built slightly differently
    assert not same_network(361_258, [93_000, 93_130])  # another network
    assert not same_network(100_000, [100_000, 120_000])  # within 1% of one count, not of every one
    assert not same_network(100_000, [])  # no count: nothing says it is the study's


def test_a_row_checking_a_study_against_itself_carries_the_mark_into_its_saved_row(tmp_path):
    """The overview figure leaves out rows whose "ours" is the study's own number: the mark travels from the claim
    through every verdict function's row into the saved table the figure is drawn from."""
    from fmnist_utils.claims import load_claims, save_claims

    own = claim("329 µs/K", "time per 1K parameters, from the study's own table", against_itself=True)
    rows = [judge_count(own, 329_000, measured=own.quantity), judge_count(claim("62K", "parameters"), 61_706,
                                                                         measured="parameters")]
    assert [row.against_itself for row in rows] == [True, False]
    assert not_tested(claim("x", not_tested="a setup", against_itself=True)).against_itself
    save_claims("09_example", "Example", rows, tmp_path)
    assert [r["against_itself"] for r in load_claims(tmp_path)[0]["claims"]] == [True, False]


def test_single_runs_of_different_architectures_each_borrow_their_own_spread():
    """The written procedure: a single run borrows the spread of the same architecture, so a comparison of two
    tight architectures is not widened by a third, noisy one (a spread pooled over the three would be)."""
    from fmnist_utils.verdicts import BorrowedNoise

    best = "ordering of test accuracy"
    groups = {"a": [0.920], "b": [0.910], "c": [0.800]}
    own = BorrowedNoise({"a": Noise(0.001, 2, "a's seeds"), "b": Noise(0.001, 2, "b's seeds"),
                         "c": Noise(0.020, 2, "c's seeds")}, "each architecture's own seeds")
    pooled = Noise.pooled([[0.919, 0.920, 0.921], [0.909, 0.910, 0.911], [0.78, 0.80, 0.82]], "pooled")
    assert judge_best(claim("a", best), groups, "a", measured=best, noise=pooled).verdict == INCONCLUSIVE
    row = judge_best(claim("a", best), groups, "a", measured=best, noise=own)
    assert row.verdict == REPRODUCED and "noise for single runs: each architecture's own seeds" in row.note
    assert top_group(groups, noise=own)[0] == ["a"]
    # c's own spread of 2 points: 8 points either side of a difference of two single runs (df 2)
    assert judge_direction(claim("a > c", "order"), [0.920], [0.905], measured="order", noise=own,
                           names=("a", "c")).verdict == INCONCLUSIVE
    assert judge_direction(claim("a > b", "order"), [0.920], [0.910], measured="order", noise=own,
                           names=("a", "b")).verdict == REPRODUCED
    tradeoff = "accuracy and parameters"
    # b is smaller and, on the two tight spreads, significantly less accurate: a stays on the front
    assert undominated(groups, {"a": 2.0, "b": 1.0, "c": 3.0}, noise=own) == ["a", "b"]
    assert judge_tradeoff(claim("a", tradeoff), groups, {"a": 2.0, "b": 1.0, "c": 3.0}, "a", measured=tradeoff,
                          cost_name="parameters", noise=own).verdict == REPRODUCED
    # a single run whose architecture has no spread has nothing to borrow
    lacking = BorrowedNoise({"a": Noise(0.001, 2, "a's seeds"), "b": None, "c": None}, "a's seeds only")
    assert judge_best(claim("a", best), groups, "a", measured=best, noise=lacking).rule == "no seed-noise estimate"
    with pytest.raises(ValueError, match="by name"):
        judge_difference(claim("+1.00 points", "gap"), [0.92], [0.91], measured="gap", noise=own)


def test_two_single_runs_with_spreads_of_their_own_combine_their_degrees_of_freedom():
    from fmnist_utils.verdicts import welch

    diff, se, df = welch([0.91], [0.90], (Noise(0.002, 2, "a"), Noise(0.004, 2, "b")))
    parts = (0.002 ** 2, 0.004 ** 2)  # Welch-Satterthwaite over two independent estimates, not either one's df
    assert se == pytest.approx(sum(parts) ** 0.5) and df == pytest.approx(sum(parts) ** 2 / sum(p ** 2 / 2 for p in parts))


def test_a_single_run_borrowing_the_spread_of_the_seeds_it_is_compared_with_keeps_that_estimate_s_df():
    """Model-2's three seeds against one run of a cell that borrows Model-2's own spread: one variance estimate
    (2 df), not two independent ones (Welch-Satterthwaite would give about 3.2)."""
    from fmnist_utils.verdicts import welch

    seeds = [0.90, 0.905, 0.91]
    assert welch(seeds, [0.89], Noise.of(seeds))[2] == 2
    assert welch([0.89], seeds, Noise.of(seeds))[2] == 2
    other = Noise.of([0.80, 0.81, 0.79])  # another configuration's spread: two estimates, Welch's df
    assert welch(seeds, [0.89], other)[2] == pytest.approx(
        ((0.005 ** 2 / 3 + 0.01 ** 2) ** 2) / ((0.005 ** 2 / 3) ** 2 / 2 + 0.01 ** 4 / 2))


def test_a_name_the_borrowed_spreads_do_not_know_is_an_error_not_an_inconclusive_row():
    from fmnist_utils.verdicts import BorrowedNoise

    own = BorrowedNoise({"a": Noise(0.001, 2, "a"), "b": Noise(0.001, 2, "b")}, "each one's seeds")
    with pytest.raises(KeyError, match=r"\['A'\] have no entry"):
        judge_direction(claim("a > b", "order"), [0.92], [0.91], measured="order", noise=own, names=("A", "b"))


def test_an_accuracys_sample_noise_follows_from_the_accuracy_as_stored_per_image_values_would_give():
    """Right or wrong per image: one image's spread is sqrt(p (1 - p) k / (k - 1)), the same as Sample.of computes
    from 0/1 values, so a row on a sampled accuracy needs no stored per-image record."""
    right = np.r_[np.ones(10_800), np.zeros(1_200)]  # 90% of 12,000
    stored = Sample.of([right], 12_000, 60_000, "validation", ours=12_000)
    derived = Sample.of_accuracy(0.9, 12_000, 60_000, "validation", ours=12_000)
    assert derived.sd == pytest.approx(stored.sd) and derived.variance == pytest.approx(stored.variance)
    assert derived.df == 11_999 and "accuracy of 90.0%" in derived.source
    with pytest.raises(ValueError, match="must be a part of them"):
        Sample.of_accuracy(0.9, 60_000, 60_000, "validation")
    with pytest.raises(ValueError, match="an accuracy in"):
        Sample.of_accuracy(90.0, 12_000, 60_000, "validation")


def test_a_claim_read_two_ways_keeps_only_the_verdict_both_readings_share():
    """The study's words allow two readings nothing settles: a shared verdict stands (named with each reading's
    numbers); readings that disagree leave the row inconclusive; a first reading that waits for runs waits."""
    values = [0.9145, 0.915, 0.9155]
    near, far = claim("91.5%"), claim("93.5%")
    same = judge_readings({"as printed": judge_value(near, values, measured=ACC),
                           "the other way": judge_value(near, [v + 0.001 for v in values], measured=ACC)})
    assert same.verdict == REPRODUCED and "the same under every reading (read as as printed: " in same.note
    split = judge_readings({"as printed": judge_value(near, values, measured=ACC),
                            "the other way": judge_value(far, values, measured=ACC)})
    assert split.verdict == INCONCLUSIVE and "the readings disagree" in split.note
    assert "reproduced; read as the other way: " in split.note and split.note.endswith("which the study meant")
    waiting = judge_readings({"as printed": judge_value(near, None, measured=ACC),
                              "the other way": judge_value(far, values, measured=ACC)})
    assert waiting.verdict == MISSING
    # another reading that waits for runs makes the row wait; one that cannot be measured leaves the rest to decide
    other_waits = judge_readings({"as printed": judge_value(near, values, measured=ACC),
                                  "the other way": judge_value(far, None, measured=ACC)})
    assert other_waits.verdict == MISSING and "waiting for the runs of the reading the other way" in other_waits.note
    unmeasurable = judge_readings({"as printed": judge_value(near, values, measured=ACC),
                                   "the other way": judge_value(far, values, measured=ACC, capped="capped")})
    assert unmeasurable.verdict == REPRODUCED and "read as the other way, it cannot be measured" in unmeasurable.note


def test_a_claim_over_several_parts_fails_with_any_part_and_holds_only_with_all():
    """'Every replicated number matches': one part against it decides it, even while another part waits; with no
    part against it, a waiting part makes it wait, and every part must hold for it to hold. Rows that check the
    study against itself are no part of it."""
    whole = claim("all", quantity="every part")
    near, far = claim("91.5%"), claim("93.5%")
    values = [0.9145, 0.915, 0.9155]
    held, failed, waits = (judge_value(near, values, measured=ACC), judge_value(far, values, measured=ACC),
                           judge_value(near, None, measured=ACC))
    assert judge_all(whole, [held, failed, waits], measured="every part").verdict == NOT_REPRODUCED
    assert judge_all(whole, [held, waits], measured="every part").verdict == MISSING
    both = judge_all(whole, [held, held], measured="every part")
    assert both.verdict == REPRODUCED and both.ours == "reproduced: c, c"
    itself = replace(failed, against_itself=True)
    assert judge_all(whole, [held, itself], measured="every part").verdict == REPRODUCED
