import { createHash, type Hash } from 'node:crypto';
import YAML from 'yaml';
import { PolicyError, setOwn } from '../common/index.js';

/**
 * A JSON number kept as the text it was written with. OPA decodes bundle JSON with Go's
 * `UseNumber`, so `1.0` hashes as `1.0`, not as `1`: parsing into a JS number would lose that and
 * break the digest of any signed `data.json` holding such a literal.
 */
export class JsonNumber {
  constructor(readonly raw: string) {}
}

type Canonical = null | boolean | string | JsonNumber | Canonical[] | { [key: string]: Canonical };

/** The hashing algorithms OPA accepts in `.signatures.json` (`bundle/hash.go`), mapped to node:crypto names. */
export const SIGNATURE_HASHES: Readonly<Record<string, string>> = Object.freeze({
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
});

/**
 * OPA's file digest (`bundle/hash.go`): raw bytes for unstructured files; for structured ones
 * (data.json, data.yaml, .manifest, signatures.json) the parsed document is walked with object
 * keys in byte order, `{`, `"key":value`, `,`, `}` and `[`, values, `]`, each scalar encoded as
 * Go's `json.Encoder` with HTML escaping off would write it. Whitespace and key order therefore do
 * not change the digest; any change of content does.
 *
 * @example
 * ```ts
 * fileDigest('data.json', Buffer.from('{"b": 1.0, "a": "x"}'), 'SHA-256'); // sha256 of {"a":"x","b":1.0}
 * ```
 */
export function fileDigest(path: string, bytes: Buffer, algorithm: string): string {
  const name = SIGNATURE_HASHES[algorithm];
  if (!name)
    throw new PolicyError('policy_signature_invalid', `unsupported hashing algorithm: ${algorithm} (for file ${path})`);
  const hash = createHash(name);
  if (isStructuredDoc(path)) walk(parseStructured(path, bytes), hash);
  else hash.update(bytes);
  return hash.digest('hex');
}

/** OPA's `IsStructuredDoc`: the base name decides (note: `data.yml` is hashed as bytes, as in OPA). */
export function isStructuredDoc(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === 'data.json' || base === 'data.yaml' || base === 'signatures.json' || base === '.manifest';
}

function parseStructured(path: string, bytes: Buffer): Canonical {
  if (path.endsWith('.yaml')) {
    let value: unknown;
    try {
      value = YAML.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new PolicyError('policy_bundle_invalid', `${path} is not valid YAML`, { cause: err });
    }
    return fromPlain(value);
  }
  return parseJsonPreservingNumbers(bytes.toString('utf8'), path);
}

function fromPlain(value: unknown): Canonical {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return new JsonNumber(String(value));
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(fromPlain);
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, Canonical> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) setOwn(out, k, fromPlain(v));
  return out;
}

function walk(value: Canonical, hash: Hash): void {
  if (Array.isArray(value)) {
    hash.update('[');
    value.forEach((item, i) => {
      if (i > 0) hash.update(',');
      walk(item, hash);
    });
    hash.update(']');
    return;
  }
  if (value instanceof JsonNumber) {
    hash.update(value.raw);
    return;
  }
  if (value !== null && typeof value === 'object') {
    hash.update('{');
    // Go sorts keys as byte strings; UTF-16 order differs beyond the BMP, so compare UTF-8 bytes.
    const keys = Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    keys.forEach((key, i) => {
      if (i > 0) hash.update(',');
      hash.update(encodeString(key));
      hash.update(':');
      walk(value[key]!, hash);
    });
    hash.update('}');
    return;
  }
  if (typeof value === 'string') {
    hash.update(encodeString(value));
    return;
  }
  hash.update(value === null ? 'null' : value ? 'true' : 'false');
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A string as Go's encoding/json (1.22+, SetEscapeHTML(false)) writes it: short escapes for
 * `"` `\` \b \f \n \r \t, `\u00xx` (lower-case hex) for other control characters, and
 * `\u2028`/`\u2029`; everything else, `<>&` included, verbatim. Lone surrogates become U+FFFD, as
 * Go's decoder would have made them.
 */
export function encodeString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (code < 0x20) out += `\\u00${code.toString(16).padStart(2, '0')}`;
    else if (code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16)}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += '\ufffd';
    else out += ch;
  }
  return out + '"';
}

/** Parses JSON keeping every number as its source text ({@link JsonNumber}). Duplicate keys: last wins, as in Go. */
export function parseJsonPreservingNumbers(text: string, what = 'document'): Canonical {
  let i = 0;
  const fail = (message: string): never => {
    throw new PolicyError('policy_bundle_invalid', `${what} is not valid JSON: ${message} at offset ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const value = (): Canonical => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, Canonical> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const key = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        // setOwn: a `__proto__` key must count in the digest as it does in OPA's, not vanish.
        setOwn(obj, key, value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: Canonical[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail('unexpected character');
    i += m![0].length;
    return new JsonNumber(m![0]);
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) fail('control character in string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return result;
}
