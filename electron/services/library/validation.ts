/**
 * Small hand-written validation kit for the files Nestbox keeps on disk (vm.json,
 * library.json, settings.json). Every problem is reported with the path of the bad field
 * (`hardware.disks[1].format`) and what is wrong with it, so a user editing the file by hand
 * knows exactly where to look. Readers return `undefined` for a bad value and record an
 * issue; the caller decides whether that is fatal or falls back to a default.
 */

export interface ValidationIssue {
  /** Where in the document: `name`, `hardware.disks[0].file`; '' for the document itself. */
  path: string;
  /** What is wrong, phrased to be read after the path: "must be qcow2 or raw, not "vmdk"". */
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** "hardware.cpus: must be …" — one line per issue. */
export function formatIssue(issue: ValidationIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map(formatIssue).join('\n');
}

/** A short, readable rendering of a value for messages: `"vmdk"`, `12.5`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
      return JSON.stringify(shown);
    }
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    case 'undefined':
      return 'nothing';
    default:
      return typeof value;
  }
}

export class IssueList {
  readonly issues: ValidationIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  get empty(): boolean {
    return this.issues.length === 0;
  }
}

export interface ObjectShape {
  required: readonly string[];
  optional?: readonly string[];
}

/**
 * An object with exactly the known keys: missing required keys and unknown keys (a typo
 * such as `memoryMib`, with a suggestion when only the case differs) are issues. Returns the
 * record even when keys are wrong so the caller can still check the fields that are there.
 */
export function readObject(
  issues: IssueList,
  value: unknown,
  path: string,
  shape: ObjectShape,
): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.add(path, `must be an object, not ${describeValue(value)}`);
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const known = [...shape.required, ...(shape.optional ?? [])];
  for (const key of shape.required) {
    if (!Object.hasOwn(record, key)) issues.add(joinPath(path, key), 'missing');
  }
  for (const key of Object.keys(record)) {
    if (known.includes(key)) continue;
    const similar = known.find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    issues.add(
      joinPath(path, key),
      similar ? `unknown field (did you mean "${similar}"?)` : 'unknown field',
    );
  }
  return record;
}

export interface StringRules {
  /** Default 0; 1 rejects "" (and, with `trim`, blank text). */
  minLength?: number;
  maxLength?: number;
  /** Judge the length after trimming white space (the stored value is not changed). */
  trim?: boolean;
  /** Control characters (newlines included) are refused unless allowed. */
  allowControl?: boolean;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
const controlCharacter = /[\u0000-\u001f\u007f]/;

export function readString(
  issues: IssueList,
  value: unknown,
  path: string,
  rules: StringRules = {},
): string | undefined {
  if (typeof value !== 'string') {
    issues.add(path, `must be text, not ${describeValue(value)}`);
    return undefined;
  }
  const measured = rules.trim ? value.trim() : value;
  const min = rules.minLength ?? 0;
  if (measured.length < min) {
    issues.add(path, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
    return undefined;
  }
  if (rules.maxLength !== undefined && value.length > rules.maxLength) {
    issues.add(path, `must be at most ${rules.maxLength} characters, not ${value.length}`);
    return undefined;
  }
  if (!rules.allowControl && controlCharacter.test(value)) {
    issues.add(path, 'must not contain control characters (such as line breaks)');
    return undefined;
  }
  return value;
}

export function readInteger(
  issues: IssueList,
  value: unknown,
  path: string,
  range: { min: number; max: number; unit?: string },
): number | undefined {
  const unit = range.unit ? ` ${range.unit}` : '';
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    issues.add(
      path,
      `must be a whole number from ${range.min} to ${range.max}${unit}, not ${describeValue(value)}`,
    );
    return undefined;
  }
  if (value < range.min || value > range.max) {
    issues.add(path, `must be from ${range.min} to ${range.max}${unit}, not ${value}`);
    return undefined;
  }
  return value;
}

export function readBoolean(issues: IssueList, value: unknown, path: string): boolean | undefined {
  if (typeof value !== 'boolean') {
    issues.add(path, `must be true or false, not ${describeValue(value)}`);
    return undefined;
  }
  return value;
}

export function readChoice<const T extends string>(
  issues: IssueList,
  value: unknown,
  path: string,
  choices: readonly T[],
): T | undefined {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) {
    return value as T;
  }
  const list = choices.map((choice) => `"${choice}"`);
  const expected =
    list.length <= 2 ? list.join(' or ') : `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`;
  issues.add(path, `must be ${expected}, not ${describeValue(value)}`);
  return undefined;
}

export function readList(
  issues: IssueList,
  value: unknown,
  path: string,
  maxItems: number,
): unknown[] | undefined {
  if (!Array.isArray(value)) {
    issues.add(path, `must be a list, not ${describeValue(value)}`);
    return undefined;
  }
  if (value.length > maxItems) {
    issues.add(path, `may hold at most ${maxItems} entries, not ${value.length}`);
    return undefined;
  }
  return value;
}
