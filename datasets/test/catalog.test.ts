// The catalog's facts are data: these tests hold every entry to what the lab does
// with it (the importer must read each archive the way the entry says; each file
// must be what its role and name say) and pin the published checksums, so an edit
// that breaks one shows up here. (Re-checking CATALOG against the schema it was
// parsed with could not fail: the module would not load.)
import { describe, expect, it } from 'vitest';
import { CATALOG, catalogEntry, catalogEntrySchema, catalogSchema, type CatalogEntry } from '../catalog';
import { formatTerms } from '../download';
import { chooseLayout, compileIdentityRule, DEFAULT_IDENTITY_RULE, placeFile } from '../layout';

/** A few entry paths of each archive as it is published. */
const PUBLISHED_PATHS: Record<string, string[]> = {
  orl: ['README', 's1/1.pgm', 's1/2.pgm', 's2/1.pgm', 's2/2.pgm', 's40/10.pgm'],
  yale: ['yalefaces/subject01.centerlight', 'yalefaces/subject01.happy', 'yalefaces/subject02.happy', 'yalefaces/subject02.sad', 'yalefaces/subject15.wink'],
  lfw: ['lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg', 'lfw/George_W_Bush/George_W_Bush_0001.jpg', 'lfw/George_W_Bush/George_W_Bush_0002.jpg'],
  'lfw-funneled': ['lfw_funneled/Aaron_Eckhart/Aaron_Eckhart_0001.jpg', 'lfw_funneled/Zico/Zico_0001.jpg', 'lfw_funneled/Zico/Zico_0002.jpg'],
};

const EXTENSIONS: Record<string, RegExp> = { zip: /\.zip$/, tar: /\.tar$/, 'tar.gz': /\.(tar\.gz|tgz)$/, text: /\.txt$/ };

