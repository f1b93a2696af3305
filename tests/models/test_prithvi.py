"""Prithvi backbone: shapes of every variant, position embedding, official-checkpoint loading, loud mismatches."""
import pytest
import torch

from geospatial_mm.models.backbones import ARCHS, PrithviViT, sincos_3d
from geospatial_mm.models.pretrained import PretrainedMismatchError


def _shape_only(arch, frames, size, in_chans=6):
    """Build on the meta device: shapes without allocating the 300M/600M weights or computing anything."""
    with torch.device('meta'):
        model = PrithviViT(arch=arch, in_chans=in_chans, num_frames=frames)
        out = model(torch.empty(2, in_chans, frames, size, size))
    return model, out


@pytest.mark.parametrize('arch', sorted(ARCHS))
@pytest.mark.parametrize('frames', [1, 3])
def test_every_variant_outputs_tokens_for_1_and_3_frames(arch, frames):
    spec = ARCHS[arch]
    size = spec['patch_size'] * 14  # 224 for patch 16, 196 for patch 14
    model, out = _shape_only(arch, frames, size)
    assert len(out) == 1
    assert out[0].shape == (2, 1 + frames * 14 * 14, spec['embed_dim'])
    assert len(model.blocks) == spec['depth']


@pytest.mark.parametrize('arch', ['prithvi_100m', 'prithvi_eo_v2_600m_tl'])
def test_non_224_inputs_and_non_square_inputs(arch):
    p = ARCHS[arch]['patch_size']
    with torch.device('meta'):
        model = PrithviViT(arch=arch, num_frames=3)
        out = model(torch.empty(1, 6, 3, p * 20, p * 9))
    assert out[0].shape == (1, 1 + 3 * 20 * 9, ARCHS[arch]['embed_dim'])
    assert model.token_grid((1, 6, 3, p * 20, p * 9)) == (3, 20, 9)  # the grid the segmentor hands the neck
    assert model.token_grid((1, 6, p * 20, p * 9)) == (1, 20, 9)  # one frame, no time axis


def test_real_forward_backward_of_the_tiny_variant_with_checkpointing_and_coords():
    torch.manual_seed(0)
    model = PrithviViT(arch='tiny', in_chans=4, num_frames=2, with_cp=True, coords_encoding=True,
                       out_indices=(1, 3))
    x = torch.randn(2, 4, 2, 48, 32, requires_grad=True)
    out = model(x, temporal_coords=torch.tensor([[[2020, 10], [2020, 200]]] * 2, dtype=torch.float32),
                location_coords=torch.tensor([[45.0, 7.0], [-10.0, 120.0]]))
    assert [o.shape for o in out] == [(2, 1 + 2 * 3 * 2, 64)] * 2
    out[-1].sum().backward()
    assert x.grad is not None and model.patch_embed.proj.weight.grad is not None
    # the location encoding changes the result per sample
    plain = model(x.detach(), location_coords=torch.tensor([[0.0, 0.0], [0.0, 0.0]]))
    assert not torch.allclose(plain[-1], out[-1].detach())


def test_input_not_divisible_by_the_patch_is_refused():
    model = PrithviViT(arch='tiny', in_chans=6)
    with pytest.raises(ValueError, match='not divisible by the patch size 16'):
        model(torch.zeros(1, 6, 1, 40, 32))


def test_position_embedding_is_fixed_sincos_with_a_zero_cls_row():
    emb = sincos_3d(64, (2, 3, 4))
    assert emb.shape == (1 + 24, 64)
    assert torch.equal(emb[0], torch.zeros(64))
    # column part (first 24 channels) depends only on the column: tokens 1 and 5 share column 0 of rows 0 and 1
    assert torch.allclose(emb[1, :24], emb[5, :24]) and not torch.allclose(emb[1, :24], emb[2, :24])
    # frame part (last 16 channels) differs between frames only
    assert torch.allclose(emb[1, 48:], emb[12, 48:]) and not torch.allclose(emb[1, 48:], emb[13, 48:])
    model = PrithviViT(arch='tiny')
    assert 'pos_embed' not in model.state_dict()  # recomputed, never loaded


def test_frozen_backbone_has_no_trainable_parameters_and_stays_in_eval():
    model = PrithviViT(arch='tiny', frozen=True)
    model.train()
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


# ------------------------------------------------------------------------------------------ checkpoints
def official_v1_state_dict(model: PrithviViT, bands: int = 6, decoder_dim: int = 32) -> dict:
    """A checkpoint in the Prithvi_100M.pt layout: timm-style encoder keys at the top level plus the MAE decoder."""
    d = model.embed_dim
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    w = sd['patch_embed.proj.weight']
    sd['patch_embed.proj.weight'] = torch.randn(w.shape[0], bands, *w.shape[2:])
    sd['pos_embed'] = torch.zeros(1, 1 + 3 * 14 * 14, d)
    sd['mask_token'] = torch.zeros(1, 1, decoder_dim)
    sd['decoder_embed.weight'] = torch.randn(decoder_dim, d)
    sd['decoder_embed.bias'] = torch.zeros(decoder_dim)
    sd['decoder_pos_embed'] = torch.zeros(1, 1 + 3 * 14 * 14, decoder_dim)
    sd['decoder_blocks.0.norm1.weight'] = torch.ones(decoder_dim)
    sd['decoder_norm.weight'] = torch.ones(decoder_dim)
    sd['decoder_pred.weight'] = torch.randn(16 * 16 * bands, decoder_dim)
    return sd


