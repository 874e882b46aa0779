"""Writing a radiograph as a hospital would export it: uncompressed DICOM (pydicom 3).

CR Image Storage or Digital X-Ray (for presentation), 12 bits stored in 16, either
photometric interpretation, fake PHI, deterministic UIDs and no current time anywhere.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from .render import MAX_VALUE
from .settings import GENERATOR_VERSION

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
IMPLEMENTATION_UID = generate_uid(entropy_srcs=["ra_lib.synthetic", GENERATOR_VERSION])


@dataclass(frozen=True)
class DicomHeader:
    """The tags of one exported image."""

    seed: int
    image_id: str
    patient_name: str
    patient_id: str
    birth_date: dt.date
    sex: str
    age: str
    study_date: dt.date
    study_time: str
    accession: str
    study_description: str
    modality: str
    photometric: str
    manufacturer: str
    model: str
    institution: str
    station: str
    body_part: str
    view_position: str
    laterality: str  # "L", "R", "B" or "" (not sent)
    pixel_mm: float
    kvp: float


def uid(seed: int, *parts: str):
    """A UID that depends only on the seed and ``parts``."""
    return generate_uid(entropy_srcs=["ra_lib.synthetic", str(seed), *parts])


def _window(pixels: np.ndarray, background_level: float = 0.0) -> tuple[int, int]:
    """Window on the anatomy (direct-exposure background and collimation borders excluded), soft tissue
    kept faintly visible; ``background_level`` > 0 widens it downwards until the direct-exposure
    background shows at that fraction of the grey range, as many archives display it."""
    sample = pixels[::4, ::4].astype(np.float32)
    inside = sample[(sample > 0) & (sample < MAX_VALUE)]
    sample = inside if inside.size else sample
    lo, hi = np.percentile(sample, [0.5, 99.9])
    anatomy = sample[sample > lo + 0.15 * (hi - lo)]
    if anatomy.size:
        floor = float(np.percentile(anatomy, 1.0))
        background = float(np.percentile(sample, 5.0))  # direct exposure, shown black when below the anatomy
        lo = max(floor - 0.15 * (hi - floor), lo, min(background + 0.02 * (hi - background), floor))
        if background_level > 0:
            lo = min(lo, (background - background_level * hi) / (1.0 - background_level))
    return int(round((lo + hi) / 2)), int(max(round(hi - lo), 1))


def write_dicom(path: Path, pixels: np.ndarray, h: DicomHeader, background_level: float = 0.0) -> None:
    """Write ``pixels`` (uint16, MONOCHROME2 sense: bright = dense) with header ``h``; its window shows
    the direct-exposure background at ``background_level`` of the grey range (0: black)."""
    if pixels.dtype != np.uint16 or pixels.ndim != 2 or int(pixels.max(initial=0)) > MAX_VALUE:
        raise ValueError(f"{path}: expected a 2-D uint16 image with 12-bit values")
    center, width = _window(pixels, background_level)
    stored = pixels
    if h.photometric == "MONOCHROME1":
        stored = (MAX_VALUE - pixels).astype(np.uint16)
        center = MAX_VALUE - center
    sop_class = CR_STORAGE if h.modality == "CR" else DX_PRESENTATION_STORAGE
    study_uid = uid(h.seed, "study", h.patient_id, h.study_date.isoformat())
    sop_uid = uid(h.seed, "sop", h.image_id)
    date = h.study_date.strftime("%Y%m%d")

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"RA_SYNTH_{GENERATOR_VERSION}"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, h.study_time
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = h.study_time
    ds.AccessionNumber = h.accession
    ds.Modality = h.modality
    ds.Manufacturer = h.manufacturer
    ds.InstitutionName = h.institution
    ds.ReferringPhysicianName = ""
    ds.StationName = h.station
    ds.StudyDescription = h.study_description
    ds.SeriesDescription = h.study_description
    ds.ManufacturerModelName = h.model
    ds.PatientName = h.patient_name
    ds.PatientID = h.patient_id
    ds.PatientBirthDate = h.birth_date.strftime("%Y%m%d")
    ds.PatientSex = h.sex
    ds.PatientAge = h.age
    ds.BodyPartExamined = h.body_part
    ds.KVP = f"{h.kvp:g}"
    ds.DistanceSourceToDetector = "1000"
    ds.ViewPosition = h.view_position
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = uid(h.seed, "series", h.image_id)
    ds.StudyID = h.accession[-6:]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    if h.laterality:
        ds.ImageLaterality = h.laterality
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = h.photometric
    ds.Rows, ds.Columns = pixels.shape
    spacing = [f"{h.pixel_mm:.4f}", f"{h.pixel_mm:.4f}"]
    ds.PixelSpacing = spacing
    ds.ImagerPixelSpacing = spacing
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.BurnedInAnnotation = "NO"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1 if h.photometric == "MONOCHROME1" else -1
    ds.WindowCenter, ds.WindowWidth = center, width
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "INVERSE" if h.photometric == "MONOCHROME1" else "IDENTITY"
    if h.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.DetectorType = "SCINTILLATOR"
    ds.LossyImageCompression = "00"
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
