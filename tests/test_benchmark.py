"""Tests for fmnist_utils.benchmark (engine vs reference pipeline, FLOPs, matmul peak)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from fmnist_utils import benchmark, train
from fmnist_utils.benchmark import (Case, ReferenceLoop, ReferenceProcess, StudyDataset, best_of_peaks, case_by_key,
                                    count_flops, format_table, last_result, main, op_profile, other_work_share,
                                    repeat_speedups, select_cases, speed_markdown, theoretical_peak)

# Model-1 forward multiply-adds per image: conv1 (26x26 outputs, 32 channels, 1x3x3 kernel),
# conv2 (24x24, 64, 32x3x3), fc1 (9216 -> 128), fc2 (128 -> 10); biases are not counted.
MODEL1_MACS = 26 * 26 * 32 * 9 + 24 * 24 * 64 * 32 * 9 + 9216 * 128 + 128 * 10

# 2 cores x 16 float32 lanes x 2 FLOPs per FMA x 2 FMA units x 3.7 GHz
AVX512_PEAK = {"gflops": 473.6, "cores": 2, "float32_lanes": 16, "vector_extension": "AVX-512",
               "fma_units_per_core": 2, "clock_mhz": 3700.0, "clock_source": "maximum clock, cpufreq cpuinfo_max_freq",
               "missing": None}


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    output = tmp_path_factory.mktemp("benchmark") / "b.json"
    # bfloat16 is timed where the CPU has its instructions; elsewhere the benchmark refuses it unless told
    without = [] if train.fast_bfloat16("cpu") is None else ["--no-bfloat16"]
    assert main(["--quick", "--no-progress", "--threads", "1", "--models", "model1", "lenet5",
                 "--output", str(output), *without]) == 0
    return json.loads(output.read_text())


def test_quick_run_measures_both_pipelines(quick_result):
    rows = {row["key"]: row for row in quick_result["cases"]}
    assert set(rows) == {"model1", "lenet5"}
    for row in rows.values():
        assert row["reference_images_per_s"] > 0
        assert row["engine_images_per_s"] > 0
        assert row["speedup"] == pytest.approx(row["engine_images_per_s"] / row["reference_images_per_s"])
        assert repeat_speedups(row) == [pytest.approx(row["speedup"])]  # --quick times one repeat
        assert row["engine_gflops"] > 0
        assert row["share_of_matmul"] == pytest.approx(row["engine_gflops"] / quick_result["matmul_peak"]["gflops"])
        ceiling = quick_result["theoretical_peak"]["gflops"]
        assert row["share_of_theoretical_peak"] == (ceiling and pytest.approx(row["engine_gflops"] / ceiling))
    assert rows["model1"]["batch_size"] == 128 and rows["lenet5"]["batch_size"] == 8
    assert rows["model1"]["channels_last"]
    assert quick_result["matmul_peak"]["gflops"] > 0
    assert quick_result["geomean_speedup"] > 0
    assert quick_result["parallel"] is None  # --quick skips it unless --parallel
    assert quick_result["threads"] == 1
    for key in ("torch", "cpu_model", "date", "flop_convention"):
        assert quick_result[key]
    for when in ("before", "after"):
        assert 0 <= quick_result[f"other_work_share_{when}"] <= 1
    for row in rows.values():  # counted in each pipeline's own process
        assert row["reference_page_faults_per_step"] >= 0 and row["engine_page_faults_per_step"] >= 0
    assert list(quick_result["dropout_mask"]["ns_per_element"]) == ["1"]  # --threads 1: one count to time
    assert quick_result["dropout_mask"]["ns_per_element"]["1"] > 0


def test_quick_run_times_the_engine_in_bfloat16_too(quick_result):
    if not quick_result["bfloat16"]["measured"]:
        pytest.skip(f"this CPU has no fast bfloat16: {train.fast_bfloat16('cpu')}")
    assert quick_result["bfloat16"]["cpu_flags"]  # which instructions it ran with
    for row in quick_result["cases"]:
        assert len(row["bfloat16_runs"]) == len(row["engine_runs"]) == 1  # alternating with the float32 timing
        assert row["bfloat16_images_per_s"] == row["bfloat16_runs"][0]["images_per_s"] > 0
        assert row["bfloat16_ratio"] == pytest.approx(row["bfloat16_images_per_s"] / row["engine_images_per_s"])
        assert row["convolutional"]  # model1 and lenet5 both
    page = speed_markdown(quick_result)
    assert "| model1 | 128 | yes |" in page and "| lenet5 | 8 | yes |" in page
    assert "At batch 8 (lenet5) bfloat16 trains at" in page
    assert "bfloat16 / float32 (engine): model1" in format_table(quick_result)


def test_benchmark_refuses_bfloat16_on_a_cpu_without_it_and_names_the_option(fake_cpu, capsys):
    fake_cpu(flags="fpu avx avx2 fma avx512f")
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--quick"])
    error = capsys.readouterr().err
    assert "precision='bfloat16' is refused on cpu, which has no fast bfloat16: the CPU (Test CPU) lists neither " \
           "avx512_bf16 nor amx_bf16" in error
    assert "or pass --no-bfloat16 to measure float32 only" in error
    assert benchmark.parse_args(["--quick", "--no-bfloat16"]).bfloat16 is False
    fake_cpu(flags="fpu avx avx2 fma avx512f avx512_bf16")
    assert benchmark.parse_args(["--quick"]).bfloat16 is True


# A fixed result for the tests that check numbers on the page (the committed result changes with every rerun):
# the benchmark as recorded before it measured bfloat16 (and before it recorded the theoretical peak)
BEFORE_BFLOAT16 = Path(__file__).parent / "data" / "benchmark_before_bfloat16.json"


def before_bfloat16() -> dict:
    return json.loads(BEFORE_BFLOAT16.read_text())


def _with_bfloat16(result: dict, ratios: dict[str, float]) -> dict:
    """``result`` as a run that also timed bfloat16 would record it, with the given bfloat16 / float32 ratios."""
    result = json.loads(json.dumps(result))
    result["bfloat16"] = {"measured": True, "cpu_flags": ["avx512_bf16", "amx_bf16"], "skipped": None}
    for row in result["cases"]:
        ratio = ratios[row["key"]]
        row["convolutional"] = row["model"] != "mlp"
        row["bfloat16_runs"] = [{"images_per_s": run["images_per_s"] * ratio} for run in row["engine_runs"]]
        row["bfloat16_images_per_s"] = row["engine_images_per_s"] * ratio
        row["bfloat16_ratio"] = ratio
    return result


# convolutional at batch >= 32: model1, model2, cnn3_128_b32, cnn3_128_b128, flexible_cnn (batch 64)
BFLOAT16_RATIOS = {"model1": 1.63, "model2": 1.8, "cnn3_128_b32": 1.4, "cnn3_128_b128": 1.71,
                   "flexible_cnn_6x64_instance": 1.3, "mlp_2x2096": 2.5, "lenet5": 0.6, "resnet_mini": 1.2,
                   "densenet_tiny": 0.9, "mobilenet_lite": 0.7, "vit_tiny": 1.1, "custom_cnn": 0.8}


def test_speed_page_shows_bfloat16_against_float32_and_its_target():
    result = _with_bfloat16(before_bfloat16(), BFLOAT16_RATIOS)
    page = speed_markdown(result)
    assert "on a CPU with avx512_bf16 and amx_bf16:" in page
    assert "| model1 | 128 | yes | 1,587 | 2,586 | 1.63x | 1.63x |" in page
    assert "| mlp_2x2096 | 512 | no |" in page
    target = (1.63 * 1.8 * 1.4 * 1.71 * 1.3) ** (1 / 5)  # 1.55: the MLP (not convolutional) and batch 8 left out
    assert (f"| bfloat16 at least 1.5x float32 (engine; geometric mean over the convolutional models at batch 32 or "
            f"more) | {target:.2f}x over 5 cases (model1, model2, cnn3_128_b32, cnn3_128_b128, "
            "flexible_cnn_6x64_instance) | **met** |") in page
    small = (0.6 * 1.2 * 0.9 * 0.7 * 1.1 * 0.8) ** (1 / 6)
    assert (f"At batch 8 (6 cases) bfloat16 trains at {small:.2f}x the float32 speed (geometric mean; from 0.60x for "
            "lenet5 to 1.20x for resnet_mini): slower than float32 at this batch size.") in page
    missed = speed_markdown(_with_bfloat16(before_bfloat16(), {**BFLOAT16_RATIOS, "model1": 1.2}))
    assert "| 1.46x over 5 cases" in missed and missed.count("**missed**") == page.count("**missed**") + 1
    line = format_table(result).splitlines()
    assert any(entry.startswith("bfloat16 / float32 (engine): model1 1.63x, model2 1.80x") and
               f"geometric mean {target:.2f}x over the convolutional models at batch >= 32 (target 1.5x), "
               f"{small:.2f}x at batch < 32" in entry for entry in line)


def test_speed_page_of_a_result_without_bfloat16_says_why():
    committed = speed_markdown(before_bfloat16())  # recorded before bfloat16 was measured
    assert "The engine in bfloat16 was not measured in this result (recorded before the benchmark measured " \
           "bfloat16)." in committed
    assert "| not measured in this result (recorded before the benchmark measured bfloat16) | **not checked** |" \
        in committed
    skipped = {**before_bfloat16(), "bfloat16": {"measured": False, "cpu_flags": [], "skipped": "--no-bfloat16"}}
    assert "| not measured in this result (--no-bfloat16) | **not checked** |" in speed_markdown(skipped)
    assert "bfloat16: not measured (--no-bfloat16)" in format_table(skipped)
    only_small = _with_bfloat16(before_bfloat16(), BFLOAT16_RATIOS)
    only_small["cases"] = [row for row in only_small["cases"] if row["batch_size"] == 8]
    assert "| no such case in this result | **not checked** |" in speed_markdown(only_small)


def test_reference_loading_share_and_its_amdahl_bound(quick_result):
    for row in quick_result["cases"]:
        assert 0 < row["reference_loading_share"] < 1
        assert row["loading_free_speedup"] == pytest.approx(1 / (1 - row["reference_loading_share"]))


def test_reference_loop_counts_the_time_spent_waiting_for_batches(monkeypatch):
    """A dataset that takes 2 ms per image must show at least batch x 2 ms of loading per step."""
    loop = ReferenceLoop(case_by_key("lenet5"))  # batch 8
    fetch = StudyDataset.__getitem__

    def slow_fetch(self, index):
        time.sleep(0.002)
        return fetch(self, index)

    monkeypatch.setattr(StudyDataset, "__getitem__", slow_fetch)
    started = time.perf_counter()
    for _ in range(3):
        loop.step()
    elapsed = time.perf_counter() - started
    assert 3 * 8 * 0.002 <= loop.loading_seconds < elapsed


def test_peak_is_the_best_per_size_of_the_measurements_before_and_after(quick_result):
    assert quick_result["matmul_peak"]["measurements"] == 2
    before = {"gflops": 150.0, "gflops_per_size": {"2048": 140.0, "4096": 150.0}, "repeats": 3, "threads": 2}
    after = {"gflops": 190.0, "gflops_per_size": {"2048": 190.0, "4096": 120.0}, "repeats": 3, "threads": 2}
    peak = best_of_peaks(before, after)
    assert peak["gflops_per_size"] == {"2048": 190.0, "4096": 150.0} and peak["gflops"] == 190.0


def test_reference_process_reports_the_error_that_stopped_it():
    with pytest.raises(RuntimeError, match="the reference pipeline failed: .*no_such_model"):
        ReferenceProcess(Case("broken", 1, "no_such_model", 8), threads=1)


def test_model1_flops_match_the_analytic_count(quick_result):
    model1 = next(row for row in quick_result["cases"] if row["key"] == "model1")
    assert model1["forward_flops_per_image"] == pytest.approx(2 * 12.0e6, rel=0.05)
    assert model1["forward_flops_per_image"] == pytest.approx(2 * MODEL1_MACS, rel=0.01)
    assert model1["train_flops_per_image"] == pytest.approx(3 * model1["forward_flops_per_image"])


def test_attention_flops_are_counted_on_the_cpu():
    # 3 blocks x (QK^T + AV) over 50 tokens of width 64: without the CPU-kernel formula these go missing
    attention = 3 * 2 * 2 * 50 * 50 * 64
    linear = 3 * 50 * 2 * (64 * 192 + 64 * 64 + 2 * 64 * 128) + 2 * 49 * 64 * 16 + 2 * 64 * 10
    flops = count_flops(case_by_key("vit_tiny"), n=2)["forward_flops_per_image"]
    assert flops == pytest.approx(attention + linear, rel=0.01)


def test_selection_by_model_name_and_key():
    assert [c.key for c in select_cases(["cnn3_128"])] == ["cnn3_128_b32", "cnn3_128_b128"]
    assert [c.key for c in select_cases(["mlp", "model1"])] == ["model1", "mlp_2x2096"]
    assert len(select_cases(None)) == 12


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"'resnet152'.*known: .*model1.*lenet5"):
        main(["--quick", "--no-bfloat16", "--models", "model1", "resnet152", "--output", str(tmp_path / "b.json")])
    assert not (tmp_path / "b.json").exists()


def test_speed_page_reports_each_target_as_met_or_missed(quick_result):
    result = json.loads(json.dumps(quick_result))  # a copy to edit
    result["other_work_share_before"], result["other_work_share_after"] = 0.02, 0.31
    for row, speedup in zip(result["cases"], (0.8, 3.0)):
        row["speedup"] = speedup
    result["cases"][0]["reference_runs"] = [{"images_per_s": 100.0}, {"images_per_s": 100.0}]
    result["cases"][0]["engine_runs"] = [{"images_per_s": 80.0}, {"images_per_s": 105.0}]
    result["geomean_speedup"] = (0.8 * 3.0) ** 0.5
    result["theoretical_peak"] = dict(AVX512_PEAK)
    result["cases"][0]["share_of_theoretical_peak"] = 0.5  # model1
    result["cases"][0]["reference_page_faults_per_step"], result["cases"][0]["engine_page_faults_per_step"] = 12651.7, 0
    result["parallel"] = {"batch_size": 8, "model": "resnet_mini", "ratio": 1.2}
    page = speed_markdown(result)
    # throughput, then where it comes from (then bfloat16 against float32, where the CPU has it)
    tables = 3 if result["bfloat16"]["measured"] else 2
    assert page.count("| model1 |") == tables and page.count("| lenet5 |") == tables
    model1_lines = [line for line in page.splitlines() if line.startswith("| model1 |")]
    assert "| 0.80x | 0.80-1.05x |" in model1_lines[0]
    assert "| 12,652 / 0 |" in model1_lines[1] and "| 50.0% |" in model1_lines[1]
    assert "slowest: model1 at 0.80x (per repeat 0.80-1.05x) | **missed**" in page
    assert "other work on the cores 2% just before the run and 31% just after" in page
    geomean_line = next(line for line in page.splitlines() if "| 1.55x over 2 cases" in line)
    assert geomean_line.endswith("| **met** |")
    loading_free = (result["cases"][0]["loading_free_speedup"] * result["cases"][1]["loading_free_speedup"]) ** 0.5
    assert result["geomean_loading_free_speedup"] == pytest.approx(loading_free)
    assert f"(if the reference's data loading took no time: {loading_free:.2f}x)" in geomean_line
    assert "model1 at least 45% of the theoretical peak (effective GFLOP/s) | 50.0% | **met** |" in page
    assert "| 1.20x (resnet_mini) | **missed** |" in page
    result["dropout_mask"]["ns_per_element"] = {"1": 10.6, "2": 10.2}
    assert ("Dropout masks (`bernoulli_`): 10.6 ns per element with 1 thread and 10.2 ns per element with "
            "2 threads, i.e. drawn on one core whatever the thread count.") in speed_markdown(result)
    result["dropout_mask"]["ns_per_element"] = {"1": 10.6, "2": 5.4}
    assert "i.e. drawn in parallel (2.0x faster with 2 threads)." in speed_markdown(result)
    assert "No benchmark has been recorded yet" in speed_markdown(None)


def test_op_profile_names_the_operators_that_take_the_time(quick_result):
    ops = op_profile(case_by_key("lenet5"), warmup=1, steps=2, top=5)
    assert len(ops) == 5
    assert [op["ms_per_step"] for op in ops] == sorted((op["ms_per_step"] for op in ops), reverse=True)
    assert all(0 < op["share"] <= 1 for op in ops) and sum(op["share"] for op in ops) <= 1 + 1e-9
    assert any("conv" in op["op"] or "mm" in op["op"] for op in ops)
    page = speed_markdown({**quick_result, "op_profiles": {"lenet5": ops}})
    assert "Where a training step of **lenet5** spends its time" in page
    assert f"| `{ops[0]['op']}` |" in page


def test_other_work_share_sees_a_busy_core():
    """The share printed beside chapter 4's timings rises when another process keeps a core busy."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = other_work_share(1.0)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy >= 0.8 / os.cpu_count()  # one spinning process is at least most of one core's share
    assert busy <= 1.0


