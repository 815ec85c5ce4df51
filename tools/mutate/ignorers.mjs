/**
 * Stryker ignorers for `deno task mutate`: parts of the code whose mutants are not generated,
 * because no test should pin them.
 *
 * - `ringlb-logging`: log calls (`logger.warn(...)`, `this.#options.logger.info(...)`,
 *   `logger[level](...)`), and arrow functions that only log (`() => logger.info(...)`). A log line's text and fields are for people reading logs; changing
 *   them cannot break a safety rule, and a test pinning every log string would only pin
 *   wording.
 * - `ringlb-error-wording`: the message of an `UpstreamError` (its second argument). Code and
 *   tests read its `kind`; the words are diagnostics, and where they reach a client (a 502's
 *   text) the proxy's tests check them.
 *
 * Written out as Stryker's plugin objects (what `declareValuePlugin(PluginKind.Ignore, …)` of
 * @stryker-mutator/api returns), so that this file imports nothing: Deno type-checks the tree.
 */

const LEVELS = new Set(["debug", "info", "warn", "error"]);

/** Whether `node` is `logger`, `x.logger` or `x.#logger`. */
function isLogger(node) {
  if (node.type === "Identifier") return node.name === "logger";
  if (node.type === "MemberExpression") {
    const p = node.property;
    return (p.type === "Identifier" || p.type === "PrivateName") &&
      (p.type === "Identifier" ? p.name : p.id.name) === "logger";
  }
  return false;
}

/** Whether `node` calls a log method: `logger.warn(…)` or `logger[level](…)`. */
function isLogCall(node) {
  if (node?.type !== "CallExpression" || node.callee.type !== "MemberExpression") return false;
  const { object, property, computed } = node.callee;
  if (!isLogger(object)) return false;
  return computed || (property.type === "Identifier" && LEVELS.has(property.name));
}

/** Whether `path` is the message argument of `new UpstreamError(kind, message, …)`. */
function isUpstreamErrorMessage(path) {
  const parent = path.parentPath;
  return path.listKey === "arguments" && path.key === 1 && parent?.isNewExpression() &&
    parent.node.callee.type === "Identifier" && parent.node.callee.name === "UpstreamError";
}

export const strykerPlugins = [{
  kind: "Ignore",
  name: "ringlb-logging",
  value: {
    shouldIgnore(path) {
      const logs = (path.isExpressionStatement() && isLogCall(path.node.expression)) ||
        (path.isArrowFunctionExpression() && isLogCall(path.node.body)); // `() => logger.info(…)`
      return logs ? "a log line: its wording is not behaviour" : undefined;
    },
  },
}, {
  kind: "Ignore",
  name: "ringlb-error-wording",
  value: {
    shouldIgnore(path) {
      return isUpstreamErrorMessage(path)
        ? "an UpstreamError's words: its kind is what code reads"
        : undefined;
    },
  },
}];
