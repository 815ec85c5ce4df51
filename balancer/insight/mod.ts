/**
 * Routing that explains itself: why a key goes where it goes (`/explain`), the hottest keys in
 * fixed memory, and how many keys each membership change moved.
 *
 * @module
 */

export {
  explainKey,
  type ExplainSources,
  hotKeys,
  type KeyExplanation,
  type OrderEntry,
  type ReplicaStanding,
} from "./explain.ts";
export {
  type HotKey,
  HotKeys,
  type HotKeysOptions,
  type HotKeySource,
  mergeHotKeys,
  SpaceSaving,
} from "./hot_keys.ts";
export { KeyMovement, type Movement, SAMPLE_SIZE } from "./movement.ts";
