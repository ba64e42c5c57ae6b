/**
 * Telling one Ctrl-C from two.
 *
 * In a terminal, Ctrl-C sends SIGINT to the whole foreground process group,
 * and a parent that forwards signals to its child (`deno task`, and so
 * `make`) sends it again: one key press arrives twice, a millisecond apart.
 * A tool that stops gracefully on the first signal and at once on the second
 * would take that one press as two.
 *
 * Promises: {@linkcode signalGate} sorts each delivery into `first` (the
 * first signal: stop gracefully), `duplicate` (the same signal again within
 * {@linkcode SAME_PRESS_MS} of the first: the same key press delivered twice,
 * to be ignored) or `again` (any later or different signal: a deliberate
 * second one, stop at once). A different signal (SIGTERM after SIGINT) is
 * never a duplicate: no single key press sends two kinds.
 *
 * @example
 * ```ts
 * import { signalGate } from "./signals.ts";
 * let now = 0;
 * const gate = signalGate({ now: () => now });
 * gate("SIGINT"); // "first"
 * now = 1;
 * gate("SIGINT"); // "duplicate"
 * now = 2_000;
 * gate("SIGINT"); // "again"
 * ```
 *
 * @module
 */

/**
 * How close (ms) a repeat of the first signal must follow it to count as the
 * same key press. A forwarded copy arrives within a few milliseconds, even on
 * a busy machine; a person who sees "stopping" and presses again takes far
 * longer than half a second.
 */
export const SAME_PRESS_MS = 500;

/** How the help texts describe {@linkcode SAME_PRESS_MS}. */
export const SECOND_SIGNAL_TEXT = `more than ${SAME_PRESS_MS / 1000} s after the first`;

/** The signals that stop a command. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** A signal that stops a command. */
export type StopSignal = typeof STOP_SIGNALS[number];

/** What a delivery means; see the module doc. */
export type SignalVerdict = "first" | "duplicate" | "again";

/** Options for {@linkcode signalGate}. */
export interface SignalGateOptions {
  /**
   * The window of {@linkcode SAME_PRESS_MS}, in milliseconds.
   * @default {SAME_PRESS_MS}
   */
  windowMs?: number;
  /**
   * The clock, in milliseconds (tests inject one).
   * @default {performance.now}
   */
  now?: () => number;
}

/**
 * A classifier of signal deliveries; see the module doc.
 *
 * @example
 * ```ts
 * import { signalGate } from "./signals.ts";
 * const gate = signalGate();
 * gate("SIGTERM"); // "first"
 * ```
 */
export function signalGate(options: SignalGateOptions = {}): (name: string) => SignalVerdict {
  const windowMs = options.windowMs ?? SAME_PRESS_MS;
  const now = options.now ?? (() => performance.now());
  let first: { name: string; at: number } | null = null;
  return (name) => {
    const at = now();
    if (first === null) {
      first = { name, at };
      return "first";
    }
    return name === first.name && at - first.at < windowMs ? "duplicate" : "again";
  };
}

/**
 * Listens for SIGINT and SIGTERM through a {@linkcode signalGate}: `first`
 * and `again` are called as their names say; duplicates are dropped.
 * Returns a function that removes the listeners.
 *
 * @example
 * ```ts
 * import { onStopSignals } from "./signals.ts";
 * const controller = new AbortController();
 * const remove = onStopSignals({
 *   first: (name) => controller.abort(name),
 *   again: (name) => Deno.exit(name === "SIGINT" ? 130 : 143),
 * });
 * remove();
 * ```
 */
export function onStopSignals(
  handlers: { first(name: StopSignal): void; again(name: StopSignal): void },
  options: SignalGateOptions = {},
): () => void {
  const gate = signalGate(options);
  const listeners = STOP_SIGNALS.map((name) => {
    const listener = () => {
      const verdict = gate(name);
      if (verdict === "first") handlers.first(name);
      else if (verdict === "again") handlers.again(name);
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  return () => {
    for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
  };
}
