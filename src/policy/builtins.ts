import { createHash, createHmac, randomUUID } from 'node:crypto';

/**
 * Builtins that OPA's Wasm target leaves to the host. opa-wasm itself supplies the names in
 * {@link SDK_BUILTINS}; Warden supplies the rest here. A bundle that needs anything outside both
 * sets is refused when it loads (see `PolicyEngine.load`), never at the first call.
 */
export const SDK_BUILTINS: ReadonlySet<string> = new Set([
  // Mirrors @open-policy-agent/opa-wasm src/builtins/index.js (guarded by test/policy/builtins.test.ts).
  'json.is_valid',
  'sprintf',
  'regex.split',
  'yaml.is_valid',
  'yaml.marshal',
  'yaml.unmarshal',
]);

/** Per-evaluation state: OPA fixes `time.now_ns()` and `uuid.rfc4122(k)` for the whole query. */
export interface BuiltinContext {
  nowMs: number;
  uuids: Map<string, string>;
}

type Builtin = (...args: unknown[]) => unknown;

const NS_PER_MS = 1_000_000;

export function createHostBuiltins(ctx: BuiltinContext): Record<string, Builtin> {
  return {
    'time.now_ns': () => ctx.nowMs * NS_PER_MS,
    'time.parse_rfc3339_ns': (value) => parseRfc3339Ns(str(value, 'time.parse_rfc3339_ns')),
    'time.parse_ns': (layout, value) => parseWithLayout(str(layout, 'time.parse_ns'), str(value, 'time.parse_ns')),
    'time.parse_duration_ns': (value) => parseDurationNs(str(value, 'time.parse_duration_ns')),
    'time.date': (x) => {
      const p = zoned(x, 'time.date');
      return [p.year, p.month, p.day];
    },
    'time.clock': (x) => {
      const p = zoned(x, 'time.clock');
      return [p.hour, p.minute, p.second];
    },
    'time.weekday': (x) => WEEKDAYS[zoned(x, 'time.weekday').weekday],
    'time.add_date': (ns, years, months, days) => {
      const d = new Date(num(ns, 'time.add_date') / NS_PER_MS);
      d.setUTCFullYear(
        d.getUTCFullYear() + num(years, 'time.add_date'),
        d.getUTCMonth() + num(months, 'time.add_date'),
        d.getUTCDate() + num(days, 'time.add_date'),
      );
      return d.getTime() * NS_PER_MS + (num(ns, 'time.add_date') % NS_PER_MS);
    },
    'time.diff': (a, b) => timeDiff(a, b),
    'time.format': (x) => formatTime(x),
    'crypto.sha256': (x) => createHash('sha256').update(str(x, 'crypto.sha256')).digest('hex'),
    'crypto.sha1': (x) => createHash('sha1').update(str(x, 'crypto.sha1')).digest('hex'),
    'crypto.md5': (x) => createHash('md5').update(str(x, 'crypto.md5')).digest('hex'),
    'crypto.hmac.sha256': (x, key) =>
      createHmac('sha256', str(key, 'crypto.hmac.sha256')).update(str(x, 'crypto.hmac.sha256')).digest('hex'),
    'crypto.hmac.sha512': (x, key) =>
      createHmac('sha512', str(key, 'crypto.hmac.sha512')).update(str(x, 'crypto.hmac.sha512')).digest('hex'),
    'crypto.hmac.equal': (a, b) => str(a, 'crypto.hmac.equal') === str(b, 'crypto.hmac.equal'),
    'uuid.rfc4122': (k) => {
      const key = str(k, 'uuid.rfc4122');
      let id = ctx.uuids.get(key);
      if (id === undefined) {
        id = randomUUID();
        ctx.uuids.set(key, id);
      }
      return id;
    },
    'units.parse_bytes': (x) => parseUnits(str(x, 'units.parse_bytes'), true),
    'units.parse': (x) => parseUnits(str(x, 'units.parse'), false),
  };
}

