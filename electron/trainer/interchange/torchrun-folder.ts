// A lab run as a folder that PyTorch trains with torchrun: `lab export <run> --format torchrun`.
//
//   model.py     the network (model-py.ts)
//   train.py     DDP training as the lab trains (below, TRAIN_PY): the data as the lab reads and
//                crops it, the lab's hold-out split (its seeded generator, ported), the optimizer
//                (L2 weight decay added to the gradient, none on PReLU slopes), the lr schedule per
//                step with warm-up, clipping by the global norm, softmax cross-entropy
//   config.json  the run's resolved settings (TrainConfig) and its number of classes
//   README.md    the commands: CPUs (gloo), GPUs (nccl), several nodes, fine-tuning, `lab import`
//   (init.pt     the run's weights, a state_dict: export-run.ts writes it beside these)
//
// `torchrun --nproc_per_node=N train.py --data <folder of identity folders>` trains with
// DistributedDataParallel; rank 0 writes checkpoints {'state_dict', 'lab_config', 'step', 'epoch',
// 'arch'} of plain types (torch.load(weights_only=True) reads them, torch 1.13's too: no floats),
// whose state_dict has torchParams' names and whose lab_config (a JSON string: config.json's
// settings with the classes, identities, epochs and batch the run really had, `torchrun` (world
// size, batch per process, steps) and `validation` (held-out loss, accuracy, count at that step;
// null before the first epoch end), non-finite numbers as null) tells `lab import` the model.
// `--init init.pt` starts from the run's weights (strictly: only a classifier of another number of
// classes is re-initialised), recorded as lab_config.torchrun.init ({file, sha256, classifier} or
// null; not `init`, which is the initializer's name). Before anything is read, the processes
// compare the sha256 of their listing of --data and all stop, naming the ranks, when they differ.
// Where train.py differs from the lab is written in README.md ("Differences").
import { storedSizeFor } from '../../../datasets/preprocess';
import { formatActivation, parseActivation } from '../../../models/activations/spec';
import type { BuiltModel } from '../../../models/lightcnn';
import type { TrainConfig } from '../training/config';
import { modelPy } from './model-py';

/** Tells a folder train.py writes from one written by something else (lab import checks it). */
export const TORCHRUN_FORMAT = 'face-cnn-lab/torchrun';
export const TORCHRUN_FORMAT_VERSION = 1;

/** What config.json holds: the run's settings as run.json keeps them, and the model's classes. */
export type TorchrunConfig = TrainConfig & {
  readonly format: typeof TORCHRUN_FORMAT;
  readonly formatVersion: number;
  readonly numClasses: number;
  readonly embeddingSize: number;
};

