"""The Light CNN training step in PyTorch, for `npm run bench` to compare against.

    python3 bench/pytorch/lightcnn.py <model> <input_size> <batch> <steps> [threads]
        [--device cpu|cuda] [--warmup N]

<model> is lightcnn9 (LightCNN_9Layers of AlfredXiangWu/LightCNN, light_cnn.py),
lightcnn4 (2015 "Model A") or tiny (the lab's cut-down LightCNN-9), built as the lab
builds them (models/lightcnn-architectures.ts): MFM 2/1 after every conv and the fc,
grey input, dropout 0.5 before a 40-way classifier, max pools 2x2/2 with ceil_mode.
One step = forward, softmax cross-entropy, backward, Adam (lr 1e-3, weight decay 1e-4
added to the gradient as the lab's optimizer does). Random inputs and labels, as the
lab's bench: the cost of a step does not depend on the pixels. The loss is read back
every step (`loss.item()`, as the lab's trainer reads its loss), which also waits for
CUDA. Prints one JSON line: the median and mean ms/step after the warm-up steps (1 unless
--warmup), images/s from the median, and torch's version, threads and device. On CUDA
cuDNN may pick its fastest algorithms during the warm-up (cudnn.benchmark), as a tuned
PyTorch run would, so give it a few warm-up steps there.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MFM(nn.Module):
    """A conv or linear layer giving 2N channels, then the max of the two halves."""

    def __init__(self, cin, cout, kernel=3, stride=1, pad=1, linear=False):
        super().__init__()
        self.out = cout
        self.filter = nn.Linear(cin, 2 * cout) if linear else nn.Conv2d(cin, 2 * cout, kernel, stride, pad)

    def forward(self, x):
        x = self.filter(x)
        a, b = torch.split(x, self.out, 1)
        return torch.max(a, b)


def group(cin, cout, kernel=3):
    return [MFM(cin, cin, 1, 1, 0), MFM(cin, cout, kernel, 1, (kernel - 1) // 2)]


def pool():
    return nn.MaxPool2d(2, 2, ceil_mode=True)


def features(name):
    if name == 'lightcnn9':
        return [MFM(1, 48, 5, 1, 2), pool(), *group(48, 96), pool(), *group(96, 192), pool(), *group(192, 128), *group(128, 128), pool()], 128
    if name == 'lightcnn4':
        return [MFM(1, 48, 9, 1, 0), pool(), MFM(48, 96, 5, 1, 0), pool(), MFM(96, 128, 5, 1, 0), pool(), MFM(128, 192, 4, 1, 0), pool()], 192
    if name == 'tiny':
        return [MFM(1, 8, 5, 1, 2), pool(), *group(8, 16), pool()], 16
    raise SystemExit(f'unknown model {name}')


class LightCNN(nn.Module):
    def __init__(self, name, size, classes):
        super().__init__()
        layers, _ = features(name)
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 1, size, size)).numel()
        self.fc = MFM(flat, 256, linear=True)
        self.classifier = nn.Linear(256, classes)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        x = F.dropout(self.fc(x), 0.5, self.training)
        return self.classifier(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('model')
    parser.add_argument('size', type=int)
    parser.add_argument('batch', type=int)
    parser.add_argument('steps', type=int)
    parser.add_argument('threads', type=int, nargs='?', default=2)
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--warmup', type=int, default=1)
    args = parser.parse_args()
    name, size, batch, steps = args.model, args.size, args.batch, args.steps
    device = torch.device(args.device)
    if args.device == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('--device cuda: torch.cuda.is_available() is False')
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    classes = 40
    model = LightCNN(name, size, classes).train().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    xs = torch.rand(batch, 1, size, size, device=device)
    ys = torch.arange(batch, device=device) % classes

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(max(args.warmup, 0)):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    median = times[len(times) // 2]
    mean = sum(times) / len(times)
    backend = f'pytorch {torch.__version__} on ' + (torch.cuda.get_device_name(device) if args.device == 'cuda' else 'cpu')
    print(json.dumps({'msPerStep': median, 'meanMsPerStep': mean, 'imagesPerSecond': batch * 1000 / median, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'device': args.device, 'backend': backend}))


if __name__ == '__main__':
    main()