@pytest.fixture
def stubbed_benchmark(monkeypatch, tmp_path):
    """`fmnist-book benchmark` with the measurement replaced by the committed result (no minutes of CPU),
    the book's own result file moved to a scratch folder, and page regeneration recorded, not done. Its CPU
    lacks bfloat16 instructions, as some do (the tests using it measure float32 only), so they pass on any CPU."""
    from fmnist_utils import benchmark, cli

    committed = benchmark.last_result()
    monkeypatch.setattr(benchmark, "run_benchmark", lambda args, cases, threads: json.loads(json.dumps(committed)))
    monkeypatch.setattr(benchmark, "other_work_share", lambda seconds=0.5: 0.0)
    monkeypatch.setattr(benchmark, "precision_problem", lambda precision, device: "no bfloat16 on this CPU")
    monkeypatch.setattr(benchmark, "DEFAULT_OUTPUT", tmp_path / "book" / "benchmark.json")
    regenerated = []
    monkeypatch.setattr(cli, "write_reports", lambda: regenerated.append(True) or [])
    return cli, tmp_path, regenerated


def test_benchmark_written_elsewhere_leaves_the_book_pages_alone(stubbed_benchmark, capsys):
    cli, tmp_path, regenerated = stubbed_benchmark
    elsewhere = tmp_path / "elsewhere.json"
    assert cli.main(["benchmark", "--output", str(elsewhere), "--no-progress", "--no-bfloat16"]) == 0
    assert json.loads(elsewhere.read_text())["cases"] and regenerated == []
    out = capsys.readouterr().out
    assert f"wrote {elsewhere}" in out and "book pages left as they are" in out
    assert f"fmnist-book benchmark --render {elsewhere}" in out