/** Refuses a model that is not the one `config` describes (a mix-up of runs). */
function checkSameModel(built: BuiltModel, config: TrainConfig): void {
  const problems: string[] = [];
  const model = built.config;
  if (model.architecture !== config.model) problems.push(`the model is ${model.architecture}, the settings say ${config.model}`);
  if (model.inputSize !== config.inputSize) problems.push(`the model takes ${model.inputSize} px, the settings say ${config.inputSize}`);
  if (model.widthMultiplier !== config.width) problems.push(`the model's width is ${model.widthMultiplier}, the settings say ${config.width}`);
  if (model.dropout !== config.dropout) problems.push(`the model's dropout is ${model.dropout}, the settings say ${config.dropout}`);
  if (model.initializer !== config.init) problems.push(`the model starts with ${model.initializer}, the settings say ${config.init}`);
  if (formatActivation(model.activation) !== formatActivation(parseActivation(config.activation)))
    problems.push(`the model's activation is ${formatActivation(model.activation)}, the settings say ${config.activation}`);
  const overrides = (o: Record<string, string>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const modelOverrides = Object.fromEntries(Object.entries(model.overrides).map(([k, s]) => [k, formatActivation(s)]));
  const configOverrides = Object.fromEntries(Object.entries(config.layers).map(([k, t]) => [k, formatActivation(parseActivation(t))]));
  if (overrides(modelOverrides) !== overrides(configOverrides)) problems.push(`the model's per-layer activations differ from the settings' ${JSON.stringify(config.layers)}`);
  if (problems.length > 0) throw new Error(`torchrun export: the model is not the one these settings build: ${problems.join('; ')}`);
}

/** Where the folder's init.pt comes from (export-run.ts writes it), for the README. */
export interface TorchrunInit {
  readonly runId: string;
  readonly step: number;
  /** False when the run has no classifier of its own (imported without one): init.pt has no fc2. */
  readonly classifier: boolean;
}

/** The folder's files by name: model.py, train.py, config.json, README.md (init.pt is the caller's). */
export function torchrunFiles(built: BuiltModel, config: TrainConfig, init?: TorchrunInit): Record<string, string> {
  checkSameModel(built, config);
  const settings: TorchrunConfig = {
    format: TORCHRUN_FORMAT,
    formatVersion: TORCHRUN_FORMAT_VERSION,
    ...config,
    numClasses: built.config.numClasses,
    embeddingSize: built.embeddingSize,
  };
  return {
    'model.py': modelPy(built),
    'train.py': TRAIN_PY,
    'config.json': `${JSON.stringify(settings, null, 2)}\n`,
    'README.md': readme(built, config, init),
  };
}

// ---------------------------------------------------------------- README.md

function readme(built: BuiltModel, config: TrainConfig, init: TorchrunInit | undefined): string {
  const layers = Object.entries(config.layers);
  const schedule =
    config.schedule === 'step' ? `step: x ${config.gamma} every ${config.stepEpochs} epochs` : config.schedule === 'cosine' ? `cosine to 0 over ${config.epochs} epochs` : 'constant';
  return `# ${built.architecture.title}: training with torchrun

Exported by Face CNN Lab: the run's model (\`model.py\`), its settings (\`config.json\`) and a
trainer (\`train.py\`) that trains the same experiment with PyTorch's DistributedDataParallel, on
CPUs (gloo) or GPUs (nccl). Needs Python 3 with PyTorch (1.13 or later), NumPy and Pillow; no
torchvision.

| setting | value |
|---|---|
| model | ${built.architecture.name}, ${config.inputSize}x${config.inputSize} grey input, width x ${config.width} |
| activation | ${config.activation}${layers.length > 0 ? `; per layer: ${layers.map(([k, v]) => `${k} = ${v}`).join(', ')}` : ''} |
| initializer | ${config.init} |
| classes | ${built.config.numClasses} in the lab (train.py uses the identities it finds) |
| optimizer | ${config.optimizer}, lr ${config.lr}${config.optimizer === 'sgd' ? `, momentum ${config.momentum}` : ''}, weight decay ${config.weightDecay} (not on PReLU slopes) |
| schedule | ${schedule}; warm-up ${config.warmupSteps} steps; clipping at global norm ${config.clipNorm || 'off'} |
| batch | ${config.batch} in all (divided among the processes) |
| epochs | ${config.epochs}${config.maxSteps > 0 ? `, at most ${config.maxSteps} steps` : ''} |
| dropout | ${config.dropout} |
| hold-out | ${config.holdOut} of each identity's images, seed ${config.seed} |

## The data

\`--data\` is a folder with one folder per identity, its face images inside (any depth): JPEG,
PNG, PGM/PPM, GIF, TIFF, WebP, BMP, whatever Pillow reads. Each image is made grey, scaled to
cover a ${storedSizeFor(config.inputSize)} px square and centre-cropped to it, as the lab stores faces; training takes a
random ${config.inputSize} px crop and a random horizontal flip, evaluation the centre crop; pixels are
in [0, 1].

## Commands

On one machine's CPUs, two processes:

    torchrun --nproc_per_node=2 train.py --data faces/

On four GPUs:

    torchrun --nproc_per_node=4 train.py --data faces/ --device cuda

On several machines (here two of four GPUs each; run it on each machine with its own
\`--node_rank\`, 0 on the one whose address is \`--master_addr\`):

    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 --master_addr=10.0.0.1 --master_port=29500 train.py --data faces/ --device cuda

torchrun 1.13 on Python 3.11 (Debian 12's python3-torch) stops at once with \`'NoneType' object
has no attribute 'get'\` (its default for \`--redirects\` and \`--tee\` is not understood there);
add \`-r 1 -t 1\` (each worker's output to the console, prefixed by its rank, and to a log file):

    torchrun --nproc_per_node=2 -r 1 -t 1 train.py --data faces/

Without torchrun it trains in one process:

    python3 train.py --data faces/

## Training further from the run's weights

${
    init === undefined
      ? "`lab export --format torchrun` writes `init.pt` beside train.py: the run's weights, a state_dict."
      : `\`init.pt\` holds run ${init.runId}'s weights at step ${init.step}, a state_dict${init.classifier ? '' : ' without the classifier (the run has none of its own)'}.`
  } Without \`--init\` train.py starts from a fresh
initialisation; with it, from these weights (fine-tuning):

    torchrun --nproc_per_node=2 train.py --data faces/ --init init.pt
    python3 train.py --data faces/ --init init.pt

Every tensor of model.py must be in the file with its shape, and nothing else: a file of another
architecture, width or input size stops train.py with the names that do not fit. The classifier
(\`fc2\`) is the exception: when its number of classes is not the number of identities in
\`--data\` (new identities), it starts afresh and train.py says so. \`--init\` also takes a
train.py checkpoint (\`checkpoints/final.pt\`). The optimiser's state and the schedule start anew:
the learning rate warms up from step 0 as in a new run (lower \`lr\` in config.json to fine-tune
gently). \`--steps 0\` loads and checks the data and the weights, evaluates them on the held-out
images and writes \`checkpoints/final.pt\` without training. The checkpoints' lab_config records
the start under \`torchrun.init\` (\`{file, sha256, classifier}\`, or null).

Options: \`--out DIR\` (checkpoints, default ./checkpoints), \`--epochs N\`, \`--batch N\` (per
process; by default the lab's batch divided by the number of processes, so that the batch in all
is the lab's), \`--steps N\` (stop after N steps, for a quick check; 0: no training, see above),
\`--init FILE\` (start from these weights, above), \`--device cpu|cuda\`, \`--config FILE\`
(default config.json beside train.py).

Every process reads \`--data\` itself (on several machines, each its own copy). Before training,
the processes compare the sha256 of their listings (identity, file, size) and all stop, naming
the ranks that differ, unless every one lists the same files: different copies would give the
same identity different labels on different processes.

Rank 0 prints the loss of every step and the held-out loss and accuracy at the end of every
epoch, and writes \`checkpoints/epoch<E>-step<S>.pt\` after every epoch (and every
\`checkpointEvery\` steps when config.json sets it) and \`checkpoints/final.pt\` at the end.
Held-out numbers that are not finite (NaN) are written as null in lab_config.
Bring the result back into the lab with:

    npm run lab -- import checkpoints/final.pt

## Differences from the lab's own training

- Random numbers: the epoch's order comes from PyTorch's DistributedSampler (seeded with the
  run's seed, reshuffled every epoch), the crops and flips from NumPy, dropout${usesRrelu(built) ? ' and RReLU' : ''} from
  torch; the lab draws its own. The weights start from the same distribution, not the same numbers.
- The batch: each process takes \`--batch\` images and DDP averages the gradients, so the batch in
  all is \`--batch\` x the number of processes (the lab's batch when it divides evenly). Each
  process drops its last partial batch, as the lab drops the epoch's.
- The hold-out split is the lab's (its generator, ported), when the identities and their images
  sort in the same order: train.py sorts names in a natural order (\`2.pgm\` before \`10.pgm\`),
  an approximation of the lab's locale collation that agrees on plain names.
- Decoding: Pillow's grey conversion (ITU-R 601 luma) and Lanczos scaling, where the lab uses
  libvips through sharp: pixels may differ by a level or two. Only the one-folder-per-identity
  layout is read (not the lab's flat layout with an identity rule).
- The lab stops a run whose loss explodes against chance level and keeps no checkpoint while the
  loss is high; train.py stops only on a NaN or infinite loss or gradient.
- No probes (dead neurons, activation maps, histograms), and no resume of the optimiser's state or
  the schedule: \`--init\` takes the weights only.
`;
}

