import assert from "node:assert/strict";
import fc from "fast-check";
import { parseScaleRequest, readAsAddress, REPLICA_NAME } from "./admin_input.ts";

Deno.test("/add weights (an extension): numbers above 0 and at most 100, one per named hostname at most; /rm takes none", () => {
  assert.deepEqual(parseScaleRequest('{"n":2,"hostnames":["S5","S6"],"weights":[2]}', "add", 10), {
    ok: true,
    value: { n: 2, hostnames: ["S5", "S6"], weights: [2] },
  });
  assert.deepEqual(parseScaleRequest('{"n":1}', "add", 10), {
    ok: true,
    value: { n: 1, hostnames: [], weights: [] },
  });
  const refused = (body: string, kind: "add" | "rm" = "add") => {
    const checked = parseScaleRequest(body, kind, 10);
    assert.equal(checked.ok, false, body);
    return checked.ok ? "" : checked.message;
  };
  for (const weights of ["[0]", "[-1]", "[101]", '["2"]', "[null]", "2", "[1e999]"]) {
    assert.match(
      refused(`{"n":1,"hostnames":["S5"],"weights":${weights}}`),
      /^'weights' must be a list of numbers above 0 and at most 100, got /,
      weights,
    );
  }
  assert.equal(
    refused('{"n":2,"hostnames":["S5"],"weights":[1,2]}'),
    "'weights' has 2 values for 1 hostnames",
  );
  assert.equal(
    refused('{"n":1,"hostnames":["S5"],"weights":[2]}', "rm"),
    "Unknown field 'weights': the body takes 'n' and 'hostnames'",
  );
  assert.equal(
    refused('{"n":1,"weight":2}'),
    "Unknown field 'weight': the body takes 'n', 'hostnames' and 'weights'",
  );
});

Deno.test("/add names: every name the rule takes is a host a URL keeps as a name, checked against WHATWG URL itself", () => {
  const char = fc.constantFrom(..."abcxyzAZ0129_.-");
  const name = fc.tuple(fc.constantFrom(..."aZ07"), fc.array(char, { maxLength: 12 }))
    .map(([first, rest]) => first + rest.join(""));
  fc.assert(
    fc.property(name, (text) => {
      fc.pre(REPLICA_NAME.test(text));
      let host: string | undefined;
      try {
        host = new URL(`http://${text}:5000/`).hostname;
      } catch {
        host = undefined;
      }
      // A name is kept as a name (lower-cased), or the URL made it an address (or refused it).
      const asName = host === text.toLowerCase();
      assert.equal(readAsAddress(text), !asName, `${text} → ${host}`);
    }),
    { numRuns: 3_000 },
  );
  for (const text of ["web.2", "7", "a.0x1F", "a.0X", "1.2.", "web.v2.", "server_1"]) {
    const verdict = parseScaleRequest(JSON.stringify({ n: 1, hostnames: [text] }), "add", 10);
    assert.equal(verdict.ok, !readAsAddress(text), text);
  }
});
