"""Saves every rank's model parameters (not buffers: BN running stats are per rank by design) after training."""
import os.path as osp

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankParamsHook(Hook):

    def __init__(self):
        self.batches = []
        self.initial = None

    @staticmethod
    def _params(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return {k: v.detach().cpu().clone() for k, v in model.named_parameters()}

    def before_train(self, runner):
        self.initial = self._params(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.batches.append([s.img_path for s in data_batch['data_samples']])

    def after_train(self, runner):
        rank, world_size = get_dist_info()
        torch.save(dict(rank=rank, world_size=world_size, params=self._params(runner), initial_params=self.initial,
                        batches_seen=self.batches), osp.join(runner.work_dir, f'rank{rank}_params.pt'))
