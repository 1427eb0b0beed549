// Public face datasets the lab can download for the user. Every fact here comes
// from a public source named next to it; a checksum nobody published is null,
// never guessed (a wrong one would reject every good download). The catalog is
// checked against its schema when this module loads, so a bad edit fails at once.
import { z } from 'zod';
import { checkIdentityPattern } from './layout';
import type { IdentityRule } from './layout';

const sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a SHA-256 is 64 lower-case hex digits');

/** A plain file name: it becomes `<dataDir>/downloads/<id>/<name>`, so no folders and no `..`. */
const fileNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a file name without folders')
  .refine((name) => !name.includes('..'), 'a file name without ".."');

// z.httpUrl() would refuse an address by IP (a local mirror, the tests' server).
const httpUrlSchema = z.url({ protocol: /^https?$/ });

const identityRuleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('before-first-dot') }),
  z.object({
    kind: z.literal('regex'),
    pattern: z.string().check((ctx) => {
      const problem = checkIdentityPattern(ctx.value);
      if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    }),
  }),
]) satisfies z.ZodType<IdentityRule>;

/** How the importer should read identities once the archive is open. */
const layoutSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('folders'),
    /** The folder the archive wraps everything in (`lfw/`), or null when the identity folders sit at its top. */
    root: z.string().min(1).nullable(),
  }),
  z.object({
    kind: z.literal('flat'),
    root: z.string().min(1).nullable(),
    identity: identityRuleSchema,
  }),
]);

const catalogFileSchema = z.object({
  /** Local file name under `<dataDir>/downloads/<id>/`. */
  name: fileNameSchema,
  /** 'images' is imported as a dataset; 'pairs' is a verification protocol in LFW's pairs.txt format. */
  role: z.enum(['images', 'pairs']),
  format: z.enum(['zip', 'tar', 'tar.gz', 'text']),
  /** The primary URL first, then mirrors, tried in this order. Mirrors must serve the same bytes. */
  urls: z.array(httpUrlSchema).min(1),
  approxBytes: z.number().int().positive(),
  sha256: sha256Schema.nullable(),
  /** Where the checksum was published (null when there is none). */
  sha256Source: z.string().min(1).nullable(),
});

export const catalogEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'an id of lower-case letters, digits and dashes'),
    name: z.string().min(1),
    homePage: httpUrlSchema,
    description: z.string().min(1),
    identities: z.number().int().positive(),
    images: z.number().int().positive(),
    imageFormat: z.string().min(1),
    layout: layoutSchema,
    files: z.array(catalogFileSchema).min(1),
    citation: z.string().min(1),
    terms: z.string().min(1),
    /** What a user should know that fits nowhere else (quirks of the archive). */
    notes: z.array(z.string().min(1)),
  })
  .check((ctx) => {
    const entry = ctx.value;
    if (!entry.files.some((file) => file.role === 'images')) {
      ctx.issues.push({ code: 'custom', message: `${entry.id} has no images file`, input: entry, path: ['files'] });
    }
    const names = entry.files.map((file) => file.name);
    if (new Set(names).size !== names.length) {
      ctx.issues.push({ code: 'custom', message: `${entry.id} names a file twice`, input: entry, path: ['files'] });
    }
    for (const [index, file] of entry.files.entries()) {
      if ((file.sha256 === null) !== (file.sha256Source === null)) {
        ctx.issues.push({ code: 'custom', message: 'a checksum needs its source, and a source needs its checksum', input: file, path: ['files', index] });
      }
    }
  });

export const catalogSchema = z.array(catalogEntrySchema).check((ctx) => {
  const ids = ctx.value.map((entry) => entry.id);
  if (new Set(ids).size !== ids.length) ctx.issues.push({ code: 'custom', message: 'two entries share an id', input: ids });
});

export type CatalogEntry = z.infer<typeof catalogEntrySchema>;
export type CatalogFile = z.infer<typeof catalogFileSchema>;
export type CatalogLayout = z.infer<typeof layoutSchema>;