def test_benchmark_written_to_the_book_regenerates_its_pages(stubbed_benchmark):
    cli, tmp_path, regenerated = stubbed_benchmark
    assert cli.main(["benchmark", "--no-progress", "--no-bfloat16"]) == 0
    assert (tmp_path / "book" / "benchmark.json").exists() and regenerated == [True]


def test_render_prints_a_saved_result_as_the_appendix_tables(stubbed_benchmark, capsys):
    from fmnist_utils.benchmark import last_result

    cli, tmp_path, regenerated = stubbed_benchmark
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(last_result()))
    assert cli.main(["benchmark", "--render", str(saved)]) == 0
    assert capsys.readouterr().out == speed_markdown(last_result())
    assert regenerated == []


def test_render_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--render", str(tmp_path / "none.json")])
    assert f"--render: no file {tmp_path / 'none.json'}" in capsys.readouterr().err


@pytest.fixture
def fake_cpu(monkeypatch, tmp_path):
    """A CPU described by files the test writes: /proc/cpuinfo, cpufreq's maximum, psutil's counts."""
    import psutil

    def describe(flags="fpu avx avx2 fma avx512f", mhz="2100.000", max_khz="3700000", physical=2,
                 psutil_max=0.0):
        cpuinfo = tmp_path / "cpuinfo"
        cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Test CPU\n" + (f"cpu MHz\t\t: {mhz}\n" if mhz else "")
                           + f"flags\t\t: {flags}\n\n")
        monkeypatch.setattr(train, "CPUINFO", cpuinfo)  # read by train.cpuinfo_field
        max_freq = tmp_path / "cpuinfo_max_freq"
        if max_khz:
            max_freq.write_text(max_khz + "\n")
        monkeypatch.setattr(benchmark, "CPU_MAX_FREQ", max_freq if max_khz else tmp_path / "absent")
        monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: physical if not logical else 2 * physical)
        frequency = SimpleNamespace(current=float(mhz or 0), min=0.0, max=psutil_max)  # as psutil without cpufreq
        monkeypatch.setattr(psutil, "cpu_freq", lambda: frequency)

    return describe


