import { describe, expect, test } from 'vitest';
import { deferred } from '../../src/common/index.js';

describe('deferred', () => {
  test('resolve settles the promise with the value, once', async () => {
    const d = deferred<number>();
    d.resolve(1);
    d.resolve(2);
    d.reject(new Error('late'));
    await expect(d.promise).resolves.toBe(1);
  });

  test('reject settles the promise with the reason', async () => {
    const d = deferred<void>();
    d.reject(new Error('boom'));
    await expect(d.promise).rejects.toThrow('boom');
  });
});