// scikit-learn (sklearn/datasets/_lfw.py) hosts copies of the LFW files on
// figshare and publishes their SHA-256; the UMass originals are the mirrors.
const SKLEARN_LFW = 'scikit-learn, sklearn/datasets/_lfw.py (figshare copy of the UMass file)';

const LFW_PAIRS: CatalogFile = {
  name: 'pairs.txt',
  role: 'pairs',
  format: 'text',
  urls: ['https://ndownloader.figshare.com/files/5976006', 'http://vis-www.cs.umass.edu/lfw/pairs.txt'],
  approxBytes: 160_000, // estimate: a header and 6,000 lines of about 25 bytes
  sha256: 'ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592',
  sha256Source: SKLEARN_LFW,
};

const LFW_CITATION =
  'Gary B. Huang, Manu Ramesh, Tamara Berg and Erik Learned-Miller. "Labeled Faces in the Wild: A Database for ' +
  'Studying Face Recognition in Unconstrained Environments". University of Massachusetts, Amherst, Technical Report 07-49, October 2007.';

const LFW_TERMS =
  'LFW is published by the University of Massachusetts, Amherst, as a public benchmark for research on unconstrained ' +
  'face recognition. The photographs were collected from the web and show real, named people; their copyright stays with ' +
  'the photographers. Check the home page for its current terms, and cite the technical report above in any publication that uses it.';