def test_theoretical_peak_multiplies_cores_lanes_fma_units_and_the_maximum_clock(fake_cpu):
    fake_cpu()
    peak = theoretical_peak(threads=2)
    assert peak["gflops"] == pytest.approx(2 * 16 * 2 * 2 * 3.7)  # AVX-512, 2 FMA units, 3.7 GHz
    assert (peak["vector_extension"], peak["clock_source"], peak["missing"]) == (
        "AVX-512", "maximum clock, cpufreq cpuinfo_max_freq", None)
    fake_cpu(flags="fpu avx avx2 fma")
    assert theoretical_peak(threads=2)["gflops"] == pytest.approx(2 * 8 * 2 * 2 * 3.7)  # AVX2: 8 lanes
    fake_cpu(physical=1)
    assert theoretical_peak(threads=2)["cores"] == 1  # two threads on one core share its FMA units


def test_theoretical_peak_clock_falls_back_to_psutil_then_cpuinfo(fake_cpu):
    fake_cpu(max_khz=None, psutil_max=3500.0)
    peak = theoretical_peak(threads=1)
    assert peak["clock_mhz"] == 3500.0 and "psutil" in peak["clock_source"]
    fake_cpu(max_khz=None)
    peak = theoretical_peak(threads=1)
    assert peak["clock_mhz"] == 2100.0 and peak["clock_source"] == 'current clock, /proc/cpuinfo "cpu MHz"'