@pytest.fixture
def v1_checkpoint(tmp_path):
    torch.manual_seed(1)
    source = PrithviViT(arch='tiny', in_chans=6)
    sd = official_v1_state_dict(source)
    path = tmp_path / 'Prithvi_tiny.pt'
    torch.save(sd, path)
    return path, sd


def test_loads_the_official_v1_layout_with_all_bands(v1_checkpoint):
    path, sd = v1_checkpoint
    model = PrithviViT(arch='tiny', in_chans=6, pretrained=str(path))
    model.init_weights()
    own = model.state_dict()
    for key in own:
        assert torch.equal(own[key], sd[key]), key


def test_loads_a_band_subset_in_the_task_order(v1_checkpoint):
    path, sd = v1_checkpoint
    model = PrithviViT(arch='tiny', in_chans=3, pretrained=str(path), pretrained_band_indices=[5, 0, 3])
    model.init_weights()
    assert torch.equal(model.patch_embed.proj.weight, sd['patch_embed.proj.weight'][:, [5, 0, 3]])
    assert torch.equal(model.blocks[2].mlp.fc1.weight, sd['blocks.2.mlp.fc1.weight'])


def test_band_count_mismatch_without_indices_is_an_error(v1_checkpoint):
    path, _ = v1_checkpoint
    model = PrithviViT(arch='tiny', in_chans=4, pretrained=str(path))
    with pytest.raises(PretrainedMismatchError, match='trained on 6 bands, the backbone takes 4; set '
                                                      'pretrained_band_indices'):
        model.init_weights()


def test_eo_v2_prefixed_layout_loads(tmp_path):
    torch.manual_seed(2)
    source = PrithviViT(arch='tiny', in_chans=6, coords_encoding=True, trainable_coords_scale=True)
    sd = {f'encoder.{k}': v for k, v in source.state_dict().items()}
    sd['encoder.pos_embed'] = torch.zeros(1, 1 + 4 * 14 * 14, 64)
    sd['decoder.decoder_embed.weight'] = torch.randn(32, 64)
    sd['decoder.mask_token'] = torch.zeros(1, 1, 32)
    torch.save({'model': sd}, tmp_path / 'eo2.pt')
    model = PrithviViT(arch='tiny', in_chans=6, coords_encoding=True, trainable_coords_scale=True,
                       pretrained=str(tmp_path / 'eo2.pt'))
    model.init_weights()
    assert torch.equal(model.temporal_embed_enc.scale, source.temporal_embed_enc.scale)
    assert torch.equal(model.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)


def test_a_fine_tuned_mmseg_checkpoint_loads_its_backbone(tmp_path):
    torch.manual_seed(3)
    source = PrithviViT(arch='tiny', in_chans=6)
    sd = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    sd['neck.upsample.0.weight'] = torch.randn(64, 8, 2, 2)
    sd['decode_head.conv_seg.weight'] = torch.randn(2, 8, 1, 1)
    torch.save({'meta': {'iter': 10}, 'state_dict': sd}, tmp_path / 'iter_10.pth')
    model = PrithviViT(arch='tiny', in_chans=6, pretrained=str(tmp_path / 'iter_10.pth'))
    model.init_weights()
    assert torch.equal(model.patch_embed.proj.weight, source.patch_embed.proj.weight)
    head_only = {k: v for k, v in sd.items() if not k.startswith('backbone.')}
    torch.save({'state_dict': head_only}, tmp_path / 'head_only.pth')
    with pytest.raises(PretrainedMismatchError, match='an MMSegmentation checkpoint without backbone weights'):
        PrithviViT(arch='tiny', in_chans=6, pretrained=str(tmp_path / 'head_only.pth')).init_weights()


def test_a_checkpoint_that_does_not_match_fails_loudly(v1_checkpoint, tmp_path):
    path, sd = v1_checkpoint
    deeper = dict(sd, **{'blocks.4.norm1.weight': torch.ones(64)})
    torch.save(deeper, tmp_path / 'deeper.pt')
    with pytest.raises(PretrainedMismatchError, match=r'1 unexpected: blocks\.4\.norm1\.weight'):
        PrithviViT(arch='tiny', in_chans=6, pretrained=str(tmp_path / 'deeper.pt')).init_weights()
    # the same file loads when the extra key is explicitly allowed
    PrithviViT(arch='tiny', in_chans=6, pretrained=str(tmp_path / 'deeper.pt'),
               allow_unexpected_keys=['blocks.4.*']).init_weights()
    shallow = {k: v for k, v in sd.items() if not k.startswith('blocks.3.')}
    torch.save(shallow, tmp_path / 'shallow.pt')
    with pytest.raises(PretrainedMismatchError, match=r'shallow\.pt: the weights do not match PrithviViT: 12 '
                                                      r'missing in the checkpoint: blocks\.3\.attn\.proj\.bias'):
        PrithviViT(arch='tiny', in_chans=6, pretrained=str(tmp_path / 'shallow.pt')).init_weights()
    with pytest.raises(PretrainedMismatchError, match='a different Prithvi variant'):
        PrithviViT(arch={'embed_dim': 64, 'depth': 4, 'num_heads': 4, 'patch_size': 8, 'tubelet_size': 1},
                   in_chans=6, pretrained=str(path)).init_weights()
    torch.save({'weights': [1, 2]}, tmp_path / 'junk.pt')
    with pytest.raises(PretrainedMismatchError, match='expected a state dict of tensors'):
        PrithviViT(arch='tiny', pretrained=str(tmp_path / 'junk.pt')).init_weights()