export const CATALOG: readonly CatalogEntry[] = catalogSchema.parse([
  {
    id: 'orl',
    name: 'The Database of Faces (ORL / AT&T)',
    homePage: 'https://cam-orl.co.uk/facedatabase.html',
    description:
      'Ten images of each of 40 people taken between April 1992 and April 1994 at the Olivetti Research Laboratory, ' +
      'Cambridge (UK): upright, frontal, dark homogeneous background, varied lighting, expression and glasses.',
    identities: 40,
    images: 400,
    imageFormat: 'PGM (P5), 92x112, 8-bit grey',
    layout: { kind: 'folders', root: null }, // s1/1.pgm .. s40/10.pgm, plus a README
    files: [
      {
        name: 'att_faces.zip',
        role: 'images',
        format: 'zip',
        urls: [
          // The original AT&T Laboratories Cambridge archive, then mirrors used by
          // Idiap's bob.bio.face and by the OpenIMAJ tutorial.
          'https://www.cl.cam.ac.uk/research/dtg/attarchive/pub/data/att_faces.zip',
          'http://www.idiap.ch/software/bob/data/bob/att_faces.zip',
          'http://datasets.openimaj.org/att_faces.zip',
        ],
        approxBytes: 4_500_000, // the original page: "a ZIP file of similar size" to the 4.5 Mbyte tar.Z
        sha256: null,
        sha256Source: null,
      },
    ],
    citation:
      'F. Samaria and A. Harter. "Parameterisation of a stochastic model for human face identification". ' +
      '2nd IEEE Workshop on Applications of Computer Vision, Sarasota (Florida), December 1994.',
    terms:
      'The database README asks that users "give credit to Olivetti Research Laboratory" when using these images, ' +
      'and suggests citing Samaria and Harter (1994). Credit the Olivetti Research Laboratory (later AT&T Laboratories Cambridge) ' +
      'and cite the paper above in any publication that uses the images.',
    notes: [
      'The database has moved home over the years (AT&T Laboratories Cambridge, the Cambridge Computer Laboratory, now ' +
        'cam-orl.co.uk); when the first URL no longer answers, the mirrors are tried in turn.',
    ],
  },
  {
    id: 'yale',
    name: 'Yale Face Database (A)',
    homePage: 'http://cvc.cs.yale.edu/cvc/projects/yalefaces/yalefaces.html',
    description:
      '11 grey images of each of 15 people, one per expression or configuration: centre-light, glasses, happy, left-light, ' +
      'no glasses, normal, right-light, sad, sleepy, surprised and wink.',
    identities: 15,
    images: 165,
    imageFormat: 'GIF without a file extension, 320x243 grey',
    // subject07.happy: the identity is the text before the first '.'.
    layout: { kind: 'flat', root: 'yalefaces', identity: { kind: 'before-first-dot' } },
    files: [
      {
        name: 'yalefaces.zip',
        role: 'images',
        format: 'zip',
        urls: ['http://vision.ucsd.edu/datasets/yale_face_dataset_original/yalefaces.zip'],
        approxBytes: 6_400_000,
        sha256: null,
        sha256Source: null,
      },
    ],
    citation:
      'Acknowledge the "Yale Face Database". The paper usually cited with it: P. N. Belhumeur, J. P. Hespanha and D. J. Kriegman, ' +
      '"Eigenfaces vs. Fisherfaces: Recognition Using Class Specific Linear Projection", IEEE Transactions on Pattern Analysis ' +
      'and Machine Intelligence 19(7), 1997.',
    terms:
      'The database README: you are free to use the Yale Face Database for research purposes. Publications of results obtained ' +
      'with its images should acknowledge the use of the "Yale Face Database". Without permission from Yale, its images cannot be ' +
      'incorporated into a larger database which is then publicly distributed.',
    notes: [
      'The README says subject04.sad was corrupted and replaced by a copy of subject04.normal.',
      "Copies of the zip differ: some name subject01's centre-light image subject01.gif and add subject01.glasses.gif " +
        '(public loaders rename the first to subject01.centerlight and delete the second), a Readme.txt and a __MACOSX folder. ' +
        'The identity rule reads subject01 from all of these names.',
    ],
  },
  {
    id: 'lfw',
    name: 'Labeled Faces in the Wild (LFW)',
    homePage: 'http://vis-www.cs.umass.edu/lfw/',
    description:
      '13,233 photographs of 5,749 people collected from the web, centred on the face found by the Viola-Jones detector; ' +
      '1,680 people have two or more images. pairs.txt holds the standard verification protocol: 10 folds of 300 matched and ' +
      '300 mismatched pairs.',
    identities: 5749,
    images: 13233,
    imageFormat: 'JPEG, 250x250 colour',
    layout: { kind: 'folders', root: 'lfw' }, // lfw/George_W_Bush/George_W_Bush_0010.jpg
    files: [
      {
        name: 'lfw.tgz',
        role: 'images',
        format: 'tar.gz',
        urls: ['https://ndownloader.figshare.com/files/5976018', 'http://vis-www.cs.umass.edu/lfw/lfw.tgz'],
        approxBytes: 173_000_000, // home page: 173MB
        sha256: '055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0',
        sha256Source: SKLEARN_LFW,
      },
      LFW_PAIRS,
    ],
    citation: LFW_CITATION,
    terms: LFW_TERMS,
    notes: ['Some images show more than one face; the face at the centre of the image is the labelled one.'],
  },
  {
    id: 'lfw-funneled',
    name: 'Labeled Faces in the Wild, funneled (aligned)',
    homePage: 'http://vis-www.cs.umass.edu/lfw/',
    description:
      'The LFW images aligned with funneling (Huang, Jain and Learned-Miller, ICCV 2007): same people, same images, same pairs.txt.',
    identities: 5749,
    images: 13233,
    imageFormat: 'JPEG, 250x250 colour',
    layout: { kind: 'folders', root: 'lfw_funneled' },
    files: [
      {
        name: 'lfw-funneled.tgz',
        role: 'images',
        format: 'tar.gz',
        urls: ['https://ndownloader.figshare.com/files/5976015', 'http://vis-www.cs.umass.edu/lfw/lfw-funneled.tgz'],
        approxBytes: 233_000_000, // home page: 233MB
        sha256: 'b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a',
        sha256Source: SKLEARN_LFW,
      },
      LFW_PAIRS,
    ],
    citation:
      LFW_CITATION +
      ' For the alignment: Gary B. Huang, Vidit Jain and Erik Learned-Miller. "Unsupervised Joint Alignment of Complex Images". ICCV 2007.',
    terms: LFW_TERMS,
    notes: ['Some images show more than one face; the face at the centre of the image is the labelled one.'],
  },
]);

/** The entry with this id, or null. */
export function catalogEntry(id: string): CatalogEntry | null {
  return CATALOG.find((entry) => entry.id === id) ?? null;
}
