/**
 * What a client did, from its `onTrace` events: requests sent, pauses
 * begun and ended, backoffs. Tests assert on these (a request sent during a
 * pause, the length of the pause scheduled) instead of on wall-clock time.
 *
 * ```ts
 * const trace = new ClientTracer();
 * const client = new TradingViewClient({ baseUrl, onTrace: trace.record });
 * // ...
 * assert.deepEqual(trace.sendsDuringPauses(), []);
 * ```
 *
 * @module
 */
import type { ClientTrace } from "../lib/fetch/client.ts";

/** One pause as the client scheduled it: from `at` for `ms` (clock time). */
export interface TracedPause {
  /** When it began. */
  at: number;
  /** Its planned length. */
  ms: number;
  /** When it ends: `at + ms` (a later pause event can extend it). */
  until: number;
}

/** Collects a client's trace events; see the module doc. */
export class ClientTracer {
  /** Every event, in order. */
  readonly events: ClientTrace[] = [];

  /** Pass as `onTrace`. */
  readonly record = (event: ClientTrace): void => {
    this.events.push(event);
  };

  /** The requests sent, in order. */
  sends(): Extract<ClientTrace, { kind: "send" }>[] {
    return this.events.filter((e) => e.kind === "send");
  }

  /** The pauses scheduled, in order (an extension of a running pause is its own entry). */
  pauses(): TracedPause[] {
    return this.events.flatMap((e) =>
      e.kind === "pause" ? [{ at: e.at, ms: e.ms, until: e.at + e.ms }] : []
    );
  }

  /**
   * Requests sent while a pause was running (after the pause began, in the
   * order of events, and before its end): always empty, whatever the load.
   */
  sendsDuringPauses(): { send: number; pause: TracedPause }[] {
    const found: { send: number; pause: TracedPause }[] = [];
    let pause: TracedPause | null = null;
    for (const e of this.events) {
      if (e.kind === "pause") pause = { at: e.at, ms: e.ms, until: e.at + e.ms };
      if (e.kind === "send" && pause && e.at < pause.until) found.push({ send: e.at, pause });
    }
    return found;
  }
}
