"""Stage 5 (paper 003): the overall SvdH score regressed from the whole radiograph.

ResNet-Dwise50 and its ablation (bottleneck B, depthwise-separable DSC, inverted residual IRB blocks)
and torchvision's ResNet-50 and MobileNetV2, against the mean-score baseline, the readers and the sum
of stage 4's joint grades. ``run(cohort, settings, seed=..., device=..., artifacts_root=...)`` does it all.
"""
from ra_lib.stages.overall_score.pipeline import HEADLINE_NAMES, STAGE, OverallScoreResult, run
from ra_lib.stages.overall_score.settings import PROFILES, OverallScoreSettings

__all__ = ["STAGE", "OverallScoreSettings", "PROFILES", "HEADLINE_NAMES", "run", "OverallScoreResult"]
