/**
 * Matching client URIs against the resource templates servers list (RFC 6570), in time linear in
 * the URI's length: a template compiles to a small automaton without backtracking, and a match
 * runs it once over the URI, keeping the set of states it can be in. A regex built from a template
 * (`^file:///.+?/.+?$`) backtracks: one 250 KB URI blocked the process for tens of seconds.
 */

/** How an expression reads: as the SDK's `UriTemplate.match` does, or as "one or more characters". */
export type TemplateMatchMode = 'strict' | 'loose';

/** Counts the automaton's transition tests, so tests can bound the work a match did. */
export interface MatchMeter {
  steps: number;
}

/** A compiled resource template. */
export interface UriTemplateMatcher {
  readonly template: string;
  /**
   * Whether `uri` is an expansion of the template.
   * - `strict` reads each expression as the MCP TypeScript SDK's `UriTemplate.match` does (so an
   *   SDK server's template claims exactly the URIs that server serves): `{x}` is one or more
   *   characters other than `/` and `,` (`{x*}` also takes a comma-separated list), `{+x}` and
   *   `{#x}` any characters but line breaks, `{.x}` and `{/x}` a `.` or `/` then a value,
   *   `{?a,b}` and `{&a}` `?a=…&b=…` in order, each value without `&`.
   * - `loose` reads every expression as one or more characters other than line breaks, which is
   *   how Warden routed before this matcher (servers not built on the SDK may accept more).
   *
   * Runs in O(URI length x template length), whatever the input.
   *
   * @example
   * ```ts
   * const t = compileUriTemplate('file:///{dir}/{file}');
   * t.matches('file:///docs/a.md', 'strict'); // true
   * t.matches('file:///docs/sub/a.md', 'strict'); // false: {dir} takes no '/'
   * t.matches('file:///docs/sub/a.md', 'loose'); // true
   * ```
   */
  matches(uri: string, mode: TemplateMatchMode, meter?: MatchMeter): boolean;
}

/** The characters an edge takes: one code unit, or a class (a number, not a closure: a hot loop). */
const enum CharTest {
  Exactly,
  NotLineBreak,
  NotSlashOrComma,
  NotAmpersand,
}

interface Edge {
  readonly test: CharTest;
  /** The code unit, for `CharTest.Exactly`. */
  readonly code: number;
  readonly to: number;
}

/** An automaton without empty moves: start is state 0, one accepting state. */
interface Automaton {
  readonly edges: readonly (readonly Edge[])[];
  readonly accept: number;
}

type Part =
  | { readonly literal: string }
  | { readonly operator: string; readonly names: readonly string[]; readonly exploded: boolean };

const OPERATORS = '+#./?&';
const SLASH = 0x2f;
const COMMA = 0x2c;
const AMPERSAND = 0x26;

function accepts(edge: Edge, c: number): boolean {
  switch (edge.test) {
    case CharTest.Exactly:
      return c === edge.code;
    case CharTest.NotLineBreak:
      // What `.` matches in a JavaScript regex without flags: anything but a line terminator.
      return c !== 0x0a && c !== 0x0d && c !== 0x2028 && c !== 0x2029;
    case CharTest.NotSlashOrComma:
      return c !== SLASH && c !== COMMA;
    case CharTest.NotAmpersand:
      return c !== AMPERSAND;
  }
}

/**
 * Compiles `template` once (when a server lists it); `matches` is then cheap to call per request.
 * An unclosed `{` is literal text, as the previous matcher read it.
 */
export function compileUriTemplate(template: string): UriTemplateMatcher {
  const parts = parseTemplate(template);
  const strict = build(parts, 'strict');
  const loose = build(parts, 'loose');
  return {
    template,
    matches: (uri, mode, meter) => simulate(mode === 'strict' ? strict : loose, uri, meter),
  };
}

