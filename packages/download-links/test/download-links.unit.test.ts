import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { downloadUrl, signDownload, verifyDownload } from '../src/index.ts';

const SECRET = 'download-link-secret-of-at-least-32-bytes';
const FID = '65f1c0ffee0123456789abcd';
const NOW = new Date('2026-11-23T12:00:00Z');

/** The query of a link as the gateway receives it: every value a string. */
function received(url: string): { fid: string | null; expires: string | null; sig: string | null } {
  const query = new URL(url, 'http://gateway').searchParams;
  return { fid: query.get('fid'), expires: query.get('expires'), sig: query.get('sig') };
}

describe('signed download links', () => {
  it('verifies a link it signed until it expires, and not from that second on', () => {
    const link = signDownload(SECRET, FID, 600, NOW);
    assert.equal(link.expires, NOW.getTime() / 1000 + 600);
    const query = received(downloadUrl(link));
    assert.equal(verifyDownload(SECRET, query, NOW), true);
    assert.equal(verifyDownload(SECRET, query, new Date(NOW.getTime() + 599_999)), true);
    assert.equal(verifyDownload(SECRET, query, new Date(NOW.getTime() + 600_000)), false);
  });

  it('builds a relative link, or an absolute one on a base URL', () => {
    const link = signDownload(SECRET, FID, 60, NOW);
    assert.equal(downloadUrl(link), `/download?fid=${FID}&expires=${link.expires}&sig=${link.sig}`);
    assert.equal(
      downloadUrl(link, 'http://mp3converter.com'),
      `http://mp3converter.com/download?fid=${FID}&expires=${link.expires}&sig=${link.sig}`,
    );
    // Behind a path prefix, with or without a trailing slash, the prefix is kept.
    for (const base of ['https://example.com/mp3', 'https://example.com/mp3/']) {
      assert.equal(
        downloadUrl(link, base),
        `https://example.com/mp3/download?fid=${FID}&expires=${link.expires}&sig=${link.sig}`,
      );
    }
  });

  it('rejects a link whose fid, expiry or signature was changed', () => {
    const query = received(downloadUrl(signDownload(SECRET, FID, 600, NOW)));
    const otherFid = '65f1c0ffee0123456789abce';
    assert.equal(verifyDownload(SECRET, { ...query, fid: otherFid }, NOW), false);
    assert.equal(
      verifyDownload(SECRET, { ...query, expires: String(Number(query.expires) + 1) }, NOW),
      false,
    );
    const sig = query.sig!;
    const flipped = sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A');
    assert.equal(verifyDownload(SECRET, { ...query, sig: flipped }, NOW), false);
  });

  it('accepts only the one spelling of a signature (the spare bits of its last character count)', () => {
    const query = received(downloadUrl(signDownload(SECRET, FID, 600, NOW)));
    const sig = query.sig ?? '';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(sig.at(-1) ?? '');
    // Same six bits but for the lowest two: decodes to the same bytes.
    const sibling = `${sig.slice(0, -1)}${alphabet[last ^ 1] ?? ''}`;
    assert.equal(Buffer.from(sibling, 'base64url').equals(Buffer.from(sig, 'base64url')), true);
    assert.equal(verifyDownload(SECRET, { ...query, sig: sibling }, NOW), false);
  });

  it('rejects a link signed with another secret', () => {
    const query = received(downloadUrl(signDownload(`${SECRET}-other`, FID, 600, NOW)));
    assert.equal(verifyDownload(SECRET, query, NOW), false);
  });

  it('answers false, not an error, for missing or malformed parts', () => {
    const query = received(downloadUrl(signDownload(SECRET, FID, 600, NOW)));
    for (const bad of [
      { ...query, sig: null },
      { ...query, expires: null },
      { ...query, expires: '-1' },
      { ...query, expires: '1e12' },
      { ...query, sig: 'short' },
      { ...query, sig: ['a', 'b'] },
      { fid: undefined, expires: undefined, sig: undefined },
    ]) {
      assert.equal(verifyDownload(SECRET, bad, NOW), false, JSON.stringify(bad));
    }
  });

  it('refuses a short secret and a non-positive lifetime', () => {
    assert.throws(() => signDownload('too-short', FID, 600), RangeError);
    assert.throws(() => signDownload(SECRET, FID, 0), RangeError);
    assert.throws(
      () => verifyDownload('too-short', { fid: FID, expires: '1', sig: 'x' }),
      RangeError,
    );
  });
});
