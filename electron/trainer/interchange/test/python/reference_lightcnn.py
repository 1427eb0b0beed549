"""Light CNNs written as the reference writes them (AlfredXiangWu/LightCNN, light_cnn.py: the
same module names, MFM by torch.split, the same pools), for the interchange tests: the
checkpoints the lab imports are saved by PyTorch itself, and the embeddings the lab must
give back are computed by PyTorch.

    python3 reference_lightcnn.py <arch> <input_size> <zip|legacy> <out.pth> <batch.f32> <embedding.f32>
        [--classes N] [--dataparallel] [--no-classifier] [--seed S]

arch: lightcnn9 | lightcnn29 | lightcnn29v2 | tiny (the lab's cut-down LightCNN-9: one conv,
one group). The batch file holds float32 [N, 1, S, S] (written by the test); the embedding
of it (the reference forward's second output) is written to <embedding.f32>. The checkpoint
is saved the way the reference's train.py saves it: {'epoch', 'arch', 'state_dict'}, with
DataParallel's module. prefix when asked.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class mfm(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1, type=1):
        super().__init__()
        self.out_channels = out_channels
        if type == 1:
            self.filter = nn.Conv2d(in_channels, 2 * out_channels, kernel_size=kernel_size, stride=stride, padding=padding)
        else:
            self.filter = nn.Linear(in_channels, 2 * out_channels)

    def forward(self, x):
        x = self.filter(x)
        out = torch.split(x, self.out_channels, 1)
        return torch.max(out[0], out[1])


class group(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__()
        self.conv_a = mfm(in_channels, in_channels, 1, 1, 0)
        self.conv = mfm(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x):
        return self.conv(self.conv_a(x))


class resblock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = mfm(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.conv2 = mfm(in_channels, out_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x):
        return self.conv2(self.conv1(x)) + x


def pool():
    return nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True)


class network_9layers(nn.Module):
    def __init__(self, size, num_classes, tiny=False):
        super().__init__()
        if tiny:
            self.features = nn.Sequential(mfm(1, 8, 5, 1, 2), pool(), group(8, 16, 3, 1, 1), pool())
        else:
            self.features = nn.Sequential(
                mfm(1, 48, 5, 1, 2), pool(), group(48, 96, 3, 1, 1), pool(), group(96, 192, 3, 1, 1), pool(),
                group(192, 128, 3, 1, 1), group(128, 128, 3, 1, 1), pool())
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 1, size, size)).numel()
        self.fc1 = mfm(flat, 256, type=0)
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        x = self.fc1(x)
        out = self.fc2(F.dropout(x, training=self.training))
        return out, x


class network_29layers(nn.Module):
    def __init__(self, size, num_classes, v2=False):
        super().__init__()
        layers = [1, 2, 3, 4]
        self.v2 = v2
        self.conv1 = mfm(1, 48, 5, 1, 2)
        self.block1 = nn.Sequential(*[resblock(48, 48) for _ in range(layers[0])])
        self.group1 = group(48, 96, 3, 1, 1)
        self.block2 = nn.Sequential(*[resblock(96, 96) for _ in range(layers[1])])
        self.group2 = group(96, 192, 3, 1, 1)
        self.block3 = nn.Sequential(*[resblock(192, 192) for _ in range(layers[2])])
        self.group3 = group(192, 128, 3, 1, 1)
        self.block4 = nn.Sequential(*[resblock(128, 128) for _ in range(layers[3])])
        self.group4 = group(128, 128, 3, 1, 1)
        with torch.no_grad():
            flat = self.trunk(torch.zeros(1, 1, size, size)).numel()
        self.fc = nn.Linear(flat, 256) if v2 else mfm(flat, 256, type=0)
        self.fc2 = nn.Linear(256, num_classes, bias=not v2)

    def pool(self, x):
        if self.v2:
            return F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)
        return F.max_pool2d(x, 2, ceil_mode=True)

    def trunk(self, x):
        x = self.pool(self.conv1(x))
        x = self.pool(self.group1(self.block1(x)))
        x = self.pool(self.group2(self.block2(x)))
        x = self.group3(self.block3(x))
        x = self.pool(self.group4(self.block4(x)))
        return x

    def forward(self, x):
        x = self.trunk(x).view(x.size(0), -1)
        fc = self.fc(x)
        out = self.fc2(F.dropout(fc, training=self.training))
        return out, fc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('arch')
    parser.add_argument('size', type=int)
    parser.add_argument('format', choices=['zip', 'legacy'])
    parser.add_argument('out')
    parser.add_argument('batch')
    parser.add_argument('embedding')
    parser.add_argument('--classes', type=int, default=10)
    parser.add_argument('--dataparallel', action='store_true')
    parser.add_argument('--no-classifier', action='store_true')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    if args.arch in ('lightcnn9', 'tiny'):
        model = network_9layers(args.size, args.classes, tiny=args.arch == 'tiny')
    elif args.arch in ('lightcnn29', 'lightcnn29v2'):
        model = network_29layers(args.size, args.classes, v2=args.arch == 'lightcnn29v2')
    else:
        raise SystemExit(f'unknown arch {args.arch}')
    # Biases away from PyTorch's small defaults, so that a bias read in the wrong place shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias'):
                p.uniform_(-0.2, 0.2)
    model.eval()
    batch = torch.from_numpy(np.fromfile(args.batch, dtype=np.float32)).view(-1, 1, args.size, args.size)
    with torch.no_grad():
        _, embedding = model(batch)
    embedding.numpy().astype(np.float32).tofile(args.embedding)
    state = model.state_dict()
    if args.no_classifier:
        state = type(state)((k, v) for k, v in state.items() if not k.startswith('fc2.'))
    if args.dataparallel:
        state = type(state)(('module.' + k, v) for k, v in state.items())
    checkpoint = {'epoch': 7, 'arch': args.arch, 'state_dict': state, 'prec1': torch.tensor(42.5)}
    torch.save(checkpoint, args.out, _use_new_zipfile_serialization=args.format == 'zip')


if __name__ == '__main__':
    main()