def test_unreadable_clock_or_vector_width_is_said_not_guessed(fake_cpu):
    fake_cpu(max_khz=None, mhz=None)
    peak = theoretical_peak(threads=2)
    assert peak["gflops"] is None and "the clock could not be read" in peak["missing"]
    fake_cpu(flags="fp asimd")  # an ARM CPU: no x86 vector flags
    peak = theoretical_peak(threads=2)
    assert peak["gflops"] is None and "vector width is unknown" in peak["missing"]


def _result_with(ceiling):
    """The committed result as a new run would record it: theoretical peak and both shares."""
    result = before_bfloat16()
    result["theoretical_peak"] = ceiling
    for row in result["cases"]:
        row["share_of_matmul"] = row.pop("share_of_peak")
        row["share_of_theoretical_peak"] = ceiling["gflops"] and row["engine_gflops"] / ceiling["gflops"]
    return result


def test_speed_page_shares_are_of_the_theoretical_peak_with_the_matmul_beside_it():
    result = _result_with(dict(AVX512_PEAK))
    cnn = next(row for row in result["cases"] if row["key"] == "cnn3_128_b128")
    cnn["engine_gflops"] = 1.126 * result["matmul_peak"]["gflops"]  # above the measured matmul, as seen on Zen 5
    cnn["share_of_theoretical_peak"] = cnn["engine_gflops"] / AVX512_PEAK["gflops"]
    page = speed_markdown(result)
    assert "| Engine effective GFLOP/s | % of theoretical peak |" in page
    assert ("Theoretical float32 peak: 2 cores x 16 lanes (AVX-512) x 2 FLOPs per fused multiply-add x 2 FMA units "
            "per core (assumed) x 3.70 GHz (maximum clock, cpufreq cpuinfo_max_freq) = 473.6 GFLOP/s; the float32 "
            "matrix-multiply rate measured with `torch.mm` is 198.1 GFLOP/s, 42% of it.") in page
    assert "| cnn3_128_b128 at least 45% of the theoretical peak (effective GFLOP/s) | 47.1% | **met** |" in page
    assert "| model1 at least 45% of the theoretical peak (effective GFLOP/s) | 24.1% | **missed** |" in page
    assert "matmul peak" not in page and "% of theor." in format_table(result)


