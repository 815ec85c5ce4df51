/**
 * Outlier detection (passive health, as Envoy calls it): the proxy reports how every try on
 * a replica went, and a replica that fails `errors` tries in a row is taken out of the ring
 * for a cool-down, before its heartbeats would notice. It is readmitted afterwards if it
 * still serves; one that also fails its heartbeats is replaced by the manager instead.
 *
 * The detector decides; the manager acts (see {@linkcode OutlierHost}), so this file knows
 * nothing of rings, providers or heartbeats.
 *
 * @module
 */

import type { Logger, Timer } from "../support/mod.ts";
import type { Replica } from "./replica.ts";

/**
 * How one try on a replica went, as the proxy saw it (after Envoy's outlier-detection
 * results). Every outcome but `success` counts towards an ejection.
 */
export type TryOutcome =
  /** An answer with a status below 500. */
  | "success"
  /** An answer with a 5xx status. */
  | "http_5xx"
  /** No connection: refused, or the address could not be reached. */
  | "connect_failure"
  /** The connection was reset or closed before the answer was complete, or the replica died. */
  | "reset"
  /** No answer within the response timeout. */
  | "timeout"
  /** An answer that could not be read, or a failure of no known kind. */
  | "protocol_error";

/** The settings of outlier detection (`--outlier-*`, `--max-ejection-percent`). */
export interface OutlierConfig {
  /** Failed tries in a row that eject a replica; 0 turns detection off. */
  errors: number;
  /** How long an ejected replica stays out of the ring, ms. */
  coolDownMs: number;
  /** Most serving replicas out as outliers at once, percent. Past it, all are used. */
  maxEjectionPercent: number;
}

/** Options of an {@linkcode OutlierDetector}. */
export interface OutlierDetectorOptions extends OutlierConfig {
  /** Where ejections and readmissions are logged. */
  logger: Logger;
}

/** What the detector acts through: the replica manager, which owns the ring's membership. */
export interface OutlierHost {
  /** The replicas serving now (in the ring or out as outliers); not starting ones, not spares. */
  serving(): Replica[];
  /** Takes `replica` out of the ring. */
  eject(replica: Replica): void;
  /** Puts `replica` back in the ring after its cool-down (the host checks it still serves). */
  readmit(replica: Replica): void;
}

/** One replica's standing with the detector; lives on the replica (`replica.outlier`). */
export class OutlierState {
  /** Failed tries in a row. */
  errors = 0;
  /** The latest failed try's outcome. */
  last: TryOutcome = "success";
  /** Set while the replica is out as an outlier: readmits it when it fires. */
  coolDown?: Timer;

  /** Whether the replica is out of the ring as an outlier now. */
  get ejected(): boolean {
    return this.coolDown !== undefined;
  }
}

/**
 * Counts failed tries per replica and ejects the ones that fail `errors` in a row. Never
 * more than `maxEjectionPercent` of the serving replicas are out at once: when that many
 * look bad, the fault is likely not theirs, and all of them are used (panic mode).
 */
export class OutlierDetector {
  readonly #options: OutlierDetectorOptions;
  readonly #host: OutlierHost;

  /** @param options Thresholds and the logger. @param host Acts on the detector's decisions. */
  constructor(options: OutlierDetectorOptions, host: OutlierHost) {
    this.#options = options;
    this.#host = host;
  }

  /** Counts one try on `replica` (the proxy calls this through `replica.report`). */
  report(replica: Replica, outcome: TryOutcome): void {
    const state = replica.outlier;
    if (outcome === "success") {
      state.errors = 0;
      return;
    }
    state.errors++;
    state.last = outcome;
    const { errors, coolDownMs, maxEjectionPercent, logger } = this.#options;
    if (errors === 0 || state.errors < errors) return;
    if (replica.state !== "ready" || replica.spare || state.ejected) return;
    const serving = this.#host.serving();
    const out = serving.filter((r) => r.outlier.ejected).length;
    if (out + 1 > Math.floor((serving.length * maxEjectionPercent) / 100)) {
      // Logged once per streak, not on every failed try.
      if (state.errors === errors) {
        logger.warn("replica.outlier_kept", {
          name: replica.name,
          errors: state.errors,
          last: outcome,
          out,
        });
      }
      return;
    }
    this.#host.eject(replica);
    logger.warn("replica.outlier_ejected", {
      name: replica.name,
      errors: state.errors,
      last: outcome,
      cool_down_ms: coolDownMs,
    });
    state.coolDown = setTimeout(() => {
      state.coolDown = undefined;
      state.errors = 0;
      this.#host.readmit(replica);
    }, coolDownMs);
  }

  /** Forgets `replica`'s failures: it has just (re)joined, and they say nothing about it now. */
  reset(replica: Replica): void {
    replica.outlier.errors = 0;
  }

  /** Cancels `replica`'s cool-down, if any: it is leaving, or left the ring for another cause. */
  forget(replica: Replica): void {
    clearTimeout(replica.outlier.coolDown);
    replica.outlier.coolDown = undefined;
  }
}
