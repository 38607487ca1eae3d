"""Achieved FLOP/s and MFU (jetscale.throughput): the peak table, the precision -> peak column map, the metrics."""

import logging

import pytest

from jetscale.throughput import (PEAK_TABLE, PRECISION_COLUMN, parse_peak_table, peak_column, peak_flops_per_s,
                                 peak_table, throughput_metrics)
from jetscale.yamlfile import read_yaml

# The names torch reports for the devices jetscale's profiles run on (torch.cuda/xpu.get_device_name), the table
# entry each must find, and its dense bf16 peak as the vendor datasheet states it (NVIDIA prints with-sparsity
# values: half of them), TFLOP/s.
DEVICES = {
    "NVIDIA A100-SXM4-80GB": ("A100", 312), "NVIDIA A100-SXM4-40GB": ("A100", 312),
    "NVIDIA A100-PCIE-40GB": ("A100", 312), "NVIDIA A100 80GB PCIe": ("A100", 312),
    "NVIDIA H100 80GB HBM3": ("H100 SXM", 1979 / 2), "NVIDIA H100 PCIe": ("H100 PCIe", 1513 / 2),
    "NVIDIA H100 NVL": ("H100 NVL", 1671 / 2), "NVIDIA H200": ("H200", 1979 / 2),
    "NVIDIA H200 NVL": ("H200 NVL", 1671 / 2),
    "Intel(R) Data Center GPU Max 1550": ("Max 1550", 838.9),
    "Intel(R) Data Center GPU Max 1550 (tile)": ("Max 1550 tile", 838.9 / 2),
}


def test_every_listed_device_name_finds_its_entry_and_dense_bf16_peak():
    table = peak_table()
    assert set(table) == set(DEVICES), "a device was added to or dropped from the table: list it here"
    for name, (device, bf16_tflops) in DEVICES.items():
        assert table[name]["device"] == device
        assert peak_flops_per_s(name, "bf16-mixed") == pytest.approx(bf16_tflops * 1e12, rel=2e-3), name
        assert table[name]["source"]["url"].startswith("https://") and table[name]["source"]["retrieved"]


def test_a_tile_is_half_the_whole_gpu_in_every_column():
    whole, tile = "Intel(R) Data Center GPU Max 1550", "Intel(R) Data Center GPU Max 1550 (tile)"
    for precision in PRECISION_COLUMN:
        assert peak_flops_per_s(tile, precision) == pytest.approx(peak_flops_per_s(whole, precision) / 2, rel=1e-3)


def test_precision_picks_the_column_and_tf32_only_where_matmuls_go_there():
    assert {p: peak_column(p) for p in ("bf16-mixed", "bf16-true", "16-mixed", "16-true", "32-true", "64-true")} \
        == {"bf16-mixed": "bf16", "bf16-true": "bf16", "16-mixed": "fp16", "16-true": "fp16", "32-true": "fp32",
            "64-true": "fp64"}
    assert peak_column("32-true", "high", tf32_matmul=True) == "tf32"
    assert peak_column("32-true", "medium", tf32_matmul=True) == "tf32"
    assert peak_column("32-true", "highest", tf32_matmul=True) == "fp32"
    assert peak_column("32-true", "high", tf32_matmul=False) == "fp32"  # the Intel tile: no TF32 switch
    assert peak_column("bf16-mixed", "high", tf32_matmul=True) == "bf16"
    raw = read_yaml(PEAK_TABLE)["devices"]["H200"]["peak_flops_per_s"]
    assert peak_flops_per_s("NVIDIA H200", "32-true", "high") == raw["tf32"]
    assert peak_flops_per_s("NVIDIA H200", "32-true", "highest") == raw["fp32"]


def test_throughput_metrics_on_a_known_device_is_achieved_over_peak_times_devices():
    peak = peak_flops_per_s("NVIDIA H100 80GB HBM3", "bf16-mixed")
    out = throughput_metrics(6.0e15, 4.0, "NVIDIA H100 80GB HBM3", "bf16-mixed", n_devices=4)
    assert out == {"device_name": "NVIDIA H100 80GB HBM3", "n_devices": 4, "train_s": 4.0,
                   "train_flops_per_s": 1.5e15, "peak_flops_per_s": 4 * peak, "mfu": pytest.approx(1.5e15 / (4 * peak))}


def test_cpu_has_no_peak_and_an_unknown_device_or_precision_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="jetscale"):
        cpu = throughput_metrics(1e9, 0.5, "cpu", "32-true", 1)
    assert cpu["train_flops_per_s"] == 2e9 and cpu["peak_flops_per_s"] is None and cpu["mfu"] is None
    assert not caplog.records, "the CPU has no peak by design: no warning"
    with caplog.at_level(logging.WARNING, logger="jetscale"):
        mig = throughput_metrics(1e9, 0.5, "NVIDIA A100-SXM4-40GB MIG 1g.5gb", "bf16-mixed", 1)
        odd = throughput_metrics(1e9, 0.5, "NVIDIA H200", "transformer-engine", 1)
    assert mig["mfu"] is None and odd["mfu"] is None
    assert "'NVIDIA A100-SXM4-40GB MIG 1g.5gb'" in caplog.text and str(PEAK_TABLE) in caplog.text
    assert "'transformer-engine'" in caplog.text
    assert throughput_metrics(1e9, 0.0, "NVIDIA H200", "bf16-mixed", 1)["train_flops_per_s"] is None


def test_a_bad_table_is_refused_naming_the_entry():
    good = {"names": ["X"], "source": {"url": "https://x"},
            "peak_flops_per_s": {"fp64": 1.0, "fp32": 1.0, "tf32": 1.0, "bf16": 1.0, "fp16": 1.0}}
    with pytest.raises(ValueError, match=r"t.yaml: devices.B: name 'X' is also listed under devices.A"):
        parse_peak_table({"devices": {"A": good, "B": good}}, "t.yaml")
    with pytest.raises(ValueError, match=r"devices.A needs .*missing peaks: \['tf32'\]"):
        parse_peak_table({"devices": {"A": {**good, "peak_flops_per_s": {"fp64": 1, "fp32": 1, "bf16": 1,
                                                                           "fp16": 1}}}}, "t.yaml")
    with pytest.raises(ValueError, match=r"devices.A: peaks must be numbers > 0 .*'bf16': '3e12'"):
        parse_peak_table({"devices": {"A": {**good, "peak_flops_per_s": {**good["peak_flops_per_s"],
                                                                           "bf16": "3e12"}}}}, "t.yaml")