describe('catalog', () => {
  it('knows how every entry is laid out', () => {
    expect(Object.keys(PUBLISHED_PATHS).sort()).toEqual(CATALOG.map((entry) => entry.id).sort());
  });

  it.each(CATALOG.map((entry) => [entry.id, entry] as const))('%s: its layout is how the importer reads the published archive', (id, entry: CatalogEntry) => {
    const paths = PUBLISHED_PATHS[id] ?? [];
    const faces = paths.filter((path) => path !== 'README');
    const rule = entry.layout.kind === 'flat' ? entry.layout.identity : DEFAULT_IDENTITY_RULE;
    const identityOf = compileIdentityRule(rule);
    // The download command passes the layout on; left to itself the importer must agree.
    for (const choice of [entry.layout.kind, 'auto'] as const) {
      const chosen = chooseLayout(faces, choice, identityOf);
      expect(chosen).toEqual({ wrapper: entry.layout.root ?? '', layout: entry.layout.kind });
    }
    const wrapper = entry.layout.root === null ? '' : `${entry.layout.root}/`;
    const identities = faces.map((path) => placeFile(path.slice(wrapper.length), entry.layout.kind, identityOf));
    for (const placed of identities) expect(placed).toHaveProperty('identity');
    expect(new Set(identities.map((p) => ('identity' in p ? p.identity : ''))).size).toBeGreaterThan(1);
  });

  it('Yale is flat by the first-dot rule, the default one', () => {
    expect(catalogEntry('yale')?.layout).toEqual({ kind: 'flat', root: 'yalefaces', identity: { kind: 'before-first-dot' } });
  });

  it.each(CATALOG.map((entry) => [entry.id, entry] as const))('%s: every archive is an images file, every text a pairs file, named as its format', (_id, entry: CatalogEntry) => {
    for (const file of entry.files) {
      expect(file.role, file.name).toBe(file.format === 'text' ? 'pairs' : 'images');
      expect(file.name).toMatch(EXTENSIONS[file.format] as RegExp);
    }
    expect(entry.files.filter((file) => file.role === 'images')).toHaveLength(1);
  });

  it('no URL serves two different files', () => {
    const served = new Map<string, string>();
    for (const entry of CATALOG) {
      for (const file of entry.files) {
        const what = JSON.stringify([file.name, file.sha256, file.approxBytes]);
        for (const url of file.urls) {
          expect(served.get(url) ?? what, url).toBe(what);
          served.set(url, what);
        }
        expect(new Set(file.urls).size, file.name).toBe(file.urls.length);
      }
    }
  });

  it('holds at least ORL, Yale and LFW with its pairs.txt', () => {
    expect(catalogEntry('orl')?.layout.kind).toBe('folders');
    expect(catalogEntry('yale')?.layout.kind).toBe('flat');
    const lfw = catalogEntry('lfw');
    expect(lfw?.files.map((file) => [file.name, file.role])).toEqual([
      ['lfw.tgz', 'images'],
      ['pairs.txt', 'pairs'],
    ]);
    expect(catalogEntry('no-such-dataset')).toBeNull();
  });

  it('pins the published SHA-256 of the LFW files (scikit-learn) and invents none', () => {
    const sha = (id: string, name: string) => catalogEntry(id)?.files.find((file) => file.name === name)?.sha256;
    expect(sha('lfw', 'lfw.tgz')).toBe('055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0');
    expect(sha('lfw', 'pairs.txt')).toBe('ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592');
    expect(sha('lfw-funneled', 'lfw-funneled.tgz')).toBe('b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a');
    expect(sha('orl', 'att_faces.zip')).toBeNull();
    expect(sha('yale', 'yalefaces.zip')).toBeNull();
  });

  it("reads Yale's identities with its layout hint", () => {
    const layout = catalogEntry('yale')?.layout;
    if (layout?.kind !== 'flat') throw new Error('Yale should be flat');
    const identityOf = compileIdentityRule(layout.identity);
    expect(identityOf('subject07.happy')).toBe('subject07');
    expect(identityOf('subject01.gif')).toBe('subject01');
  });

  it('refuses bad entries', () => {
    const good = catalogEntry('orl');
    const file = good?.files[0];
    if (good === null || file === undefined) throw new Error('ORL missing');
    const bad = [
      { ...good, id: 'Has Spaces' },
      { ...good, files: [] },
      { ...good, files: [{ ...file, sha256: 'not-a-hash', sha256Source: 'x' }] },
      { ...good, files: [{ ...file, sha256: 'ab'.repeat(32), sha256Source: null }] }, // a checksum without its source
      { ...good, files: [{ ...file, name: '../escape.zip' }] },
      { ...good, files: [{ ...file, urls: ['ftp://example.org/a.zip'] }] },
      { ...good, files: [{ ...file, role: 'pairs' }] }, // nothing to import
      { ...good, layout: { kind: 'flat', root: null, identity: { kind: 'regex', pattern: '(a)(b)' } } },
      { ...good, files: [file, { ...file }] }, // the same file twice
      { ...good, layout: { kind: 'sideways', root: null } },
    ];
    expect(catalogEntrySchema.safeParse(good).success).toBe(true); // the refusals are not of everything
    for (const entry of bad) expect(catalogEntrySchema.safeParse(entry).success, JSON.stringify(entry).slice(0, 120)).toBe(false);
    expect(catalogSchema.safeParse([good, good]).success).toBe(false); // duplicate id
  });

  it('shows terms and citation before download', () => {
    const orl = formatTerms(catalogEntry('orl')!);
    expect(orl).toContain('Olivetti Research Laboratory');
    expect(orl).toContain('Samaria and A. Harter');
    expect(orl).toContain('1994');
    expect(orl).toContain('https://cam-orl.co.uk/facedatabase.html');
    expect(orl).toMatch(/no published checksum/);

    expect(formatTerms(catalogEntry('yale')!)).toMatch(/research purposes/);

    const lfw = formatTerms(catalogEntry('lfw')!);
    expect(lfw).toContain('Technical Report 07-49');
    expect(lfw).toContain('Huang');
    expect(lfw).toContain('pairs.txt');
    expect(lfw).toContain('SHA-256 checked');
    expect(lfw).toMatch(/about 17\d\.\d MB to download/);
  });
});
