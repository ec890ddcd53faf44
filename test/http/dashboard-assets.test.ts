import { Script } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { DASHBOARD_JS } from '../../src/http/dashboard/client.js';

describe('dashboard assets', () => {
  test('the client script is valid JavaScript with nothing fetched from elsewhere', () => {
    expect(() => new Script(DASHBOARD_JS)).not.toThrow();
    expect(DASHBOARD_JS).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});