/** Names Warden supplies; with {@link SDK_BUILTINS}, everything a bundle may call outside native Wasm. */
export const HOST_BUILTINS: ReadonlySet<string> = new Set(
  Object.keys(createHostBuiltins({ nowMs: 0, uuids: new Map() })),
);

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw new Error(`${fn}: operand must be a string, got ${typeof v}`);
  return v;
}
function num(v: unknown, fn: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${fn}: operand must be a number, got ${typeof v}`);
  return v;
}

export function parseRfc3339Ns(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) throw new Error(`time.parse_rfc3339_ns: cannot parse ${JSON.stringify(value)} as RFC 3339`);
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!);
  const offsetMin =
    zone.toUpperCase() === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (+zone.slice(1, 3) * 60 + +zone.slice(4, 6));
  const fracNs = frac ? Math.round(Number(`0${frac}`) * 1e9) : 0;
  return (ms - offsetMin * 60_000) * NS_PER_MS + fracNs;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration: "1h30m", "-1.5s", "300ms". */
export function parseDurationNs(value: string): number {
  const m = /^([+-])?((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(value);
  if (value === '0') return 0;
  if (!m) throw new Error(`time.parse_duration_ns: invalid duration ${JSON.stringify(value)}`);
  let total = 0;
  for (const part of value.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  }
  return m[1] === '-' ? -total : total;
}

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
  offsetMin: number;
  zoneName: string;
}

/** Accepts `ns` or `[ns, tz]` like OPA's time.date/clock/weekday. */
function zoned(x: unknown, fn: string): Parts {
  const [ns, tz] = Array.isArray(x) ? [num(x[0], fn), x[1] === undefined ? 'UTC' : str(x[1], fn)] : [num(x, fn), 'UTC'];
  return partsIn(ns / NS_PER_MS, tz, fn);
}

function partsIn(ms: number, tz: string, fn: string): Parts {
  const zone =
    tz === '' || tz === 'UTC' ? 'UTC' : tz === 'Local' ? Intl.DateTimeFormat().resolvedOptions().timeZone : tz;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
      timeZoneName: 'short',
    });
  } catch {
    throw new Error(`${fn}: unknown time zone ${JSON.stringify(tz)}`);
  }
  const get = (type: string): string => fmt.formatToParts(new Date(ms)).find((p) => p.type === type)?.value ?? '';
  const year = +get('year'),
    month = +get('month'),
    day = +get('day'),
    hour = +get('hour'),
    minute = +get('minute'),
    second = +get('second');
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  const offsetMin = Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
  return {
    year,
    month,
    day,
    hour,
    minute,
    second,
    weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday')),
    offsetMin,
    zoneName: zone === 'UTC' ? 'UTC' : get('timeZoneName'),
  };
}

function timeDiff(a: unknown, b: unknown): number[] {
  const pa = zoned(a, 'time.diff');
  const pb = zoned(b, 'time.diff');
  // Go's (and OPA's) time.diff: the later minus the earlier, field by field with borrowing.
  let [x, y] = [pa, pb];
  const key = (p: Parts): number => Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  if (key(x) < key(y)) [x, y] = [y, x];
  let year = x.year - y.year,
    month = x.month - y.month,
    day = x.day - y.day;
  let hour = x.hour - y.hour,
    min = x.minute - y.minute,
    sec = x.second - y.second;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    day += new Date(Date.UTC(y.year, y.month, 0)).getUTCDate();
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec];
}

const pad = (n: number, w = 2): string => String(Math.abs(n)).padStart(w, '0');

function formatTime(x: unknown): string {
  const [ns, tz, layout] = Array.isArray(x)
    ? [
        num(x[0], 'time.format'),
        x[1] === undefined ? 'UTC' : str(x[1], 'time.format'),
        x[2] === undefined ? 'RFC3339Nano' : str(x[2], 'time.format'),
      ]
    : [num(x, 'time.format'), 'UTC', 'RFC3339Nano'];
  const p = partsIn(ns / NS_PER_MS, tz, 'time.format');
  // Nanosecond timestamps exceed 2^53, so the float carries ~256 ns of noise: keep microseconds.
  const rawFrac = ((ns % 1e9) + 1e9) % 1e9;
  const fracNs = Math.abs(ns) > Number.MAX_SAFE_INTEGER ? (Math.round(rawFrac / 1000) * 1000) % 1e9 : rawFrac;
  const named: Record<string, string> = {
    RFC3339: '2006-01-02T15:04:05Z07:00',
    RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
    RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
    RFC822: '02 Jan 06 15:04 MST',
    Kitchen: '3:04PM',
    DateTime: '2006-01-02 15:04:05',
    DateOnly: '2006-01-02',
    TimeOnly: '15:04:05',
  };
  const goLayout = named[layout] ?? layout;
  const zone = (colon: boolean, zForUtc: boolean): string => {
    if (zForUtc && p.offsetMin === 0) return 'Z';
    const sign = p.offsetMin < 0 ? '-' : '+';
    return `${sign}${pad(Math.trunc(Math.abs(p.offsetMin) / 60))}${colon ? ':' : ''}${pad(Math.abs(p.offsetMin) % 60)}`;
  };
  const tokens: [string, () => string][] = [
    ['January', () => MONTHS[p.month - 1]!],
    ['Monday', () => WEEKDAYS[p.weekday]!],
    ['2006', () => pad(p.year, 4)],
    ['Z07:00', () => zone(true, true)],
    ['-07:00', () => zone(true, false)],
    ['Z0700', () => zone(false, true)],
    ['-0700', () => zone(false, false)],
    ['.999999999', () => (fracNs ? '.' + pad(fracNs, 9).replace(/0+$/, '') : '')],
    ['.000000000', () => '.' + pad(fracNs, 9)],
    ['.000', () => '.' + pad(Math.floor(fracNs / 1e6), 3)],
    ['MST', () => p.zoneName],
    ['Jan', () => MONTHS[p.month - 1]!.slice(0, 3)],
    ['Mon', () => WEEKDAYS[p.weekday]!.slice(0, 3)],
    ['01', () => pad(p.month)],
    ['02', () => pad(p.day)],
    ['_2', () => String(p.day).padStart(2, ' ')],
    ['15', () => pad(p.hour)],
    ['03', () => pad(p.hour % 12 || 12)],
    ['04', () => pad(p.minute)],
    ['05', () => pad(p.second)],
    ['06', () => pad(p.year % 100)],
    ['PM', () => (p.hour < 12 ? 'AM' : 'PM')],
    ['pm', () => (p.hour < 12 ? 'am' : 'pm')],
    ['1', () => String(p.month)],
    ['2', () => String(p.day)],
    ['3', () => String(p.hour % 12 || 12)],
    ['4', () => String(p.minute)],
    ['5', () => String(p.second)],
  ];
  let out = '';
  for (let i = 0; i < goLayout.length;) {
    const hit = tokens.find(([t]) => goLayout.startsWith(t, i));
    if (hit) {
      out += hit[1]();
      i += hit[0].length;
    } else {
      out += goLayout[i];
      i++;
    }
  }
  return out;
}

/** A subset of Go's time.Parse layouts: numeric dates and times, month names, zones as offsets or Z. */
function parseWithLayout(layout: string, value: string): number {
  const fields: Record<string, number> = {
    year: 1,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
    fracNs: 0,
    offsetMin: 0,
    pm: -1,
  };
  const readers: [string, RegExp, (m: string) => void][] = [
    ['2006', /^\d{4}/, (m) => (fields['year'] = +m)],
    ['January', /^[A-Za-z]+/, (m) => (fields['month'] = monthIndex(m))],
    ['Jan', /^[A-Za-z]{3}/, (m) => (fields['month'] = monthIndex(m))],
    ['Monday', /^[A-Za-z]+/, () => undefined],
    ['Mon', /^[A-Za-z]{3}/, () => undefined],
    ['Z07:00', /^(Z|[+-]\d{2}:\d{2})/, (m) => (fields['offsetMin'] = offset(m))],
    ['-07:00', /^[+-]\d{2}:\d{2}/, (m) => (fields['offsetMin'] = offset(m))],
    ['-0700', /^[+-]\d{4}/, (m) => (fields['offsetMin'] = offset(m))],
    ['MST', /^[A-Z]{3,4}/, () => undefined],
    ['.000', /^\.\d+/, (m) => (fields['fracNs'] = Math.round(Number('0' + m) * 1e9))],
    ['01', /^\d{2}/, (m) => (fields['month'] = +m)],
    ['02', /^\d{2}/, (m) => (fields['day'] = +m)],
    ['15', /^\d{2}/, (m) => (fields['hour'] = +m)],
    ['03', /^\d{2}/, (m) => (fields['hour'] = +m)],
    ['04', /^\d{2}/, (m) => (fields['minute'] = +m)],
    ['05', /^\d{2}/, (m) => (fields['second'] = +m)],
    ['06', /^\d{2}/, (m) => (fields['year'] = 2000 + +m)],
    ['PM', /^(AM|PM)/, (m) => (fields['pm'] = m === 'PM' ? 1 : 0)],
    ['1', /^\d{1,2}/, (m) => (fields['month'] = +m)],
    ['2', /^\d{1,2}/, (m) => (fields['day'] = +m)],
    ['3', /^\d{1,2}/, (m) => (fields['hour'] = +m)],
  ];
  let v = value;
  for (let i = 0; i < layout.length;) {
    const reader = readers.find(([t]) => layout.startsWith(t, i));
    if (reader) {
      const m = reader[1].exec(v);
      if (!m)
        throw new Error(`time.parse_ns: ${JSON.stringify(value)} does not match layout ${JSON.stringify(layout)}`);
      reader[2](m[0]);
      v = v.slice(m[0].length);
      i += reader[0].length;
    } else {
      if (v[0] !== layout[i])
        throw new Error(`time.parse_ns: ${JSON.stringify(value)} does not match layout ${JSON.stringify(layout)}`);
      v = v.slice(1);
      i++;
    }
  }
  if (v.length)
    throw new Error(`time.parse_ns: extra text ${JSON.stringify(v)} after layout ${JSON.stringify(layout)}`);
  if (fields['pm'] === 1 && fields['hour']! < 12) fields['hour']! += 12;
  if (fields['pm'] === 0 && fields['hour'] === 12) fields['hour'] = 0;
  const ms = Date.UTC(
    fields['year']!,
    fields['month']! - 1,
    fields['day'],
    fields['hour'],
    fields['minute'],
    fields['second'],
  );
  return (ms - fields['offsetMin']! * 60_000) * NS_PER_MS + fields['fracNs']!;
}

function monthIndex(name: string): number {
  const i = MONTHS.findIndex((m) => m.toLowerCase().startsWith(name.toLowerCase().slice(0, 3)));
  if (i < 0) throw new Error(`time.parse_ns: unknown month ${JSON.stringify(name)}`);
  return i + 1;
}
function offset(z: string): number {
  if (z === 'Z') return 0;
  const digits = z.replace(':', '');
  return (z[0] === '-' ? -1 : 1) * (+digits.slice(1, 3) * 60 + +digits.slice(3, 5));
}

const DECIMAL: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15, e: 1e18 };
const BINARY: Record<string, number> = { ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40, pi: 2 ** 50, ei: 2 ** 60 };

/** OPA's units.parse_bytes ("10KB", "1.5GiB") and units.parse ("10k", "1Mi", "5m" = 0.005). */
function parseUnits(value: string, bytes: boolean): number {
  const fn = bytes ? 'units.parse_bytes' : 'units.parse';
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*$/.exec(value.replace(/"/g, ''));
  if (!m) throw new Error(`${fn}: could not parse ${JSON.stringify(value)}`);
  const n = Number(m[1]);
  let unit = m[2]!;
  if (!bytes && unit === 'm') return n / 1000;
  unit = unit.toLowerCase();
  if (bytes) unit = unit.replace(/b$/, '');
  const mult = BINARY[unit] ?? DECIMAL[unit];
  if (mult === undefined) throw new Error(`${fn}: unknown unit in ${JSON.stringify(value)}`);
  return bytes ? Math.trunc(n * mult) : n * mult;
}
