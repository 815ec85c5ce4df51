/**
 * The Kubernetes manifests, checked offline (`kubectl apply --dry-run=client` needs an API server,
 * which these machines do not have): they parse, the balancer's settings parse as the balancer
 * would parse them, its backends are the StatefulSet's pods by their DNS names through the
 * headless Service, and the commands name files that exist.
 */

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../../balancer/config/mod.ts";

// deno-lint-ignore no-explicit-any -- Kubernetes objects: checked field by field below.
type K8s = any;

async function load(file: string): Promise<K8s[]> {
  const text = await Deno.readTextFile(new URL(file, import.meta.url));
  return parseAllDocuments(text).map((doc) => {
    assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.join("; ")}`);
    return doc.toJS();
  });
}

Deno.test("kubernetes manifests: the balancer routes to the StatefulSet's pods, with settings it accepts", async () => {
  const replicas = await load("./replicas.yaml");
  const balancer = await load("./balancer.yaml");
  const kinds = [...replicas, ...balancer].map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(kinds, [
    "Service/ringlb-replicas",
    "StatefulSet/ringlb-replica",
    "ServiceAccount/ringlb",
    "Role/ringlb",
    "RoleBinding/ringlb",
    "Deployment/ringlb",
    "Service/ringlb",
  ]);
  const [headless, sts] = replicas;
  const deployment = balancer.find((o: K8s) => o.kind === "Deployment");
  assert.equal(headless.spec.clusterIP, "None");
  assert.equal(sts.spec.serviceName, headless.metadata.name);
  assert.deepEqual(headless.spec.selector, sts.spec.template.metadata.labels);

  const container = deployment.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const { name, value } of container.env) if (value !== undefined) env[name] = value;
  env.LB_ADMIN_TOKEN = "a-token-from-the-secret"; // (from a Secret in the cluster)
  const parsed = parseConfig([], env);
  assert.ok(!parsed.help);
  const { config } = parsed;
  assert.equal(config.provider.kind, "static");
  const port = headless.spec.ports[0].port;
  assert.deepEqual(
    config.provider.backends.map((b) => [b.name, b.url]),
    Array.from({ length: sts.spec.replicas }, (_, i) => {
      const pod = `${sts.metadata.name}-${i}`;
      return [pod, `http://${pod}.${headless.metadata.name}:${port}`];
    }),
    "one backend per StatefulSet pod, by its stable DNS name",
  );
  assert.deepEqual(config.admin.listen, { host: "0.0.0.0", port: 5001 });
  assert.equal(
    container.ports.find((p: K8s) => p.name === "admin").containerPort,
    config.admin.listen!.port,
  );
  assert.equal(
    container.ports.find((p: K8s) => p.name === "http").containerPort,
    config.listen.port,
  );

  // The commands run files of this repository, as the image lays it out (/app).
  for (const c of [container, sts.spec.template.spec.containers[0]]) {
    const file = c.command.find((arg: string) => arg.endsWith(".ts"));
    await Deno.stat(new URL(`../../${file}`, import.meta.url));
  }
  // The role reads only.
  const role = balancer.find((o: K8s) => o.kind === "Role");
  for (const rule of role.rules) assert.deepEqual(rule.verbs, ["get", "list", "watch"]);
});