def test_speed_page_of_a_result_without_a_theoretical_peak_says_so():
    committed = speed_markdown(before_bfloat16())  # recorded before the theoretical peak was
    assert "| Engine effective GFLOP/s | % of measured matmul rate |" in committed
    assert "| 143.2 | 72.3% |" in committed
    assert "The theoretical ceiling (vector width, FMA units, clock) was not recorded in this result" in committed
    assert ("| cnn3_128_b128 at least 45% of the theoretical peak (effective GFLOP/s) | no theoretical peak in this "
            "result (72.3% of the measured matmul rate) | **not checked** |") in committed
    assert "matmul peak" not in committed and "% of matmul" in format_table(before_bfloat16())
    unread = speed_markdown(_result_with({**AVX512_PEAK, "gflops": None, "clock_mhz": None, "clock_source": None,
                                          "missing": "the clock could not be read (no cpufreq maximum)"}))
    assert "No theoretical float32 peak: the clock could not be read (no cpufreq maximum)." in unread
    assert "| % of measured matmul rate |" in unread and "**not checked**" in unread


def test_the_committed_result_measured_bfloat16_and_its_page_judges_the_target():
    """The book's speed appendix shows a result that timed bfloat16 (on a CPU with its instructions)."""
    committed = last_result()
    assert committed["bfloat16"]["measured"] and committed["bfloat16"]["cpu_flags"]
    page = speed_markdown(committed)
    row = next(line for line in page.splitlines() if line.startswith("| bfloat16 at least 1.5x float32"))
    assert row.endswith(("| **met** |", "| **missed** |")) and "over 5 cases" in row


def test_a_side_by_side_worker_returns_its_warnings_instead_of_printing_them(monkeypatch):
    """The side-by-side measurement runs in spawned processes whose stderr would land in a published
    chapter: a warning raised while the worker builds its training (a layout the CPU forces) comes back
    with the result as a note."""
    import warnings

    class Loop:
        def __init__(self, case, seed):
            warnings.warn("trained in the contiguous layout instead")

        def step(self):
            return 8

    class Barrier:
        def wait(self, timeout):
            pass

        def abort(self):
            raise AssertionError("the worker failed")

    results = []
    monkeypatch.setattr(benchmark, "EngineLoop", Loop)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escaped the worker would fail here
        benchmark._parallel_worker(Case("model1", 1, "model1", 8), 42, 1, 1, 2, 0.0, Barrier(),
                                   SimpleNamespace(put=results.append))
    assert results[0]["notes"] == ["trained in the contiguous layout instead"]
    assert results[0]["seed"] == 42 and "error" not in results[0]
