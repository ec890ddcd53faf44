import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { DEFAULT_ARGUMENT_LIMITS } from '../../src/proxy/index.js';
import { FIXTURES, POLICIES } from '../helpers/warden.js';

// `limits`: bounds on a call's arguments, checked before the policy runs (docs/audit.md), beside the URI cap.
const base = `
mcpServers:
  crm: { command: node }
policy: { bundle: ${join(POLICIES, 'allow-all')} }
`;
const source = join(FIXTURES, 'warden.yaml');

describe('config: limits', () => {
  test('defaults: 64 levels and 1 MiB, the same the pipeline applies when built without limits', () => {
    const c = parseConfig(base, source, {});
    expect(c.limits).toEqual({ maxUriLength: 8192, argumentsMaxDepth: 64, argumentsMaxBytes: 1024 * 1024 });
    const { argumentsMaxDepth: maxDepth, argumentsMaxBytes: maxBytes } = c.limits;
    expect({ maxDepth, maxBytes }).toEqual(DEFAULT_ARGUMENT_LIMITS);
    expect(Object.isFrozen(c.limits)).toBe(true);
  });

  test.each([
    ['integers', '{ argumentsMaxDepth: 16, argumentsMaxBytes: 50 }', { argumentsMaxDepth: 16, argumentsMaxBytes: 50 }],
    ['a size with a unit', '{ argumentsMaxBytes: 256kb }', { argumentsMaxDepth: 64, argumentsMaxBytes: 256 * 1024 }],
    ['a fractional size', '{ argumentsMaxBytes: 1.5MB }', { argumentsMaxDepth: 64, argumentsMaxBytes: 1_572_864 }],
  ])('sizes as %s', (_name, limits, expected) => {
    expect(parseConfig(`${base}limits: ${limits}\n`, source, {}).limits).toEqual({ maxUriLength: 8192, ...expected });
  });

  test.each([
    ['depth 0', '{ argumentsMaxDepth: 0 }', /limits\.argumentsMaxDepth: must be >= 1/],
    ['depth beyond 1000', '{ argumentsMaxDepth: 5000 }', /limits\.argumentsMaxDepth: must be <= 1000/],
    ['an unknown unit', '{ argumentsMaxBytes: 2 tons }', /limits\.argumentsMaxBytes: must match pattern/],
    [
      'an unknown key',
      '{ maxDepth: 3 }',
      /limits\.maxDepth: unknown key\. Fix: remove it or use one of: .*argumentsMaxDepth/,
    ],
  ])('refuses %s, naming the key', (_name, limits, message) => {
    expect(() => parseConfig(`${base}limits: ${limits}\n`, source, {})).toThrow(message);
  });
});
