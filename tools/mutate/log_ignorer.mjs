/**
 * A Stryker ignorer: no mutants inside log calls (`logger.warn(...)`, `this.#options.logger
 * .info(...)`, `logger[level](...)`). A log line's text and fields are for people reading
 * logs; changing them cannot break a safety rule, and a test pinning every log string would
 * only pin wording. What a log call's arguments compute is computed elsewhere too.
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

// What `declareValuePlugin(PluginKind.Ignore, …)` of @stryker-mutator/api returns, written out
// so that this file imports nothing (Deno type-checks the tree and has no such package).
export const strykerPlugins = [{
  kind: "Ignore",
  name: "ringlb-logging",
  value: {
    shouldIgnore(path) {
      if (path.isExpressionStatement() && isLogCall(path.node.expression)) {
        return "a log line: its wording is not behaviour";
      }
      return undefined;
    },
  },
}];
