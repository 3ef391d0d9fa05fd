"""Recalibrate a subnet with upstream OFA's own set_running_statistics.

A developer's cross-check of edgefit's BatchNorm recalibration against the
reference implementation; it needs a checkout of mit-han-lab/once-for-all
(EDGEFIT_OFA_SRC), torch and torchvision (Debian: python3-torch,
python3-torchvision). edgefit's test TestAgainstUpstreamOFA runs it when
EDGEFIT_OFA_SRC is set.

usage: recalibrate.py SUPERNET.pth CONFIG.json CALIB_DIR R BATCH IMAGES VAL_DIR OUT.json

The calibration images are the first IMAGES of torchvision's ImageFolder
over CALIB_DIR, in order, with OFA's test transform, in batches of BATCH;
the output holds every BatchNorm's running mean and variance after
set_running_statistics, and the recalibrated subnet's logits on VAL_DIR.
"""
import json
import math
import os
import sys

import torch
import torchvision.datasets as datasets
import torchvision.transforms as transforms

sys.path.insert(0, os.environ["EDGEFIT_OFA_SRC"])
from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3  # noqa: E402
from ofa.imagenet_classification.elastic_nn.utils import set_running_statistics  # noqa: E402


def main():
    ckpt, config, calib_dir, r, batch, images, val_dir, out = sys.argv[1:9]
    r, batch, images = int(r), int(batch), int(images)
    torch.set_num_threads(2)
    cfg = json.load(open(config))
    test = transforms.Compose([
        transforms.Resize(int(math.ceil(r / 0.875))),
        transforms.CenterCrop(r),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    calib = datasets.ImageFolder(calib_dir, test)
    calib = torch.utils.data.Subset(calib, list(range(min(images, len(calib)))))
    loader = torch.utils.data.DataLoader(calib, batch_size=batch, shuffle=False)
    width = 1.2 if "w1.2" in cfg.get("space", "") else 1.0
    net = OFAMobileNetV3(n_classes=1000, width_mult=width, ks_list=[3, 5, 7],
                         expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4], dropout_rate=0)
    net.load_state_dict(torch.load(ckpt, map_location="cpu")["state_dict"])
    net.set_active_subnet(ks=cfg["ks"], e=cfg["e"], d=cfg["d"])
    subnet = net.get_active_subnet(preserve_weight=True)
    set_running_statistics(subnet, loader)
    result = {"bn": {}, "val_logits": []}
    for name, m in subnet.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            result["bn"][name] = {"mean": m.running_mean.tolist(), "var": m.running_var.tolist()}
    subnet.eval()
    with torch.no_grad():
        for x, _ in torch.utils.data.DataLoader(datasets.ImageFolder(val_dir, test), batch_size=50):
            result["val_logits"] += subnet(x).flatten().tolist()
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main()
