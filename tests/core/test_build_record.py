import json

from ra_lib.core import build_record


def _stage_run(build, stage, seconds, **parameters):
    build_record.write_stage_run(build / "executed" / f"{stage}.run.json", {"seconds": seconds, "peak_rss_mib": 300.4},
                                 {"manifest": "data_manifests/x.yaml", "profile": "smoke", "seed": 0, **parameters})


def test_build_info_box_describes_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(build_record, "_cohort_size", lambda m: {"cohort": "tiny-cohort", "images": 12, "patients": 3})
    (tmp_path / "executed").mkdir()
    _stage_run(tmp_path, "00_a", 1.26)
    _stage_run(tmp_path, "01_b", 40.0, device="cpu")
    info = json.loads(build_record.write_build_info(tmp_path, ["00_a", "01_b", "02_never_ran"]).read_text())
    assert info["profile"] == "smoke" and info["seed"] == 0 and info["device"].startswith("cpu (")
    assert [s["stage"] for s in info["stages"]] == ["00_a", "01_b"] and info["commit"]
    box = build_record.build_info_markdown(tmp_path)
    assert box.startswith(":::{admonition} About this build") and box.rstrip().endswith(":::")
    for text in ("**tiny-cohort**", "12 images, 3 patients", "`smoke`", "| `00_a` | 1.3 s | 300 MiB |", "`01_b`"):
        assert text in box


def test_stages_that_differ_are_said_to_differ(tmp_path, monkeypatch):
    monkeypatch.setattr(build_record, "_cohort_size", lambda m: {})
    (tmp_path / "executed").mkdir()
    _stage_run(tmp_path, "00_a", 1.0, seed=1)
    _stage_run(tmp_path, "01_b", 1.0, seed=2)
    assert build_record.write_build_info(tmp_path, ["00_a", "01_b"]) and "differs between stages" in \
        json.loads((tmp_path / "build_info.json").read_text())["seed"]


def test_a_build_without_record_says_so(tmp_path):
    assert "no run record" in build_record.build_info_markdown(tmp_path)
