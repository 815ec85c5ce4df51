/**
 * The shapes of the analysis results, as written to `docs/analysis/data/*.json` and read back by the
 * report. One place, so the writer and the reader cannot drift apart.
 *
 * @module
 */

import type { RingConfig } from "../../ring/mod.ts";
import type { Disruption, LoadStats, SpecRingAnatomy } from "./experiments.ts";

/** Where and how a run was made. */
export interface RunMeta {
  /** ISO time the run started. */
  startedAt: string;
  /** `--quick`: small counts, for CI. */
  quick: boolean;
  /** PRNG seed of the request ids. */
  seed: number;
  /** Deno version. */
  deno: string;
  /** Logical CPUs of the machine (everything shares them: balancer, replicas, load). */
  cpus: number;
  /** `git rev-parse --short HEAD`, when available. */
  commit?: string;
}

/** A-1/A-2: one balancer, one ring, N replicas, requests over HTTP. */
export interface HttpRun {
  /** Ring label (see `STUDIED_RINGS`). */
  ring: string;
  /** Its config. */
  config: RingConfig;
  /** Replicas. */
  n: number;
  /** Requests sent. */
  requests: number;
  /** Requests that did not get a 200 from a replica. */
  failed: number;
  /** Wall time of the requests, ms. */
  elapsedMs: number;
  /** Answers per replica, and how even they are. */
  stats: LoadStats;
}

/** `docs/analysis/data/a1-a2-http.json`. */
export interface HttpResults {
  meta: RunMeta;
  /** Concurrent requests in flight. */
  concurrency: number;
  runs: HttpRun[];
}

/** A-4 at scale: one ring, N replicas, many keys in-process. */
export interface ScaleRow {
  n: number;
  /** `null` when N replicas do not fit (the slot ring holds 56). */
  stats: Omit<LoadStats, "counts"> | null;
  /** Mean lookup time over the run, ns (a side figure; `deno bench ring/` is the benchmark). */
  lookupNs: number | null;
}

/** `docs/analysis/data/a4-in-process.json`. */
export interface InProcessResults {
  meta: RunMeta;
  /** Keys used for the disruption runs. */
  disruptionKeys: number;
  /** Keys used for the scale runs. */
  scaleKeys: number;
  disruption: { ring: string; config: RingConfig; rows: Disruption[] }[];
  scale: { ring: string; config: RingConfig; rows: ScaleRow[] }[];
  anatomy: SpecRingAnatomy;
}

/** The part of `tools/chaos.ts`'s timeline JSON the report reads (`docs/analysis/data/a3-chaos.json`). */
export interface ChaosTimeline {
  provider: string;
  replicas: number;
  rate: number;
  durationS: number;
  killIntervalMs: number;
  sent: number;
  shed: number;
  failed: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number | null };
  kills: {
    at: number;
    victim: string;
    detectedMs?: number;
    restoredMs?: number;
    servingMs?: number;
  }[];
  /** `[start ms, latency ms, status]` per request. */
  samples: [number, number, number][];
}