// The SDK's parse (sdk/src/shared/uriTemplate.ts): an operator is the expression's first
// character, names are comma-separated, and a `*` anywhere marks the expression exploded.
function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    const close = open === -1 ? -1 : template.indexOf('}', open);
    if (open === -1 || close === -1) {
      parts.push({ literal: template.slice(i) });
      break;
    }
    if (open > i) parts.push({ literal: template.slice(i, open) });
    const expression = template.slice(open + 1, close);
    const operator = expression !== '' && OPERATORS.includes(expression[0]!) ? expression[0]! : '';
    const names = expression
      .slice(operator.length)
      .split(',')
      .map((n) => n.replace('*', '').trim())
      .filter((n) => n.length > 0);
    parts.push({ operator, names, exploded: expression.includes('*') });
    i = close + 1;
  }
  return parts;
}

function build(parts: readonly Part[], mode: TemplateMatchMode): Automaton {
  const edges: Edge[][] = [[]];
  let end = 0;
  const state = (): number => edges.push([]) - 1;
  const literal = (text: string): void => {
    for (let k = 0; k < text.length; k++) {
      const code = text.charCodeAt(k);
      const next = state();
      edges[end]!.push({ test: CharTest.Exactly, code, to: next });
      end = next;
    }
  };
  // One or more characters passing `test`.
  const oneOrMore = (test: CharTest): void => {
    const next = state();
    edges[end]!.push({ test, code: 0, to: next });
    edges[next]!.push({ test, code: 0, to: next });
    end = next;
  };
  // One or more values of such characters, separated by single commas (`[^/,]+(,[^/,]+)*`).
  const list = (test: CharTest): void => {
    oneOrMore(test);
    const afterComma = state();
    edges[end]!.push({ test: CharTest.Exactly, code: COMMA, to: afterComma });
    edges[afterComma]!.push({ test, code: 0, to: end });
  };

  for (const part of parts) {
    if ('literal' in part) literal(part.literal);
    else if (mode === 'loose') oneOrMore(CharTest.NotLineBreak);
    else expression(part, { literal, oneOrMore, list });
  }
  return { edges, accept: end };
}

// The SDK's partToRegExp, piece by piece.
function expression(
  part: Extract<Part, { operator: string }>,
  b: { literal(text: string): void; oneOrMore(test: CharTest): void; list(test: CharTest): void },
): void {
  switch (part.operator) {
    case '?':
    case '&':
      part.names.forEach((name, i) => {
        b.literal(`${i === 0 ? part.operator : '&'}${name}=`);
        b.oneOrMore(CharTest.NotAmpersand);
      });
      return;
    case '+':
    case '#':
      b.oneOrMore(CharTest.NotLineBreak);
      return;
    case '.':
      b.literal('.');
      b.oneOrMore(CharTest.NotSlashOrComma);
      return;
    case '/':
      b.literal('/');
      (part.exploded ? b.list : b.oneOrMore)(CharTest.NotSlashOrComma);
      return;
    default:
      (part.exploded ? b.list : b.oneOrMore)(CharTest.NotSlashOrComma);
  }
}

// Runs the automaton over the URI once, tracking every state it can be in (at most one entry per
// state per character), so no input makes it revisit earlier characters.
function simulate(automaton: Automaton, uri: string, meter: MatchMeter | undefined): boolean {
  const size = automaton.edges.length;
  const seen = new Int32Array(size).fill(-1);
  let active = new Int32Array(size);
  let next = new Int32Array(size);
  let count = 1;
  let steps = 0;
  try {
    for (let i = 0; i < uri.length; i++) {
      const c = uri.charCodeAt(i);
      let nextCount = 0;
      for (let a = 0; a < count; a++) {
        for (const edge of automaton.edges[active[a]!]!) {
          steps++;
          if (seen[edge.to] !== i && accepts(edge, c)) {
            seen[edge.to] = i;
            next[nextCount++] = edge.to;
          }
        }
      }
      if (nextCount === 0) return false;
      [active, next] = [next, active];
      count = nextCount;
    }
    for (let a = 0; a < count; a++) if (active[a] === automaton.accept) return true;
    return false;
  } finally {
    if (meter) meter.steps += steps;
  }
}
