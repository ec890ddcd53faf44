/**
 * A JSON-with-comments reader for MCP client configs. VS Code's `mcp.json` (and often Cursor's) may
 * hold `//` and `/* *\/` comments and trailing commas, which `JSON.parse` refuses; and `JSON.parse`'s
 * own messages differ between Node versions and do not always say where. This parser accepts
 * JSONC and reports every error as `line L, column C: what was expected`.
 *
 * @example
 * ```ts
 * const { value, comments } = parseJsonc('{ "servers": {}, // mine\n}');
 * ```
 */
export function parseJsonc(text: string): { value: unknown; comments: boolean; spans: Map<string, Span> } {
  const p = new Parser(text);
  p.skip();
  const value = p.value([]);
  p.skip();
  if (p.pos < text.length) p.fail(`unexpected ${p.describe()} after the end of the document`);
  return { value, comments: p.comments, spans: p.spans };
}

/** Where a value's text starts and ends (end exclusive), for edits that leave the rest of a file alone. */
export interface Span {
  start: number;
  end: number;
}

/** The key of {@link parseJsonc}'s spans: the property names down to a value, joined by NUL. */
export function spanKey(path: readonly string[]): string {
  return path.join('\0');
}

/** Values this deep (top level = 1) have their spans recorded. */
const SPAN_DEPTH = 2;

/** A syntax error at a line and column (both 1-based). */
export class JsoncSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'JsoncSyntaxError';
  }
}

class Parser {
  pos = 0;
  comments = false;
  readonly spans = new Map<string, Span>();

  constructor(private readonly text: string) {}

  fail(reason: string, at = this.pos): never {
    const before = this.text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1) + 1;
    throw new JsoncSyntaxError(line, column, reason);
  }

  describe(): string {
    if (this.pos >= this.text.length) return 'end of file';
    return `character ${JSON.stringify(this.text[this.pos])}`;
  }

  /** Skips whitespace and comments. */
  skip(): void {
    const t = this.text;
    for (;;) {
      while (this.pos < t.length && /[\s\uFEFF]/.test(t[this.pos]!)) this.pos++;
      if (t.startsWith('//', this.pos)) {
        this.comments = true;
        const end = t.indexOf('\n', this.pos);
        this.pos = end < 0 ? t.length : end + 1;
      } else if (t.startsWith('/*', this.pos)) {
        this.comments = true;
        const end = t.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('a /* comment is never closed');
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }

  value(path: string[]): unknown {
    const start = this.pos;
    const v = this.bare(path);
    if (path.length > 0 && path.length <= SPAN_DEPTH) this.spans.set(spanKey(path), { start, end: this.pos });
    return v;
  }

  bare(path: string[]): unknown {
    const c = this.text[this.pos];
    if (c === '{') return this.object(path);
    if (c === '[') return this.array(path);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    if (c === "'") this.fail('strings must be in double quotes');
    return this.fail(`expected a value, found ${this.describe()}`);
  }

  object(path: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++; // {
    for (;;) {
      this.skip();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      if (this.text[this.pos] !== '"')
        this.fail(`expected a property name in double quotes or '}', found ${this.describe()}`);
      const key = this.string();
      this.skip();
      if (this.text[this.pos] !== ':')
        this.fail(`expected ':' after property name ${JSON.stringify(key)}, found ${this.describe()}`);
      this.pos++;
      this.skip();
      Object.defineProperty(out, key, {
        value: this.value([...path, key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skip();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.text[this.pos] === '}') continue;
      this.fail(
        `expected ',' or '}' after the value of ${JSON.stringify(key)}, found ${this.describe()} (a missing comma?)`,
      );
    }
  }

  array(path: string[]): unknown[] {
    const out: unknown[] = [];
    this.pos++; // [
    for (;;) {
      this.skip();
      if (this.text[this.pos] === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value([...path, String(out.length)]));
      this.skip();
      if (this.text[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.text[this.pos] === ']') continue;
      this.fail(`expected ',' or ']' in a list, found ${this.describe()} (a missing comma?)`);
    }
  }

  string(): string {
    const start = this.pos;
    this.pos++; // "
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') this.fail('a string is never closed', start);
      if (c === '\\') {
        this.pos += this.text[this.pos + 1] === 'u' ? 6 : 2;
        continue;
      }
      this.pos++;
      if (c === '"') break;
    }
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string;
    } catch {
      return this.fail('a string holds an invalid escape or control character', start);
    }
  }

  number(): number {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
    if (!m) this.fail(`expected a number, found ${this.describe()}`);
    this.pos += m[0].length;
    return Number(m[0]);
  }
}
