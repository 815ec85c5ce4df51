/**
 * Shape checks for the admin API's request bodies (`POST /add`, `DELETE /rm`). Pure: checks
 * that need the current replicas are the replica manager's.
 *
 * @module
 */

/** A checked `/add` or `/rm` body. */
export interface ScaleRequest {
  /** How many instances to add or remove; a positive integer. */
  n: number;
  /** The named ones, at most `n`, no duplicates. */
  hostnames: string[];
  /** `/add` only (an extension): the named ones' weights, in order; absent ones are 1. */
  weights: number[];
}

/** The result of a check: the value, or the message for a 400 reply. */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Which endpoint a body is for: the two differ in one spec message and in name rules. */
export type ScaleKind = "add" | "rm";

/**
 * What a replica's hostname may be: what Docker takes as a container name (letters, digits,
 * `_`, `.`, `-`, starting with a letter or digit), at most 63 characters as a DNS label. Not
 * every such name is a DNS name (`server_1`): Docker's resolver answers it all the same, as
 * the container's name and alias.
 */
export const REPLICA_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * Whether a URL would read `name` as an IPv4 address rather than a host name: its last label
 * is a number (`web.2`, `7`, `0x1f`; WHATWG URL's "ends in a number"). A replica is reached
 * by its name, so such a name could never be.
 */
export function readAsAddress(name: string): boolean {
  const labels = name.split(".");
  if (labels.length > 1 && labels.at(-1) === "") labels.pop();
  return /^(?:[0-9]+|0[xX][0-9a-fA-F]*)$/.test(labels.at(-1)!);
}

const SPEC_TOO_MANY_NAMES: Record<ScaleKind, string> = {
  add: "Length of hostname list is more than newly added instances",
  rm: "Length of hostname list is more than removable instances",
};

const KNOWN_FIELDS: Record<ScaleKind, ReadonlySet<string>> = {
  add: new Set(["n", "hostnames", "weights"]),
  rm: new Set(["n", "hostnames"]),
};

/** Largest weight `/add` takes: a replica with 100× another's share is already extreme. */
export const MAX_WEIGHT = 100;

/** Shows a JSON value in an error message, shortened. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Checks the text of an `/add` or `/rm` body. `maxBatch` caps `n`. For `/add` every
 * hostname must match {@linkcode REPLICA_NAME}; for `/rm` any string is accepted (the manager checks that
 * it names a replica, which may be one of the spec's `Server 1` style names).
 */
export function parseScaleRequest(
  text: string,
  kind: ScaleKind,
  maxBatch: number,
): Checked<ScaleRequest> {
  const fail = (message: string): Checked<ScaleRequest> => ({ ok: false, message });
  const example = kind === "add"
    ? '{"n": 2, "hostnames": ["S5"]}'
    : '{"n": 1, "hostnames": ["S5"]}';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail(`Request body must be JSON, like ${example}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return fail(`Request body must be a JSON object, like ${example}`);
  }
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !KNOWN_FIELDS[kind].has(key));
  if (unknown !== undefined) {
    const takes = kind === "add" ? "'n', 'hostnames' and 'weights'" : "'n' and 'hostnames'";
    return fail(`Unknown field '${unknown}': the body takes ${takes}`);
  }
  const n = record.n;
  // The spec's own message wins whenever it applies, whatever else is wrong.
  if (typeof n === "number" && Array.isArray(record.hostnames) && record.hostnames.length > n) {
    return fail(SPEC_TOO_MANY_NAMES[kind]);
  }
  if (n === undefined) return fail(`'n' is required: the number of instances`);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    return fail(`'n' must be a positive integer, got ${show(n)}`);
  }
  if (n > maxBatch) return fail(`'n' must be at most ${maxBatch}, got ${n}`);
  const hostnames = record.hostnames ?? [];
  if (!Array.isArray(hostnames) || !hostnames.every((h) => typeof h === "string")) {
    return fail(`'hostnames' must be a list of strings, got ${show(hostnames)}`);
  }
  if (hostnames.length > n) return fail(SPEC_TOO_MANY_NAMES[kind]);
  for (const name of hostnames) {
    if (kind === "add" && !REPLICA_NAME.test(name)) {
      return fail(
        `Hostname ${show(name)} is not a valid container name ` +
          `(1-63 letters, digits, '_', '.' or '-', starting with a letter or digit)`,
      );
    }
    if (kind === "add" && readAsAddress(name)) {
      return fail(
        `Hostname ${show(name)} ends in a number: a URL would read it as an IPv4 address`,
      );
    }
    if (kind === "rm" && name.length === 0) return fail(`Hostnames must not be empty`);
  }
  const lower = hostnames.map((name) => name.toLowerCase());
  const duplicate = hostnames.find((name, index) => lower.indexOf(name.toLowerCase()) !== index);
  if (duplicate !== undefined) return fail(`Hostname '${duplicate}' is listed more than once`);
  const weights = record.weights ?? [];
  if (
    !Array.isArray(weights) ||
    !weights.every((w) => typeof w === "number" && Number.isFinite(w) && w > 0 && w <= MAX_WEIGHT)
  ) {
    return fail(
      `'weights' must be a list of numbers above 0 and at most ${MAX_WEIGHT}, got ${show(weights)}`,
    );
  }
  if (weights.length > hostnames.length) {
    return fail(`'weights' has ${weights.length} values for ${hostnames.length} hostnames`);
  }
  return { ok: true, value: { n, hostnames: hostnames as string[], weights: weights as number[] } };
}
