/**
 * The live dashboard: its page, its Server-Sent Events and key lookups, and the recent events.
 *
 * @module
 */

export { createDashboard, type DashboardSources, type Snapshot } from "./dashboard.ts";
export { EventLog, SHOWN_EVENTS, type ShownEvent } from "./events.ts";
