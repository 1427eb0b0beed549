// The catalog's facts are data: these tests hold every entry to the schema and pin
// the published checksums, so an edit that breaks one shows up here.
import { describe, expect, it } from 'vitest';
import { CATALOG, catalogEntry, catalogEntrySchema, catalogSchema } from '../catalog';
import { formatTerms } from '../download';
import { compileIdentityRule } from '../layout';

describe('catalog', () => {
  it.each(CATALOG.map((entry) => [entry.id, entry] as const))('%s matches the schema', (_id, entry) => {
    expect(catalogEntrySchema.safeParse(entry).success).toBe(true);
    for (const file of entry.files) {
      expect(file.urls.length).toBeGreaterThan(0);
      expect(new Set(file.urls).size).toBe(file.urls.length);
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
    ];
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
