// The Light CNN family as lists of blocks (see lightcnn-blocks.ts). Widths are the
// *outputs* of each unit, as in the reference's mfm(in, out, ...); input size 128.
// Reference parameter counts at 128 px without the final classifier, with MFM 2/1:
//   lightcnn4 4,098,048 · lightcnn9 5,480,864 · lightcnn29 12,573,280 · lightcnn29v2 10,475,872
import { conv, fc, group, maxAvgPool, maxPool, resblocks, type Architecture, type Block, type TorchNaming } from './lightcnn-blocks';

const SEQUENTIAL: TorchNaming = { layout: 'sequential', fc: 'fc1' };
const MODULES: TorchNaming = { layout: 'modules', fc: 'fc' };

export const ARCHITECTURE_NAMES = ['tiny', 'lightcnn4', 'lightcnn9', 'lightcnn29', 'lightcnn29v2'] as const;
export type ArchitectureName = (typeof ARCHITECTURE_NAMES)[number];

/** 2015 "Model A": four valid-padded convs, each with MFM, pools rounding up as Caffe's do. */
const lightcnn4: Architecture = {
  name: 'lightcnn4',
  title: 'Light CNN-4 (2015 Model A)',
  source: 'Wu, He, Sun 2015, "A Lightened CNN for Deep Face Representation", Model A prototxt',
  blocks: [
    conv('conv1', 48, 9), maxPool('pool1'), // 128 -> 120 -> 60
    conv('conv2', 96, 5), maxPool('pool2'), // 60 -> 56 -> 28
    conv('conv3', 128, 5), maxPool('pool3'), // 28 -> 24 -> 12
    conv('conv4', 192, 4), maxPool('pool4'), // 12 -> 9 -> 5 (ceil)
    fc('fc', 256), // 5x5x192 -> 512 -> MFM 256
  ],
  classifierBias: true,
  torch: SEQUENTIAL,
};

/** LightCNN_9Layers (= 2015 Model B). */
const lightcnn9: Architecture = {
  name: 'lightcnn9',
  title: 'LightCNN-9',
  source: 'AlfredXiangWu/LightCNN light_cnn.py, network_9layers',
  blocks: [
    conv('conv1', 48, 5, 1, 2), maxPool('pool1'), // 128 -> 64
    group('group1', 96, 3), maxPool('pool2'), // -> 32
    group('group2', 192, 3), maxPool('pool3'), // -> 16
    group('group3', 128, 3),
    group('group4', 128, 3), maxPool('pool4'), // -> 8, 8x8x128 into the fc
    fc('fc', 256),
  ],
  classifierBias: true,
  torch: SEQUENTIAL,
};

/** The 29-layer trunk: residual stages [1, 2, 3, 4] between groups; v1 pools with max, v2 with max + avg. */
function trunk29(pool: (name: string) => Block): Block[] {
  return [
    conv('conv1', 48, 5, 1, 2), pool('pool1'),
    ...resblocks(1, 1), group('group1', 96, 3), pool('pool2'),
    ...resblocks(2, 2), group('group2', 192, 3), pool('pool3'),
    ...resblocks(3, 3), group('group3', 128, 3),
    ...resblocks(4, 4), group('group4', 128, 3), pool('pool4'),
  ];
}

/** LightCNN_29Layers: network_29layers(resblock, [1, 2, 3, 4]). */
const lightcnn29: Architecture = {
  name: 'lightcnn29',
  title: 'LightCNN-29',
  source: 'AlfredXiangWu/LightCNN light_cnn.py, network_29layers',
  blocks: [...trunk29(maxPool), fc('fc', 256)],
  classifierBias: true,
  torch: MODULES,
};

/** LightCNN_29Layers_v2: max+avg pooling, a plain Linear(8*8*128, 256) fc, classifier without bias. */
const lightcnn29v2: Architecture = {
  name: 'lightcnn29v2',
  title: 'LightCNN-29 v2',
  source: 'AlfredXiangWu/LightCNN light_cnn.py, network_29layers_v2',
  blocks: [...trunk29(maxAvgPool), fc('fc', 256, { activation: false })],
  classifierBias: false,
  torch: MODULES,
};

/** A few filters, for tests and quick looks at 32x32 on the CPU. */
const tiny: Architecture = {
  name: 'tiny',
  title: 'Tiny Light CNN (tests)',
  source: 'Face CNN Lab: LightCNN-9 cut down to one conv and one group',
  blocks: [
    conv('conv1', 8, 5, 1, 2), maxPool('pool1'),
    group('group1', 16, 3), maxPool('pool2'),
    fc('fc', 256),
  ],
  classifierBias: true,
  torch: SEQUENTIAL,
};

export const ARCHITECTURES: Readonly<Record<ArchitectureName, Architecture>> = { tiny, lightcnn4, lightcnn9, lightcnn29, lightcnn29v2 };

/** Published parameter counts at 128 px with MFM 2/1, without the classifier. */
export const REFERENCE_PARAMS: Readonly<Partial<Record<ArchitectureName, number>>> = {
  lightcnn4: 4_098_048,
  lightcnn9: 5_480_864,
  lightcnn29: 12_573_280,
  lightcnn29v2: 10_475_872,
};

export function isArchitectureName(name: string): name is ArchitectureName {
  return (ARCHITECTURE_NAMES as readonly string[]).includes(name);
}
