"""Time ``ra_lib.cohort.check`` on a native cohort of 1,000 tiny DICOMs (500 patients, left and right hands).

Each image comes with its 31 scores and 22 landmarks, so the tables have the size of a real
1,000-image cohort; only the pixels are tiny (64 x 64). Run from the repository root:

    .venv/bin/python bench/manifest_check.py [--images 1000] [--deep]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ra_lib.cohort import check  # noqa: E402
from ra_lib.cohort.sites import HAND_LANDMARKS, HAND_SITES  # noqa: E402


def write_dicom(path: Path, pixels: np.ndarray, patient_id: str, laterality: str) -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.StudyDate, ds.BodyPartExamined, ds.ImageLaterality = patient_id, "20200102", "HAND", laterality
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)


def make_cohort(root: Path, n_images: int) -> Path:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    images, scores, landmarks = [], [], []
    for i in range(n_images):
        patient, hand = f"PAT{i // 2:05d}", "LR"[i % 2]
        image_id = f"{patient}-{hand}H"
        write_dicom(root / "images" / f"{image_id}.dcm", rng.integers(0, 4096, (64, 64), dtype=np.uint16),
                    patient, hand)
        images.append((image_id, f"images/{image_id}.dcm", patient, "2020-01-02",
                       "left_hand" if hand == "L" else "right_hand"))
        scores += [(image_id, hand, s.kind, s.site, int(rng.integers(0, s.max_grade + 1))) for s in HAND_SITES]
        landmarks += [(image_id, hand, name, 5.0 + j * 2, 30.0) for j, name in enumerate(HAND_LANDMARKS)]
    pd.DataFrame(images, columns=["image_id", "path", "patient_id", "study_date", "view"]).to_csv(
        root / "images.csv", index=False)
    pd.DataFrame(scores, columns=["image_id", "hand", "kind", "site", "grade"]).to_csv(
        root / "joint_scores.csv", index=False)
    pd.DataFrame(landmarks, columns=["image_id", "hand", "landmark", "x", "y"]).to_csv(
        root / "landmarks.csv", index=False)
    manifest = root / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({
        "cohort": "bench", "format": "native", "data_root": ".",
        "tables": {"images": "images.csv", "joint_scores": "joint_scores.csv", "landmarks": "landmarks.csv"},
    }))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--deep", action="store_true", help="also time check(deep=True)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = make_cohort(Path(tmp), args.images)
        print(f"wrote {args.images} DICOMs + tables in {time.perf_counter() - start:.1f} s")
        for deep in (False, True) if args.deep else (False,):
            start = time.perf_counter()
            problems = check(manifest, deep=deep)
            seconds = time.perf_counter() - start
            assert problems == [], problems[:5]
            print(f"check(deep={deep}) on {args.images} images: {seconds:.2f} s "
                  f"({1000 * seconds / args.images:.2f} ms per image)")


if __name__ == "__main__":
    main()
