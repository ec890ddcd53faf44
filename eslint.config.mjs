// Warden's lint: the layering of src/ (scripts/layers.json, also guarded by test/layering.test.ts)
// and no console output outside the CLI (stdout is the MCP protocol in stdio mode).
import { readFileSync } from 'node:fs';
import tseslint from 'typescript-eslint';

const layers = JSON.parse(readFileSync(new URL('./scripts/layers.json', import.meta.url), 'utf8'));
const parts = Object.keys(layers).filter((k) => !k.startsWith('$'));

const perPart = parts.map((part) => {
  const forbidden = parts.filter((other) => other !== part && !layers[part].includes(other));
  return {
    files: [`src/${part}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(forbidden.length
              ? [
                  {
                    group: forbidden.map((p) => `../${p}/*`),
                    message: `src/${part} may import only ${layers[part].join(', ') || 'nothing from other parts'} (scripts/layers.json): move the shared piece inward, or declare a port in the core that the edge implements.`,
                  },
                ]
              : []),
            {
              group: parts.map((p) => `../${p}/*`).concat(['!../*/index.js']),
              message: 'Parts meet only through their index.ts: import from "../<part>/index.js".',
            },
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test/.tmp/**', '.tools/**'] },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      // stdout is the protocol in stdio mode: log through the winston logger (stderr) instead.
      'no-console': 'error',
    },
  },
  ...perPart,
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
