# Raw Hephaestus interferograms for self-supervised pretraining: every <FrameID>/interferograms/<primary>_<secondary>/
# folder under data_root, InSAR.png and Coherence.png stacked as two channels (values 0-255), two augmented views.
data_root = 'data/hephaestus/Hephaestus_Raw'
# InSAR-suited views: no colour jitter or greyscale (two physical channels, not RGB); flips in both directions and
# rotations (deformation patterns have no preferred orientation in the image), blur and additive noise.
view_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='cv2'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    # angle uniform in [-180, 180] degrees, corners filled with 0
    dict(type='Rotate', magnitude_range=(0, 180), magnitude_std='inf', prob=0.5, random_negative_prob=0.5,
         pad_val=0, interpolation='bilinear'),
    dict(type='RandomGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomGaussianNoise', std=(0.0, 8.0), prob=0.5, clip=(0, 255)),
]
train_pipeline = [
    dict(type='LoadHephaestusInterferogram'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'frame_id', 'primary_date', 'secondary_date')),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='HephaestusInterferograms', data_root=data_root, pipeline=train_pipeline))
