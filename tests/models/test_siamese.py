"""SiameseEncoderDecoder + SiameseChangeHead (shared encoder, fusion, folded prediction, losses) and
SoftmaxFocalLoss."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers.xbd_data import CONFIG, TINY
from mmengine.structures import PixelData

from geospatial_mm.models.heads.siamese_change_head import SiameseChangeHead


def build(**options):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(TINY, **options))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def metas(n, size=64):
    return [dict(img_shape=(size, size), ori_shape=(size, size), img_channels=[3, 3], img_path=f'x{i}.png')
            for i in range(n)]


def test_one_encoder_with_shared_weights_sees_each_image():
    model = build().eval()
    pre, post = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        pre_feats, post_feats = model.extract_feat(torch.cat([pre, post], 1), metas(2))
        alone_pre, alone_post = model.backbone(pre), model.backbone(post)
    assert [f.shape[1] for f in pre_feats] == [16, 32, 64, 128]
    for a, b in zip(pre_feats + post_feats, alone_pre + alone_post):
        torch.testing.assert_close(a, b)
    assert not any('post' in name for name, _ in model.backbone.named_parameters())


def test_images_that_cannot_share_the_encoder_are_refused():
    model = build().eval()
    with pytest.raises(ValueError, match=r'x0.png: images of \[3, 4\] channels'):
        model.extract_feat(torch.randn(1, 7, 64, 64), [dict(metas(1)[0], img_channels=[3, 4])])
    with pytest.raises(ValueError, match='7 input channels do not split into 2 images'):
        model.extract_feat(torch.randn(1, 7, 64, 64))
    with pytest.raises(ValueError, match='no auxiliary head'):
        build(**{'model.auxiliary_head': dict(type='FCNHead', in_channels=16, channels=8, num_classes=5)})


@pytest.mark.parametrize('fusion', ['concat', 'diff', 'both'])
def test_fusions_give_both_outputs(fusion):
    model = build(**{'model.decode_head.fusion': fusion}).eval()
    x = torch.randn(2, 6, 64, 64)
    with torch.no_grad():
        loc, damage = model.decode_head(model.extract_feat(x, metas(2)))
    assert loc.shape == (2, 2, 64, 64) and damage.shape == (2, 5, 64, 64)  # full resolution
    same = torch.cat([x[:, :3], x[:, :3]], 1)
    with torch.no_grad():
        _, unchanged = model.decode_head(model.extract_feat(same, metas(2)))
    flat = unchanged.flatten(2)
    if fusion == 'diff':  # no change between the dates: the damage branch sees only zeros
        torch.testing.assert_close(flat, flat[..., :1].expand_as(flat))
    else:
        assert not torch.allclose(flat, flat[..., :1].expand_as(flat))


def test_folded_logits_are_damage_masked_by_predicted_buildings():
    torch.manual_seed(1)
    loc = torch.randn(3, 2, 8, 8) * 3
    damage = torch.randn(3, 5, 8, 8) * 3
    folded = SiameseChangeHead.fold(loc, damage)
    expected = torch.where(loc.argmax(1) == 1, damage[:, 1:].argmax(1) + 1, torch.zeros_like(loc[:, 0]).long())
    assert torch.equal(folded.argmax(1), expected)
    assert (expected == 0).any() and (expected > 1).any()
    probs = SiameseChangeHead.probabilities_from_logits(folded[0].numpy())
    p_building = loc[0].softmax(0)[1].numpy()
    np.testing.assert_allclose(probs[0], 1 - p_building, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs[1:], p_building * damage[0, 1:].softmax(0).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(0), 1.0, rtol=1e-6)


def data_samples(n, loc_size=64, size=64):
    from mmseg.structures import SegDataSample
    out = []
    for i in range(n):
        s = SegDataSample(metainfo=metas(n, size)[i])
        damage = torch.randint(0, 5, (1, size, size))
        damage[0, :4] = 255
        s.gt_sem_seg = PixelData(data=damage)
        s.set_data(dict(gt_loc_seg=PixelData(data=(damage[:, :loc_size, :loc_size] > 0).long())))
        out.append(s)
    return out


def test_losses_train_both_outputs_and_the_shared_encoder():
    model = build().train()
    losses = model.loss(torch.randn(2, 6, 64, 64), data_samples(2))
    assert set(losses) == {'decode.loss_focal', 'decode.acc_seg', 'decode.loc_loss_focal', 'decode.loc_acc_seg'}
    (losses['decode.loss_focal'] + losses['decode.loc_loss_focal']).backward()
    head = model.decode_head
    for part in (model.backbone.conv1, head.conv_seg, head.conv_loc, head.fuse[0].conv):
        assert part.weight.grad is not None and part.weight.grad.abs().sum() > 0


def test_a_padded_batch_pads_the_localisation_target_and_a_missing_one_is_named():
    model = build().train()
    samples = data_samples(1, loc_size=60)  # the preprocessor padded gt_sem_seg to 64, not gt_loc_seg
    labels = model.decode_head._stack_loc_gt(samples, samples[0].gt_sem_seg.data.shape)
    assert labels.shape == (1, 1, 64, 64) and (labels[0, 0, 60:] == 255).all() and (labels[0, 0, :, 60:] == 255).all()
    bare = data_samples(1)
    del bare[0].gt_loc_seg
    with pytest.raises(KeyError, match="x0.png: the data sample has no 'gt_loc_seg'"):
        model.loss(torch.randn(1, 6, 64, 64), bare)


def test_encode_decode_is_the_folded_prediction_at_input_size():
    model = build().eval()
    x = torch.randn(1, 6, 64, 64)
    with torch.no_grad():
        loc, damage = model.decode_head(model.extract_feat(x, metas(1)))
        out = model.encode_decode(x, metas(1))
        predicted = model.predict(x, None)[0].pred_sem_seg.data[0]
    torch.testing.assert_close(out, SiameseChangeHead.fold(loc, damage))
    assert torch.equal(predicted, out[0].argmax(0))


# ---------------------------------------------------------------------------------------------- the loss
def test_softmax_focal_loss_matches_the_formula():
    from mmseg.registry import MODELS
    logits = torch.tensor([[[[2.0]], [[0.0]], [[-1.0]]], [[[0.5]], [[0.5]], [[3.0]]]])  # (2, 3, 1, 1)
    target = torch.tensor([[[0]], [[1]]])
    p = logits.softmax(1)[:, :, 0, 0]
    p0, p1 = p[0, 0].item(), p[1, 1].item()
    alpha = [0.2, 0.5, 0.3]
    loss = MODELS.build(dict(type='SoftmaxFocalLoss', gamma=2.0, alpha=alpha))
    expected = (0.2 * (1 - p0) ** 2 * -np.log(p0) + 0.5 * (1 - p1) ** 2 * -np.log(p1)) / 2
    assert loss(logits, target).item() == pytest.approx(expected, rel=1e-5)
    ignored = target.clone()
    ignored[1] = 255
    assert loss(logits, ignored).item() == pytest.approx(0.2 * (1 - p0) ** 2 * -np.log(p0), rel=1e-5)
    plain = MODELS.build(dict(type='SoftmaxFocalLoss', gamma=0.0))
    assert plain(logits, target).item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-5)
    with pytest.raises(ValueError, match='2 class weights'):
        MODELS.build(dict(type='SoftmaxFocalLoss', alpha=[0.5, 0.5]))(logits, target)


def test_any_mmseg_pyramid_backbone_fits_by_config():
    """SegFormer's Mix Transformer instead of the ResNet: only the head's input widths change."""
    model = build(**{'model.backbone': dict(_delete_=True, type='MixVisionTransformer', in_channels=3, embed_dims=8,
                                            num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                                            out_indices=(0, 1, 2, 3)),
                     'model.decode_head.in_channels': [8, 16, 32, 64]}).train()
    losses = model.loss(torch.randn(2, 6, 64, 64), data_samples(2))
    (losses['decode.loss_focal'] + losses['decode.loc_loss_focal']).backward()
    assert model.backbone.layers[0][0].projection.weight.grad is not None
    with torch.no_grad():
        assert model.eval().encode_decode(torch.randn(1, 6, 64, 64), metas(1)).shape == (1, 5, 64, 64)