function usesRrelu(built: BuiltModel): boolean {
  return built.units.some((u) => u.spec.name === 'rrelu');
}

// ---------------------------------------------------------------- train.py

const TRAIN_PY = String.raw`#!/usr/bin/env python3
"""Trains a Face CNN Lab experiment with PyTorch DistributedDataParallel (see README.md).

    torchrun --nproc_per_node=2 train.py --data faces/                  # CPUs (gloo)
    torchrun --nproc_per_node=4 train.py --data faces/ --device cuda    # GPUs (nccl)
    python3 train.py --data faces/                                      # one process
    torchrun --nproc_per_node=2 train.py --data faces/ --init init.pt   # from the run's weights

As the lab trains (electron/trainer/training): softmax cross-entropy; SGD with momentum or Adam
with L2 weight decay added to the gradient, none on PReLU slopes; the learning rate set every
step from the schedule (constant, step, cosine) with a linear warm-up; gradients clipped by
their global norm; the lab's per-identity hold-out split; random crops and flips of faces stored
at inputSize * 144 / 128.
"""
import argparse
import collections
import hashlib
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model as lab_model  # noqa: E402

FORMAT = 'face-cnn-lab/torchrun'
LANCZOS = getattr(Image, 'Resampling', Image).LANCZOS
MIN_SIDE = 16

# ---------------------------------------------------------------- the lab's seeded generator
# datasets/random.ts (sfc32 and murmur3's finaliser), so that one seed gives the lab's split.

M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & M32


def hash32(x):
    h = x & M32
    h = _imul(h ^ (h >> 16), 0x85EBCA6B)
    h = _imul(h ^ (h >> 13), 0xC2B2AE35)
    return (h ^ (h >> 16)) & M32


class LabRng:
    def __init__(self, seed):
        self.a, self.b, self.c, self.d = 0x9E3779B9, 0x243F6A88, 0xB7E15162, seed & M32
        for _ in range(15):
            self.next_uint32()

    @staticmethod
    def derive(seed, *keys):
        h = seed & M32
        for key in keys:
            h = hash32(h ^ _imul(((key & M32) + 0x7F4A7C15) & M32, 0x85EBCA6B))
        return LabRng(h)

    def next_uint32(self):
        t = (self.a + self.b + self.d) & M32
        self.d = (self.d + 1) & M32
        self.a = self.b ^ (self.b >> 9)
        self.b = (self.c + (self.c << 3)) & M32
        self.c = ((self.c << 21) | (self.c >> 11)) & M32
        self.c = (self.c + t) & M32
        return t

    def int(self, n):
        return math.floor(self.next_uint32() / 4294967296 * n)

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.int(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


CLASSIFICATION_STREAM = 0x5C1A


def js_round(x):
    """JavaScript's Math.round: halves go up."""
    return math.floor(x + 0.5)


def holdout_split(image_identity, num_identities, fraction, seed, min_train=1):
    """datasets/splits.ts classificationSplit: per identity, round(n * fraction) images held out
    (at least 1, at most n - min_train; none for an identity of 1 image), chosen from the seed
    and the identity alone. Returns (train, test), ascending image indices."""
    groups = [[] for _ in range(num_identities)]
    for image, identity in enumerate(image_identity):
        groups[identity].append(image)
    train, test = [], []
    for identity, images in enumerate(groups):
        n = len(images)
        held = 0
        if n >= 2:
            held = max(0, min(max(js_round(n * fraction), 1), n - min_train))
        order = LabRng.derive(seed, CLASSIFICATION_STREAM, identity).shuffle(list(images))
        for k, image in enumerate(order):
            (test if k < held else train).append(image)
    return sorted(train), sorted(test)


# ---------------------------------------------------------------- the data


def natural_key(text):
    """Natural order ('2.pgm' before '10.pgm'), case folded, ties broken by the text itself."""
    parts = re.split(r'(\d+)', text)
    return [(0, int(p), p) if p.isdigit() else (1, p.casefold(), p) for p in parts if p != ''], text


def stored_size_for(input_size):
    return js_round(input_size * 144 / 128)


def unwrap(root):
    """A folder that holds only one folder (an archive's wrapper) stands for that folder."""
    while True:
        entries = [e for e in os.listdir(root) if not e.startswith('.')]
        if len(entries) == 1 and os.path.isdir(os.path.join(root, entries[0])):
            root = os.path.join(root, entries[0])
        else:
            return root


def list_faces(root):
    """[(identity, path)] of the images under root/<identity>/..., by identity then path, naturally."""
    root = unwrap(root)
    found = []
    for identity in sorted(os.listdir(root), key=natural_key):
        folder = os.path.join(root, identity)
        if identity.startswith('.') or not os.path.isdir(folder):
            continue
        paths = []
        for where, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith('.')]
            paths.extend(os.path.join(where, f) for f in files if not f.startswith('.'))
        for path in sorted(paths, key=lambda p: natural_key(os.path.relpath(p, folder).replace(os.sep, '/'))):
            found.append((identity, path))
    return found


def dataset_summary(root, faces):
    """What this process lists under --data: the sha256 of its sorted (identity, path under the
    identity's folder, size in bytes) and the counts. Equal summaries on every process mean the
    same identities, files and sizes, so the same labels and the same split."""
    base = unwrap(root)
    rows = []
    for identity, path in faces:
        relative = os.path.relpath(path, os.path.join(base, identity)).replace(os.sep, '/')
        rows.append((identity, relative, os.path.getsize(path)))
    rows.sort()
    digest = hashlib.sha256(json.dumps(rows).encode('utf-8')).hexdigest()
    return {'sha256': digest, 'identities': len({r[0] for r in rows}), 'files': len(rows), 'bytes': sum(r[2] for r in rows)}


def summary_row(summary):
    """A summary as 7 int64s (the digest in 4), for all_gather."""
    return np.frombuffer(bytes.fromhex(summary['sha256']), dtype='<i8').tolist() + [summary['identities'], summary['files'], summary['bytes']]


def summary_of_row(row):
    digest = np.array(row[:4], dtype='<i8').tobytes().hex()
    return {'sha256': digest, 'identities': int(row[4]), 'files': int(row[5]), 'bytes': int(row[6])}


def dataset_mismatch(summaries, data):
    """None when every process (summaries by rank) lists the same dataset, else the message that
    names the ranks of each version."""
    groups = collections.OrderedDict()
    for rank, summary in enumerate(summaries):
        groups.setdefault(summary['sha256'], []).append(rank)
    if len(groups) <= 1:
        return None
    parts = []
    for digest, members in groups.items():
        s = summaries[members[0]]
        parts.append('{} {} {} {} identities, {} files, {} bytes (sha256 {})'.format(
            'rank' if len(members) == 1 else 'ranks', ', '.join(str(r) for r in members), 'lists' if len(members) == 1 else 'list',
            s['identities'], s['files'], s['bytes'], digest[:12]))
    return ('--data {}: the processes do not read the same dataset: {}. Every process must read the same identity folders and files '
            '(on several machines, identical copies): otherwise the labels and the split differ between processes.').format(data, '; '.join(parts))


def load_face(path, stored):
    """One file -> stored x stored grey uint8: transparency onto white, grey, scaled to cover the
    square and centre-cropped (the lab's 'cover' fit)."""
    with Image.open(path) as image:
        image.seek(0)
        image = ImageOps.exif_transpose(image)
        if min(image.size) < MIN_SIDE:
            raise ValueError('image too small to be a face ({}x{} px)'.format(*image.size))
        if image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and 'transparency' in image.info):
            rgba = image.convert('RGBA')
            image = Image.alpha_composite(Image.new('RGBA', rgba.size, (255, 255, 255, 255)), rgba)
        if image.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'F'):
            values = np.asarray(image, dtype=np.float64)
            top = 65535.0 if values.max() > 255 else 255.0
            image = Image.fromarray(np.clip(np.round(values * 255.0 / top), 0, 255).astype(np.uint8))
        image = image.convert('L')
        image = ImageOps.fit(image, (stored, stored), method=LANCZOS, centering=(0.5, 0.5))
        return np.asarray(image, dtype=np.uint8)


def load_dataset(listing, stored, log):
    """listing: list_faces(root)."""
    faces, skipped = [], []
    for identity, path in listing:
        try:
            faces.append((identity, load_face(path, stored)))
        except Exception as error:  # not an image, damaged, too small: left out, as the lab does
            skipped.append((path, str(error)))
    identities = []
    for identity, _ in faces:
        if not identities or identities[-1] != identity:
            identities.append(identity)
    ids = {name: i for i, name in enumerate(identities)}
    pixels = np.stack([p for _, p in faces]) if faces else np.zeros((0, stored, stored), np.uint8)
    labels = np.array([ids[name] for name, _ in faces], dtype=np.int64)
    if skipped:
        log('{} file(s) left out, e.g. {}: {}'.format(len(skipped), skipped[0][0], skipped[0][1]))
    return identities, pixels, labels


SCALE = (np.arange(256, dtype=np.float64) / 255).astype(np.float32)  # the lab's uint8 -> [0, 1]


def make_batch(pixels, labels, images, input_size, rng=None):
    """[B, 1, S, S] float32 and [B] labels: random crops and flips (rng), else centre crops."""
    stored = pixels.shape[1]
    out = np.empty((len(images), 1, input_size, input_size), dtype=np.float32)
    centre = (stored - input_size) // 2
    for k, image in enumerate(images):
        if rng is None:
            x0 = y0 = centre
            flip = False
        else:
            x0, y0 = int(rng.integers(0, stored - input_size + 1)), int(rng.integers(0, stored - input_size + 1))
            flip = rng.random() < 0.5
        crop = pixels[image, y0:y0 + input_size, x0:x0 + input_size]
        out[k, 0] = SCALE[crop[:, ::-1] if flip else crop]
    return torch.from_numpy(out), torch.from_numpy(labels[list(images)])


# ---------------------------------------------------------------- the schedule


def learning_rate(config, epochs, epoch, step):
    """training/schedule.ts: the rate of the step at the (fractional) epoch, 'step' counted from 0."""
    warmup = config['warmupSteps']
    scale = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    lr = config['lr']
    schedule = config['schedule']
    if schedule == 'step':
        lr = lr * config['gamma'] ** math.floor(epoch / config['stepEpochs'])
    elif schedule == 'cosine':
        lr = 0.5 * lr * (1 + math.cos(math.pi * min(1.0, epoch / epochs)))
    return scale * lr


def make_optimizer(config, net):
    """The lab's optimizer (training/optimizer.ts): weight decay added to the gradient (L2), as
    torch's own weight_decay does, except on PReLU slopes (He et al. 2015)."""
    decay, slopes = [], []
    for name, param in net.named_parameters():
        (slopes if name.endswith('.act.weight') else decay).append(param)
    groups = [{'params': decay, 'weight_decay': config['weightDecay']}]
    if slopes:
        groups.append({'params': slopes, 'weight_decay': 0.0})
    if config['optimizer'] == 'sgd':
        return torch.optim.SGD(groups, lr=config['lr'], momentum=config['momentum'])
    return torch.optim.Adam(groups, lr=config['lr'], betas=(0.9, 0.999), eps=1e-8)


# ---------------------------------------------------------------- training


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a Face CNN Lab model with torchrun (DDP).')
    parser.add_argument('--data', required=True, help='a folder with one folder of face images per identity')
    parser.add_argument('--out', default='checkpoints', help='where checkpoints go (default ./checkpoints)')
    parser.add_argument('--config', default=os.path.join(HERE, 'config.json'), help='the run settings (default config.json beside train.py)')
    parser.add_argument('--epochs', type=int, help='epochs (default: the lab run\'s)')
    parser.add_argument('--batch', type=int, help='images per process and step (default: the lab\'s batch / processes)')
    parser.add_argument('--steps', type=int, help='stop after this many steps (a quick check); 0: load and check the data and --init, evaluate and save final.pt without training')
    parser.add_argument('--init', metavar='PATH', help='start from these weights instead of a fresh initialisation: the init.pt that lab export writes beside '
                        'train.py (the run\'s weights), a state_dict of this model, or a train.py checkpoint. Every tensor must fit model.py, except the '
                        'classifier (fc2): when its classes differ from the identities in --data it starts afresh (fine-tuning on new identities)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    return parser.parse_args(argv)


class Ranks:
    """The process group, or one process without torchrun."""

    def __init__(self, device):
        self.distributed = 'WORLD_SIZE' in os.environ and 'RANK' in os.environ
        self.local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        if device == 'cuda':
            if not torch.cuda.is_available():
                raise SystemExit('--device cuda: no CUDA device is available')
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device('cuda', self.local_rank)
        else:
            self.device = torch.device('cpu')
        if self.distributed:
            dist.init_process_group(backend='nccl' if device == 'cuda' else 'gloo')
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
        else:
            self.rank, self.world = 0, 1

    def check_same_dataset(self, summary, data, log):
        """Stops every process, naming the ranks, when they do not all list the same dataset
        (on several machines each reads its own --data)."""
        if not self.distributed:
            return
        mine = torch.tensor(summary_row(summary), dtype=torch.int64, device=self.device)  # nccl: on the GPU
        rows = [torch.zeros_like(mine) for _ in range(self.world)]
        dist.all_gather(rows, mine)
        problem = dataset_mismatch([summary_of_row(r.tolist()) for r in rows], data)
        if problem is not None:
            raise SystemExit('rank {}: {}'.format(self.rank, problem))
        log('dataset check: the {} processes list the same {} files of {} identities (sha256 {})'.format(self.world, summary['files'], summary['identities'], summary['sha256'][:12]))

    def sum(self, values):
        """values (floats) summed over the processes."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def close(self):
        if self.distributed:
            dist.destroy_process_group()


def evaluate(net, ranks, pixels, labels, images, input_size, batch):
    """Held-out loss and accuracy on centre crops, each process a share of the images."""
    mine = images[ranks.rank::ranks.world]
    net.eval()
    loss_sum = correct = 0.0
    with torch.no_grad():
        for start in range(0, len(mine), batch):
            x, y = make_batch(pixels, labels, mine[start:start + batch], input_size)
            logits, _ = net(x.to(ranks.device))
            y = y.to(ranks.device)
            loss_sum += float(F.cross_entropy(logits, y, reduction='sum'))
            correct += float((logits.argmax(1) == y).sum())
    net.train()
    loss_sum, correct, count = ranks.sum([loss_sum, correct, float(len(mine))])
    return (loss_sum / count, correct / count, int(count)) if count > 0 else (None, None, 0)


def finite_or_none(value):
    """value for JSON that JavaScript's JSON.parse reads: NaN and the infinities become null, in
    dicts, lists and tuples too."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def to_json(value):
    return json.dumps(finite_or_none(value), allow_nan=False)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _names(keys, limit=6):
    keys = list(keys)
    return ', '.join(keys[:limit]) + (' and {} more'.format(len(keys) - limit) if len(keys) > limit else '')


def read_init(path):
    """--init's state_dict (read before the data, so that a bad file stops at once)."""
    try:
        loaded = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:
        raise SystemExit('--init {}: torch.load(weights_only=True) cannot read it ({})'.format(path, error))
    if isinstance(loaded, dict) and isinstance(loaded.get('state_dict'), dict):
        loaded = loaded['state_dict']  # a train.py checkpoint
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise SystemExit('--init {}: not a state_dict (a dict of tensors by name)'.format(path))
    if loaded and all(k.startswith('module.') for k in loaded):
        loaded = collections.OrderedDict((k[len('module.'):], v) for k, v in loaded.items())  # saved from a DDP/DataParallel wrapper
    return loaded


def load_init(net, path, loaded, num_classes, log):
    """--init: the file's weights (read_init) into net (before DDP wraps it), strictly: every
    tensor of model.py must be there with its shape, and nothing else, except the classifier
    (fc2.*), which keeps its fresh initialisation when the file's has another number of classes
    than num_classes (or none). Returns what lab_config records."""
    own = net.state_dict()
    head = [k for k in own if k.startswith('fc2.')]
    missing = [k for k in own if k not in loaded and k not in head]
    unexpected = [k for k in loaded if k not in own]
    misshaped = []
    for k, v in loaded.items():
        if k in own and not torch.is_tensor(v):
            misshaped.append('{} (not a tensor)'.format(k))
        elif k in own and k not in head and tuple(v.shape) != tuple(own[k].shape):
            misshaped.append('{} ({} in the file, {} in the model)'.format(k, list(v.shape), list(own[k].shape)))
    classifier = 'loaded'
    given = [k for k in head if k in loaded]
    if not given:
        classifier = 're-initialised'
        reason = 'the file has no classifier'
    elif len(given) != len(head):
        missing.extend(k for k in head if k not in loaded)
    elif not misshaped:
        weight, fresh = loaded['fc2.weight'], own['fc2.weight']
        classes = int(weight.shape[0]) if weight.dim() == 2 else -1
        fits = weight.dim() == 2 and tuple(weight.shape[1:]) == tuple(fresh.shape[1:]) and all(
            tuple(loaded[k].shape) == (classes,) + tuple(own[k].shape[1:]) for k in head if k != 'fc2.weight')
        if not fits:
            misshaped.extend('{} ({} in the file, {} in the model)'.format(k, list(loaded[k].shape), list(own[k].shape)) for k in head)
        elif classes != num_classes:
            classifier = 're-initialised'
            reason = 'the file\'s has {} classes, the data {} identities'.format(classes, num_classes)
    problems = []
    if missing:
        problems.append('missing {}'.format(_names(missing)))
    if unexpected:
        problems.append('unexpected {}'.format(_names(unexpected)))
    if misshaped:
        problems.append('shape of {}'.format(_names(misshaped)))
    if problems:
        raise SystemExit('--init {}: not the weights of model.py ({} at {} px): {}. Give the init.pt exported with this folder, or a checkpoint of this model'.format(
            path, lab_model.ARCHITECTURE, lab_model.INPUT_SIZE, '; '.join(problems)))
    state = collections.OrderedDict((k, own[k] if (k in head and classifier != 'loaded') else loaded[k]) for k in own)
    net.load_state_dict(state, strict=True)
    if classifier == 'loaded':
        log('--init {}: every tensor loaded, the classifier ({} classes) too'.format(path, num_classes))
    else:
        log('--init {}: the trunk loaded; the classifier (fc2) re-initialised for {} identities ({}): fine-tuning on new identities'.format(path, num_classes, reason))
    return {'file': os.path.abspath(path), 'sha256': file_sha256(path), 'classifier': classifier}


def save_checkpoint(path, net, lab_config, step, epoch, validation):
    # Plain types only, and no floats: torch 1.13's weights_only reader refuses them, so the
    # held-out numbers travel in the lab_config JSON.
    state = collections.OrderedDict((k, v.detach().cpu().clone()) for k, v in net.state_dict().items())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + '.partial'
    saved_config = dict(lab_config, validation={'loss': validation[0], 'accuracy': validation[1], 'count': validation[2], 'step': int(step)})
    torch.save({
        'state_dict': state,
        'lab_config': to_json(saved_config),  # NaN as null: JSON.parse (lab import) refuses NaN
        'step': int(step),
        'epoch': int(epoch),
        'arch': lab_config['model'],
    }, partial)
    os.replace(partial, path)


def main(argv=None):
    args = parse_args(argv)
    with open(args.config) as f:
        config = json.load(f)
    if config.get('format') != FORMAT:
        raise SystemExit('{}: not a Face CNN Lab torchrun config'.format(args.config))
    if lab_model.ARCHITECTURE != config['model'] or lab_model.INPUT_SIZE != config['inputSize']:
        raise SystemExit('model.py ({} at {} px) is not the model of {}'.format(lab_model.ARCHITECTURE, lab_model.INPUT_SIZE, args.config))
    ranks = Ranks(args.device)

    def log(*parts):
        if ranks.rank == 0:
            print(*parts, flush=True)

    try:
        if config.get('layout') == 'flat':
            log('note: the lab read this dataset as one flat folder; train.py reads one folder per identity')
        if args.steps is not None and args.steps < 0:
            raise SystemExit('--steps: 0 or more')
        input_size = config['inputSize']
        initial = read_init(args.init) if args.init else None
        listing = list_faces(args.data)
        ranks.check_same_dataset(dataset_summary(args.data, listing), args.data, log)
        identities, pixels, labels = load_dataset(listing, stored_size_for(input_size), log)
        if len(identities) < 2:
            raise SystemExit('{}: found {} identities with images; one folder of face images per identity is needed, at least 2'.format(args.data, len(identities)))
        seed = config['seed']
        train, held = holdout_split(labels.tolist(), len(identities), config['holdOut'], seed)
        if len(identities) != config['numClasses']:
            log('note: {} identities here, {} in the lab run: the classifier has {} classes'.format(len(identities), config['numClasses'], len(identities)))

        epochs = args.epochs or config['epochs']
        batch = args.batch or max(1, config['batch'] // ranks.world)
        if args.batch is None and config['batch'] % ranks.world != 0:
            log('note: the lab\'s batch {} does not divide among {} processes: {} each, {} in all'.format(config['batch'], ranks.world, batch, batch * ranks.world))
        sampler = DistributedSampler(train, num_replicas=ranks.world, rank=ranks.rank, shuffle=True, seed=seed, drop_last=True)
        mine = len(sampler)
        steps_per_epoch = mine // batch if mine >= batch else (1 if mine > 0 else 0)
        if steps_per_epoch == 0:
            raise SystemExit('no training images for each of the {} processes'.format(ranks.world))
        total = steps_per_epoch * epochs
        if args.steps is not None:
            total = min(total, args.steps)  # 0: no step (the weights as loaded)
        elif (config.get('maxSteps') or 0) > 0:
            total = min(total, config['maxSteps'])

        torch.manual_seed(seed)
        net = lab_model.build_model(len(identities)).to(ranks.device)
        init = load_init(net, args.init, initial, len(identities), log) if args.init else None  # before DDP, which copies rank 0's weights to all
        model = DistributedDataParallel(net, device_ids=[ranks.local_rank] if args.device == 'cuda' else None) if ranks.distributed else net
        torch.manual_seed(seed + 7919 * (ranks.rank + 1))  # dropout and RReLU draw differently on each process
        optimizer = make_optimizer(config, net)
        params = [p for p in net.parameters() if p.requires_grad]

        lab_config = dict(config)
        lab_config.update({
            'numClasses': len(identities),
            'identities': identities,
            'epochs': epochs,
            'batch': batch * ranks.world,
            'torchrun': {'worldSize': ranks.world, 'batchPerProcess': batch, 'stepsPerEpoch': steps_per_epoch, 'steps': total, 'device': args.device, 'data': os.path.abspath(args.data), 'torch': torch.__version__, 'init': init},
        })
        log('{}: {} identities, {} images ({} for training, {} held out); {} process(es) x batch {} on {}; {} steps/epoch, {} steps'.format(
            lab_model.ARCHITECTURE, len(identities), len(labels), len(train), len(held), ranks.world, batch, args.device, steps_per_epoch, total))

        every = config.get('checkpointEvery') or 0
        step = 0
        epoch = 0
        validation = (None, None, 0)
        finished = False
        while epoch < epochs and not finished:
            sampler.set_epoch(epoch)
            order = [train[i] for i in sampler]
            started = time.time()
            for b in range(steps_per_epoch):
                if step >= total:
                    finished = True
                    break
                rng = np.random.default_rng([seed, epoch, b, ranks.rank])
                x, y = make_batch(pixels, labels, order[b * batch:(b + 1) * batch], input_size, rng)
                x, y = x.to(ranks.device), y.to(ranks.device)
                lr = learning_rate(config, epochs, epoch + b / steps_per_epoch, step)
                for group in optimizer.param_groups:
                    group['lr'] = lr
                logits, _ = model(x)
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grads = [p.grad for p in params if p.grad is not None]
                norm = float(torch.norm(torch.stack([g.detach().double().norm(2) for g in grads]), 2))  # DDP's averaged gradients: one value on every process
                loss_sum, correct, count = ranks.sum([float(loss) * len(y), float((logits.argmax(1) == y).sum()), float(len(y))])
                if not (math.isfinite(loss_sum) and math.isfinite(norm)):
                    log('step {}: the loss or a gradient is NaN or infinite (lr {:.3g}); stopped without updating. Lower the learning rate or clip the gradients.'.format(step + 1, lr))
                    raise SystemExit(2)
                clip = config.get('clipNorm') or 0
                if clip > 0 and norm > clip:
                    for g in grads:
                        g.mul_(clip / norm)
                optimizer.step()
                step += 1
                log('step {}/{} epoch {} loss {:.4f} accuracy {:.3f} lr {:.4g} grad_norm {:.4f} {:.1f} images/s'.format(
                    step, total, epoch, loss_sum / count, correct / count, lr, norm, count * (b + 1) / max(1e-9, time.time() - started)))
                if every > 0 and step % every == 0 and b + 1 < steps_per_epoch and step < total and ranks.rank == 0:
                    save_checkpoint(os.path.join(args.out, 'step{}.pt'.format(step)), net, lab_config, step, epoch, validation)
            else:
                epoch += 1
                validation = evaluate(net, ranks, pixels, labels, held, input_size, batch)
                if validation[2] > 0:
                    log('epoch {}: held-out loss {:.4f} accuracy {:.3f} ({} images)'.format(epoch, validation[0], validation[1], validation[2]))
                if ranks.rank == 0:
                    save_checkpoint(os.path.join(args.out, 'epoch{}-step{}.pt'.format(epoch, step)), net, lab_config, step, epoch, validation)
                if step >= total:
                    finished = True
        if validation[2] == 0 or finished and step % steps_per_epoch != 0:
            validation = evaluate(net, ranks, pixels, labels, held, input_size, batch)
        if ranks.rank == 0:
            path = os.path.join(args.out, 'final.pt')
            save_checkpoint(path, net, lab_config, step, epoch, validation)
            log('saved {} (step {}); bring it into the lab with: npm run lab -- import {}'.format(path, step, path))
        ranks.barrier()
    finally:
        ranks.close()


if __name__ == '__main__':
    main()
`;
