/**
 * A progress bar for long runs: redrawn in place on a terminal, a line per tenth otherwise
 * (CI logs). Writes to stderr so stdout stays the report.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Progress through a known number of steps. */
export interface Progress {
  /** Sets the steps done so far, with what is happening now. */
  update(done: number, what?: string): void;
  /** Ends the bar with a final line. */
  done(what: string): void;
}

/** A progress bar of `total` steps labelled `label`, on `out` (default stderr). */
export function progressBar(
  label: string,
  total: number,
  out: { writeSync(p: Uint8Array): number; isTerminal(): boolean } = Deno.stderr,
): Progress {
  const tty = out.isTerminal();
  let shownTenth = -1;
  let last = "";
  const write = (text: string) => out.writeSync(encoder.encode(text));
  return {
    update(done, what = last) {
      last = what;
      const share = total > 0 ? Math.min(1, done / total) : 1;
      if (tty) {
        const width = 24;
        const filled = Math.round(share * width);
        const bar = "█".repeat(filled) + "░".repeat(width - filled);
        write(`\r\x1b[2K${label} ${bar} ${Math.round(share * 100)}% ${what}`);
        return;
      }
      const tenth = Math.floor(share * 10);
      if (tenth > shownTenth) {
        shownTenth = tenth;
        write(`${label}: ${Math.round(share * 100)}% ${what}\n`);
      }
    },
    done(what) {
      write(tty ? `\r\x1b[2K${label}: ${what}\n` : `${label}: ${what}\n`);
    },
  };
}
