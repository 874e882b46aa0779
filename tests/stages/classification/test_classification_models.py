import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ra_lib.stages.classification.models import (
    MODEL_TYPES,
    JointClassifier,
    SmallVGG,
    build_model,
    masked_bce_sum,
    n_inputs,
)


@pytest.mark.parametrize("model_type,expected", [("siso", 1), ("mimo_local", 2), ("mimo_one_hand", 5),
                                                 ("mimo_both_hands", 10)])
def test_each_model_gives_one_output_per_input_crop(model_type, expected):
    torch.manual_seed(0)
    model = build_model(model_type, n_sites=5, backbone="small", width=4, fc_width=8)
    out = model(torch.rand(3, expected, 24, 24))
    assert out.shape == (3, expected)
    assert n_inputs(model_type, 5) == expected


def test_vgg16_backbone_shapes_without_download():
    torch.manual_seed(0)
    model = build_model("mimo_local", n_sites=1, backbone="vgg16", pool=1, fc_width=8)
    assert model(torch.rand(2, 2, 32, 32)).shape == (2, 2)
    assert model.backbone.out_features == 512


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        build_model("siso", 1, backbone="vgg16", weights_path=tmp_path / "nothing.pth")


def test_one_backbone_is_shared_by_all_inputs():
    torch.manual_seed(0)
    calls = []
    models = {n: JointClassifier(SmallVGG(width=4), n, fc_width=8) for n in (1, 6)}
    backbone_sizes = {n: sum(p.numel() for p in m.backbone.parameters()) for n, m in models.items()}
    assert backbone_sizes[1] == backbone_sizes[6]
    model = models[6]
    model.backbone.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    model(torch.rand(2, 6, 16, 16))
    assert calls == [12]  # one pass over all 2 x 6 crops
    # the same crop in any slot gives the same features
    crop = torch.rand(1, 1, 16, 16)
    feats = model.backbone(torch.cat([crop, crop]))
    assert torch.allclose(feats[0], feats[1])


def test_wrong_number_of_crops_is_rejected():
    model = build_model("mimo_one_hand", 4, width=4, fc_width=8)
    with pytest.raises(ValueError, match="takes 4 crops"):
        model(torch.rand(1, 3, 16, 16))


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="model type"):
        n_inputs("mimo_feet", 3)
    with pytest.raises(ValueError, match="backbone"):
        build_model("siso", 1, backbone="resnet")
    with pytest.raises(ValueError, match="init"):
        build_model("siso", 1, init="xavier")


@pytest.mark.parametrize("init,std", [("he", None), ("random", 0.05)])
def test_fc_initialisation(init, std):
    torch.manual_seed(0)
    model = build_model("siso", 1, width=32, fc_width=512, init=init, fc_layers=1)
    first = model.head[0]
    expected = std if std is not None else np.sqrt(2.0 / first.in_features)
    assert first.weight.std().item() == pytest.approx(expected, rel=0.1)
    assert torch.count_nonzero(first.bias) == 0


def test_fc_depth_and_dropout_are_parameters():
    model = build_model("siso", 1, width=4, fc_layers=3, fc_width=8, dropout=0.3)
    linear = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    dropout = [m for m in model.head if isinstance(m, torch.nn.Dropout)]
    assert len(linear) == 4 and len(dropout) == 3 and dropout[0].p == 0.3


def test_loss_is_bce_summed_over_outputs_and_skips_missing_targets():
    logits = torch.tensor([[0.3, -1.0, 2.0], [1.5, 0.2, -0.7]])
    targets = torch.tensor([[1.0, float("nan"), 0.0], [0.0, 1.0, 1.0]])
    per = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(targets), reduction="none")
    per[0, 1] = 0.0
    assert masked_bce_sum(logits, targets).item() == pytest.approx(per.sum(1).mean().item())
    siso_logits, siso_targets = logits[:, :1], targets[:, :1]
    assert masked_bce_sum(siso_logits, siso_targets).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(siso_logits, siso_targets).item())


def test_all_model_types_listed():
    assert MODEL_TYPES == ("siso", "mimo_local", "mimo_one_hand", "mimo_both_hands")


def test_vgg16_loads_the_features_of_a_torchvision_state_dict(tmp_path):
    from ra_lib.stages.classification.models import VGG16Features

    torch.manual_seed(1)
    source = VGG16Features()
    state = {f"features.{k}": v for k, v in source.features[0].state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(1)  # ignored: the head is the paper's FC layers
    torch.save(state, tmp_path / "vgg16.pth")
    loaded = VGG16Features(tmp_path / "vgg16.pth")
    assert torch.equal(loaded.features[0][0].weight, source.features[0][0].weight)


def test_input_table_lists_every_group_with_crops_per_model():
    from ra_lib.cohort.sites import GROUPS
    from ra_lib.stages.classification.models import input_table

    table = input_table().set_index(["kind", "group"])
    assert len(table) == sum(len(g) for g in GROUPS.values())
    row = table.loc[("erosion", "MCP")]
    assert (row["sites"], row["SISO"], row["MIMO local"], row["MIMO one-hand"], row["MIMO both-hands"]) == (5, 1, 2, 5,
                                                                                                            10)


def test_avgmax_pooling_keeps_the_maximum_beside_the_average():
    backbone = SmallVGG(width=4, global_pool="avgmax").eval()
    features = backbone(torch.rand(2, 1, 32, 32))
    assert backbone.out_features == 2 * 16 and features.shape == (2, 32)
    assert (features[:, 16:] >= features[:, :16] - 1e-6).all()  # max >= mean of each feature map
    with pytest.raises(ValueError, match="global_pool"):
        SmallVGG(global_pool="median")
