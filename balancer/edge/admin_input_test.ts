import assert from "node:assert/strict";
import { parseScaleRequest } from "./admin_input.ts";

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
